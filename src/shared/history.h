/* The history store: one SQLite file, one row per finished build (or substitution), with a
 * versioned schema (history-schema.c), batched inserts, retention, and the queries of the
 * control protocol (history-query.c). Synchronous and single-threaded per handle: the daemon
 * writes from its own thread and reads on a second, read-only handle. Errors are -errno
 * (see history_errno) with SQLite's message kept for status reports. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "basic/time-util.h"
#include "shared/model.h"

#define HISTORY_LOG_TAIL_LINES 20
/* A build's timeline in history: at most 64 points, 4 s apart or more (timeline_thin). */
#define HISTORY_TIMELINE_POINTS 64
#define HISTORY_TIMELINE_STEP   (4 * USEC_PER_SEC)
#define HISTORY_LOG_TAIL_BYTES  8192

/* An OOM kill (the oom_events table), owning its strings. */
typedef struct HistoryOom {
        usec_t time;
        const char *source; /* static: "cgroup", "kmsg", "cgroup+kmsg" */
        int64_t pid;        /* the daemon's pid namespace's, 0 unknown */
        int64_t host_pid;   /* the kernel log's (the initial namespace's), 0 unknown */
        char *command, *memcg, *constraint;
        char *drv, *name; /* the build it belonged to, NULL: not a build's */
        int64_t requester_uid;
        char *requester_user;
        uint64_t mem_limit, mem_peak; /* the build's, 0 unknown */
        char *top;                    /* not a build's: the builds holding the most memory, JSON */
} HistoryOom;
void history_oom_done(HistoryOom *o);
#define HISTORY_OOM_EVENTS_MAX 100000 /* rows of oom_events kept, the newest */

/* A row, owning its strings. Times are realtime microseconds, 0 when unknown. */
typedef struct HistoryRecord {
        char *kind; /* "build" or "substitution" */
        char *drv, *name, *pname, *machine, *state;
        int64_t requester_uid; /* -1 unknown */
        char *requester_user, *requester_cmdline;
        /* Reported by an untrusted source (docs/protocol.md "Trust model"): the row counts
         * only in requester_uid's own ETAs and stats. false: a trusted source. */
        bool untrusted;
        usec_t queued, started, finished;
        usec_t duration;                      /* finished - started, frozen time left out (build_duration) */
        char *failure_kind, *failure_message; /* NULL: no failure */
        int exit_code;                        /* -1 unknown */
        int signal;                           /* 0 none */
        BuildUsage usage;
        char *log_tail; /* last lines, '\n'-joined, bounded */
        /* Its usage over its life (timeline_encode's blob; NULL none) and its phases, a JSON
         * array of {"name", "start", "duration"} (seconds; NULL none). */
        uint8_t *timeline;
        size_t timeline_len;
        char *phases;
        /* The duration is not exact: the start or the end is a guess (a build the daemon
         * found again after a restart without knowing its start, or one that ended while it
         * was down). ETAs never use such a row. */
        bool approximate;
        /* Not a build's row but an OOM kill's (then only this is set), or NULL. */
        HistoryOom *oom;
} HistoryRecord;

/* A timeline as history keeps it (thinned, timeline_encode's blob; NULL with 0 for none).
 * 0 or -ENOMEM. */
int history_timeline_blob(const Timeline *tl, uint8_t **ret, size_t *ret_len);
/* Fills rec from a finished build (copies). 0 or -ENOMEM. */
int history_record_from_build(const Build *b, HistoryRecord *rec);
/* A substitution's row: drv holds the store path fetched, machine the substituter. */
int history_record_from_substitution(const Substitution *x, HistoryRecord *rec);
void history_record_done(HistoryRecord *rec);

typedef struct History History;

typedef enum HistoryOpenFlags {
        HISTORY_OPEN_READONLY = 1 << 0, /* never writes, never migrates */
} HistoryOpenFlags;

/* Opens (creating when writable) the database at path and brings its schema to the
 * current version. -EUCLEAN: not a database or corrupt; -EPROTONOSUPPORT: written by a
 * newer schema; -EBUSY: locked; -EROFS, -ENOSPC, -EACCES, -ENOENT, -EIO. On failure
 * *ret_error (if given) receives a new message. */
int history_open(const char *path, HistoryOpenFlags flags, History **ret, char **ret_error);
History *history_close(History *h);
/* SQLite's last message on this handle. */
const char *history_errmsg(History *h);

/* The schema version of the open database, and the newest this code knows. */
int history_schema_version(History *h);
int history_schema_latest(void);

/* Inserts recs in one transaction; rows already present (same drv and queue time) are
 * skipped, so re-sent batches never duplicate. Returns the number of builds' rows inserted
 * (OOM kills' rows, rec->oom, are written and not counted), or -errno with nothing committed. */
int history_insert(History *h, const HistoryRecord *recs, size_t n);

/* The machine's own figures at one instant (every 10 s, hoststats.h). */
typedef struct MachineSample {
        usec_t t;     /* realtime, a whole second */
        double cpu;   /* percent of all CPUs busy over the span before t (100: all); < 0 unknown */
        double load1; /* < 0 unknown */
        uint64_t mem_total, mem_used, swap_total, swap_used; /* bytes; total 0 unknown */
        double psi_cpu, psi_mem, psi_io;                     /* "some" avg10 in percent; < 0 without PSI */
        uint32_t builds;                                     /* builds running */
} MachineSample;

/* Stores samples in one transaction (one at the same second replaces it). Returns how many,
 * or -errno with nothing committed. */
int history_insert_machine_samples(History *h, const MachineSample *s, size_t n);
/* The sample at or before t, at most max_gap older (else -ENOENT): 0 with *ret. */
int history_machine_sample_at(History *h, usec_t t, usec_t max_gap, MachineSample *ret);
/* Machine samples are kept every 10 s for a week, then one a minute (what history_prune
 * thins), and go with max_age like builds. */
#define HISTORY_MACHINE_FULL_USEC (7 * 24 * 3600 * USEC_PER_SEC)

/* Deletes rows that finished before now - max_age (0: no age limit) and the oldest rows
 * beyond max_rows (0: no limit). Returns the number deleted. */
int history_prune(History *h, usec_t now, usec_t max_age, uint64_t max_rows);
int history_count(History *h, uint64_t *ret);

/* ---- queries (history-query.c) ---- */

typedef enum HistoryOrder {
        HISTORY_ORDER_FINISHED,
        HISTORY_ORDER_STARTED,
        HISTORY_ORDER_DURATION,
        HISTORY_ORDER_NAME,
        _HISTORY_ORDER_MAX,
        _HISTORY_ORDER_INVALID = -1,
} HistoryOrder;

typedef struct HistoryFilter {
        const char *name;   /* glob over names */
        const char *pname;  /* exact */
        const char *drv;    /* exact */
        int64_t id;         /* one row by its id; 0 any */
        unsigned states;    /* bitmask of 1 << BuildState; 0 any */
        const char *kind;   /* "build", "substitution"; NULL any */
        bool requester_set; /* then requester_user, or requester_uid */
        int64_t requester_uid;
        const char *requester_user;
        const char *machine; /* exact; "" local */
        usec_t since, until; /* on finish time; 0 open */
        /* Only rows of trusted sources and the untrusted rows of viewer_uid (-1: none): what
         * the figures shown to a user may rest on. */
        bool viewer_set;
        int64_t viewer_uid;
} HistoryFilter;

typedef struct HistoryQuery {
        HistoryFilter filter;
        HistoryOrder order;
        bool ascending;
        uint64_t limit, offset;
        bool count;    /* also count every match (costs a scan of the matches) */
        bool timeline; /* each row with its "timeline" (get-build's arrays; null: none kept) */
} HistoryQuery;

HistoryOrder history_order_from_string(const char *s);

/* Rows as JSON objects (docs/protocol.md "history row") in *ret_rows, and the number of
 * matches in *ret_total when q->count. A query running longer than budget (0: none) is
 * interrupted: -ETIME. */
int history_query(History *h, const HistoryQuery *q, usec_t budget, cJSON **ret_rows, uint64_t *ret_total);

/* The builds (not substitutions) running at t, as history rows with "then": what they held
 * and did at t from their timelines (timeline.h; null for rows without one). -ETIME after
 * budget (0: none). */
int history_at(History *h, usec_t t, usec_t budget, cJSON **ret);
/* A timeline point as the "then" object (docs/protocol.md "at"). */
cJSON *history_timeline_point_json(const TimelinePoint *p);

/* The stats object of docs/protocol.md: totals, slowest, failing, requesters, by_day. */
int history_stats(History *h, const HistoryFilter *f, unsigned top, usec_t budget, cJSON **ret);

/* The builds (not substitutions) that finished at or after since, counted the way an
 * invocation counts its builds (build_count_for): ret[c] for each final count c, the
 * others 0. -ETIME when the query outlived budget (0: none). */
int history_outcome_counts(History *h, usec_t since, usec_t budget, uint64_t ret[static _COUNT_MAX]);

/* OOM kills (table oom_events) in [q->filter.since, q->filter.until] (until 0: no end), newest
 * first, at most q->limit, as list-oom's events (without build keys). -ETIME past budget. */
int history_oom_query(History *h, const HistoryQuery *q, usec_t budget, cJSON **ret_rows);

/* Durations (seconds) of the last n successful builds of pname, newest first: on machine
 * when machine is non-NULL, else on any machine (then *ret_machines, if given, receives
 * each row's machine, to scale by speed). Rows of trusted sources count, and the untrusted
 * rows of uid (the requester the estimate is for; -1: none). Returns the count found, or
 * -ETIME when the lookup outlived budget (0: none). */
int history_recent_durations(History *h, const char *pname, const char *machine, int64_t uid, unsigned n,
                             usec_t budget, double *ret, char **ret_machines);

/* The newest build row of a derivation that a viewer may rely on (trusted, or its own). */
typedef struct HistoryLast {
        int64_t id;  /* the row's id; 0: no row */
        char *state; /* NULL: no row */
        char *failure_kind;
        usec_t finished, duration;
        bool has_duration;
} HistoryLast;

/* The drv of build row id (not a substitution's): 0 and a new string, -ENOENT. */
int history_row_drv(History *h, int64_t id, char **ret);
/* ret[i]: the newest row of drvs[i] from trusted sources or viewer_uid's own (-1: trusted
 * only). -ETIME past budget (0: none); on failure ret holds nothing. */
int history_last_builds(History *h, const char *const *drvs, size_t n, int64_t viewer_uid, usec_t budget,
                        HistoryLast *ret);
void history_last_free(HistoryLast *l, size_t n);
