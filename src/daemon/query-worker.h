/* History queries off the event loop: get-history, stats and deps from the store run on a worker thread with
 * its own read-only database handle; the client's connection waits (reads no further request) and gets its
 * answer when the query is done, while ingestion and every other client carry on. Bounded: at most
 * QUERY_JOBS_MAX queries wait, each stopped after QUERY_BUDGET. */
#pragma once

#include "daemon/daemon.h"
#include "shared/history.h"
#include "shared/proto.h"

#define QUERY_JOBS_MAX 64
#define QUERY_BUDGET   (10 * USEC_PER_SEC)

typedef enum QueryKind {
        QUERY_HISTORY,
        QUERY_STATS,
        QUERY_DEPS, /* deps of a .drv from the store (deps-store.h) */
        QUERY_OOM,  /* get-oom-history */
        QUERY_AT,
} QueryKind;

int query_worker_start(Daemon *d, QueryWorker **ret);
QueryWorker *query_worker_stop(QueryWorker *w);

/* Takes the request's arguments (a copy) and answers c later. parse fills the query from a
 * request whose args are that copy (strings point into it); it returns < 0 after setting an
 * error in r. Returns 0 with r->deferred set, or < 0 with an error in r. */
struct Reply;
typedef int (*QueryParse)(const ControlRequest *req, HistoryQuery *q, unsigned *top, struct Reply *r);
int query_worker_submit(QueryWorker *w, ControlConn *c, const ControlRequest *req, QueryKind kind,
                        QueryParse parse, struct Reply *r);
/* Runs deps (taken, freed on every path) on the thread, and answers c from the loop. */
typedef struct DepsStore DepsStore;
int query_worker_submit_deps(QueryWorker *w, ControlConn *c, const ControlRequest *req, DepsStore *deps,
                             struct Reply *r);
/* `at` (docs/protocol.md): the builds history has running at t, after live (builds the
 * daemon holds, as JSON objects with "then": taken), and machine (from memory; NULL: read
 * history's). With history unavailable, live alone answers, saying why. */
int query_worker_submit_at(QueryWorker *w, ControlConn *c, const ControlRequest *req, usec_t t, cJSON *live,
                           const MachineSample *machine, struct Reply *r);
