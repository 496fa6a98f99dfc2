/* The daemon's view of running builds as processes and cgroups: one Tracked record per build
 * whose builder was found, and the /proc table of the current sample. Shared by the sampler
 * (sampler.c), discovery (discover.c), adoption (adopt.c) and actions (actions.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/daemon.h"
#include "daemon/work-queue.h"
#include "shared/cgroup-delegate.h"
#include "shared/cgroup.h"
#include "shared/model.h"
#include "shared/pidref.h"
#include "shared/procfs.h"

/* One process of a build, as last sampled. */
typedef struct TrackedProc {
        ProcStat st;
        uid_t uid;
        char *cmdline; /* read once, bounded; NULL unreadable */
        uint64_t io_read, io_write;
        double cpu_percent;
        usec_t read_at; /* when st was read (monotonic): rates are per read, not per sample */
} TrackedProc;

typedef struct Tracked Tracked;
struct Tracked {
        uint64_t key; /* the build's key */
        pid_t builder;
        uint64_t builder_start;
        PidRef builder_ref; /* held from discovery on: pidfd where the kernel has them */
        /* The builder exited (or its pid now has another start time): nothing is acted on
         * through its pid, process group or session any more. Sticky. */
        bool builder_gone;
        char *drv;

        /* cgroup: Nix's own (use-cgroups), ours (adopted), or none (signals, /proc figures) */
        CgGroup group;
        bool has_group;
        bool nix_group;
        bool adopt_failed;
        usec_t cpu_base; /* CPU time of its processes before they entered our group */

        TrackedProc *procs; /* sorted by pid */
        uint32_t n_procs, cap_procs;
        TrackedProc *next_procs; /* being gathered for this sample */
        uint32_t n_next, cap_next;
        bool gather_failed;
        bool new_procs; /* this sample found processes the last one did not have */

        /* figures between samples */
        usec_t last_cpu, last_mono;
        uint64_t mem_peak, io_read_dead, io_write_dead;

        /* what was applied */
        bool has_nice;
        int nice;
        double cpu_limit;
        uint64_t mem_limit;
        bool signal_frozen; /* SIGSTOP fallback */
        unsigned release_tries;

        bool seen; /* still in the model as an active build this tick */
        Tracked *next;
        UT_hash_handle hh; /* by builder pid */
};

/* The /proc table of one sample: every process, by pid. A process that neither discovery
 * nor a build's figures need every second (one of a build with its own cgroup, or no
 * build's and not near a nix process) keeps the stat of its last read for a few samples:
 * fresh says whether st was read in this one (sampler.c, LAZY_EVERY). */
typedef struct StatFd StatFd;
typedef struct ProcEntry {
        ProcStat st;
        usec_t read_at;  /* when st was read (monotonic) */
        bool fresh;      /* st was read in this sample */
        bool born;       /* first seen in this sample */
        StatFd *kept;    /* its open stat file, if kept */
        Tracked *owner;  /* build it belongs to, resolved lazily */
        int8_t resolved; /* 0 not yet, 1 done */
        UT_hash_handle hh;
} ProcEntry;

typedef struct ProcTable {
        ProcEntry *entries; /* array */
        size_t n;
        ProcEntry *by_pid; /* hash over entries */
} ProcTable;

typedef struct Sampler Sampler;

/* The sampler's settings (daemon options). */
typedef struct SamplerConfig {
        usec_t interval;
        bool no_cgroups;
        const char *cgroup_root; /* --cgroup-root PATH; NULL: auto (see cgroup-delegate.h) */
        pid_t discover_scope;    /* rediscover only under this pid (0: everywhere) */
        const char *proc_root;
        const char *store_dir;
} SamplerConfig;

int sampler_new(Daemon *d, const SamplerConfig *cfg, Sampler **ret);
Sampler *sampler_free(Sampler *s);
/* Looks at builds soon (a build started: find its builder without waiting a full interval). */
void sampler_kick(Sampler *s);

Tracked *sampler_find(Sampler *s, uint64_t key);
const CgHost *sampler_host(Sampler *s);
bool sampler_cgroups_enabled(Sampler *s);
const char *sampler_proc_root(Sampler *s);
const SamplerConfig *sampler_config(Sampler *s);
/* Where builds are adopted, per hierarchy, and why there. */
const CgRoots *sampler_roots(Sampler *s);

typedef struct SamplerStats {
        uint64_t ticks;
        usec_t last_tick_usec, max_tick_usec, total_usec;
        size_t last_procs;
        uint32_t tracked;
} SamplerStats;
void sampler_stats(Sampler *s, SamplerStats *ret);
/* Its file-read worker (discover.c): .drv and structured-attrs files read off the loop. */
void sampler_read_stats(Sampler *s, WorkQueueStats *ret);

/* Runs one sample now (benchmarks, tests). */
void sampler_run(Sampler *s);

/* ---- ProcTable (sampler.c) ---- */
ProcEntry *proc_table_get(ProcTable *t, pid_t pid);

/* ---- discover.c ---- */
typedef struct Discovery Discovery;
/* event: where answers of the file-read worker come back (NULL: files are read inline, for
 * unit tests on fake trees). */
int discovery_new(const char *proc_root, const char *store_dir, sd_event *event, Discovery **ret);
Discovery *discovery_free(Discovery *dsc);
/* Finds the builder of drv among the builder-like processes of the table (session leaders
 * under a nix process). rank (NULL: any is best) says whether the build may have that
 * process (0: never, trust_may_attach), and which to prefer (2: a descendant of the build's
 * own nix process, 1: another); the best ranked wins. Returns 1 with *ret_pid, 0 not (yet)
 * found, -errno. */
int discovery_find_builder(Discovery *dsc, ProcTable *t, const char *drv,
                           int (*rank)(void *userdata, pid_t pid), void *userdata, pid_t *ret_pid);
/* The file-read worker's figures (all 0 when reading inline). */
void discovery_read_stats(Discovery *dsc, WorkQueueStats *ret);
/* Forgets candidates whose processes are gone. */
void discovery_prune(Discovery *dsc, ProcTable *t);
/* Every running builder of the table whose .drv can be told (from its nix process's open
 * build log): calls cb(nix_pid, builder_pid, drv). scope: only under this pid (0: any).
 * Returns the number found, or -EAGAIN when some file is still being read: call it again
 * later (cb may then see the builders found already once more). */
int discovery_rediscover(Discovery *dsc, ProcTable *t, pid_t scope,
                         void (*cb)(void *userdata, pid_t nix_pid, pid_t builder, const char *drv),
                         void *userdata);

/* ---- adopt.c ---- */
/* Does e belong to t's builder: the builder itself (same start time), or its session while
 * the builder lives? After the builder is gone only processes already known as the build's
 * match by session: its pid may now lead someone else's session. */
bool tracked_leads(const Tracked *t, const ProcEntry *e);
/* Gives the tracked build a cgroup: Nix's own, ours from an earlier run, or a new one of
 * ours, and moves its processes in until none is left behind. 0, or -errno (then the build
 * is acted on with signals). */
int adopt_build(Sampler *s, Tracked *t, ProcTable *tab);
/* Moves processes of the build that are not in its group yet (forks during adoption). */
void adopt_stragglers(Sampler *s, Tracked *t);
/* Removes our group of an ended build. 0, -EBUSY while processes remain. */
int adopt_release(Sampler *s, Tracked *t);
/* Removes empty groups left by an earlier run under our roots. */
void adopt_cleanup_stale(const CgHost *h, const CgRoots *roots);
/* At exit in a delegated service: thaws the build and moves its processes back to the group
 * of its nix process, so that stopping our service neither stops nor kills builds (limits
 * set through our group end with it). 0, or -errno (processes left in our group). */
int adopt_hand_back(Sampler *s, Tracked *t);
