/* The sampler: once per interval, one pass over /proc and the builds' cgroups gives every
 * running build its builder (discover.c), its cgroup (adopt.c), its processes and figures.
 *
 * Cost is bounded by what is sampled, not by events: one stat read per process on the host,
 * plus io for the builds' own processes and a few cgroup files per build. The stat files
 * stay open from one sample to the next and are read again with pread: opening and closing
 * them had been most of the sampler's time (issue 22). A process whose stat nothing needs
 * fresh (one of a build with its own cgroup, or of no build and away from nix processes) is
 * read once every LAZY_EVERY samples: formatting stat is most of what the kernel spends on
 * the sampler. Its pid staying listed stands for it in between; should it be reused
 * meanwhile, the start time read next tells the processes apart, and nothing is acted on
 * through a stale entry (actions check the start time through a pidref). The pass runs on
 * the event loop between dispatches; with 2,000 processes it takes a few milliseconds
 * (bench/sampler.sh measures it), so it never holds ingestion back for long. While a
 * running build has no builder yet, passes come every 100 ms so a new build shows its
 * processes at once. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/adopt.h"
#include "daemon/oom.h"
#include "daemon/discover.h"
#include "daemon/notify.h"
#include "daemon/persist.h"
#include "daemon/sampler-internal.h"
#include "daemon/sampler.h"
#include "daemon/tracker.h"
#include "shared/model-proc.h"
#include "shared/model-resume.h"
#include "shared/proc.h"
#include "shared/trust.h"

#define FAST_WINDOW       (10 * USEC_PER_SEC) /* after a build starts, look for its builder often */
#define OWNER_DEPTH_MAX   256
#define RELEASE_TRIES_MAX 50
#define CMDLINE_MAX       4096
#define FULL_EVERY        4  /* samples between reads of a group's memory peak, OOM count, pressure */
#define IO_REFRESH        10 /* samples between I/O reads of processes that did not run */
#define TRACK_PER_TICK    32 /* new builds adopted per sample: the rest wait for the next */
/* With no build to sample, the table is still read every this many intervals, and every
 * interval while a nix process serves a remote client: its builds are reported by nothing
 * (discovery_find_served). */
#define WATCH_EVERY 5
/* Stat files kept open, at most (and at most half the fd limit, which the daemon raises to
 * the hard one: clients and builds' cgroups need the rest). Past it the other processes'
 * files are opened and closed on each sample as before. */
#define STAT_FDS_MAX 16384
/* Builds whose cgroup files (CgKept: 7) stay open too, at most, and at most what a quarter
 * of the fd limit holds. */
#define KEPT_GROUPS_MAX 1024

/* A process that needs no fresh stat every sample (see lazy_process()) is read again once in
 * this many samples, each in its own (pid modulo it), so that the reads spread evenly. */
#define LAZY_EVERY 4

/* The shortest span a build's pressure is a share of (see sample_pressure()). */
#define PSI_SPAN_MIN (50 * USEC_PER_MSEC)

/* An open /proc/<pid>/stat, kept while the pid is listed, with what it last read. */
struct StatFd {
        pid_t pid;
        int fd;
        uint64_t seen; /* the scan that last listed it */
        bool lazy;     /* read again only every LAZY_EVERY samples */
        ProcStat st;   /* its last read */
        usec_t read_at;
        UT_hash_handle hh;
};

/* ---- the /proc table ---- */

ProcEntry *proc_table_get(ProcTable *t, pid_t pid) {
        ProcEntry *e = NULL;
        HASH_FIND(hh, t->by_pid, &pid, sizeof(pid_t), e);
        return e;
}

static void stat_fd_drop(Sampler *s, StatFd *f) {
        HASH_DEL(s->stat_fds, f);
        close(f->fd);
        free(f);
        s->n_stat_fds--;
}

/* pid's stat into e, through its kept fd (opened on first sight). A kept fd of a process
 * that has gone reads -ESRCH; its pid may since be another process's: open that one. A lazy
 * process's last read is given instead, except in its own sample (or when must). */
static int read_stat(Sampler *s, pid_t pid, bool must, ProcEntry *e) {
        StatFd *f = NULL;
        ProcStat st;
        usec_t now = now_monotonic();
        HASH_FIND(hh, s->stat_fds, &pid, sizeof(pid_t), f);
        *e = (ProcEntry){.kept = f};
        if (f) {
                f->seen = s->scans;
                if (f->lazy && !must && ((uint64_t) pid + s->scans) % LAZY_EVERY != 0) {
                        e->st = f->st;
                        e->read_at = f->read_at;
                        return 0;
                }
                int r = procfs_pread_stat(f->fd, &st);
                if (r == 0) {
                        f->st = e->st = st;
                        f->read_at = e->read_at = now;
                        e->fresh = true;
                }
                if (r != -ESRCH)
                        return r;
                stat_fd_drop(s, f);
                e->kept = NULL;
        }
        e->born = true;
        int fd = procfs_open(s->cfg.proc_root, pid, "stat");
        if (fd < 0)
                return fd;
        int r = procfs_pread_stat(fd, &st);
        if (r == 0) {
                e->st = st;
                e->read_at = now;
                e->fresh = true;
        }
        if (r < 0 || s->n_stat_fds >= s->max_stat_fds || !(f = malloc(sizeof(*f)))) {
                close(fd);
                return r;
        }
        *f = (StatFd){.pid = pid, .fd = fd, .seen = s->scans, .st = st, .read_at = now};
        HASH_ADD(hh, s->stat_fds, pid, sizeof(pid_t), f);
        s->n_stat_fds++;
        e->kept = f;
        return 0;
}

static Tracked *builder_of(Sampler *s, pid_t pid);

static bool is_nix_comm(const ProcStat *st) {
        return strncmp(st->comm, "nix", 3) == 0;
}

/* May e's stat be a few samples old? Not for a builder (its end), a nix process or its
 * children (discovery: a new builder turns builder-like when it calls setsid() and execve()),
 * nor a process of a build without its own cgroup (its figures are its processes'). A
 * process of a build with a group gives only its line in the process view. Processes new
 * since the last sample are always read, and so is the parent of each (see table_scan()). */
static bool lazy_process(Sampler *s, ProcTable *t, const ProcEntry *e) {
        if (is_nix_comm(&e->st) || builder_of(s, e->st.pid))
                return false;
        const ProcEntry *parent = e->st.ppid > 1 ? proc_table_get(t, e->st.ppid) : NULL;
        if (parent && is_nix_comm(&parent->st))
                return false;
        if (!e->resolved)
                return false;
        const Tracked *o = e->owner;
        return !o || (o->has_group && !o->adopt_failed && !o->signal_frozen);
}

/* After the sample: which processes the next ones may read lazily. */
static void classify_lazy(Sampler *s) {
        for (size_t i = 0; i < s->table.n; i++) {
                ProcEntry *e = &s->table.entries[i];
                if (e->kept)
                        e->kept->lazy = lazy_process(s, &s->table, e);
        }
}

static void stat_fds_clear(Sampler *s) {
        StatFd *f, *tmp;
        HASH_ITER(hh, s->stat_fds, f, tmp) {
                stat_fd_drop(s, f);
        }
}

static int table_scan(Sampler *s) {
        ProcTable *t = &s->table;
        _cleanup_free_ pid_t *pids = NULL;
        int n = procfs_list_pids(s->cfg.proc_root, &pids);
        if (n < 0)
                return n;
        HASH_CLEAR(hh, t->by_pid);
        if ((size_t) n > s->table_cap) {
                ProcEntry *grown = realloc(t->entries, (size_t) n * sizeof(ProcEntry));
                if (!grown)
                        return -ENOMEM;
                t->entries = grown;
                s->table_cap = (size_t) n;
        }
        t->n = 0;
        s->scans++;
        for (int i = 0; i < n; i++) {
                ProcEntry *e = &t->entries[t->n];
                if (read_stat(s, pids[i], /* must= */ false, e) < 0)
                        continue; /* gone, or a kernel oddity: not ours to show */
                t->n++;
        }
        /* Processes no longer listed: their files go. */
        StatFd *f, *tmp;
        HASH_ITER(hh, s->stat_fds, f, tmp) {
                if (f->seen != s->scans)
                        stat_fd_drop(s, f);
        }
        /* The array no longer moves: hash it. */
        for (size_t i = 0; i < t->n; i++)
                HASH_ADD(hh, t->by_pid, st.pid, sizeof(pid_t), &t->entries[i]);
        /* A new process's parent is read now too: it may have become a nix process by
         * execve() since its last read, which makes the new one a builder. */
        for (size_t i = 0; i < t->n; i++) {
                ProcEntry *e = &t->entries[i], *p;
                if (!e->born || e->st.ppid <= 1 || !(p = proc_table_get(t, e->st.ppid)) || p->fresh)
                        continue;
                ProcEntry fresh;
                if (read_stat(s, p->st.pid, /* must= */ true, &fresh) == 0 && fresh.st.pid == p->st.pid) {
                        p->st = fresh.st;
                        p->read_at = fresh.read_at;
                        p->fresh = true;
                        p->kept = fresh.kept;
                } else
                        p->kept = NULL; /* gone: its entry stays as last read for this sample */
        }
        return 0;
}

static Tracked *builder_of(Sampler *s, pid_t pid) {
        Tracked *tr = NULL;
        HASH_FIND(hh, s->by_builder, &pid, sizeof(pid_t), tr);
        return tr;
}

static Tracked *leader_of(Sampler *s, const ProcEntry *e) {
        Tracked *t = builder_of(s, e->st.pid);
        if (t && tracked_leads(t, e))
                return t;
        t = builder_of(s, e->st.sid);
        return t && tracked_leads(t, e) ? t : NULL;
}

/* The builder is gone when its pid is absent, a zombie, or a process started at another
 * time (the pid was reused). */
static void check_builders(Sampler *s) {
        for (Tracked *t = s->tracked; t; t = t->next) {
                if (t->builder_gone)
                        continue;
                const ProcEntry *e = proc_table_get(&s->table, t->builder);
                if (!e || e->st.starttime != t->builder_start || e->st.state == 'Z' || e->st.state == 'X') {
                        t->builder_gone = true;
                        pidref_done(&t->builder_ref);
                        log_debug("build %" PRIu64 ": builder pid %d is gone%s", t->key, (int) t->builder,
                                  e && e->st.starttime != t->builder_start ? " (its pid was reused)" : "");
                }
        }
}

/* A process belongs to the build whose builder is it, leads its session, or is an ancestor
 * (processes that made their own session still descend from the builder). */
static Tracked *resolve_owner(Sampler *s, ProcEntry *e) {
        ProcEntry *chain[OWNER_DEPTH_MAX];
        size_t n = 0;
        Tracked *owner = NULL;
        if (e->resolved)
                return e->owner;
        while (e && !e->resolved && n < OWNER_DEPTH_MAX) {
                e->resolved = 1;
                chain[n++] = e;
                if ((owner = leader_of(s, e)))
                        break;
                if (e->st.ppid <= 1)
                        break;
                e = proc_table_get(&s->table, e->st.ppid);
        }
        if (!owner && e && e->resolved && n > 0 && e != chain[n - 1])
                owner = e->owner;
        for (size_t i = 0; i < n; i++)
                chain[i]->owner = owner;
        return owner;
}

/* ---- tracked builds ---- */

Tracked *sampler_find(Sampler *s, uint64_t key) {
        for (Tracked *t = s->tracked; t; t = t->next)
                if (t->key == key)
                        return t;
        return NULL;
}

static void procs_free(TrackedProc *procs, uint32_t n) {
        for (uint32_t i = 0; i < n; i++)
                free(procs[i].cmdline);
        free(procs);
}

static void tracked_free(Tracked *t) {
        if (!t)
                return;
        cg_group_done(&t->group);
        pidref_done(&t->builder_ref);
        procs_free(t->procs, t->n_procs);
        procs_free(t->next_procs, t->n_next);
        free(t->drv);
        free(t);
}

static Tracked *track(Sampler *s, Build *b, pid_t builder) {
        ProcEntry *e = proc_table_get(&s->table, builder);
        Tracked *t = calloc(1, sizeof(*t));
        if (!t || !(t->drv = strdup(b->drv))) {
                free(t);
                return NULL;
        }
        t->key = b->key;
        t->builder = builder;
        t->builder_start = e ? e->st.starttime : 0;
        t->builder_ref = PIDREF_NULL;
        if (pidref_open(s->cfg.proc_root, builder, t->builder_start, &t->builder_ref) < 0)
                t->builder_gone = true; /* exited (or reused) since the scan */
        t->next = s->tracked;
        s->tracked = t;
        HASH_ADD(hh, s->by_builder, builder, sizeof(pid_t), t);
        log_info("build %" PRIu64 " (%s): builder pid %d", b->key, b->name, (int) builder);
        if (s->cgroups) {
                int r = adopt_build(s, t, &s->table);
                if (r < 0) {
                        t->adopt_failed = true;
                        log_warning_errno(
                                r, "build %" PRIu64 ": cannot give it a cgroup, acting by signals: %m",
                                b->key);
                }
        }
        return t;
}

static int cmp_proc(const void *a, const void *b) {
        pid_t x = ((const TrackedProc *) a)->st.pid, y = ((const TrackedProc *) b)->st.pid;
        return x < y ? -1 : x > y;
}

const TrackedProc *sampler_find_proc(const TrackedProc *procs, uint32_t n, pid_t pid) {
        if (n == 0)
                return NULL;
        TrackedProc key = {.st.pid = pid};
        return bsearch(&key, procs, n, sizeof(TrackedProc), cmp_proc);
}

/* A command line for views: read once per process (an exec'ing process keeps the one it
 * had when first seen, which is what ps shows for a moment too), NULs as spaces. */
static void read_cmdline(Sampler *s, TrackedProc *p) {
        (void) proc_cmdline_max(s->cfg.proc_root, p->st.pid, CMDLINE_MAX, &p->cmdline);
}

/* Adds e to the processes its build has in this sample. */
static int gather_one(Sampler *s, Tracked *t, const ProcEntry *e) {
        if (t->n_next == t->cap_next) {
                uint32_t cap = t->cap_next ? t->cap_next * 2 : 8;
                TrackedProc *grown = realloc(t->next_procs, cap * sizeof(TrackedProc));
                if (!grown)
                        return -ENOMEM;
                t->next_procs = grown;
                t->cap_next = cap;
        }
        TrackedProc *p = &t->next_procs[t->n_next++];
        *p = (TrackedProc){.st = e->st, .read_at = e->read_at};
        /* A process's owner is looked up once (builders do not change user), and its I/O
         * counters again only when it ran since the last sample (or every IO_REFRESH
         * samples): thousands of sleeping processes then cost one stat read each. */
        TrackedProc *old = (TrackedProc *) sampler_find_proc(t->procs, t->n_procs, e->st.pid);
        bool known = old && old->st.starttime == e->st.starttime;
        if (known && !e->fresh) {
                /* Not read again this sample: what it was (its niceness as we set it). */
                p->st = old->st;
                p->read_at = old->read_at;
                p->cpu_percent = old->cpu_percent;
        }
        if (known) {
                p->uid = old->uid;
                p->io_read = old->io_read;
                p->io_write = old->io_write;
                p->cmdline = TAKE_PTR(old->cmdline);
        } else {
                (void) procfs_read_uid(s->cfg.proc_root, e->st.pid, &p->uid);
                read_cmdline(s, p);
                t->new_procs = true;
        }
        bool ran = !known || old->st.utime + old->st.stime != e->st.utime + e->st.stime;
        ProcIo io;
        if ((ran || s->stats.ticks % IO_REFRESH == 0) &&
            procfs_read_io(s->cfg.proc_root, e->st.pid, &io) == 0) {
                p->io_read = io.read_bytes;
                p->io_write = io.write_bytes;
        }
        return 0;
}

/* One pass over the table hands every process to its build (resolving owners is cheap
 * once a chain is known): the cost is per process, not per process and build. */
static void gather(Sampler *s) {
        for (Tracked *t = s->tracked; t; t = t->next) {
                t->n_next = 0;
                t->new_procs = false;
                t->gather_failed = false;
        }
        for (size_t i = 0; i < s->table.n; i++) {
                ProcEntry *e = &s->table.entries[i];
                Tracked *t = resolve_owner(s, e);
                if (t && t->seen && !t->gather_failed && gather_one(s, t, e) < 0)
                        t->gather_failed = true;
        }
}

/* The processes of t in this sample, with per-process rates against the previous one. */
static int collect_procs(Sampler *s, Tracked *t, usec_t dt) {
        if (t->gather_failed) {
                for (uint32_t i = 0; i < t->n_next; i++)
                        free(t->next_procs[i].cmdline);
                t->n_next = 0;
                return -ENOMEM;
        }
        TrackedProc *procs = t->next_procs;
        uint32_t n = t->n_next;
        /* With no process procs may be NULL (never allocated), which qsort must not be given. */
        if (n > 1)
                qsort(procs, n, sizeof(TrackedProc), cmp_proc);

        /* Rates (between two reads of the process: a lazy one's span several samples), and
         * what processes that exited since the last sample had used. */
        for (uint32_t i = 0; i < n; i++) {
                const TrackedProc *old = sampler_find_proc(t->procs, t->n_procs, procs[i].st.pid);
                if (!old || old->st.starttime != procs[i].st.starttime || dt == 0 ||
                    procs[i].read_at == old->read_at)
                        continue;
                usec_t span = procs[i].read_at > old->read_at ? procs[i].read_at - old->read_at : dt;
                usec_t before = old->st.utime + old->st.stime, now = procs[i].st.utime + procs[i].st.stime;
                procs[i].cpu_percent = now > before ? 100.0 * (double) (now - before) / (double) span : 0;
        }
        for (uint32_t i = 0; i < t->n_procs; i++) {
                const TrackedProc *old = &t->procs[i];
                const TrackedProc *cur = sampler_find_proc(procs, n, old->st.pid);
                if (cur && cur->st.starttime == old->st.starttime)
                        continue;
                t->io_read_dead += old->io_read;
                t->io_write_dead += old->io_write;
        }
        /* Swap: this sample's array becomes current, the old one is reused next time. */
        for (uint32_t i = 0; i < t->n_procs; i++)
                free(t->procs[i].cmdline);
        TrackedProc *old_arr = t->procs;
        uint32_t old_cap = t->cap_procs;
        t->procs = procs;
        t->n_procs = n;
        t->cap_procs = t->cap_next;
        t->next_procs = old_arr;
        t->cap_next = old_cap;
        t->n_next = 0;
        return 0;
}

/* Keeps the niceness asked for on every process, new ones included. */
static void apply_nice(Sampler *s, Tracked *t) {
        if (!t->has_nice)
                return;
        for (uint32_t i = 0; i < t->n_procs; i++)
                if (t->procs[i].st.nice != t->nice &&
                    pidref_set_nice_pid(s->cfg.proc_root, t->procs[i].st.pid, t->procs[i].st.starttime,
                                        t->nice) == 0)
                        t->procs[i].st.nice = t->nice;
}

bool sampler_group_populated(const Tracked *t) {
        _cleanup_free_ pid_t *pids = NULL;
        return t->has_group && cg_group_pids(&t->group, &pids) > 0;
}

/* Pressure over the span since the last full read (every FULL_EVERY samples): the share of
 * it some task of the group stalled (the totals' difference), rather than the kernel's avg10,
 * which smooths a short build's stalls away. Known from the second read of the group on (its
 * second sample). A span shorter than PSI_SPAN_MIN (a look at an ended build right after a
 * sample) keeps the last figures and joins the next span: a few stalled milliseconds are not
 * a share of anything. */
static void sample_pressure(Tracked *t, const CgUsage *cu, usec_t now_mono, BuildUsage *u) {
        /* No figures (the group gone at the end, Nix's own removed): the last ones stay. */
        if (!cu->has_psi) {
                t->has_psi = false;
                return;
        }
        usec_t span = now_mono - t->psi_mono;
        if (t->has_psi && span < PSI_SPAN_MIN)
                return;
        for (PsiResource p = 0; p < _PSI_RESOURCE_MAX; p++) {
                if (t->has_psi)
                        u->pressure[p] = psi_percent(t->psi_total[p], cu->psi_total[p], span);
                t->psi_total[p] = cu->psi_total[p];
        }
        t->psi_mono = now_mono;
        bool first = !t->has_psi;
        t->has_psi = true;
        if (first)
                return;
        u->has_pressure = true;
        t->psi_mem_peak = MAX(t->psi_mem_peak, u->pressure[PSI_MEMORY]);
        u->pressure_mem_peak = t->psi_mem_peak;
}

void sampler_sample_build(Sampler *s, Tracked *t, Build *b, usec_t now_mono) {
        usec_t dt = t->last_mono ? now_mono - t->last_mono : 0;
        if (collect_procs(s, t, dt) < 0)
                return;
        /* Only processes new since the last sample can be outside the group (children of
         * processes inside are born inside). */
        if (t->has_group && !t->nix_group && t->new_procs)
                adopt_stragglers(s, t);
        apply_nice(s, t);

        BuildUsage u = b->usage;
        u.sampled = true;
        u.n_procs = t->n_procs;
        u.n_threads = 0;
        uint64_t rss = 0, io_r = t->io_read_dead, io_w = t->io_write_dead;
        usec_t cpu_procs = 0, pu = 0;
        bool all_stopped = t->n_procs > 0;
        for (uint32_t i = 0; i < t->n_procs; i++) {
                const TrackedProc *p = &t->procs[i];
                u.n_threads += p->st.threads;
                rss += p->st.rss;
                io_r += p->io_read;
                io_w += p->io_write;
                /* A process's time plus its waited-for children's: every descendant reaped
                 * inside the build is counted, as the kernel counts it for the builder. */
                cpu_procs += p->st.utime + p->st.stime + p->st.cutime + p->st.cstime;
                pu += p->st.utime + p->st.cutime;
                if (p->st.state != 'T' && p->st.state != 't')
                        all_stopped = false;
        }
        usec_t user = 0, sys = 0;
        CgUsage cu = {};
        if (t->has_group && !t->group.keep_files && s->n_kept_groups < s->max_kept_groups) {
                t->group.keep_files = true;
                s->n_kept_groups++;
        }
        /* The first two looks are full: the first's pressure starts the first span, the
         * second's ends it, so a build has its figures from its second sample on (not up to
         * FULL_EVERY samples later, or never for a short build). */
        bool full = s->stats.ticks % FULL_EVERY == 0 || t->full_looks < 2;
        if (t->has_group) {
                (void) cg_group_usage(&t->group, full, &cu);
                if (full && t->full_looks < 2)
                        t->full_looks++;
        }
        /* Both figures can only miss time: the group's what ran before the build entered it
         * (or while someone else had moved a process out of it), the processes' what
         * descendants reaped outside the build used. The larger is the better. */
        if (cu.has_cpu && cu.cpu_user + t->cpu_base + cu.cpu_system >= cpu_procs) {
                user = cu.cpu_user + t->cpu_base;
                sys = cu.cpu_system;
        } else {
                user = MIN(pu, cpu_procs);
                sys = cpu_procs - user;
        }
        /* Counters only grow: a process that exited between samples must not take its
         * time back. */
        if (user + sys < u.cpu_user + u.cpu_system && u.sampled && b->usage.sampled) {
                user = u.cpu_user;
                sys = u.cpu_system;
        }
        if (full)
                sample_pressure(t, &cu, now_mono, &u);
        usec_t cpu = user + sys;
        u.cpu_percent =
                dt > 0 && cpu >= t->last_cpu ? 100.0 * (double) (cpu - t->last_cpu) / (double) dt : 0;
        t->last_cpu = cpu;
        t->last_mono = now_mono;
        u.cpu_user = user;
        u.cpu_system = sys;
        /* MEM is one figure everywhere: the processes' resident sizes summed (docs/protocol.md,
         * "usage"). The cgroup's charge differs (pages charged before the build was moved in
         * stay with the old group; page cache counts; shared pages count once) and is kept
         * apart: limits and the OOM killer go by it. */
        u.mem_current = rss;
        t->mem_peak = MAX(t->mem_peak, rss);
        u.mem_peak = t->mem_peak;
        u.has_mem_cgroup = cu.has_mem;
        if (cu.has_mem) {
                u.mem_cgroup = cu.mem_current;
                t->mem_cgroup_peak = MAX(t->mem_cgroup_peak, cu.has_peak ? cu.mem_peak : cu.mem_current);
                u.mem_cgroup_peak = t->mem_cgroup_peak;
        }
        if (cu.has_io) {
                u.io_read = cu.io_read;
                u.io_write = cu.io_write;
        } else {
                u.io_read = MAX(u.io_read, io_r);
                u.io_write = MAX(u.io_write, io_w);
        }
        /* The niceness asked for, else the builder's own. */
        const TrackedProc *bp = sampler_find_proc(t->procs, t->n_procs, t->builder);
        u.has_nice = t->has_nice || bp;
        u.nice = t->has_nice ? t->nice : bp ? bp->st.nice : 0;
        u.cpu_limit = t->cpu_limit;
        u.mem_limit = t->mem_limit;
        if (cu.has_oom && cu.oom_kills > 0)
                u.oom_killed = true;
        model_build_set_usage(s->d->model, b, &u);
        model_build_add_sample(s->d->model, b, now_realtime());
        if (cu.has_oom)
                oom_build_count(s->d->oom, t, b, cu.oom_kills);

        bool frozen = t->has_group && cu.freeze != CG_FREEZE_UNKNOWN ? cu.freeze == CG_FREEZE_FROZEN
                                                                     : t->signal_frozen && all_stopped;
        model_build_set_frozen(s->d->model, b, frozen);

        /* The builder's end is the build's real end (Nix 2.8 may report it much later); the
         * build runs on while any process of it does (in its group, or its session). */
        if (t->builder_gone || !sampler_find_proc(t->procs, t->n_procs, t->builder)) {
                model_build_builder_exited(s->d->model, b, now_realtime());
                if (t->n_procs == 0 && !sampler_group_populated(t))
                        model_build_processes_gone(s->d->model, b, now_realtime());
        }
}

/* The build ended: a last look at its group (the OOM killer's count), then remove it. */
static void finish_tracked(Sampler *s, Tracked *t) {
        Build *b = model_build_by_key(s->d->model, t->key);
        if (b && t->has_group) {
                CgUsage cu;
                if (cg_group_usage(&t->group, /* full= */ true, &cu) == 0 && cu.has_oom &&
                    cu.oom_kills > 0) {
                        model_build_oom_killed(s->d->model, b);
                        oom_build_count(s->d->oom, t, b, cu.oom_kills);
                }
        }
        HASH_DELETE(hh, s->by_builder, t);
        if (t->group.keep_files) {
                cg_group_drop_files(&t->group);
                s->n_kept_groups--;
        }
        if (t->has_group && !t->nix_group && adopt_release(s, t) == -EBUSY) {
                t->next = s->releasing;
                s->releasing = t;
                return;
        }
        tracked_free(t);
}

static void retry_releases(Sampler *s) {
        Tracked **pp = &s->releasing;
        while (*pp) {
                Tracked *t = *pp;
                if (adopt_release(s, t) != -EBUSY || ++t->release_tries > RELEASE_TRIES_MAX) {
                        *pp = t->next;
                        tracked_free(t);
                } else
                        pp = &t->next;
        }
}

static void on_rediscovered(void *userdata, pid_t nix_pid, pid_t builder, const char *drv,
                            const DrvOutput *outs, size_t n_outs) {
        Sampler *s = userdata;
        if (builder_of(s, builder))
                return;
        uid_t uid = 0;
        (void) procfs_read_uid(s->cfg.proc_root, nix_pid, &uid);
        /* Its start: as the daemon knew it before the restart, else its builder's. */
        const ProcEntry *e = proc_table_get(&s->table, builder), *nix = proc_table_get(&s->table, nix_pid);
        usec_t builder_start = e ? proc_start_realtime(e->st.starttime) : 0;
        const ResumeBuild *r = persist_take(s->d->persist, drv, nix_pid, nix ? nix->st.starttime : 0);
        usec_t started = r ? r->started : builder_start ? builder_start : now_realtime();
        Build *b;
        if (model_rediscovered_build(s->d->model, nix_pid, uid, drv, started, &b) < 0)
                return;
        model_build_builder_outputs(s->d->model, b, outs, n_outs);
        /* A build this daemon dispatched to a machine, served here (a loopback builder): the
         * hook and its ssh are its processes here, the machine's daemon samples the rest. */
        if (!b->rediscovered && b->machine[0])
                return;
        model_build_resume(s->d->model, b, r, builder_start);
        log_info("rediscovered build %" PRIu64 " (%s) of nix pid %d, builder pid %d", b->key, b->name,
                 (int) nix_pid, (int) builder);
        if (!sampler_find(s, b->key))
                (void) track(s, b, builder);
}

typedef struct AttachCheck {
        Sampler *s;
        const Build *b;
} AttachCheck;

/* May the build's source have this builder (the trust model, shared/trust.h)? 0 never; else
 * 2 for a descendant of the source's own nix process, 1 for another (a trusted source
 * speaks for any process, but its own is the better match: another user's process made to
 * look like a builder of the same .drv must not be taken for it). */
static int attach_rank(void *userdata, pid_t pid) {
        AttachCheck *ac = userdata;
        const Source *src = ac->b->invocation ? ac->b->invocation->source : NULL;
        if (!trust_may_attach(ac->s->cfg.proc_root, src, pid))
                return 0;
        return trust_descends_from(ac->s->cfg.proc_root, pid, src->pid, src->pid_starttime) ? 2 : 1;
}

void sampler_run(Sampler *s) {
        usec_t t0 = now_monotonic();
        s->last_run = t0;
        Model *m = s->d->model;
        ModelCounters mc;
        model_counters(m, &mc);
        bool work = !s->rediscovered || s->tracked || s->releasing ||
                    mc.by_state[BUILD_RUNNING] + mc.by_state[BUILD_FROZEN] > 0;
        bool watch = s->rediscovered && (s->serving || s->stats.ticks % WATCH_EVERY == 0);
        bool missing = false;

        if ((work || watch) && table_scan(s) == 0) {
                discovery_prune(s->dsc, &s->table);
                if (!s->rediscovered) {
                        /* Again at the next pass while files are being read off the loop. */
                        s->rediscovered = discovery_rediscover(s->dsc, &s->table, s->cfg.discover_scope,
                                                               on_rediscovered, s) != -EAGAIN;
                        if (s->rediscovered)
                                persist_rediscovery_done(s->d->persist);
                }
                /* After the first rediscovery, which may find the same builders. */
                if (s->rediscovered)
                        s->serving = discovery_find_served(s->dsc, &s->table, s->cfg.discover_scope,
                                                           on_rediscovered, s) > 0;
                for (Tracked *t = s->tracked; t; t = t->next)
                        t->seen = false;

                usec_t now_real = now_realtime();
                unsigned new_tracked = 0;
                for (Build *b = model_builds_first(m); b; b = b->next) {
                        if (b->state != BUILD_RUNNING && b->state != BUILD_FROZEN)
                                continue;
                        Tracked *t = sampler_find(s, b->key);
                        if (!t && b->machine[0] == '\0' && !b->builder_exited) {
                                pid_t builder;
                                AttachCheck ac = {.s = s, .b = b};
                                if (new_tracked >= TRACK_PER_TICK)
                                        missing = true;
                                else if (discovery_find_builder(s->dsc, &s->table, b->drv, attach_rank, &ac,
                                                                &builder) > 0 &&
                                         !builder_of(s, builder)) {
                                        t = track(s, b, builder);
                                        new_tracked++;
                                        missing = true; /* look again soon: forks during adoption */
                                } else if (b->started + FAST_WINDOW > now_real)
                                        missing = true;
                        }
                        if (t)
                                t->seen = true;
                        /* Stopped by Nix: its end waits for this sampler to see its processes
                         * gone (soon, unless a sample since found some left). */
                        if (t && (b->n_activities_open == 0 || b->finished) && b->state == BUILD_RUNNING &&
                            !b->procs_after_stop)
                                missing = true;
                }
                check_builders(s);
                gather(s);
                classify_lazy(s);
                for (Tracked *t = s->tracked; t; t = t->next) {
                        Build *b = t->seen ? model_build_by_key(m, t->key) : NULL;
                        if (b) {
                                sampler_sample_build(s, t, b, t0);
                                notify_processes(s->d, b);
                        }
                }
                /* Ended builds: forget them (after sampling, which resolved owners). */
                Tracked **pp = &s->tracked;
                while (*pp) {
                        Tracked *t = *pp;
                        if (t->seen) {
                                pp = &t->next;
                                continue;
                        }
                        *pp = t->next;
                        finish_tracked(s, t);
                }
                retry_releases(s);
                s->stats.last_procs = s->table.n;
        }
        oom_tick(s->d->oom);

        usec_t took = now_monotonic() - t0;
        s->stats.ticks++;
        s->stats.last_tick_usec = took;
        s->stats.total_usec += took;
        s->stats.max_tick_usec = MAX(s->stats.max_tick_usec, took);
        s->stats.tracked = 0;
        for (Tracked *t = s->tracked; t; t = t->next)
                s->stats.tracked++;

        usec_t next = missing ? MIN(FAST_INTERVAL, s->cfg.interval) : s->cfg.interval;
        sd_event_source_set_time(s->timer, now_monotonic() + next);
        sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        sampler_run(userdata);
        return 0;
}

void sampler_kick(Sampler *s) {
        uint64_t when;
        usec_t soon = now_monotonic() + 20 * USEC_PER_MSEC;
        if (sd_event_source_get_time(s->timer, &when) >= 0 && when <= soon)
                return;
        sd_event_source_set_time(s->timer, soon);
        sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

/* Where builds go: the delegated service group (moving the daemon into <service>/daemon),
 * --cgroup-root, or the default. */
static int setup_roots(Sampler *s) {
        _cleanup_free_ char *self = NULL;
        size_t len = 0;
        const char *why = NULL;
        if (!s->cfg.cgroup_root &&
            procfs_read(s->cfg.proc_root, getpid(), "cgroup", 1u << 16, &self, &len) < 0)
                self = NULL;
        int r = cg_roots_resolve(&s->host, s->cfg.cgroup_root, self, len, getenv("INVOCATION_ID"), &s->roots,
                                 &why);
        if (r < 0)
                return log_error_errno(r, "cannot choose the builds' cgroup root: %m");
        s->cgroups = true;
        if (s->roots.source == CG_ROOT_SOURCE_DELEGATED) {
                r = cg_roots_enter(&s->roots, &s->host);
                if (r < 0)
                        log_warning_errno(r,
                                          "delegated cgroup %s: cannot move the daemon into %s/%s and "
                                          "enable controllers for builds (limits may be unavailable): %m",
                                          s->roots.service, s->roots.service, CG_DELEGATE_DAEMON);
                else
                        log_info("running as a systemd service with the delegated cgroup %s: daemon in "
                                 "%s/%s%s",
                                 s->roots.service, s->roots.service, CG_DELEGATE_DAEMON,
                                 s->roots.xattr
                                         ? " (systemd marks it delegated)"
                                         : " (no delegate xattr: make sure the unit sets Delegate=yes)");
        }
        /* Under systemd without a usable delegated group the admin most likely forgot
         * Delegate=yes: say so louder. */
        if (why && getenv("INVOCATION_ID"))
                log_notice("started by systemd, but not in a delegated service cgroup (%s): builds go "
                           "under %s",
                           why, CG_ROOT_DEFAULT_PATH);
        log_info("cgroups: %s layout (v2 %s), builds adopted under %s (%s%s%s)",
                 cg_layout_to_string(s->host.layout), s->host.v2 ? s->host.v2 : "absent",
                 cg_roots_primary(&s->roots) ? cg_roots_primary(&s->roots) : "(none)",
                 cg_root_source_to_string(s->roots.source), why ? ": no delegated service: " : "",
                 why ? why : "");
        adopt_cleanup_stale(&s->host, &s->roots);
        return 0;
}

int sampler_new(Daemon *d, const SamplerConfig *cfg, Sampler **ret) {
        Sampler *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->d = d;
        s->cfg = *cfg;
        struct rlimit rl;
        bool limited = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY;
        s->max_stat_fds = limited ? MIN((size_t) rl.rlim_cur / 2, (size_t) STAT_FDS_MAX) : STAT_FDS_MAX;
        s->max_kept_groups = limited ? MIN((size_t) rl.rlim_cur / 4 / _CG_KEPT_MAX, (size_t) KEPT_GROUPS_MAX)
                                     : KEPT_GROUPS_MAX;
        int r = discovery_new(cfg->proc_root, cfg->store_dir, d->event, &s->dsc);
        if (r < 0)
                goto free_sampler;
        if (!cfg->no_cgroups) {
                r = cg_host_detect(NULL, NULL, &s->host);
                if (r < 0)
                        log_warning_errno(r, "cannot read the cgroup mounts, acting by signals: %m");
                else if (s->host.layout == CG_LAYOUT_NONE)
                        log_notice(
                                "no cgroup hierarchy on this host: figures from /proc, actions by signals");
                else if ((r = setup_roots(s)) < 0)
                        goto free_sampler;
        } else
                log_info("cgroups disabled (--no-cgroups): figures from /proc, actions by signals");

        r = sd_event_add_time(d->event, &s->timer, CLOCK_MONOTONIC, now_monotonic(), 10 * USEC_PER_MSEC,
                              on_timer, s);
        if (r < 0)
                goto free_sampler;
        *ret = s;
        return 0;
free_sampler:
        sampler_free(s);
        return r;
}

Sampler *sampler_free(Sampler *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->timer);
        HASH_CLEAR(hh, s->by_builder);
        bool delegated = s->roots.source == CG_ROOT_SOURCE_DELEGATED;
        while (s->tracked) {
                Tracked *t = s->tracked;
                s->tracked = t->next;
                /* Groups of builds still running stay where we own the root: the next daemon
                 * run finds them. In a delegated service they go back where they came from:
                 * stopping the service must not take builds with it. */
                if (t->has_group && !t->nix_group) {
                        if (delegated && adopt_hand_back(s, t) < 0)
                                log_warning("build %" PRIu64 ": could not hand all its processes back; "
                                            "they stay in %s",
                                            t->key, t->group.v2 ? t->group.v2 : "our cgroup");
                        (void) adopt_release(s, t);
                }
                tracked_free(t);
        }
        while (s->releasing) {
                Tracked *t = s->releasing;
                s->releasing = t->next;
                (void) adopt_release(s, t);
                tracked_free(t);
        }
        if (s->cgroups)
                cg_roots_leave(&s->roots, &s->host, getpid());
        cg_roots_done(&s->roots);
        HASH_CLEAR(hh, s->table.by_pid);
        free(s->table.entries);
        stat_fds_clear(s);
        discovery_free(s->dsc);
        cg_host_done(&s->host);
        free(s);
        return NULL;
}

const CgHost *sampler_host(Sampler *s) {
        return &s->host;
}

bool sampler_cgroups_enabled(Sampler *s) {
        return s->cgroups;
}

const char *sampler_proc_root(Sampler *s) {
        return s->cfg.proc_root;
}

const SamplerConfig *sampler_config(Sampler *s) {
        return &s->cfg;
}

const CgRoots *sampler_roots(Sampler *s) {
        return &s->roots;
}

void sampler_read_stats(Sampler *s, WorkQueueStats *ret) {
        discovery_read_stats(s->dsc, ret);
}

void sampler_stats(Sampler *s, SamplerStats *ret) {
        *ret = s->stats;
}
