/* Reading small files whole, without letting a planted FIFO, tty or symbolic link in. */
#include "basic/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/macro.h"

#define READ_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

static int open_in_root(int dir_fd, const char *path) {
#ifdef SYS_openat2
        struct open_how how = {
                .flags = READ_OPEN_FLAGS | O_NOFOLLOW,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int) syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
                return fd;
                /* No openat2 (old kernel, or a seccomp filter that answers EPERM). */
#endif
        return openat(dir_fd, path, READ_OPEN_FLAGS | O_NOFOLLOW);
}

int read_full_file_at(int dir_fd, const char *path, size_t max, ReadFileFlags flags, char **ret,
                      size_t *ret_len) {
        _cleanup_close_ int fd =
                (flags & READ_FILE_IN_ROOT)
                        ? open_in_root(dir_fd, path)
                        : openat(dir_fd, path,
                                 READ_OPEN_FLAGS | ((flags & READ_FILE_NOFOLLOW) ? O_NOFOLLOW : 0));
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if ((flags & READ_FILE_REFUSE_LARGER) && (uintmax_t) st.st_size > (uintmax_t) max)
                return -EFBIG;

        /* Generated files report size 0: start small and grow. */
        size_t cap = st.st_size > 0 ? (size_t) st.st_size : 4096, len = 0;
        cap = cap < max ? cap : max;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len == cap) {
                        if (cap >= max)
                                break;
                        size_t ncap = cap * 2 < max ? cap * 2 : max;
                        char *grown = realloc(buf, ncap + 1);
                        if (!grown)
                                return -ENOMEM;
                        buf = grown;
                        cap = ncap;
                }
        }
        /* A file that grew past max after fstat: refused all the same. */
        if ((flags & READ_FILE_REFUSE_LARGER) && len == max && max > 0) {
                char probe;
                ssize_t n = read(fd, &probe, 1);
                if (n > 0)
                        return -EFBIG;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_len) {
        return read_full_file_at(AT_FDCWD, path, max, 0, ret, ret_len);
}
