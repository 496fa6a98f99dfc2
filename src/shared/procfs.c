/* Reading processes from /proc for the sampler: stat, io, environ, open files, the pid list. */
#include "shared/procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static usec_t ticks_to_usec(uint64_t ticks) {
        static long hz;
        if (hz <= 0) {
                hz = sysconf(_SC_CLK_TCK);
                if (hz <= 0)
                        hz = 100;
        }
        return ticks * (USEC_PER_SEC / (uint64_t) hz);
}

/* Opening a vanished process's file gives ENOENT, reading it ESRCH: both mean gone. */
static int gone_or(int e) {
        return e == ENOENT || e == ESRCH ? -ESRCH : -e;
}

/* One field of a line of numbers: blanks, an optional '-', digits, then a blank, a newline
 * or the end. */
static int next_field(const char **p, const char *end, long long *ret) {
        const char *s = *p;
        while (s < end && *s == ' ')
                s++;
        bool neg = s < end && *s == '-';
        s += neg;
        uint64_t v;
        if (s >= end || parse_u64_prefix(s, (size_t) (end - s), &s, &v) < 0 || v > LLONG_MAX)
                return -EBADMSG;
        if (s < end && *s != ' ' && *s != '\n')
                return -EBADMSG;
        *p = s;
        *ret = neg ? -(long long) v : (long long) v;
        return 0;
}

int procfs_parse_stat(const char *buf, size_t len, ProcStat *ret) {
        const char *end = buf + len;
        const char *open = memchr(buf, '(', len);
        const char *close = NULL;
        /* comm may contain anything, ')' included: the last ')' ends it. */
        for (const char *p = end; p > buf; p--)
                if (p[-1] == ')') {
                        close = p - 1;
                        break;
                }
        if (!open || !close || close < open || close + 3 >= end || close[1] != ' ')
                return -EBADMSG;

        ProcStat st = {};
        long long v;
        const char *p = buf;
        if (next_field(&p, open, &v) < 0 || v <= 0 || v > INT_MAX)
                return -EBADMSG;
        st.pid = (pid_t) v;
        size_t n = MIN((size_t) (close - open - 1), (size_t) PROCFS_COMM_MAX);
        memcpy(st.comm, open + 1, n);
        st.comm[n] = '\0';
        st.state = close[2];
        p = close + 3;

        /* Fields 4.. (1-based, as proc(5) numbers them). */
        for (int field = 4; field <= 24; field++) {
                if (next_field(&p, end, &v) < 0)
                        return -EBADMSG;
                switch (field) {
                case 4:
                        st.ppid = (pid_t) v;
                        break;
                case 5:
                        st.pgid = (pid_t) v;
                        break;
                case 6:
                        st.sid = (pid_t) v;
                        break;
                case 9:
                        st.flags = (uint32_t) v;
                        break;
                case 14:
                        st.utime = ticks_to_usec((uint64_t) v);
                        break;
                case 15:
                        st.stime = ticks_to_usec((uint64_t) v);
                        break;
                case 16:
                        st.cutime = v > 0 ? ticks_to_usec((uint64_t) v) : 0;
                        break;
                case 17:
                        st.cstime = v > 0 ? ticks_to_usec((uint64_t) v) : 0;
                        break;
                case 19:
                        st.nice = (int) v;
                        break;
                case 20:
                        st.threads = v > 0 && v < UINT32_MAX ? (uint32_t) v : 0;
                        break;
                case 22:
                        st.starttime = (uint64_t) v;
                        break;
                case 24:
                        st.rss = v > 0 ? (uint64_t) v * (uint64_t) sysconf(_SC_PAGESIZE) : 0;
                        break;
                default:
                        break;
                }
        }
        *ret = st;
        return 0;
}

const char *procfs_field(const char *buf, size_t len, const char *name, size_t *ret_len) {
        size_t n;
        const char *v = record_value(buf, len, '\n', name, ':', &n);
        if (!v)
                return NULL;
        const char *line_end = v + n;
        while (v < line_end && (*v == '\t' || *v == ' '))
                v++;
        *ret_len = (size_t) (line_end - v);
        return v;
}

/* The first number of a field's value, at most max, up to a blank or the line's end (status's
 * Uid line goes on with the effective, saved and file system uids). */
static int field_number(const char *buf, size_t len, const char *name, uint64_t max, uint64_t *ret) {
        size_t n = 0;
        const char *v = procfs_field(buf, len, name, &n), *end;
        uint64_t x;
        if (!v || parse_u64_prefix(v, n, &end, &x) < 0 || x > max ||
            (end < v + n && *end != ' ' && *end != '\t'))
                return -EBADMSG;
        *ret = x;
        return 0;
}

int procfs_parse_io(const char *buf, size_t len, ProcIo *ret) {
        ProcIo io;
        if (field_number(buf, len, "read_bytes", UINT64_MAX, &io.read_bytes) < 0 ||
            field_number(buf, len, "write_bytes", UINT64_MAX, &io.write_bytes) < 0)
                return -EBADMSG;
        *ret = io;
        return 0;
}

int procfs_parse_status(const char *buf, size_t len, ProcStatus *ret) {
        uint64_t ppid, uid;
        /* (uid_t) -1 is no uid. */
        if (field_number(buf, len, "PPid", INT_MAX, &ppid) < 0 ||
            field_number(buf, len, "Uid", (uid_t) -1 - 1, &uid) < 0)
                return -EBADMSG;
        *ret = (ProcStatus){.ppid = (pid_t) ppid, .uid = (uid_t) uid};
        return 0;
}

const char *procfs_environ_get(const char *buf, size_t len, const char *name, size_t *ret_len) {
        return record_value(buf, len, '\0', name, '=', ret_len);
}

static int pid_path(const char *root, pid_t pid, const char *name, char *buf, size_t size) {
        int n = name ? snprintf(buf, size, "%s/%d/%s", root, (int) pid, name)
                     : snprintf(buf, size, "%s/%d", root, (int) pid);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

int procfs_read(const char *root, pid_t pid, const char *name, size_t max, char **ret, size_t *ret_len) {
        char path[PATH_MAX];
        int r = pid_path(root, pid, name, path, sizeof(path));
        if (r < 0)
                return r;
        r = read_full_file(path, max, ret, ret_len);
        return r < 0 ? gone_or(-r) : 0;
}

/* io and status are small: read into the stack, once, without allocating (stat:
 * procfs_pread_stat). PPid and Uid are in status's first lines; the whole is shorter anyway. */
#define SMALL_MAX 4096
static int read_small(const char *root, pid_t pid, const char *name, char buf[static SMALL_MAX],
                      size_t *ret_len) {
        char path[PATH_MAX];
        int r = pid_path(root, pid, name, path, sizeof(path));
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return gone_or(errno);
        ssize_t n = read(fd, buf, SMALL_MAX - 1);
        if (n < 0)
                return gone_or(errno);
        buf[n] = '\0';
        *ret_len = (size_t) n;
        return 0;
}

int procfs_open(const char *root, pid_t pid, const char *name) {
        char path[PATH_MAX];
        int r = pid_path(root, pid, name, path, sizeof(path));
        if (r < 0)
                return r;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        return fd < 0 ? gone_or(errno) : fd;
}

int procfs_pread_stat(int fd, ProcStat *ret) {
        char buf[2048];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return gone_or(errno);
        buf[n] = '\0';
        return procfs_parse_stat(buf, (size_t) n, ret);
}

int procfs_read_stat(const char *root, pid_t pid, ProcStat *ret) {
        _cleanup_close_ int fd = procfs_open(root, pid, "stat");
        if (fd < 0)
                return fd;
        return procfs_pread_stat(fd, ret);
}

int procfs_read_io(const char *root, pid_t pid, ProcIo *ret) {
        char buf[SMALL_MAX];
        size_t len = 0;
        int r = read_small(root, pid, "io", buf, &len);
        return r < 0 ? r : procfs_parse_io(buf, len, ret);
}

int procfs_read_status(const char *root, pid_t pid, ProcStatus *ret) {
        char buf[SMALL_MAX];
        size_t len = 0;
        int r = read_small(root, pid, "status", buf, &len);
        return r < 0 ? r : procfs_parse_status(buf, len, ret);
}

int procfs_parse_loadavg(const char *buf, size_t len, double ret[3]) {
        char line[128];
        size_t n = MIN(len, sizeof(line) - 1);
        memcpy(line, buf, n);
        line[n] = '\0';
        double v[3];
        char *p = line, *end;
        for (int i = 0; i < 3; i++) {
                errno = 0;
                v[i] = strtod(p, &end);
                if (end == p || errno != 0 || !(v[i] >= 0) || v[i] > 1e9 || (*end != ' ' && *end != '\n'))
                        return -EBADMSG;
                p = end;
        }
        memcpy(ret, v, sizeof(v));
        return 0;
}

int procfs_read_loadavg(const char *root, double ret[3]) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/loadavg", root) >= (int) sizeof(path))
                return -ENAMETOOLONG;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_full_file(path, 128, &buf, &len);
        if (r < 0)
                return r;
        return procfs_parse_loadavg(buf, len, ret);
}

int procfs_read_uid(const char *root, pid_t pid, uid_t *ret) {
        char path[PATH_MAX];
        int r = pid_path(root, pid, NULL, path, sizeof(path));
        if (r < 0)
                return r;
        struct stat st;
        if (stat(path, &st) < 0)
                return gone_or(errno);
        *ret = st.st_uid;
        return 0;
}

int procfs_list_pids(const char *root, pid_t **ret) {
        DIR *d = opendir(root);
        if (!d)
                return -errno;
        size_t n = 0, cap = 256;
        pid_t *pids = malloc(cap * sizeof(pid_t));
        if (!pids) {
                closedir(d);
                return -ENOMEM;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                pid_t pid;
                if (parse_pid(de->d_name, &pid) < 0)
                        continue;
                if (n == cap) {
                        if (cap >= (size_t) INT_MAX / 2)
                                break;
                        pid_t *grown = realloc(pids, cap * 2 * sizeof(pid_t));
                        if (!grown) {
                                free(pids);
                                closedir(d);
                                return -ENOMEM;
                        }
                        pids = grown;
                        cap *= 2;
                }
                pids[n++] = pid;
        }
        closedir(d);
        *ret = pids;
        return (int) n;
}

int procfs_foreach_fd(const char *root, pid_t pid, const char *prefix,
                      int (*cb)(const char *target, void *userdata), void *userdata) {
        char path[PATH_MAX];
        int r = pid_path(root, pid, "fd", path, sizeof(path));
        if (r < 0)
                return r;
        DIR *d = opendir(path);
        if (!d)
                return gone_or(errno);
        size_t plen = strlen(prefix);
        struct dirent *de;
        r = 0;
        while (r == 0 && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char target[PATH_MAX];
                ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
                if (n < 0)
                        continue; /* closed meanwhile */
                target[n] = '\0';
                if ((size_t) n >= plen && memcmp(target, prefix, plen) == 0)
                        r = cb(target, userdata);
        }
        closedir(d);
        return r < 0 ? r : 0;
}
