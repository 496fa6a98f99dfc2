/* Listening Unix sockets created safely: right mode from the start, stale files replaced,
 * a live daemon never displaced. */
#include "daemon/listener.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/macro.h"

static int fill_addr(const char *path, struct sockaddr_un *sa, socklen_t *ret_len) {
        size_t len = strlen(path);
        if (len >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        *sa = (struct sockaddr_un){.sun_family = AF_UNIX};
        memcpy(sa->sun_path, path, len + 1);
        *ret_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + 1);
        return 0;
}

/* An existing socket file: 1 when a process listens on it, 0 when it is stale. */
static int socket_in_use(const struct sockaddr_un *sa, socklen_t salen) {
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) sa, salen) == 0)
                return 1;
        return errno == ECONNREFUSED || errno == ENOENT ? 0 : -errno;
}

int listener_open(const char *path, mode_t mode) {
        struct sockaddr_un sa;
        socklen_t salen;
        int r = fill_addr(path, &sa, &salen);
        if (r < 0)
                return r;

        struct stat st;
        if (lstat(path, &st) == 0) {
                /* Only our own stale socket is replaced: anything else is not ours to remove. */
                if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
                        return -EEXIST;
                r = socket_in_use(&sa, salen);
                if (r < 0)
                        return r;
                if (r > 0)
                        return -EADDRINUSE;
                if (unlink(path) < 0 && errno != ENOENT)
                        return -errno;
        }

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;

        /* The mode is right from the moment the file exists: never chmod after bind. */
        mode_t old = umask(~mode & 0777);
        r = bind(fd, (const struct sockaddr *) &sa, salen);
        int saved = errno;
        umask(old);
        if (r < 0)
                return -saved;
        if (listen(fd, SOMAXCONN) < 0)
                return -errno;
        return TAKE_FD(fd);
}
