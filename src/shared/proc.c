/* Reading /proc: process identity and liveness. */
#include "shared/proc.h"
#include "shared/redact.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"

/* Reads a small /proc file whole (they are generated, so one read of a big buffer is
 * enough for stat; cmdline may need more). */
static int read_proc_file(const char *proc_root, pid_t pid, const char *name, char **ret, size_t *ret_len) {
        char path[256];
        if (snprintf(path, sizeof(path), "%s/%d/%s", proc_root, (int) pid, name) >= (int) sizeof(path))
                return -ENAMETOOLONG;

        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;

        size_t cap = 4096, len = 0;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0)
                        return errno == ESRCH ? -ESRCH : -errno;
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len == cap) {
                        if (cap >= 1 << 20)
                                break; /* bounded: enough for any command line we show */
                        char *grown = realloc(buf, cap * 2 + 1);
                        if (!grown)
                                return -ENOMEM;
                        buf = grown;
                        cap *= 2;
                }
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int proc_starttime(const char *proc_root, pid_t pid, uint64_t *ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_proc_file(proc_root, pid, "stat", &buf, &len);
        if (r < 0)
                return r;

        /* "pid (comm) S ppid ...": comm may contain anything, so start after the last ')'. */
        char *p = strrchr(buf, ')');
        if (!p || p[1] != ' ')
                return -EBADMSG;
        p += 2;
        if (*p == 'Z' || *p == 'X')
                return -ESRCH;

        /* p is field 3; starttime is field 22. */
        for (int field = 3; field < 22; field++) {
                p = strchr(p, ' ');
                if (!p)
                        return -EBADMSG;
                p++;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno != 0 || end == p)
                return -EBADMSG;
        *ret = v;
        return 0;
}

bool proc_alive(const char *proc_root, pid_t pid, uint64_t starttime) {
        uint64_t st;
        if (pid <= 0)
                return false;
        if (proc_starttime(proc_root, pid, &st) < 0)
                return false;
        return starttime == 0 || st == starttime;
}

int proc_cmdline(const char *proc_root, pid_t pid, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_proc_file(proc_root, pid, "cmdline", &buf, &len);
        if (r < 0)
                return r;
        while (len > 0 && buf[len - 1] == '\0')
                len--;
        for (size_t i = 0; i < len; i++)
                if (buf[i] == '\0')
                        buf[i] = ' ';
        buf[len] = '\0';
        return redact_cmdline(buf, ret);
}
