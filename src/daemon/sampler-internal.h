/* The sampler's state and the steps of a sample that its other parts share: sampler.c owns
 * the sampling loop, sampler-ended.c the targeted look at ended builds, sampler-oom.c what
 * the OOM killer's reports need from the builds' groups. Only these include it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/discover.h"
#include "daemon/sampler.h"
#include "daemon/tracker.h"

#define FAST_INTERVAL (100 * USEC_PER_MSEC) /* samples while a build lacks its builder */

struct Sampler {
        Daemon *d;
        SamplerConfig cfg;
        CgHost host;
        CgRoots roots;
        bool cgroups;
        Discovery *dsc;
        sd_event_source *timer;

        Tracked *tracked;
        Tracked *by_builder; /* hash, hh (builder pid) */
        Tracked *releasing;  /* ended builds whose group is still being removed */

        ProcTable table;
        size_t table_cap;
        StatFd *stat_fds; /* hash, by pid */
        size_t n_stat_fds, max_stat_fds;
        size_t n_kept_groups, max_kept_groups;
        uint64_t scans;
        bool rediscovered;
        bool serving;    /* the last table held a nix process serving a remote client */
        usec_t last_run; /* monotonic: when the last sample began */
        SamplerStats stats;
};

/* The process pid among procs (sorted by pid, n of them), NULL if absent. */
const TrackedProc *sampler_find_proc(const TrackedProc *procs, uint32_t n, pid_t pid);
/* Processes left in t's group that its session no longer tells (they made their own and
 * their parent died). A group that cannot be read (Nix removed its own) holds none. */
bool sampler_group_populated(const Tracked *t);
/* One build's sample: its processes gathered for this sample (t->next_procs) become current,
 * and its figures go to the model. */
void sampler_sample_build(Sampler *s, Tracked *t, Build *b, usec_t now_mono);
