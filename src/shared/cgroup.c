/* cgroups for builds: host layout, a process's groups, one build's group across hierarchies. */
#include "shared/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/cgroup-internal.h"

#define CPU_PERIOD_USEC 100000

/* Small files read into the caller's buffer. */
static int read_at(const char *dir, const char *name, char *buf, size_t size, size_t *ret_len) {
        char path[PATH_MAX];
        if (!dir || snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int) sizeof(path))
                return -ENOENT;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        *ret_len = (size_t) n;
        return 0;
}

static int write_at(const char *dir, const char *name, const char *value) {
        char path[PATH_MAX];
        if (!dir || snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int) sizeof(path))
                return -ENOENT;
        /* O_TRUNC is ignored by cgroupfs; it keeps fake trees in tests honest. */
        _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t n = strlen(value);
        ssize_t w = write(fd, value, n);
        if (w < 0)
                return -errno;
        return (size_t) w == n ? 0 : -EIO;
}

static bool exists_at(const char *dir, const char *name) {
        char path[PATH_MAX];
        if (!dir || snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int) sizeof(path))
                return false;
        return access(path, F_OK) == 0;
}

static char *join(const char *a, const char *b, const char *c) {
        char *s;
        if (asprintf(&s, "%s%s%s", a ? a : "", b ? b : "", c ? c : "") < 0)
                return NULL;
        return s;
}

int cg_host_detect(const char *fs_root, const char *mountinfo_path, CgHost *ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t len;
        fs_root = fs_root ? fs_root : "";
        if (!mountinfo_path) {
                path = join(fs_root, "/proc/self/mountinfo", NULL);
                if (!path)
                        return -ENOMEM;
                mountinfo_path = path;
        }
        int r = read_full_file(mountinfo_path, 16u << 20, &buf, &len);
        if (r < 0)
                return r;
        CgHost h;
        r = cg_host_parse_mountinfo(buf, len, &h);
        if (r < 0)
                return r;
        h.fs_root = strdup(fs_root);
        if (!h.fs_root) {
                cg_host_done(&h);
                return -ENOMEM;
        }
        if (h.v2) {
                char cbuf[512];
                size_t cl;
                _cleanup_free_ char *dir = join(fs_root, h.v2, NULL);
                if (dir && read_at(dir, "cgroup.controllers", cbuf, sizeof(cbuf), &cl) == 0) {
                        const char *w[32];
                        size_t wl[32];
                        while (cl > 0 && cbuf[cl - 1] == '\n')
                                cl--;
                        size_t n = cg_split_words(cbuf, cl, w, wl, ELEMENTSOF(w));
                        for (size_t i = 0; i < n; i++) {
                                int c = cg_controller_from_name(w[i], wl[i]);
                                if (c >= 0 && !(c == CG_IO && wl[i] == 5)) /* "blkio" is v1 only */
                                        h.v2_controllers |= 1u << c;
                                if (wl[i] == 3 && memcmp(w[i], "cpu", 3) == 0)
                                        h.v2_controllers |= 1u << CG_CPUACCT; /* v2 cpu accounts */
                        }
                }
        }
        *ret = h;
        return 0;
}

void cg_host_done(CgHost *h) {
        free(h->fs_root);
        free(h->v2);
        for (int i = 0; i < _CG_CONTROLLER_MAX; i++)
                free(h->v1[i]);
        *h = (CgHost){};
}

void cg_group_drop_files(CgGroup *g) {
        for (int i = 0; i < _CG_KEPT_MAX; i++)
                if (g->kept[i] > 0) {
                        close(g->kept[i] - 1);
                        g->kept[i] = 0;
                }
        g->keep_files = false;
}

void cg_group_done(CgGroup *g) {
        cg_group_drop_files(g);
        free(g->v2);
        for (int i = 0; i < _CG_CONTROLLER_MAX; i++)
                free(g->v1[i]);
        *g = (CgGroup){};
}

/* Controllers a build's group needs in v1 (blkio is left alone: I/O comes from /proc). */
static bool v1_wanted(const CgHost *h, int c) {
        switch (c) {
        case CG_CPU:
        case CG_CPUACCT:
        case CG_MEMORY:
        case CG_PIDS:
                return true;
        case CG_FREEZER:
                return !h->v2; /* v2 freezes by itself */
        default:
                return false;
        }
}

/* mkdir -p below an existing mount point. Returns 1 if the last component was created. */
static int mkdir_rel(const char *base, const char *rel) {
        _cleanup_free_ char *path = join(base, rel, NULL);
        if (!path)
                return -ENOMEM;
        size_t bl = strlen(base);
        int created = 0;
        for (char *p = path + bl + 1;; p++) {
                if (*p == '/' || *p == '\0') {
                        char saved = *p;
                        *p = '\0';
                        created = 0;
                        if (mkdir(path, 0755) == 0)
                                created = 1;
                        else if (errno != EEXIST)
                                return -errno;
                        *p = saved;
                        if (!saved)
                                break;
                }
        }
        return created;
}

/* The v2 controllers a build's group can use, in the order they are enabled. */
static const CgController subtree_wanted[] = {CG_CPU, CG_MEMORY, CG_IO, CG_PIDS};

/* Bits (per CgController) of the subtree_wanted controllers named in a controllers file. */
static unsigned controllers_mask(const char *buf, size_t len) {
        const char *w[32];
        size_t wl[32];
        unsigned mask = 0;
        while (len > 0 && buf[len - 1] == '\n')
                len--;
        size_t n = cg_split_words(buf, len, w, wl, ELEMENTSOF(w));
        for (size_t i = 0; i < ELEMENTSOF(subtree_wanted); i++) {
                const char *name = cg_controller_to_string(subtree_wanted[i]);
                for (size_t j = 0; j < n; j++)
                        if (wl[j] == strlen(name) && memcmp(w[j], name, wl[j]) == 0)
                                mask |= 1u << subtree_wanted[i];
        }
        return mask;
}

/* "+cpu +memory" (sign '+') or "-cpu -memory" for the controllers of mask. */
static void subtree_line(unsigned mask, char sign, char *line, size_t size) {
        size_t at = 0;
        line[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(subtree_wanted); i++)
                if (mask & (1u << subtree_wanted[i])) {
                        int n = snprintf(line + at, size - at, "%s%c%s", at ? " " : "", sign,
                                         cg_controller_to_string(subtree_wanted[i]));
                        if (n < 0 || (size_t) n >= size - at)
                                break;
                        at += (size_t) n;
                }
}

int cg_subtree_enable(const char *dir, unsigned *ret_enabled) {
        char buf[512], line[128];
        size_t len;
        int r = read_at(dir, "cgroup.controllers", buf, sizeof(buf), &len);
        if (r < 0)
                return r;
        unsigned avail = controllers_mask(buf, len), already = 0;
        if (read_at(dir, "cgroup.subtree_control", buf, sizeof(buf), &len) == 0)
                already = controllers_mask(buf, len);
        unsigned want = avail & ~already;
        if (want) {
                subtree_line(want, '+', line, sizeof(line));
                if ((r = write_at(dir, "cgroup.subtree_control", line)) < 0)
                        return r;
        }
        if (ret_enabled)
                *ret_enabled = want;
        return 0;
}

int cg_subtree_disable(const char *dir, unsigned mask) {
        char line[128];
        if (!mask)
                return 0;
        subtree_line(mask, '-', line, sizeof(line));
        return write_at(dir, "cgroup.subtree_control", line);
}

/* On v2, controllers reach a group only when every parent delegates them: our own root
 * delegates whatever its parent gave it (we never write above it). */
static void v2_delegate(const char *dir) {
        (void) cg_subtree_enable(dir, NULL);
}

/* An absolute path inside the hierarchy: no "." or ".." component anywhere, last included. */
static bool rel_valid(const char *rel) {
        if (!rel || rel[0] != '/')
                return false;
        for (const char *p = rel; p; p = strchr(p + 1, '/')) {
                size_t n = strcspn(p + 1, "/");
                if ((n == 1 && p[1] == '.') || (n == 2 && p[1] == '.' && p[2] == '.'))
                        return false;
        }
        return true;
}

/* The group at v2rel in v2 and at v1rel[c] in each v1 hierarchy useful to a build (a NULL
 * path leaves that hierarchy out). */
static int group_open(const CgHost *h, const char *v2rel, const char *const v1rel[_CG_CONTROLLER_MAX],
                      bool create, CgGroup *ret) {
        CgGroup g = {.owned = create};
        int r;
        if (h->v2 && v2rel) {
                _cleanup_free_ char *base = join(h->fs_root, h->v2, NULL);
                if (!base)
                        goto oom_remove_group;
                if (create) {
                        /* Delegate controllers down our own root (the parent of the build group). */
                        const char *slash = strrchr(v2rel, '/');
                        if (slash != v2rel) {
                                _cleanup_free_ char *parent = strndup(v2rel, (size_t) (slash - v2rel));
                                if (!parent)
                                        goto oom_remove_group;
                                r = mkdir_rel(base, parent);
                                if (r < 0)
                                        goto remove_group;
                                _cleanup_free_ char *pdir = join(base, parent, NULL);
                                if (!pdir)
                                        goto oom_remove_group;
                                v2_delegate(pdir);
                        }
                        r = mkdir_rel(base, v2rel);
                        if (r < 0)
                                goto remove_group;
                }
                if (!(g.v2 = join(base, v2rel, NULL)))
                        goto oom_remove_group;
        }
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++) {
                if (!h->v1[c] || !v1rel[c] || !v1_wanted(h, c))
                        continue;
                _cleanup_free_ char *base = join(h->fs_root, h->v1[c], NULL);
                if (!base)
                        goto oom_remove_group;
                if (create && (r = mkdir_rel(base, v1rel[c])) < 0)
                        goto remove_group;
                if (!(g.v1[c] = join(base, v1rel[c], NULL)))
                        goto oom_remove_group;
        }
        if (!create) {
                struct stat st;
                if (!g.v2 || stat(g.v2, &st) < 0) {
                        r = -ENOENT;
                        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                                if (g.v1[c] && stat(g.v1[c], &st) == 0)
                                        r = 0;
                        if (r < 0)
                                goto remove_group;
                }
        }
        *ret = g;
        return 0;
oom_remove_group:
        r = -ENOMEM;
remove_group:
        if (create)
                (void) cg_group_remove(&g);
        cg_group_done(&g);
        return r;
}

int cg_group_open(const CgHost *h, const char *rel, bool create, CgGroup *ret) {
        if (!rel_valid(rel))
                return -EINVAL;
        const char *v1rel[_CG_CONTROLLER_MAX];
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                v1rel[c] = rel;
        return group_open(h, rel, v1rel, create, ret);
}

int cg_group_open_under(const CgHost *h, const CgProcPaths *roots, const char *name, bool create,
                        CgGroup *ret) {
        if (!name || !name[0] || strchr(name, '/') || name[0] == '.')
                return -EINVAL;
        _cleanup_free_ char *v2rel = NULL;
        char *v1rel[_CG_CONTROLLER_MAX] = {};
        int r = -ENOMEM;
        if (roots->v2 && !(v2rel = join(roots->v2, "/", name)))
                goto free_v1rel;
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                if (roots->v1[c] && !(v1rel[c] = join(roots->v1[c], "/", name)))
                        goto free_v1rel;
        r = -EINVAL;
        if (v2rel && !rel_valid(v2rel))
                goto free_v1rel;
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                if (v1rel[c] && !rel_valid(v1rel[c]))
                        goto free_v1rel;
        r = group_open(h, v2rel, (const char *const *) v1rel, create, ret);
free_v1rel:
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                free(v1rel[c]);
        return r;
}

int cg_group_from_paths(const CgHost *h, const CgProcPaths *paths, CgGroup *ret) {
        CgGroup g = {};
        if (h->v2 && paths->v2 && strcmp(paths->v2, "/") != 0 &&
            !(g.v2 = join(h->fs_root, h->v2, paths->v2)))
                goto free_group;
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                if (h->v1[c] && paths->v1[c] && strcmp(paths->v1[c], "/") != 0 &&
                    !(g.v1[c] = join(h->fs_root, h->v1[c], paths->v1[c])))
                        goto free_group;
        *ret = g;
        return 0;
free_group:
        cg_group_done(&g);
        return -ENOMEM;
}

int cg_group_attach(const CgGroup *g, pid_t pid) {
        char v[32];
        snprintf(v, sizeof(v), "%d", (int) pid);
        int r, first = 0;
        if (g->v2 && (r = write_at(g->v2, "cgroup.procs", v)) < 0)
                first = r;
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                if (g->v1[c] && (r = write_at(g->v1[c], "cgroup.procs", v)) < 0 && first == 0)
                        first = r;
        return first;
}

int cg_group_pids(const CgGroup *g, pid_t **ret) {
        const char *dir = g->v2;
        for (int c = 0; !dir && c < _CG_CONTROLLER_MAX; c++)
                dir = g->v1[c];
        if (!dir)
                return -ENOENT;
        _cleanup_free_ char *path = join(dir, "/cgroup.procs", NULL), *buf = NULL;
        size_t len;
        if (!path)
                return -ENOMEM;
        int r = read_full_file(path, 16u << 20, &buf, &len);
        if (r < 0)
                return r;
        return cg_parse_pid_lines(buf, len, ret);
}

int cg_group_remove(CgGroup *g) {
        int first = 0;
        if (g->v2 && rmdir(g->v2) < 0 && errno != ENOENT)
                first = -errno;
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                if (g->v1[c] && rmdir(g->v1[c]) < 0 && errno != ENOENT && first == 0)
                        first = -errno;
        return first;
}

/* A file of one number ("4096\n"). */
static int parse_u64_line(const char *buf, size_t len, uint64_t *ret) {
        const char *e;
        return parse_u64_prefix(buf, len, &e, ret) < 0 ? -EBADMSG : 0;
}

static int read_u64(const char *dir, const char *name, uint64_t *ret) {
        char buf[64];
        size_t len;
        int r = read_at(dir, name, buf, sizeof(buf), &len);
        if (r < 0)
                return r;
        return parse_u64_line(buf, len, ret);
}

/* Files a group may lack (v2 controllers absent on a hybrid host): once a read says
 * ENOENT, it is not tried again for this group. */
enum {
        ABSENT_MEMORY_CURRENT = 1u << 0,
        ABSENT_MEMORY_PEAK = 1u << 1,
        ABSENT_IO_STAT = 1u << 2,
        ABSENT_CPU_STAT = 1u << 3,
        ABSENT_PRESSURE = 1u << 4, /* no PSI: one file missing means all are */
};

static int pread_small(int fd, char *buf, size_t size, size_t *ret_len) {
        ssize_t n = pread(fd, buf, size - 1, 0);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        *ret_len = (size_t) n;
        return 0;
}

/* A v2 file of the group through its kept descriptor, opened and kept when g->keep_files.
 * A kept file that fails (its group removed) is closed and opened again once. */
static int read_kept(CgGroup *g, CgKept k, const char *dir, const char *name, char *buf, size_t size,
                     size_t *ret_len) {
        if (k == _CG_KEPT_NONE)
                return read_at(dir, name, buf, size, ret_len);
        if (g->kept[k] > 0) {
                if (pread_small(g->kept[k] - 1, buf, size, ret_len) == 0)
                        return 0;
                close(g->kept[k] - 1);
                g->kept[k] = 0;
        }
        if (!g->keep_files)
                return read_at(dir, name, buf, size, ret_len);
        char path[PATH_MAX];
        if (!dir || snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int) sizeof(path))
                return -ENOENT;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = pread_small(fd, buf, size, ret_len);
        if (r < 0)
                close(fd);
        else
                g->kept[k] = fd + 1;
        return r;
}

static int read_opt(CgGroup *g, unsigned bit, CgKept k, const char *dir, const char *name, char *buf,
                    size_t size, size_t *ret_len) {
        if (g->absent & bit)
                return -ENOENT;
        int r = read_kept(g, k, dir, name, buf, size, ret_len);
        if (r == -ENOENT && dir)
                g->absent |= bit;
        return r;
}

static int read_opt_u64(CgGroup *g, unsigned bit, CgKept k, const char *dir, const char *name,
                        uint64_t *ret) {
        char buf[64];
        size_t len = 0;
        int r = read_opt(g, bit, k, dir, name, buf, sizeof(buf), &len);
        if (r < 0)
                return r;
        return parse_u64_line(buf, len, ret);
}

int cg_group_usage(CgGroup *g, bool full, CgUsage *ret) {
        CgUsage u = {};
        char buf[4096];
        size_t len;
        uint64_t a, b;

        /* CPU: v2 cpu.stat exists in every non-root v2 group; else v1 cpuacct. */
        if (read_opt(g, ABSENT_CPU_STAT, CG_KEPT_CPU_STAT, g->v2, "cpu.stat", buf, sizeof(buf), &len) == 0 &&
            cg_parse_keyed(buf, len, "user_usec", &a) == 0 &&
            cg_parse_keyed(buf, len, "system_usec", &b) == 0) {
                u.has_cpu = true;
                u.cpu_user = a;
                u.cpu_system = b;
        } else if (read_u64(g->v1[CG_CPUACCT], "cpuacct.usage_user", &a) == 0 &&
                   read_u64(g->v1[CG_CPUACCT], "cpuacct.usage_sys", &b) == 0) {
                u.has_cpu = true;
                u.cpu_user = a / 1000;
                u.cpu_system = b / 1000;
        }

        /* Memory: v2 where the group has the controller, else v1. The peak and the OOM
         * killer's count only when full (they change rarely; the final look is full). */
        if (read_opt_u64(g, ABSENT_MEMORY_CURRENT, CG_KEPT_MEMORY_CURRENT, g->v2, "memory.current", &a) ==
            0) {
                u.has_mem = true;
                u.mem_current = a;
                if (full &&
                    read_opt_u64(g, ABSENT_MEMORY_PEAK, _CG_KEPT_NONE, g->v2, "memory.peak", &b) == 0)
                        u.has_peak = true, u.mem_peak = b;
                if (full && read_at(g->v2, "memory.events", buf, sizeof(buf), &len) == 0 &&
                    cg_parse_keyed(buf, len, "oom_kill", &a) == 0)
                        u.has_oom = true, u.oom_kills = a;
        } else if (read_u64(g->v1[CG_MEMORY], "memory.usage_in_bytes", &a) == 0) {
                u.has_mem = true;
                u.mem_current = a;
                if (full && read_u64(g->v1[CG_MEMORY], "memory.max_usage_in_bytes", &b) == 0)
                        u.has_peak = true, u.mem_peak = b;
                if (full && read_at(g->v1[CG_MEMORY], "memory.oom_control", buf, sizeof(buf), &len) == 0 &&
                    cg_parse_keyed(buf, len, "oom_kill", &a) == 0)
                        u.has_oom = true, u.oom_kills = a;
        }

        if (read_opt(g, ABSENT_IO_STAT, CG_KEPT_IO_STAT, g->v2, "io.stat", buf, sizeof(buf), &len) == 0 &&
            cg_parse_io_stat(buf, len, &u.io_read, &u.io_write) == 0)
                u.has_io = true;

        /* Pressure, only when full (the kernel sums it over every CPU: the dearest read here):
         * all three or none (one absent means the kernel gives none). */
        u.has_psi = full && !(g->absent & ABSENT_PRESSURE) && g->v2;
        for (PsiResource p = 0; u.has_psi && p < _PSI_RESOURCE_MAX; p++) {
                char name[32];
                PsiSome some;
                snprintf(name, sizeof(name), "%s.pressure", psi_resource_to_string(p));
                if (read_opt(g, ABSENT_PRESSURE, (CgKept) (CG_KEPT_CPU_PRESSURE + p), g->v2, name, buf,
                             sizeof(buf), &len) < 0 ||
                    psi_parse_some(buf, len, &some) < 0)
                        u.has_psi = false;
                else
                        u.psi_total[p] = some.total;
        }

        /* Frozen: the truth is cgroup.events / freezer.state, never /proc State. */
        if (read_kept(g, CG_KEPT_EVENTS, g->v2, "cgroup.events", buf, sizeof(buf), &len) == 0)
                u.freeze = cg_parse_freezer_state(buf, len);
        if ((u.freeze == CG_FREEZE_UNKNOWN || u.freeze == CG_FREEZE_THAWED) &&
            read_at(g->v1[CG_FREEZER], "freezer.state", buf, sizeof(buf), &len) == 0) {
                CgFreeze f = cg_parse_freezer_state(buf, len);
                if (f != CG_FREEZE_UNKNOWN)
                        u.freeze = f;
        }
        *ret = u;
        return 0;
}

int cg_group_freeze(const CgGroup *g, bool freeze, const char **ret_mechanism) {
        if (exists_at(g->v2, "cgroup.freeze")) {
                int r = write_at(g->v2, "cgroup.freeze", freeze ? "1" : "0");
                if (r < 0)
                        return r;
                /* A v1 freezer from before (another daemon run) would keep it stopped. */
                if (!freeze && g->v1[CG_FREEZER])
                        (void) write_at(g->v1[CG_FREEZER], "freezer.state", "THAWED");
                *ret_mechanism = "cgroup-v2 cgroup.freeze";
                return 0;
        }
        if (exists_at(g->v1[CG_FREEZER], "freezer.state")) {
                int r = write_at(g->v1[CG_FREEZER], "freezer.state", freeze ? "FROZEN" : "THAWED");
                if (r < 0)
                        return r;
                *ret_mechanism = "cgroup-v1 freezer.state";
                return 0;
        }
        return -EOPNOTSUPP;
}

int cg_group_kill(const CgGroup *g, const char **ret_mechanism) {
        if (!exists_at(g->v2, "cgroup.kill"))
                return -EOPNOTSUPP;
        int r = write_at(g->v2, "cgroup.kill", "1");
        if (r < 0)
                return r;
        *ret_mechanism = "cgroup-v2 cgroup.kill";
        return 0;
}

int cg_group_set_cpu_limit(const CgGroup *g, double cores, const char **ret_mechanism) {
        char v[64];
        if (exists_at(g->v2, "cpu.max")) {
                if (cores > 0)
                        snprintf(v, sizeof(v), "%lld %d", (long long) llround(cores * CPU_PERIOD_USEC),
                                 CPU_PERIOD_USEC);
                else
                        snprintf(v, sizeof(v), "max %d", CPU_PERIOD_USEC);
                int r = write_at(g->v2, "cpu.max", v);
                if (r < 0)
                        return r;
                *ret_mechanism = "cgroup-v2 cpu.max";
                return 0;
        }
        if (exists_at(g->v1[CG_CPU], "cpu.cfs_quota_us")) {
                int r;
                snprintf(v, sizeof(v), "%d", CPU_PERIOD_USEC);
                if ((r = write_at(g->v1[CG_CPU], "cpu.cfs_period_us", v)) < 0)
                        return r;
                if (cores > 0)
                        snprintf(v, sizeof(v), "%lld", (long long) llround(cores * CPU_PERIOD_USEC));
                else
                        snprintf(v, sizeof(v), "-1");
                if ((r = write_at(g->v1[CG_CPU], "cpu.cfs_quota_us", v)) < 0)
                        return r;
                *ret_mechanism = "cgroup-v1 cpu.cfs_quota_us";
                return 0;
        }
        return -EOPNOTSUPP;
}

int cg_group_set_mem_limit(const CgGroup *g, uint64_t bytes, const char **ret_mechanism) {
        char v[64];
        if (exists_at(g->v2, "memory.max")) {
                if (bytes)
                        snprintf(v, sizeof(v), "%llu", (unsigned long long) bytes);
                else
                        snprintf(v, sizeof(v), "max");
                int r = write_at(g->v2, "memory.max", v);
                if (r < 0)
                        return r;
                *ret_mechanism = "cgroup-v2 memory.max";
                return 0;
        }
        const char *m = g->v1[CG_MEMORY];
        if (exists_at(m, "memory.limit_in_bytes")) {
                snprintf(v, sizeof(v), bytes ? "%llu" : "-1", (unsigned long long) bytes);
                /* memory+swap must stay >= memory: raise it first when lifting, set it after
                 * when lowering, so swap cannot hide the limit. */
                bool memsw = exists_at(m, "memory.memsw.limit_in_bytes");
                if (!bytes && memsw)
                        (void) write_at(m, "memory.memsw.limit_in_bytes", "-1");
                int r = write_at(m, "memory.limit_in_bytes", v);
                if (r < 0)
                        return r;
                if (bytes && memsw)
                        (void) write_at(m, "memory.memsw.limit_in_bytes", v);
                *ret_mechanism = "cgroup-v1 memory.limit_in_bytes";
                return 0;
        }
        return -EOPNOTSUPP;
}

int cg_group_set_weight(const CgGroup *g, int nice, const char **ret_mechanism) {
        /* The scheduler weighs each nice step by 1.25 (nice 0 = 1024 = cpu.weight 100). */
        double f = pow(1.25, (double) -nice);
        char v[32];
        if (exists_at(g->v2, "cpu.weight")) {
                long w = lround(100.0 * f);
                snprintf(v, sizeof(v), "%ld", MAX(1L, MIN(10000L, w)));
                int r = write_at(g->v2, "cpu.weight", v);
                if (r < 0)
                        return r;
                *ret_mechanism = "cgroup-v2 cpu.weight";
                return 0;
        }
        if (exists_at(g->v1[CG_CPU], "cpu.shares")) {
                long w = lround(1024.0 * f);
                snprintf(v, sizeof(v), "%ld", MAX(2L, MIN(262144L, w)));
                int r = write_at(g->v1[CG_CPU], "cpu.shares", v);
                if (r < 0)
                        return r;
                *ret_mechanism = "cgroup-v1 cpu.shares";
                return 0;
        }
        return -EOPNOTSUPP;
}
