/* Reading small files whole. */
#include "basic/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/macro.h"

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;

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
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}
