/* The cgroup file parsers: mountinfo, /proc/<pid>/cgroup, cgroup.procs, keyed files
 * (cpu.stat, memory.events, cgroup.events), freezer.state, io.stat and blkio. They take
 * buffers, never paths, and never trust a length or a number they read. */
#include "shared/cgroup.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/cgroup-internal.h"

static const char *const controller_names[_CG_CONTROLLER_MAX] = {
        [CG_CPU] = "cpu",         [CG_CPUACCT] = "cpuacct", [CG_MEMORY] = "memory",
        [CG_FREEZER] = "freezer", [CG_PIDS] = "pids",       [CG_IO] = "io",
};

const char *cg_controller_to_string(CgController c) {
        return c >= 0 && c < _CG_CONTROLLER_MAX ? controller_names[c] : NULL;
}

const char *cg_layout_to_string(CgLayout l) {
        switch (l) {
        case CG_LAYOUT_V1:
                return "v1";
        case CG_LAYOUT_HYBRID:
                return "hybrid";
        case CG_LAYOUT_V2:
                return "v2";
        default:
                return "none";
        }
}

int cg_controller_from_name(const char *s, size_t n) {
        if (n == 5 && memcmp(s, "blkio", 5) == 0)
                return CG_IO;
        for (int i = 0; i < _CG_CONTROLLER_MAX; i++)
                if (strlen(controller_names[i]) == n && memcmp(controller_names[i], s, n) == 0)
                        return i;
        return -1;
}

/* Mount points escape space, tab, newline and backslash as \ooo. */
static char *unescape_mount(const char *s, size_t n) {
        char *out = malloc(n + 1), *o = out;
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
                    s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                        *o++ = (char) ((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
                        i += 3;
                } else
                        *o++ = s[i];
        }
        *o = '\0';
        return out;
}

/* Splits a line into space-separated words (at most max). Returns the count. */
size_t cg_split_words(const char *line, size_t len, const char **w, size_t *wl, size_t max) {
        size_t n = 0, i = 0;
        while (i < len && n < max) {
                while (i < len && line[i] == ' ')
                        i++;
                if (i >= len)
                        break;
                size_t start = i;
                while (i < len && line[i] != ' ')
                        i++;
                w[n] = line + start;
                wl[n] = i - start;
                n++;
        }
        return n;
}

int cg_host_parse_mountinfo(const char *buf, size_t len, CgHost *h) {
        const char *p = buf, *end = buf + len;
        CgHost host = {};
        bool any_v1 = false;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t ll = (size_t) ((nl ? nl : end) - p);
                const char *w[64];
                size_t wl[64];
                size_t n = cg_split_words(p, ll, w, wl, ELEMENTSOF(w));
                p += ll + 1;

                /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS */
                size_t dash = 0;
                for (size_t i = 6; i < n; i++)
                        if (wl[i] == 1 && w[i][0] == '-') {
                                dash = i;
                                break;
                        }
                if (n < 6 || dash == 0 || dash + 3 >= n)
                        continue;
                const char *fstype = w[dash + 1];
                size_t fl = wl[dash + 1];

                if (fl == 7 && memcmp(fstype, "cgroup2", 7) == 0) {
                        if (!host.v2 && !(host.v2 = unescape_mount(w[4], wl[4])))
                                goto free_host;
                } else if (fl == 6 && memcmp(fstype, "cgroup", 6) == 0) {
                        const char *opts = w[dash + 3];
                        size_t ol = wl[dash + 3];
                        for (size_t i = 0; i < ol;) {
                                size_t j = i;
                                while (j < ol && opts[j] != ',')
                                        j++;
                                int c = cg_controller_from_name(opts + i, j - i);
                                if (c >= 0 && !host.v1[c]) {
                                        if (!(host.v1[c] = unescape_mount(w[4], wl[4])))
                                                goto free_host;
                                        any_v1 = true;
                                }
                                i = j + 1;
                        }
                }
        }
        host.layout = host.v2 ? (any_v1 ? CG_LAYOUT_HYBRID : CG_LAYOUT_V2)
                              : (any_v1 ? CG_LAYOUT_V1 : CG_LAYOUT_NONE);
        *h = host;
        return 0;
free_host:
        cg_host_done(&host);
        return -ENOMEM;
}

int cg_parse_proc_cgroup(const char *buf, size_t len, CgProcPaths *ret) {
        CgProcPaths p = {};
        const char *s = buf, *end = buf + len;
        while (s < end) {
                const char *nl = memchr(s, '\n', (size_t) (end - s));
                const char *le = nl ? nl : end;
                /* "ID:CONTROLLERS:PATH" */
                const char *c1 = memchr(s, ':', (size_t) (le - s));
                const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t) (le - c1 - 1)) : NULL;
                if (c2 && c2 + 1 < le && c2[1] == '/') {
                        size_t pl = (size_t) (le - c2 - 1);
                        if (c2 == c1 + 1 && c1 - s == 1 && s[0] == '0') {
                                if (!p.v2 && !(p.v2 = strndup(c2 + 1, pl)))
                                        goto free_paths;
                        } else {
                                for (const char *o = c1 + 1; o < c2;) {
                                        const char *comma = memchr(o, ',', (size_t) (c2 - o));
                                        const char *oe = comma ? comma : c2;
                                        int c = cg_controller_from_name(o, (size_t) (oe - o));
                                        if (c >= 0 && !p.v1[c] && !(p.v1[c] = strndup(c2 + 1, pl)))
                                                goto free_paths;
                                        o = oe + 1;
                                }
                        }
                }
                s = le + 1;
        }
        *ret = p;
        return 0;
free_paths:
        cg_proc_paths_done(&p);
        return -ENOMEM;
}

void cg_proc_paths_done(CgProcPaths *p) {
        free(p->v2);
        for (int i = 0; i < _CG_CONTROLLER_MAX; i++)
                free(p->v1[i]);
        *p = (CgProcPaths){};
}

int cg_parse_pid_lines(const char *buf, size_t len, pid_t **ret) {
        size_t n = 0, cap = 16;
        pid_t *pids = malloc(cap * sizeof(pid_t));
        if (!pids)
                return -ENOMEM;
        const char *p = buf, *end = buf + len;
        while (p < end) {
                char *e;
                long v = strtol(p, &e, 10);
                if (e == p)
                        break;
                if (v > 0 && v <= INT_MAX) {
                        if (n == cap) {
                                pid_t *grown = realloc(pids, cap * 2 * sizeof(pid_t));
                                if (!grown) {
                                        free(pids);
                                        return -ENOMEM;
                                }
                                pids = grown;
                                cap *= 2;
                        }
                        pids[n++] = (pid_t) v;
                }
                p = e;
                while (p < end && (*p == '\n' || *p == ' '))
                        p++;
        }
        *ret = pids;
        return (int) n;
}

int cg_parse_keyed(const char *buf, size_t len, const char *key, uint64_t *ret) {
        size_t n;
        const char *v = record_value(buf, len, '\n', key, ' ', &n), *e;
        if (!v)
                return -ENOENT;
        uint64_t x;
        if (parse_u64_prefix(v, n, &e, &x) < 0 || e != v + n)
                return -EBADMSG;
        *ret = x;
        return 0;
}

CgFreeze cg_parse_freezer_state(const char *buf, size_t len) {
        uint64_t v;
        if (cg_parse_keyed(buf, len, "frozen", &v) == 0)
                return v ? CG_FREEZE_FROZEN : CG_FREEZE_THAWED;
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
                len--;
        if (len == 6 && memcmp(buf, "FROZEN", 6) == 0)
                return CG_FREEZE_FROZEN;
        if (len == 8 && memcmp(buf, "FREEZING", 8) == 0)
                return CG_FREEZE_FREEZING;
        if (len == 6 && memcmp(buf, "THAWED", 6) == 0)
                return CG_FREEZE_THAWED;
        return CG_FREEZE_UNKNOWN;
}

int cg_parse_io_stat(const char *buf, size_t len, uint64_t *ret_read, uint64_t *ret_write) {
        /* "MAJ:MIN rbytes=N wbytes=N rios=N ..." per device */
        uint64_t rd = 0, wr = 0;
        const char *p = buf, *end = buf + len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *le = nl ? nl : end;
                const char *w[16];
                size_t wl[16];
                size_t n = cg_split_words(p, (size_t) (le - p), w, wl, 16);
                for (size_t i = 1; i < n; i++) {
                        uint64_t *dst = wl[i] > 7 && memcmp(w[i], "rbytes=", 7) == 0   ? &rd
                                        : wl[i] > 7 && memcmp(w[i], "wbytes=", 7) == 0 ? &wr
                                                                                       : NULL;
                        uint64_t v;
                        const char *e;
                        if (dst && parse_u64_prefix(w[i] + 7, wl[i] - 7, &e, &v) == 0 && e == w[i] + wl[i])
                                *dst += v;
                }
                p = le + 1;
        }
        *ret_read = rd;
        *ret_write = wr;
        return 0;
}

int cg_parse_blkio(const char *buf, size_t len, uint64_t *ret_read, uint64_t *ret_write) {
        /* "MAJ:MIN Read N" ... lines per device, and a final "Total N" */
        uint64_t rd = 0, wr = 0;
        const char *p = buf, *end = buf + len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *le = nl ? nl : end;
                const char *w[4];
                size_t wl[4];
                size_t n = cg_split_words(p, (size_t) (le - p), w, wl, 4);
                uint64_t v;
                const char *e;
                if (n == 3 && parse_u64_prefix(w[2], wl[2], &e, &v) == 0 && e == w[2] + wl[2]) {
                        if (wl[1] == 4 && memcmp(w[1], "Read", 4) == 0)
                                rd += v;
                        else if (wl[1] == 5 && memcmp(w[1], "Write", 5) == 0)
                                wr += v;
                }
                p = le + 1;
        }
        *ret_read = rd;
        *ret_write = wr;
        return 0;
}
