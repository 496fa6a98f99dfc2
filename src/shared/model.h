/* The live model: event sources, their activities, builds and invocations, fed by parsed
 * Nix records. No I/O except reading .drv files and /proc through injectable roots; no
 * output. Views (control protocol, CLI) read the plain records below; only model_*
 * functions change them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* uthash's default (Jenkins) hash is a switch that falls through on purpose, which our
 * -Wimplicit-fallthrough rejects; FNV-1a is a loop and as good for our short keys. Every
 * file using these tables includes this header, so they all agree on the function. */
#define HASH_FUNCTION(keyptr, keylen, hashv) HASH_FNV(keyptr, keylen, hashv)
#include <uthash.h>

#include "basic/time-util.h"
#include "shared/drv.h"
#include "shared/logring.h"
#include "shared/nixlog.h"
#include "shared/psi.h"
#include "shared/timeline.h"

typedef enum BuildState {
        BUILD_QUEUED,
        BUILD_RUNNING,
        BUILD_FROZEN,
        BUILD_SUCCEEDED,
        BUILD_FAILED,
        BUILD_KILLED,
        BUILD_LOST,
        /* Its builder and every process of it are gone; Nix has not said how it ended (its
         * outputs are not valid yet and Nix has not moved on): not running, not final. */
        BUILD_FINISHING,
        _BUILD_STATE_MAX,
        _BUILD_STATE_INVALID = -1,
} BuildState;

typedef enum FailureKind {
        FAILURE_NONE,
        FAILURE_EXIT_CODE,
        FAILURE_SIGNAL,
        FAILURE_DEPENDENCY,
        FAILURE_NO_OUTPUTS,
        FAILURE_CANCELLED,
        FAILURE_OTHER,
        FAILURE_OOM,            /* killed by the kernel's OOM killer (memory limit) */
        FAILURE_NOT_STARTED,    /* never ran: its nix process ended on an error of its own */
        FAILURE_HASH_MISMATCH,  /* a fixed-output derivation's output had another hash */
        FAILURE_TIMEOUT,        /* Nix's `timeout` (or a timeout Nix words without its kind) */
        FAILURE_SILENT_TIMEOUT, /* Nix's `max-silent-time` */
        FAILURE_LOG_LIMIT,      /* Nix's `max-build-log-size` */
        FAILURE_SUBSTITUTION,   /* its outputs could not be substituted (no fallback build) */
        _FAILURE_KIND_MAX,
} FailureKind;

/* What a view is told about a change (coalesced per flush). */
typedef enum ChangeKind {
        CHANGE_NEW,      /* appeared (queued or directly running) */
        CHANGE_STARTED,  /* queued -> running */
        CHANGE_CHANGED,  /* phase, machine, counters */
        CHANGE_FINISHED, /* reached a final state */
        CHANGE_LOG,      /* new log lines only */
        CHANGE_REVISED,  /* ended failed on a guess (no-outputs), now with Nix's own reason */
} ChangeKind;

typedef struct Requester {
        int64_t uid; /* -1 unknown */
        int64_t pid; /* -1 unknown */
        char *user;  /* resolved from uid, or NULL */
        char *cmdline;
} Requester;

typedef struct Phase {
        char *name;
        usec_t time;
} Phase;

/* What a build costs and what was applied to it, as last sampled by the daemon from the
 * build's cgroup or its processes. Zero until the first sample (sampled == false). */
typedef struct BuildUsage {
        bool sampled;
        usec_t cpu_user, cpu_system; /* CPU time, microseconds */
        double cpu_percent;          /* over the last sampling interval; 100 = one core */
        /* bytes: MEM, the sum of the build's processes' resident sizes (what ps and top show
         * per process, so the process view's rows add up to it), and its largest sum seen */
        uint64_t mem_current, mem_peak;
        /* bytes: what the kernel charges to the build's cgroup (its limit and the OOM killer
         * go by this), and its peak; has_mem_cgroup false without a cgroup */
        bool has_mem_cgroup;
        uint64_t mem_cgroup, mem_cgroup_peak;
        uint64_t io_read, io_write; /* bytes */
        uint32_t n_procs, n_threads;
        bool has_nice;
        int nice;
        double cpu_limit;   /* cores; 0 none */
        uint64_t mem_limit; /* bytes; 0 none */
        bool oom_killed;    /* the kernel's OOM killer ended one of its processes */
        /* Pressure (PSI) in its own cgroup: the share of the last sampling interval some task
         * of it stalled for cpu, memory, io (PsiResource order), in percent; and the most
         * memory pressure of any interval. has_pressure false when the kernel gives none (no
         * cgroup of its own, cgroup v1, no PSI). */
        bool has_pressure;
        double pressure[_PSI_RESOURCE_MAX];
        double pressure_mem_peak;
} BuildUsage;

/* A running local build's temporary build directory as last measured by the daemon
 * (daemon: builddirs.c; set through model_build_set_dir_usage). sampled false until then. */
typedef struct BuildDirUsage {
        bool sampled;
        char *path;                /* as the builder sees it: "/tmp/nix-build-hello.drv-0", "/build" */
        uint64_t used;             /* bytes allocated under it, on its filesystem */
        bool truncated;            /* the walk hit a bound: used is a lower bound */
        uint64_t fs_free, fs_size; /* its filesystem: available to users, total (bytes) */
        bool fs_nearly_full;
        usec_t at; /* realtime of the measure */
} BuildDirUsage;

/* How long a build should take, from the history of its pname (daemon: estimates.c).
 * Unknown while samples == 0. */
typedef struct BuildEta {
        bool looked_up; /* history was asked (samples 0 then: nothing found) */
        uint32_t samples;
        double expected;        /* seconds, start to end: the median of the samples */
        double low, high;       /* seconds: the shortest and the longest of them */
        const char *confidence; /* static: "high", "medium", "low" */
        bool other_machines;    /* from builds on other machines, scaled by speed */
} BuildEta;

/* What is left of an invocation along its longest remaining dependency chain. */
typedef struct InvocationEta {
        bool known;
        double remaining;     /* seconds, as of `at` */
        usec_t at;            /* realtime */
        uint32_t left;        /* builds not finished */
        uint32_t unknown;     /* of those, without history (counted as 0 s) */
        double critical_path; /* seconds: its longest chain of unfinished builds */
        double work;          /* seconds: all its unfinished builds' work together */
        uint32_t slots;       /* builds it ran at once at most so far (Nix's -j, as seen) */
        const char *confidence;
} InvocationEta;

/* A remote build as the daemon on its machine sees it, from the last poll of that machine
 * (daemon: machines-poll.c; set through model_build_set_remote_view). present == false: none
 * (a local build, a machine without a daemon, or the remote daemon does not show it). */
typedef struct BuildRemoteView {
        bool present;
        char *state, *phase; /* as the remote reported them; NULL unknown */
        bool sampled;        /* the usage figures below are known */
        double cpu_percent;
        uint64_t mem_current, mem_peak;
        uint32_t n_procs;
        uint64_t log_lines;
        usec_t seen; /* realtime of the poll that saw it */
} BuildRemoteView;

typedef struct Source Source;
typedef struct Invocation Invocation;

/* What an invocation's builds are, one count each (docs/protocol.md, "invocation"): every
 * build is in exactly one. A failed build counts by why: its own failure, a dependency's, or
 * cancelled (Nix stopped, or it never started). */
typedef enum BuildCount {
        COUNT_QUEUED,
        COUNT_RUNNING,
        COUNT_FINISHING,
        COUNT_FROZEN,
        COUNT_SUCCEEDED,
        COUNT_FAILED,
        COUNT_DEPENDENCY,
        COUNT_CANCELLED,
        COUNT_NOT_STARTED,
        COUNT_KILLED,
        COUNT_LOST,
        _COUNT_MAX,
        _COUNT_NONE = -1,
} BuildCount;

typedef struct Build Build;

struct Build {
        uint64_t key;
        char *drv;
        char *name;
        char *machine; /* "" local */
        BuildState state;

        Phase *phases;
        uint32_t n_phases;

        Invocation *invocation;
        Requester requester; /* copied from the invocation at creation */

        usec_t queued, started, finished; /* realtime; 0 unknown */
        usec_t frozen_usec,
                frozen_since; /* time spent frozen before now; since when it is (realtime, 0 not) */
        LogRing log;
        usec_t last_output; /* realtime of its last log line; 0 none yet */
        /* Nix waits for the lock on an output of it (activity 111, "waiting for lock on …"):
         * another process builds or substitutes the same output. Open such activities. */
        uint32_t lock_waits;
        bool lock_waited; /* it did at some point (sticky): Nix may then find its outputs
                           * valid, built by the other process, and never start it */

        FailureKind failure;
        int exit_code; /* -1 unknown */
        int signal;    /* 0 none */
        char *failure_message;
        int8_t structured; /* Nix's structured outcome (Determinate's build result): 1
                            * succeeded, -1 failed, 0 none; it wins over any message */

        BuildUsage usage;
        BuildDirUsage dir;
        Timeline timeline;        /* usage over its life, a point per sample (timeline.h) */
        bool kill_requested;      /* a kill action hit it: a failure by signal ends it "killed" */
        bool rediscovered;        /* found in /proc after a daemon restart, not from events */
        uint64_t resume_activity; /* rediscovered: its build activity's id on the stream that
                                   * reported it before the restart (0 unknown): that stream,
                                   * back, takes it over by its records (model-resume.c) */
        bool start_unknown;       /* started is a guess (rediscovered, no earlier record of it, no
                                   * builder start time): its duration is approximate */
        usec_t builder_exited;    /* realtime; its builder process ended (0: running or unknown) */
        usec_t procs_gone;        /* realtime; the builder and every process of it ended (0: not seen) */
        bool procs_after_stop;    /* a sample after Nix ended it (stop, outputs registered) still found
                                     processes of it */
        int64_t failed_base;      /* its invocation's failures Nix counted and no build explained,
                                   * when a sample last found processes of it */
        BuildEta eta;

        /* remote builders (model-machines.c) */
        uint32_t machine_waits; /* open "waiting for a machine" activities (111) */
        char *system;           /* read from the .drv when it waits for a machine; NULL unknown */
        uint64_t dispatch_seq;  /* order of its dispatch to a machine among all dispatches; 0 none */
        BuildRemoteView remote; /* the machine's own daemon's view; kept as last seen */

        /* outputs not found at stop with no failure reported: checked again a few times,
         * because a stop may precede registration on some paths */
        unsigned n_activities_open; /* its build activities not stopped yet */
        unsigned output_checks_left;
        usec_t output_check_at;             /* monotonic */
        Build *recheck_prev, *recheck_next; /* in the model's list of builds to look at again */
        Build *run_prev, *run_next;         /* in its invocation's running builds */
        /* its outputs as its .drv names them, read once at the first look (they never
         * change); n_outputs -errno: the .drv cannot tell (unreadable, malformed) */
        DrvOutput *outputs;
        int n_outputs;
        bool outputs_read;
        bool rechecking; /* in that list (model_tick walks only it) */

        /* change tracking for views */
        bool dirty;
        unsigned dirty_kinds; /* bitmask of 1 << ChangeKind */
        uint64_t log_flushed; /* log.total at the last flush */
        Build *dirty_next;
        int64_t quota_uid;  /* the untrusted uid whose build quota it takes; -1 none */
        BuildCount counted; /* the count of its invocation it is in (model-changes.c) */

        Build *prev, *next; /* all builds by key */
        UT_hash_handle hh_key;
        UT_hash_handle hh_drv; /* in invocation->by_drv */
};

typedef struct Activity {
        uint64_t id;
        int64_t type;
        bool has_parent;
        uint64_t parent;
        Build *build; /* build (105) and postBuildHook (110) activities */
        /* remote builders (model-machines.c) */
        uint64_t waiting_key;         /* 111: key of the build waiting for a machine */
        bool lock_wait;               /* ... or for a lock on its output */
        struct ModelMachine *machine; /* a copy to or from this machine */
        int8_t copy_dir;              /* 1 to the machine, -1 from it */
        char *path;                   /* substitute (108): the store path fetched, and from where */
        char *uri;
        usec_t started;
        UT_hash_handle hh;
} Activity;

/* A substitution (activity 108) that ended: reported once to views, then freed. */
typedef struct Substitution {
        char *path, *name, *uri;
        usec_t started, finished; /* realtime */
        bool succeeded;           /* the path is in the store after the stop */
        bool untrusted;           /* reported by an untrusted source */
        uint64_t invocation;
        Requester requester;
        struct Substitution *next;
} Substitution;

struct Invocation {
        uint64_t id; /* == source id */
        Source *source;
        Requester requester;
        usec_t started, finished;
        bool done;
        int64_t progress[4]; /* done, expected, running, failed */
        uint64_t messages;
        /* The error Nix reported for the invocation itself, not for one of its builds (no
         * build users, no store, evaluation, daemon unreachable): its first paragraph, one
         * line, bounded. The last such error counts; an activity starting after it means
         * Nix carried on, and clears it. NULL none. */
        char *error;
        bool interrupted;      /* that error is Nix's "interrupted by the user" */
        uint32_t n_builds;     /* builds of this invocation still held */
        Build *by_drv;         /* hash by drv path (hh_drv) */
        Build *running;        /* its builds in BUILD_RUNNING or BUILD_FINISHING (run_prev, run_next) */
        uint32_t n_failed_ran; /* its builds that ran and failed: what Nix counts as failed */
        /* Its builds by count, brought up to date at each change drain. Ended builds stay
         * counted after the model let go of them (max_finished): the counts are the
         * invocation's, not the window's. */
        uint32_t counts[_COUNT_MAX];
        /* The ended builds counts[] held before a daemon restart, taken back from its record
         * (model-resume.c; no Build is left of them): they go with the invocation when a
         * stream takes it over. */
        uint32_t resumed_ended[_COUNT_MAX];
        bool resumed;
        uint32_t max_running; /* the most of its builds seen running at once (counts) */
        InvocationEta eta;

        bool dirty;
        unsigned dirty_kinds;
        Invocation *dirty_next;
};

struct Source {
        uint64_t id;
        pid_t pid;
        uid_t uid; /* from SO_PEERCRED, or from a trusted hello */
        uid_t peer_uid;
        uint64_t pid_starttime; /* to recognise pid reuse; 0 unknown */
        char *role;
        char *nix_version;
        usec_t connected, disconnected;
        bool hello;
        bool trusted; /* peer is root or the daemon's own uid */

        uint64_t events, bad, oversized, dropped_by_sender;

        Activity *activities; /* hash by id: (source, id) is the key */
        Invocation invocation;

        /* "these N derivations will be built:" seen: how many path lines follow */
        int64_t expect_drv_lines;
        bool expect_is_build;

        bool has_builds_id; /* the invocation's own builds activity (104) */
        uint64_t builds_id;
        uint64_t resume_builds_id; /* rediscovered: the builds activity of the stream before the
                                    * restart (0 unknown), see resume_activity */

        bool gone;       /* disconnected */
        bool nix_exited; /* its nix process is gone too */

        bool dirty;
        unsigned dirty_kinds; /* CHANGE_NEW = connected, CHANGE_FINISHED = disconnected */
        Source *dirty_next;

        Source *prev, *next;
        UT_hash_handle hh;
};

/* The memory all builds' log lines may take at once, by default: the oldest lines of the
 * largest rings go first (the whole log stays in Nix: `nix log`). */
#define MODEL_LOG_BUDGET_DEFAULT (UINT64_C(16) << 20)

typedef struct ModelConfig {
        const char *store_dir; /* default /nix/store */
        const char *proc_root; /* default /proc */
        uint32_t log_ring;     /* lines kept per running build */
        uint32_t log_ring_finished;
        uint64_t log_budget;   /* bytes of memory for all builds' log lines; 0 no limit */
        uint32_t max_finished; /* finished builds kept in memory */
        uint32_t max_phases;
        /* Is a store path valid in Nix's database (registered, not only present)? 1 yes, 0
         * no, -EAGAIN undecided now (the database is busy: looked at again later), another
         * -errno when the database cannot tell (absent, unreadable): then the path's
         * existence counts. NULL: existence only. */
        int (*path_valid)(void *userdata, const char *path);
        void *path_valid_userdata;
        /* A lock wait (activity 111, "waiting for lock on <output>") no build of its
         * invocation's plan may be waiting in: Nix runs inside nix-daemon and told no plan. The
         * caller may find the derivation of output (a valid store path) in Nix's database, off
         * the event loop, and hand it to model_lock_wait_found(). NULL: such waits stay unknown. */
        void (*lock_wait_unplanned)(void *userdata, uint64_t source_id, uint64_t activity_id,
                                    const char *output);
        void *lock_wait_userdata;
} ModelConfig;

typedef struct ModelCounters {
        uint64_t events, bad, oversized, dropped_by_senders;
        uint64_t sources_total;
        uint32_t sources_connected;
        uint32_t by_state[_BUILD_STATE_MAX];
} ModelCounters;

typedef struct Model Model;

int model_new(const ModelConfig *config, Model **ret);
Model *model_free(Model *m);
void model_config_defaults(ModelConfig *c);

/* A new event connection. uid/pid from SO_PEERCRED; trusted when the peer may speak for
 * others (root or the daemon's own uid). */
int model_source_new(Model *m, pid_t pid, uid_t uid, bool trusted, usec_t now, Source **ret);
/* Applies one parsed record from a source (hello included). Returns 0, or -EPROTO for a
 * record that is well-formed but makes no sense (counted as bad). */
int model_apply(Model *m, Source *s, const NixRecord *rec, usec_t now);
/* Bookkeeping for lines that never became records. */
void model_source_count_bad(Model *m, Source *s, uint64_t n);
void model_source_count_oversized(Model *m, Source *s, uint64_t n);
/* The connection closed. Builds still running end as lost once the nix process is gone
 * (model_tick checks); the source is then kept while its builds are. */
void model_source_disconnect(Model *m, Source *s, usec_t now);

/* Periodic work: output re-checks, lost detection, eviction. Returns the monotonic time
 * at which it wants to run again (0: nothing pending). */
usec_t model_tick(Model *m, usec_t now_real, usec_t now_mono);
/* The earliest monotonic time at which applying records or a disconnect asked model_tick to
 * run (a stopped build's outputs to look at again, lost builds), then forgets it; 0:
 * nothing asked. The caller runs
 * model_tick then, whatever else wakes it. */
usec_t model_take_wake(Model *m);
/* Whether applying records since the last take made a sample of the builds' processes due
 * now (Nix ended a build its sampler still sees running, and may start another in its slot:
 * a running count above Nix's -j until the next sample otherwise), then forgets it. */
bool model_take_sample(Model *m);

/* Builds made for untrusted sources count against their peer uid's quota (daemon: quota.c):
 * take returns 0, or < 0 to refuse the build (the record making it is rejected); release
 * gives back what take took when the build is dropped. */
typedef struct ModelBuildQuota {
        /* The uid holds its whole quota and some of it finished: its oldest finished build is
         * dropped first, so the quota limits what a user has running and recent, not how
         * much she ever built. */
        bool (*full)(void *userdata, uid_t uid);
        int (*take)(void *userdata, uid_t uid);
        void (*finished)(void *userdata, uid_t uid); /* one of its builds reached a final state */
        void (*release)(void *userdata, uid_t uid, bool finished);
        /* Log bytes its builds hold: log_full says a new line would pass its limit (the line is
         * dropped); log_held reports each change. */
        bool (*log_full)(void *userdata, uid_t uid, size_t line_bytes);
        void (*log_held)(void *userdata, uid_t uid, int64_t delta);
        void *userdata;
} ModelBuildQuota;
void model_set_build_quota(Model *m, const ModelBuildQuota *q);

/* Lookups and iteration for views. */
Build *model_build_by_key(Model *m, uint64_t key);
Build *model_builds_first(Model *m); /* by key; b->next for the rest */
Build *model_builds_last(Model *m);  /* newest; b->prev towards older */
Source *model_sources_first(Model *m);
Source *model_source_by_id(Model *m, uint64_t id);
void model_counters(Model *m, ModelCounters *ret);
/* The memory the builds' log lines hold, within its limit, and the lines dropped for it. */
const LogBudget *model_log_budget(Model *m);

/* Log lines of a build, oldest first: i in [0, log.count). */
/* How long b has been building at now (realtime): from its start to its end (or to its
 * processes' end while finishing, or to now), frozen time left out. 0 before it started. */
usec_t build_duration(const Build *b, usec_t now);
/* How long b was (or is, until now) frozen. */
usec_t build_frozen_time(const Build *b, usec_t now);
const char *build_log_line(const Build *b, uint32_t i);
bool build_state_is_final(BuildState s);
bool build_state_is_active(BuildState s);
const char *build_count_to_string(BuildCount c);
/* The count a build is in now. */
BuildCount build_count_of(const Build *b);
/* The same for a build known by its state and failure (a history row). */
BuildCount build_count_for(BuildState state, FailureKind failure);
/* True for the counts of ended builds (succeeded to lost). */
bool build_count_is_final(BuildCount c);
const char *build_state_to_string(BuildState s);
BuildState build_state_from_string(const char *s);
const char *failure_kind_to_string(FailureKind k);
/* FAILURE_NONE for NULL or a name it does not know. */
FailureKind failure_kind_from_string(const char *s);
/* A failure Nix itself reported for the build (its builder's end, a dependency, a hash, a
 * timeout, a log limit, a substitution): a build with one is never shown succeeded. */
bool failure_kind_is_reported(FailureKind k);
/* The memory peak a memory limit goes by: the cgroup's charge where the build has a memory
 * cgroup, else its processes' resident sizes (what an oom-killed failure reports). */
uint64_t usage_limit_peak(const BuildUsage *u);
/* done + failed >= expected with nothing running, after the stream ended */
bool invocation_complete(const Invocation *inv);
/* "running", "done", or "failed" (ended with an error of its own, inv->error) */
const char *invocation_state_to_string(const Invocation *inv);

/* Change tracking: the model marks what changed; a view drains it once per loop iteration.
 * Callbacks get the union of change kinds since the last drain. */
typedef struct ModelChangeHandler {
        void (*build)(void *userdata, Build *b, unsigned kinds, uint64_t new_log_lines);
        void (*invocation)(void *userdata, Invocation *inv, unsigned kinds);
        void (*source)(void *userdata, Source *s, unsigned kinds);
        void (*substitution)(void *userdata, const Substitution *s);
} ModelChangeHandler;

/* What the daemon computes from history (estimates.c, graphs.c): an ETA. Reported as changed
 * when it differs. */
void model_build_set_eta(Model *m, Build *b, const BuildEta *eta);
/* The build directory's measure (u copied; its path too). 0 or -ENOMEM (b unchanged). */
int model_build_set_dir_usage(Model *m, Build *b, const BuildDirUsage *u);
void model_invocation_set_eta(Model *m, Invocation *inv, const InvocationEta *eta);
/* Something about an invocation changed that the model itself does not track: report it. */
void model_invocation_changed(Model *m, Invocation *inv);

bool model_has_changes(Model *m);
/* The builds changed since the last drain, with the kinds so far, without draining them: what
 * a view adds to a build (its ETA) is computed here, before the drain reports it. cb may
 * change the build through model_* functions, never drain. */
void model_visit_changed_builds(Model *m, void (*cb)(void *userdata, Build *b, unsigned kinds),
                                void *userdata);
void model_drain_changes(Model *m, const ModelChangeHandler *h, void *userdata);
