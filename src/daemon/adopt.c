/* Adoption: a build acted on as one unit needs a cgroup. Nix's own build group
 * (use-cgroups, cgroup-nix.h) is used as it is, v2 only, and never removed by us. Otherwise the
 * build gets a group of ours, <root>/build-<drv hash>, in v2 (freeze, kill, cpu.stat) and in
 * the v1 hierarchies holding cpu, cpuacct, memory, pids (and freezer when there is no v2),
 * and its processes are moved in; every later sample moves any left outside (processes fork
 * while we move them; children forked after their parent moved are born inside), until a
 * sample finds none. A group named after the drv is found again after a daemon restart.
 * Each hierarchy has its own root (cgroup-delegate.h: a delegated service's <service>/builds,
 * --cgroup-root, or /nix-analytics). We only ever remove groups under our own roots; in a
 * delegated service, builds still running when the daemon stops go back where they came
 * from (adopt_hand_back). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/adopt.h"
#include "daemon/sampler.h"
#include "daemon/tracker.h"
#include "shared/cgroup-nix.h"

static int cmp_pid(const void *key, const void *elem) {
        pid_t x = *(const pid_t *) key, y = ((const TrackedProc *) elem)->st.pid;
        return x < y ? -1 : x > y;
}

bool tracked_leads(const Tracked *t, const ProcEntry *e) {
        if (e->st.pid == t->builder)
                return !t->builder_gone && e->st.starttime == t->builder_start;
        if (e->st.sid != t->builder)
                return false;
        if (!t->builder_gone)
                return true;
        const TrackedProc *p =
                t->n_procs ? bsearch(&e->st.pid, t->procs, t->n_procs, sizeof(TrackedProc), cmp_pid) : NULL;
        return p && p->st.starttime == e->st.starttime;
}

/* Does e belong to the build of t (its builder's session, or a descendant)? */
static bool member_of(ProcTable *tab, const ProcEntry *e, const Tracked *t) {
        for (int depth = 0; e && depth < 256; depth++) {
                if (tracked_leads(t, e))
                        return true;
                if (e->st.ppid <= 1)
                        return false;
                e = proc_table_get(tab, e->st.ppid);
        }
        return false;
}

/* The drv's hash part names our group: stable across daemon restarts, unique per build. */
static int group_name(const char *drv, char **ret) {
        const char *base = strrchr(drv, '/');
        base = base ? base + 1 : drv;
        size_t n = strcspn(base, "-");
        if (n == 0 || n > 64)
                return -EINVAL;
        return asprintf(ret, "build-%.*s", (int) n, base) < 0 ? -ENOMEM : 0;
}

/* The name of our build group path is in: "build-…" right under root, else NULL. */
static const char *name_under_root(const char *path, const char *root) {
        size_t n = root ? strlen(root) : 0;
        if (!path || n == 0 || strncmp(path, root, n) != 0 || path[n] != '/')
                return NULL;
        const char *name = path + n + 1;
        return strncmp(name, "build-", 6) == 0 && !strchr(name, '/') ? name : NULL;
}

/* One pass: moves every member of the build not yet in the group. Returns how many moved. */
static int move_pass(Sampler *s, Tracked *t, ProcTable *tab, bool first) {
        _cleanup_free_ pid_t *inside = NULL;
        int n_inside = cg_group_pids(&t->group, &inside);
        int moved = 0;
        for (size_t i = 0; i < tab->n; i++) {
                ProcEntry *e = &tab->entries[i];
                if (!member_of(tab, e, t))
                        continue;
                bool in = false;
                for (int j = 0; j < n_inside && !in; j++)
                        in = inside[j] == e->st.pid;
                if (in)
                        continue;
                /* Checked right before the move: the pid may have been reused since the scan. */
                int r = pidref_check_pid(sampler_proc_root(s), e->st.pid, e->st.starttime);
                if (r == 0)
                        r = cg_group_attach(&t->group, e->st.pid);
                if (r == -ESRCH || r == -ENOENT)
                        continue; /* exited meanwhile */
                if (r < 0)
                        return r;
                /* CPU it used before entering the group, which the group does not count. */
                if (first)
                        t->cpu_base += e->st.utime + e->st.stime + e->st.cutime + e->st.cstime;
                moved++;
        }
        return moved;
}

int adopt_build(Sampler *s, Tracked *t, ProcTable *tab) {
        const CgHost *h = sampler_host(s);
        const CgRoots *roots = sampler_roots(s);
        _cleanup_free_ char *buf = NULL, *name = NULL;
        size_t len;
        int r = procfs_read(sampler_proc_root(s), t->builder, "cgroup", 1u << 16, &buf, &len);
        if (r < 0)
                return r;
        CgProcPaths paths;
        r = cg_parse_proc_cgroup(buf, len, &paths);
        if (r < 0)
                return r;

        r = cg_nix_build_group(h, &paths, &t->group);
        if (r != 0) {
                cg_proc_paths_done(&paths);
                if (r < 0)
                        return r;
                t->has_group = t->nix_group = true;
                log_info("build %" PRIu64 ": in Nix's own cgroup %s", t->key, t->group.v2);
                return 0;
        }
        /* Ours from an earlier run of the daemon (it was restarted mid-build). */
        const char *found = name_under_root(paths.v2, roots->root.v2);
        for (int c = 0; !found && c < _CG_CONTROLLER_MAX; c++)
                found = name_under_root(paths.v1[c], roots->root.v1[c]);
        if (found) {
                name = strdup(found);
                cg_proc_paths_done(&paths);
                if (!name)
                        return -ENOMEM;
                r = cg_group_open_under(h, &roots->root, name, /* create= */ true, &t->group);
                if (r < 0)
                        return r;
                t->has_group = true;
                log_info("build %" PRIu64 ": found again in our cgroup %s", t->key,
                         t->group.v2 ? t->group.v2 : name);
                adopt_stragglers(s, t);
                return 0;
        }
        cg_proc_paths_done(&paths);

        if ((r = group_name(t->drv, &name)) < 0)
                return r;
        r = cg_group_open_under(h, &roots->root, name, /* create= */ true, &t->group);
        if (r < 0)
                return r;
        t->has_group = true;

        /* One pass over this sample's processes; what forked meanwhile is moved by the next
         * samples (adopt_stragglers), which come quickly after an adoption. A fresh scan of
         * /proc here would cost a full pass per build, too much when many builds start at
         * once. */
        int moved = move_pass(s, t, tab, /* first= */ true);
        if (moved < 0) {
                (void) cg_group_remove(&t->group);
                cg_group_done(&t->group);
                t->has_group = false;
                return moved;
        }
        log_info("build %" PRIu64 ": adopted into cgroup %s", t->key, t->group.v2 ? t->group.v2 : name);
        return 0;
}

void adopt_stragglers(Sampler *s, Tracked *t) {
        _cleanup_free_ pid_t *inside = NULL;
        int n = cg_group_pids(&t->group, &inside);
        if (n < 0)
                return;
        for (uint32_t i = 0; i < t->n_procs; i++) {
                pid_t pid = t->procs[i].st.pid;
                bool in = false;
                for (int j = 0; j < n && !in; j++)
                        in = inside[j] == pid;
                if (!in && pidref_check_pid(sampler_proc_root(s), pid, t->procs[i].st.starttime) == 0 &&
                    cg_group_attach(&t->group, pid) == 0)
                        log_debug("build %" PRIu64 ": moved straggler pid %d into its cgroup", t->key,
                                  (int) pid);
        }
}

int adopt_release(Sampler *s, Tracked *t) {
        if (!t->has_group || t->nix_group)
                return 0;
        int r = cg_group_remove(&t->group);
        if (r == 0)
                log_debug("build %" PRIu64 ": removed its cgroup", t->key);
        return r;
}

static void cleanup_dir(const char *fs_root, const char *mount, const char *root) {
        if (!mount || !root)
                return;
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s%s%s", fs_root, mount, root) < 0)
                return;
        DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strncmp(de->d_name, "build-", 6) == 0 &&
                    unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == 0)
                        log_debug("removed stale empty cgroup %s/%s", dir, de->d_name);
        closedir(d);
}

void adopt_cleanup_stale(const CgHost *h, const CgRoots *roots) {
        cleanup_dir(h->fs_root, h->v2, roots->root.v2);
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                cleanup_dir(h->fs_root, h->v1[c], roots->root.v1[c]);
}

/* The group of the build's nix process (the builder's parent), the builder's group before we
 * adopted it, in each hierarchy of our group; never one of ours. */
static int origin_group(Sampler *s, Tracked *t, CgGroup *ret) {
        const CgHost *h = sampler_host(s);
        const CgRoots *roots = sampler_roots(s);
        pid_t parent = 0;
        for (uint32_t i = 0; i < t->n_procs && !parent; i++)
                if (t->procs[i].st.pid == t->builder)
                        parent = t->procs[i].st.ppid;
        if (parent <= 1)
                return -ESRCH;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = procfs_read(sampler_proc_root(s), parent, "cgroup", 1u << 16, &buf, &len);
        if (r < 0)
                return r;
        CgProcPaths paths;
        if ((r = cg_parse_proc_cgroup(buf, len, &paths)) < 0)
                return r;
        CgGroup g = {};
        r = 0;
        if (t->group.v2 && paths.v2 && !name_under_root(paths.v2, roots->root.v2) &&
            asprintf(&g.v2, "%s%s%s", h->fs_root, h->v2, strcmp(paths.v2, "/") == 0 ? "" : paths.v2) < 0)
                r = -ENOMEM;
        for (int c = 0; r == 0 && c < _CG_CONTROLLER_MAX; c++)
                if (t->group.v1[c] && paths.v1[c] && !name_under_root(paths.v1[c], roots->root.v1[c]) &&
                    asprintf(&g.v1[c], "%s%s%s", h->fs_root, h->v1[c],
                             strcmp(paths.v1[c], "/") == 0 ? "" : paths.v1[c]) < 0)
                        r = -ENOMEM;
        cg_proc_paths_done(&paths);
        if (r < 0) {
                cg_group_done(&g);
                return r;
        }
        *ret = g;
        return 0;
}

int adopt_hand_back(Sampler *s, Tracked *t) {
        if (!t->has_group || t->nix_group)
                return 0;
        const char *mechanism;
        /* A frozen build must not stay stopped once it is no longer ours to thaw. */
        (void) cg_group_freeze(&t->group, /* freeze= */ false, &mechanism);
        CgGroup origin = {};
        int r = origin_group(s, t, &origin);
        if (r < 0)
                return r;
        int moved = 0;
        for (int pass = 0; pass < 4 && r == 0; pass++) {
                _cleanup_free_ pid_t *pids = NULL;
                int n = cg_group_pids(&t->group, &pids);
                if (n <= 0) {
                        r = n;
                        break;
                }
                for (int i = 0; i < n && r == 0; i++) {
                        int e = cg_group_attach(&origin, pids[i]);
                        if (e == 0)
                                moved++;
                        else if (e != -ESRCH)
                                r = e;
                }
        }
        log_info("build %" PRIu64 ": %d process(es) handed back to cgroup %s%s", t->key, moved,
                 origin.v2 ? origin.v2 : "(v1)", r < 0 ? " (incomplete)" : "");
        cg_group_done(&origin);
        return r;
}
