/* Process identity for the plugin (see ident.h). Runs inside Nix: no output, -errno only. */
#include "plugin/ident.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/macro.h"

#define CMDLINE_MAX (64 * 1024)

static int read_cmdline(pid_t pid, char **ret, size_t *ret_len) {
        char path[64];
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;

        if (pid > 0)
                snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pid);
        else
                strcpy(path, "/proc/self/cmdline");
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        buf = malloc(CMDLINE_MAX + 1);
        if (!buf) {
                close(fd);
                return -ENOMEM;
        }
        while (len < CMDLINE_MAX) {
                ssize_t n = read(fd, buf + len, CMDLINE_MAX - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        close(fd);
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

IdentKind ident_kind_from_cmdline(const char *buf, size_t len) {
        const char *argv0 = buf, *end = buf + len;
        const char *nul = memchr(buf, '\0', len);
        const char *argv1 = nul && nul + 1 < end ? nul + 1 : "";
        const char *slash = nul ? memrchr(buf, '/', (size_t) (nul - buf)) : NULL;
        const char *base = slash ? slash + 1 : argv0;

        if (!nul)
                return IDENT_NIX;
        if ((strcmp(base, "build-remote") == 0) || (strcmp(argv1, "__build-remote") == 0))
                return IDENT_BUILD_HOOK;
        if ((strcmp(base, "nix-daemon") != 0) &&
            ((strcmp(base, "nix") != 0) || (strcmp(argv1, "daemon") != 0)))
                return IDENT_NIX;
        for (const char *a = nul + 1; a < end;) {
                size_t l = strnlen(a, (size_t) (end - a));
                if (l == strlen("--stdio") && memcmp(a, "--stdio", l) == 0)
                        return IDENT_NIX_DAEMON_STDIO;
                a += l + 1;
        }
        return IDENT_NIX_DAEMON;
}

IdentKind ident_kind_self(void) {
        _cleanup_free_ char *buf = NULL;
        size_t len;

        if (read_cmdline(0, &buf, &len) < 0)
                return IDENT_NIX;
        return ident_kind_from_cmdline(buf, len);
}

int ident_cmdline(pid_t pid, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len;

        int r = read_cmdline(pid, &buf, &len);
        if (r < 0)
                return r;
        while (len > 0 && buf[len - 1] == '\0')
                len--;
        buf[len] = '\0';
        for (size_t i = 0; i < len; i++)
                if (buf[i] == '\0')
                        buf[i] = ' ';
        *ret = TAKE_PTR(buf);
        return 0;
}

static bool sockopt_is(int fd, int opt, int want) {
        int v = 0;
        socklen_t l = sizeof(v);
        return getsockopt(fd, SOL_SOCKET, opt, &v, &l) == 0 && v == want;
}

int ident_find_client(int except_fd, pid_t *ret_pid, uid_t *ret_uid) {
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                return -errno;
        int found = -ENOENT;
        struct dirent *de;
        while ((de = readdir(d))) {
                char *e;
                long fd = strtol(de->d_name, &e, 10);
                if (*e != '\0' || e == de->d_name || fd < 0 || fd == dirfd(d) || fd == except_fd)
                        continue;
                if (!sockopt_is((int) fd, SO_DOMAIN, AF_UNIX) ||
                    !sockopt_is((int) fd, SO_TYPE, SOCK_STREAM) || !sockopt_is((int) fd, SO_ACCEPTCONN, 0))
                        continue;
                struct ucred cred;
                socklen_t l = sizeof(cred);
                if (getsockopt((int) fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) < 0 || cred.pid <= 0 ||
                    cred.pid == getpid())
                        continue;
                *ret_pid = cred.pid;
                *ret_uid = cred.uid;
                found = 0;
                break;
        }
        closedir(d);
        return found;
}
