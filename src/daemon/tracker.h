/* The daemon's view of running builds as processes and cgroups, as plain records: one Tracked
 * record per build whose builder was found, and the /proc table of the current sample. Made
 * by the sampler (sampler.h), read by discovery (discover.h), adoption (adopt.h) and the
 * actions (actions.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shared/cgroup.h"
#include "shared/model.h" /* uthash, as the model hashes */
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
        uint8_t full_looks; /* full reads of its group so far (cg_group_usage), up to 2 */
        bool has_psi;       /* psi_total holds its group's totals at psi_mono */
        uint64_t psi_total[_PSI_RESOURCE_MAX];
        usec_t psi_mono;
        double psi_mem_peak;
        uint64_t mem_peak, mem_cgroup_peak, io_read_dead, io_write_dead;

        /* what was applied */
        bool has_nice;
        int nice;
        double cpu_limit;
        uint64_t mem_limit;
        bool signal_frozen;    /* SIGSTOP fallback */
        uint64_t oom_recorded; /* OOM kills in its group recorded as events (oom.c) */
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

/* The entry for pid in the sample's table, or NULL (sampler.c). */
ProcEntry *proc_table_get(ProcTable *t, pid_t pid);
