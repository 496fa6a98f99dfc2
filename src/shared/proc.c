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

/* Real uid of pid, from the "Uid:" line of its status. */
static int proc_uid(const char *proc_root, pid_t pid, uid_t *ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_proc_file(proc_root, pid, "status", &buf, &len);
        if (r < 0)
                return r;
        const char *p = strstr(buf, "\nUid:");
        if (!p)
                return -EBADMSG;
        p += strlen("\nUid:");
        char *end;
        errno = 0;
        unsigned long v = strtoul(p, &end, 10);
        if (errno != 0 || end == p || v >= UINT32_MAX)
                return -EBADMSG;
        *ret = (uid_t) v;
        return 0;
}

int proc_nix_daemon_client(const char *proc_root, pid_t worker, pid_t *ret_pid, uid_t *ret_uid) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_proc_file(proc_root, worker, "cmdline", &buf, &len);
        if (r < 0)
                return r;

        /* argv[0]: nix-daemon, or nix (`nix daemon`), by its last path component. */
        size_t a0 = strnlen(buf, len);
        if (a0 == len)
                return -ENOENT;
        const char *base = memrchr(buf, '/', a0);
        base = base ? base + 1 : buf;
        if (strcmp(base, "nix-daemon") != 0 && strcmp(base, "nix") != 0)
                return -ENOENT;

        /* argv[1]: the pid's digits, then at least one more NUL of the padding. */
        const char *a1 = buf + a0 + 1;
        size_t n = strnlen(a1, len - a0 - 1);
        if (n == 0 || n > 10 || a0 + 1 + n + 1 >= len || a1[n + 1] != '\0')
                return -ENOENT;
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) {
                if (a1[i] < '0' || a1[i] > '9')
                        return -ENOENT;
                v = v * 10 + (uint64_t) (a1[i] - '0');
        }
        if (v == 0 || v > INT32_MAX || (pid_t) v == worker)
                return -ENOENT;
        pid_t client = (pid_t) v;

        uint64_t worker_start, client_start;
        r = proc_starttime(proc_root, worker, &worker_start);
        if (r < 0)
                return r;
        r = proc_starttime(proc_root, client, &client_start);
        if (r < 0)
                return r;
        if (client_start > worker_start)
                return -ENOENT; /* the pid was reused after the worker started */
        uid_t uid;
        r = proc_uid(proc_root, client, &uid);
        if (r < 0)
                return r;
        *ret_pid = client;
        *ret_uid = uid;
        return 0;
}
