/* Where the sockets live: the same answer for the daemon that binds them and the clients
 * that connect, from the environment and the uid (docs/protocol.md, "Socket directory"). */
#include "shared/sockdir.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/macro.h"

#define SOCKDIR_XDG_SUBDIR "nix-analytics"

/* dir + "/" + name, without doubling a '/' that dir already ends with. */
static int path_join(const char *dir, const char *name, char **ret) {
        size_t l = strlen(dir);
        const char *sep = l > 0 && dir[l - 1] == '/' ? "" : "/";
        char *p;

        if (asprintf(&p, "%s%s%s", dir, sep, name) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

static int strdup_to(const char *s, char **ret) {
        char *p = strdup(s);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* True when dir/name is a socket. A regular file there does not count: Nix creates one when
 * json-log-path names a socket nobody listens on. */
static bool socket_exists(const char *dir, const char *name) {
        _cleanup_free_ char *path = NULL;
        struct stat st;

        if (path_join(dir, name, &path) < 0)
                return false;
        return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

int sockdir_resolve(SockDirUse use, const char *env_dir, const char *xdg_runtime, unsigned uid,
                    const char *socket_name, char **ret) {
        assert(ret);

        if (env_dir && env_dir[0])
                return strdup_to(env_dir, ret);

        /* The XDG base directory spec says to ignore a relative XDG_RUNTIME_DIR. */
        if (xdg_runtime && xdg_runtime[0] == '/') {
                _cleanup_free_ char *dir = NULL;
                int r = path_join(xdg_runtime, SOCKDIR_XDG_SUBDIR, &dir);
                if (r < 0)
                        return r;

                bool use_it = false;
                if (use == SOCKDIR_FOR_DAEMON)
                        use_it = uid != 0;
                else if (socket_name && socket_name[0])
                        use_it = socket_exists(dir, socket_name);

                if (use_it) {
                        *ret = TAKE_PTR(dir);
                        return 0;
                }
        }

        return strdup_to(NA_SYSTEM_SOCKET_DIR, ret);
}

int sockdir_resolve_env(SockDirUse use, const char *socket_name, char **ret) {
        return sockdir_resolve(use, getenv("NIX_ANALYTICS_SOCKET_DIR"), getenv("XDG_RUNTIME_DIR"),
                               (unsigned) getuid(), socket_name, ret);
}

int sockdir_socket_path(const char *dir, const char *name, char **ret) {
        _cleanup_free_ char *p = NULL;
        struct sockaddr_un sa;

        assert(dir);
        assert(name);
        assert(ret);

        int r = path_join(dir, name, &p);
        if (r < 0)
                return r;
        /* sun_path needs the terminating NUL too. */
        if (strlen(p) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        *ret = TAKE_PTR(p);
        return 0;
}

int sockdir_check(const char *dir, uid_t owner) {
        struct stat st;

        assert(dir);
        if (lstat(dir, &st) < 0)
                return -errno;
        if (S_ISLNK(st.st_mode))
                return -ELOOP;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if (st.st_uid != owner)
                return -EPERM;
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return -EACCES;
        return 0;
}

int sockdir_make(const char *dir, uid_t owner) {
        char path[PATH_MAX];
        size_t len = strlen(dir);

        if (len == 0 || len >= sizeof(path))
                return -EINVAL;
        memcpy(path, dir, len + 1);
        /* Parents first, as mkdir -p would; the last one is dir itself. */
        for (char *p = path + 1;; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                char saved = *p;
                *p = '\0';
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = saved;
                if (saved == '\0')
                        break;
        }
        return sockdir_check(dir, owner);
}
