/* The OOM killer's records in the kernel log (kmsg.h). */
#include "shared/kmsg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/string-util.h"

/* The kernel escapes what is not printable as \xNN: a task's 15-byte command is at most 60
 * bytes printed. A cgroup path is at most PATH_MAX. */
#define KMSG_COMM_MAX  64
#define KMSG_PATH_MAX  4096
#define KMSG_FIELD_MAX 64

static const char *find_last(const char *s, size_t n, const char *needle) {
        size_t k = strlen(needle);
        for (size_t i = n; i >= k; i--)
                if (memcmp(s + i - k, needle, k) == 0)
                        return s + i - k;
        return NULL;
}

static const char *find_first(const char *s, size_t n, const char *needle) {
        size_t k = strlen(needle);
        for (size_t i = 0; i + k <= n; i++)
                if (memcmp(s + i, needle, k) == 0)
                        return s + i;
        return NULL;
}

/* s[0..n) starts with prefix: just past it, or NULL. */
static const char *startswith_n(const char *s, size_t n, const char *prefix) {
        size_t k = strlen(prefix);
        return n >= k && memcmp(s, prefix, k) == 0 ? s + k : NULL;
}

/* A copy in which anything but printable ASCII is '?': the text is the kernel's, escaped
 * already, but it goes into JSON and onto terminals. */
static char *copy_printable(const char *s, size_t n) {
        char *c = strndup(s, n);
        for (size_t i = 0; c && c[i]; i++)
                if ((unsigned char) c[i] < 0x20 || (unsigned char) c[i] > 0x7e)
                        c[i] = '?';
        return c;
}

/* Digits that fill s[0..n) exactly. */
static int parse_u64_all(const char *s, size_t n, uint64_t *ret) {
        const char *end;
        uint64_t v;
        if (parse_u64_prefix(s, n, &end, &v) < 0 || end != s + n)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int parse_pid_all(const char *s, size_t n, pid_t *ret) {
        uint64_t v;
        if (parse_u64_all(s, n, &v) < 0 || v == 0 || v > INT32_MAX)
                return -EBADMSG;
        *ret = (pid_t) v;
        return 0;
}

/* "oom-kill:constraint=C,nodemask=…,cpuset=…,mems_allowed=…[,oom_memcg=…],task_memcg=P,
 * task=COMM,pid=N[,uid=N]". Cgroup paths and commands may hold commas: the fields are taken
 * from the end, where their order is fixed. */
static int parse_info(const char *t, size_t n, KmsgOom *o) {
        const char *end = t + n, *p;
        o->kind = KMSG_OOM_INFO;
        o->uid = -1;
        if ((p = find_last(t, n, ",uid=")) && p > find_last(t, n, ",pid=")) {
                uint64_t uid;
                if (parse_u64_all(p + 5, (size_t) (end - p - 5), &uid) < 0 || uid > UINT32_MAX)
                        return -EBADMSG;
                o->uid = (int64_t) uid;
                end = p;
        }
        if (!(p = find_last(t, (size_t) (end - t), ",pid=")) ||
            parse_pid_all(p + 5, (size_t) (end - p - 5), &o->pid) < 0)
                return -EBADMSG;
        end = p;
        if (!(p = find_last(t, (size_t) (end - t), ",task=")) || (size_t) (end - p - 6) > KMSG_COMM_MAX)
                return -EBADMSG;
        if (!(o->comm = copy_printable(p + 6, (size_t) (end - p - 6))))
                return -ENOMEM;
        end = p;
        if ((p = find_last(t, (size_t) (end - t), ",task_memcg="))) {
                size_t l = (size_t) (end - p - 12);
                if (l == 0 || l > KMSG_PATH_MAX || p[12] != '/')
                        return -EBADMSG;
                if (!(o->task_memcg = copy_printable(p + 12, l)))
                        return -ENOMEM;
        }
        const char *c = startswith_n(t, n, "oom-kill:constraint=");
        if (c) {
                const char *comma = memchr(c, ',', (size_t) (t + n - c));
                size_t l = comma ? (size_t) (comma - c) : 0;
                if (l > 0 && l <= KMSG_FIELD_MAX && !(o->constraint = copy_printable(c, l)))
                        return -ENOMEM;
        }
        return 1;
}

/* "<why>: Killed process PID (COMM) total-vm:…", where why is "Out of memory", "Memory cgroup
 * out of memory" or "Out of memory (oom_kill_allocating_task)"; older kernels print the
 * "Killed process" part alone. Nothing after the command holds a ')'. */
static int parse_killed(const char *t, size_t n, KmsgOom *o) {
        static const char killed[] = "Killed process ";
        const char *k = find_first(t, n, killed);
        if (!k)
                return 0;
        if (k != t) {
                size_t why = (size_t) (k - t);
                if (why < 2 || t[why - 2] != ':' || t[why - 1] != ' ')
                        return 0;
                o->memcg = startswith_n(t, why, "Memory cgroup out of memory") != NULL;
                if (!o->memcg && !startswith_n(t, why, "Out of memory"))
                        return 0;
        }
        o->kind = KMSG_OOM_KILLED;
        o->uid = -1;
        const char *p = k + sizeof(killed) - 1, *end = t + n;
        const char *open = find_first(p, (size_t) (end - p), " (");
        const char *close = find_last(p, (size_t) (end - p), ")");
        if (!open || !close || close < open + 2 || parse_pid_all(p, (size_t) (open - p), &o->pid) < 0 ||
            (size_t) (close - open - 2) > KMSG_COMM_MAX)
                return -EBADMSG;
        if (!(o->comm = copy_printable(open + 2, (size_t) (close - open - 2))))
                return -ENOMEM;
        return 1;
}

int kmsg_parse_oom(const char *buf, size_t len, KmsgOom *ret) {
        /* "PRI,SEQ,USEC,FLAGS;" */
        const char *p = buf, *end = buf + len, *e;
        uint64_t pri, seq, usec;
        if (parse_u64_prefix(p, (size_t) (end - p), &e, &pri) < 0 || e == end || *e != ',')
                return -EBADMSG;
        p = e + 1;
        if (parse_u64_prefix(p, (size_t) (end - p), &e, &seq) < 0 || e == end || *e != ',')
                return -EBADMSG;
        p = e + 1;
        if (parse_u64_prefix(p, (size_t) (end - p), &e, &usec) < 0 || e == end || *e != ',')
                return -EBADMSG;
        p = e + 1;
        const char *semi = memchr(p, ';', (size_t) (end - p));
        if (!semi)
                return -EBADMSG;
        /* Facility 0 is the kernel's: a write to /dev/kmsg is given LOG_USER when it asks for it. */
        if (pri >> 3 != 0)
                return 0;
        const char *text = semi + 1;
        const char *nl = memchr(text, '\n', (size_t) (end - text));
        size_t n = nl ? (size_t) (nl - text) : (size_t) (end - text);
        if (memchr(text, '\0', n))
                return -EBADMSG;

        KmsgOom o = {.seq = seq, .boot_usec = usec};
        int r = startswith_n(text, n, "oom-kill:") ? parse_info(text, n, &o) : parse_killed(text, n, &o);
        if (r <= 0) {
                kmsg_oom_done(&o);
                return r;
        }
        *ret = o;
        return 1;
}

void kmsg_oom_done(KmsgOom *o) {
        if (!o)
                return;
        free(o->comm);
        free(o->task_memcg);
        free(o->constraint);
        o->comm = o->task_memcg = o->constraint = NULL;
}
