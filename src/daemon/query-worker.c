/* History queries on a work queue (work-queue.h): the thread runs each query on its own
 * read-only handle; back on the event loop, each answer goes to its connection if the
 * client is still there. */
#include "daemon/query-worker.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/commands.h"
#include "daemon/control-conn.h"
#include "daemon/deps-store.h"
#include "daemon/history-writer.h"
#include "daemon/hoststats.h"
#include "daemon/pressure-top.h"
#include "daemon/reply.h"
#include "daemon/work-queue.h"

typedef struct Job {
        WorkItem item; /* first: the queue hands items back */
        uint64_t conn;
        cJSON *id;   /* the request's id (a copy) */
        cJSON *args; /* the request's args (a copy): the query's strings point into it */
        QueryKind kind;
        HistoryQuery q;
        unsigned top;
        DepsStore *deps; /* QUERY_DEPS */
        /* QUERY_AT */
        usec_t at;
        cJSON *live;
        MachineSample machine;
        bool has_machine;
        Reply reply;
} Job;

struct QueryWorker {
        Daemon *d;
        WorkQueue *queue;

        /* worker thread only (and query_worker_stop once the thread ended) */
        HistoryReader reader;
};

static void job_free(Job *j) {
        if (!j)
                return;
        cJSON_Delete(j->id);
        cJSON_Delete(j->args);
        deps_store_free(j->deps);
        cJSON_Delete(j->live);
        cJSON_Delete(j->reply.result);
        cJSON_Delete(j->reply.extra);
        free(j->reply.message);
        free(j);
}

/* at: the OOM kills within this of the instant, at most this many. */
#define AT_OOM_SPAN (5 * 60 * USEC_PER_SEC)
#define AT_OOM_MAX  20

/* ---- worker thread ---- */

/* Is the history row one of the live builds (the same drv queued at the same time)? */
static bool row_is_live(const cJSON *live, const cJSON *row) {
        const cJSON *drv = cJSON_GetObjectItemCaseSensitive(row, "drv"),
                    *queued = cJSON_GetObjectItemCaseSensitive(row, "queued"), *b;
        if (!cJSON_IsString(drv) || !cJSON_IsNumber(queued))
                return false;
        cJSON_ArrayForEach(b, live) {
                const cJSON *d = cJSON_GetObjectItemCaseSensitive(b, "drv"),
                            *q = cJSON_GetObjectItemCaseSensitive(b, "queued");
                if (cJSON_IsString(d) && cJSON_IsNumber(q) &&
                    strcmp(d->valuestring, drv->valuestring) == 0 &&
                    fabs(q->valuedouble - queued->valuedouble) < 1e-3)
                        return true;
        }
        return false;
}

/* {"at", "builds", "machine", "history"}: live builds first, then history's others. */
static int run_at(Job *j, History *h, const char *history_error) {
        cJSON *rows = NULL;
        int k = h ? history_at(h, j->at, QUERY_BUDGET, &rows) : 0;
        if (k < 0)
                return k;
        MachineSample ms;
        bool has_machine = j->has_machine;
        if (has_machine)
                ms = j->machine;
        else if (h) {
                /* 10 s marks for a week, then one a minute. */
                usec_t gap = now_realtime() - MIN(now_realtime(), j->at) > HISTORY_MACHINE_FULL_USEC
                                     ? 70 * USEC_PER_SEC
                                     : 2 * HOSTSTATS_INTERVAL;
                has_machine = history_machine_sample_at(h, j->at, gap, &ms) == 0;
        }
        cJSON *o = cJSON_CreateObject(), *builds = TAKE_PTR(j->live), *row;
        if (!o || !builds) {
                cJSON_Delete(o);
                cJSON_Delete(builds);
                cJSON_Delete(rows);
                return -ENOMEM;
        }
        cJSON_AddNumberToObject(o, "at", usec_to_sec(j->at));
        cJSON_AddItemToObject(o, "builds", builds);
        while (rows && (row = cJSON_DetachItemFromArray(rows, 0))) {
                if (row_is_live(builds, row))
                        cJSON_Delete(row);
                else
                        cJSON_AddItemToArray(builds, row);
        }
        cJSON_Delete(rows);
        /* The builds that stalled most for memory then, by their points of that instant. */
        PressureTop top = {};
        const cJSON *b;
        cJSON_ArrayForEach(b, builds) {
                const cJSON *then = cJSON_GetObjectItemCaseSensitive(b, "then"),
                            *mp = cJSON_GetObjectItemCaseSensitive(then, "mem_pressure");
                if (cJSON_IsNumber(mp))
                        pressure_top_add(&top,
                                         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "name")),
                                         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "drv")),
                                         mp->valuedouble);
        }
        cJSON_AddItemToObject(o, "pressure_top", pressure_top_json(&top));
        if (has_machine)
                cJSON_AddItemToObject(o, "machine", hoststats_sample_json(&ms));
        else
                cJSON_AddNullToObject(o, "machine");
        /* The OOM killer's kills around it (history has each within seconds of the kill). */
        cJSON *kills = NULL;
        HistoryQuery q = {.filter = {.since = j->at - MIN(j->at, AT_OOM_SPAN), .until = j->at + AT_OOM_SPAN},
                          .limit = AT_OOM_MAX};
        if (h && history_oom_query(h, &q, QUERY_BUDGET, &kills) < 0)
                kills = NULL;
        cJSON_AddItemToObject(o, "oom", kills ? kills : cJSON_CreateArray());
        if (history_error)
                cJSON_AddStringToObject(o, "history", history_error);
        else
                cJSON_AddNullToObject(o, "history");
        j->reply.result = o;
        return 0;
}

static void run_job(WorkItem *item, void *userdata) {
        QueryWorker *w = userdata;
        Job *j = (Job *) item;
        _cleanup_free_ char *error = NULL;
        History *h = history_reader_get(w->d->history, &w->reader, &error);
        if (j->kind == QUERY_DEPS) {
                /* The store answers without a history, only with no past. */
                deps_store_run(j->deps, h, &j->reply);
                return;
        }
        if (!h && j->kind == QUERY_AT) {
                /* What the daemon holds still answers. */
                if (run_at(j, NULL, error ? error : "history is unavailable") < 0)
                        reply_oom(&j->reply);
                return;
        }
        if (!h) {
                if (error)
                        reply_error(&j->reply, NA_ERR_UNAVAILABLE, "%s", error);
                else
                        reply_oom(&j->reply);
                return;
        }
        int k;
        if (j->kind == QUERY_HISTORY) {
                cJSON *rows = NULL;
                uint64_t total = 0;
                k = history_query(h, &j->q, QUERY_BUDGET, &rows, &total);
                if (k >= 0) {
                        j->reply.result = cJSON_CreateObject();
                        if (!j->reply.result || !cJSON_AddItemToObject(j->reply.result, "builds", rows)) {
                                cJSON_Delete(rows);
                                k = -ENOMEM;
                        } else if (j->q.count)
                                cJSON_AddNumberToObject(j->reply.result, "total", (double) total);
                        else
                                cJSON_AddNullToObject(j->reply.result, "total");
                }
        } else if (j->kind == QUERY_OOM) {
                cJSON *rows = NULL;
                k = history_oom_query(h, &j->q, QUERY_BUDGET, &rows);
                if (k >= 0 && (!(j->reply.result = cJSON_CreateObject()) ||
                               !cJSON_AddItemToObject(j->reply.result, "events", rows))) {
                        cJSON_Delete(rows);
                        k = -ENOMEM;
                }
        } else if (j->kind == QUERY_AT) {
                k = run_at(j, h, NULL);
        } else {
                cJSON *stats = NULL;
                k = history_stats(h, &j->q.filter, j->top, QUERY_BUDGET, &stats);
                if (k >= 0) {
                        cJSON_AddNumberToObject(stats, "since", usec_to_sec(j->q.filter.since));
                        if (j->q.filter.until)
                                cJSON_AddNumberToObject(stats, "until", usec_to_sec(j->q.filter.until));
                        else
                                cJSON_AddNullToObject(stats, "until");
                        j->reply.result = stats;
                }
        }
        if (k >= 0)
                return;
        cJSON_Delete(j->reply.result);
        j->reply.result = NULL;
        if (k == -ENOMEM)
                reply_oom(&j->reply);
        else if (k == -ETIME)
                reply_error(&j->reply, NA_ERR_UNAVAILABLE, "the query took longer than %llu s: narrow it",
                            (unsigned long long) (QUERY_BUDGET / USEC_PER_SEC));
        else {
                reply_error(&j->reply, NA_ERR_UNAVAILABLE, "history query failed: %s", history_errmsg(h));
                history_reader_close(&w->reader); /* the file may have changed: open afresh */
        }
}

/* ---- event loop ---- */

static void job_done(WorkItem *item, void *userdata) {
        QueryWorker *w = userdata;
        Job *j = (Job *) item;
        ControlConn *c = control_conn_by_serial(w->d, j->conn);
        if (c && j->kind == QUERY_DEPS && !j->reply.code)
                deps_store_finish(w->d, j->deps, &j->reply);
        if (c) {
                commands_send_reply(c, j->id, &j->reply);
                j->reply = (Reply){};
                control_conn_resume(c);
        }
        job_free(j);
}

static void job_release(WorkItem *item) {
        job_free((Job *) item);
}

int query_worker_start(Daemon *d, QueryWorker **ret) {
        QueryWorker *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->d = d;
        int r = work_queue_new(d->event, "history query", QUERY_JOBS_MAX, w, &w->queue);
        if (r < 0) {
                free(w);
                return r;
        }
        *ret = w;
        return 0;
}

QueryWorker *query_worker_stop(QueryWorker *w) {
        if (!w)
                return NULL;
        work_queue_free(w->queue);
        history_reader_close(&w->reader);
        free(w);
        return NULL;
}

static Job *job_new(ControlConn *c, const ControlRequest *req, QueryKind kind) {
        Job *j = calloc(1, sizeof(*j));
        if (!j)
                return NULL;
        j->conn = c->serial;
        j->kind = kind;
        j->id = req->id ? cJSON_Duplicate(req->id, true) : cJSON_CreateNull();
        j->args = req->args ? cJSON_Duplicate(req->args, true) : cJSON_CreateObject();
        j->item = (WorkItem){.run = run_job, .done = job_done, .release = job_release};
        if (!j->id || !j->args) {
                job_free(j);
                return NULL;
        }
        return j;
}

static int job_submit(QueryWorker *w, ControlConn *c, Job *j, Reply *r) {
        if (work_queue_submit(w->queue, &j->item) < 0) {
                job_free(j);
                return reply_error(r, NA_ERR_UNAVAILABLE,
                                   "%d history queries are waiting already; try again", QUERY_JOBS_MAX);
        }
        r->deferred = true;
        control_conn_defer(c);
        return 0;
}

int query_worker_submit_at(QueryWorker *w, ControlConn *c, const ControlRequest *req, usec_t t, cJSON *live,
                           const MachineSample *machine, Reply *r) {
        Job *j = job_new(c, req, QUERY_AT);
        if (!j) {
                cJSON_Delete(live);
                return reply_oom(r);
        }
        j->at = t;
        j->live = live;
        if (machine) {
                j->machine = *machine;
                j->has_machine = true;
        }
        return job_submit(w, c, j, r);
}

int query_worker_submit(QueryWorker *w, ControlConn *c, const ControlRequest *req, QueryKind kind,
                        QueryParse parse, Reply *r) {
        Job *j = job_new(c, req, kind);
        if (!j)
                return reply_oom(r);
        ControlRequest copy = {.args = j->args};
        if (parse(&copy, &j->q, &j->top, r) < 0) {
                job_free(j);
                return -EINVAL;
        }
        if (kind == QUERY_STATS) {
                /* Stats are figures shown to this client: they rest on trusted rows and on its
                 * own, never on another user's claims (docs/protocol.md "Trust model"). The
                 * rows themselves (get-history) are all listed, each with its "trusted". */
                j->q.filter.viewer_set = true;
                j->q.filter.viewer_uid = c->uid;
        }
        return job_submit(w, c, j, r);
}

int query_worker_submit_deps(QueryWorker *w, ControlConn *c, const ControlRequest *req, DepsStore *deps,
                             Reply *r) {
        Job *j = job_new(c, req, QUERY_DEPS);
        if (!j) {
                deps_store_free(deps);
                return reply_oom(r);
        }
        j->deps = deps;
        return job_submit(w, c, j, r);
}
