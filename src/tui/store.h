/* The TUI's own copy of the daemon's builds and invocations, loaded once per connection
 * (list-builds, list-invocations) and kept current by subscription events: never a whole
 * snapshot per second. Pure data: no I/O, so tests feed it events directly. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include "shared/model.h"
#include "tui/hash.h"

/* States as the daemon's model names them (shared/model.h); one this TUI does not know (a
 * newer daemon) is BUILD_UNKNOWN and counted apart. */
#define BUILD_UNKNOWN     _BUILD_STATE_INVALID
#define STORE_COUNT_SLOTS (_BUILD_STATE_MAX + 1)

/* The state's name for display ("?" when unknown). */
const char *store_state_name(BuildState s);

typedef struct StoreBuild {
        uint64_t key;
        unsigned host; /* its store's host: a build is (host, key) */
        cJSON *json;   /* the build object as last received (usage kept current) */
        /* Decoded from json (pointers into it): what rendering and sorting read. */
        const char *name, *drv, *phase, *machine, *user, *cmdline;
        const char *failure_kind; /* NULL without a failure */
        BuildState state;
        uint64_t invocation;
        double queued, started, finished, duration;
        double received; /* when duration was received (running builds tick on) */
        /* > 0: its daemon went away at this local time, and the row is its last known state
         * (shown greyed, its clock standing at that time) until the daemon vouches again. */
        double stale_since;
        double eta_expected; /* < 0 unknown */
        bool eta_weak;       /* its confidence is low (few samples, or far apart) */
        bool has_usage;
        /* CPU and memory as the remote machine's daemon sees a remote build, when it does
         * (the build's "remote" object: then phase, cpu_percent, mem_current and mem_peak are
         * the remote's, not the local build hook's) */
        bool remote;
        double cpu_percent, mem_current, mem_peak, cpu_limit, mem_limit;
        int nice;
        UT_hash_handle hh;
} StoreBuild;

typedef struct StoreInvocation {
        uint64_t id;
        cJSON *json;
        const char *user, *cmdline;
        const char *error; /* Nix's error for the invocation itself, NULL none */
        bool done;         /* ended ("done" or "failed") */
        double started;
        double progress_done, progress_expected, progress_running, progress_failed;
        /* The daemon's counts of its builds (invocation "counts"), when it sends them. */
        bool has_counts;
        double n_builds, n_done, n_queued, n_running, n_frozen, n_failed, n_dependency, n_cancelled,
                n_not_started, n_killed, n_lost;
        UT_hash_handle hh;
} StoreInvocation;

typedef struct Store {
        unsigned host;                      /* which of the TUI's hosts this is the copy of */
        StoreBuild *builds;                 /* by key; iterated in key order */
        uint64_t max_key;                   /* the largest key in builds */
        StoreInvocation *invocations;       /* by id */
        unsigned counts[STORE_COUNT_SLOTS]; /* by state; the last: unknown states */
        uint64_t generation;                /* bumped by every change: views rebuild their rows lazily */
        uint64_t events;                    /* events applied */
        /* Bumped only by changes that may add, remove or move rows of a list in arrival order:
         * a new build or invocation, a build's state, invocation or fields a filter reads
         * changed, an invocation ended, a reload. Usage and phase changes leave it. */
        uint64_t layout;
        double stale_since; /* > 0: the daemon went away then (store_mark_stale) */
        /* Whether any build so far had a phase / ran on a remote machine: columns that carry
         * nothing on this machine give their room to the name at narrow widths. */
        bool seen_phase, seen_machine;
} Store;

/* A build wherever it is named apart from its StoreBuild: rows, selections, prompts. */
typedef struct BuildRef {
        unsigned host;
        uint64_t key;
} BuildRef;

void store_init(Store *s, unsigned host);
void store_clear(Store *s);

/* Applies one subscription event ("build", "invocation", "processes"); others are ignored.
 * The object it keeps is taken out of ev (detached, not copied: an event comes hundreds of
 * times a second). now is the local unix time (a running build's elapsed time counts from
 * it). Returns 1 when the store changed, 0 when not, -ENOMEM. */
int store_apply_event(Store *s, cJSON *ev, double now);
/* Replaces everything with a list-builds / list-invocations result. Loading the builds
 * ends the store's staleness: the daemon vouches for all of it again. */
int store_load_builds(Store *s, const cJSON *result, double now);
int store_load_invocations(Store *s, const cJSON *result);
/* The daemon went away at local time now: what the store holds stays, stale (elapsed times
 * and ETAs stop at now) until a build event or the next store_load_builds() replaces it. */
void store_mark_stale(Store *s, double now);

StoreBuild *store_build(Store *s, uint64_t key);
StoreInvocation *store_invocation(Store *s, uint64_t id);

/* Elapsed seconds of a build at local time now (from start; queued: -1); a stale build's
 * clock stands at the time it went stale. */
double store_build_elapsed(const StoreBuild *b, double now);
/* Seconds left by its ETA: negative once it runs over its expected time (by that much), NAN
 * when unknown (no history, queued, or it ended). */
double store_build_remaining(const StoreBuild *b, double now);
