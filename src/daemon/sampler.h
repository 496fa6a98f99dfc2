/* The sampler: every interval, the /proc table and each tracked build's processes and cgroup
 * figures, for the model (usage, frozen, builder exit) and "processes" events; it finds the
 * builders of new builds (discover.h) and gives them cgroups (adopt.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/time-util.h"
#include "daemon/daemon.h"
#include "daemon/tracker.h"
#include "daemon/work-queue.h"
#include "shared/cgroup-delegate.h"
#include "shared/cgroup.h"

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
