/* Control commands over the history store: get-history and stats (docs/protocol.md). */
#include "daemon/commands-history.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "daemon/deps-store.h"
#include "daemon/graphs.h"
#include "daemon/history-writer.h"
#include "daemon/hoststats.h"
#include "daemon/query-worker.h"
#include "shared/history.h"
#include "shared/model-json.h"

#define HISTORY_LIMIT_MAX 10000
/* Rows with their timelines (about 3 KiB each on the wire) in one answer, at most. */
#define HISTORY_TIMELINE_LIMIT_MAX 100
#define STATS_TOP_MAX              1000
#define STATS_DEFAULT_DAYS         30
#define DEPS_LIMIT_DEFAULT         2000
#define DEPS_LIMIT_MAX             5000

/* A unix time in seconds (number) as microseconds. */
static int parse_time(const ControlRequest *req, const char *key, usec_t *ret, Reply *r) {
        const cJSON *v = control_arg(req, key);
        if (!v)
                return 0;
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 || v->valuedouble > 1e11)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"%s\" must be a unix time in seconds", key);
        *ret = (usec_t) (v->valuedouble * 1e6);
        return 0;
}

static int parse_history_filter(const ControlRequest *req, HistoryFilter *f, Reply *r) {
        *f = (HistoryFilter){};
        const cJSON *v;
        if ((v = control_arg(req, "state")) && reply_parse_states(v, &f->states, r) < 0)
                return -EINVAL;
        struct {
                const char *key;
                const char **dest;
        } strings[] = {
                {"name", &f->name},       {"pname", &f->pname}, {"drv", &f->drv},
                {"machine", &f->machine}, {"kind", &f->kind},
        };
        for (size_t i = 0; i < ELEMENTSOF(strings); i++)
                if (control_arg_string(req, strings[i].key, strings[i].dest) == -EINVAL)
                        return reply_error(r, NA_ERR_BAD_REQUEST, "\"%s\" must be a string", strings[i].key);
        if ((v = control_arg(req, "requester"))) {
                f->requester_set = true;
                f->requester_uid = -1;
                if (cJSON_IsNumber(v) && v->valuedouble >= 0)
                        f->requester_uid = (int64_t) v->valuedouble;
                else if (cJSON_IsString(v) && string_is_digits(v->valuestring))
                        f->requester_uid = strtoll(v->valuestring, NULL, 10);
                else if (cJSON_IsString(v) && v->valuestring[0])
                        f->requester_user = v->valuestring;
                else
                        return reply_error(r, NA_ERR_BAD_REQUEST,
                                           "\"requester\" must be a uid or a user name");
        }
        if (parse_time(req, "since", &f->since, r) < 0 || parse_time(req, "until", &f->until, r) < 0)
                return -EINVAL;
        return 0;
}

static int parse_get_history(const ControlRequest *req, HistoryQuery *q, unsigned *top, Reply *r) {
        /* No count unless asked: counting every match costs a scan of them all on each page
         * (8-9 ms at 1 M rows against 0.2 ms for the page itself, issue 22). */
        *q = (HistoryQuery){.order = HISTORY_ORDER_FINISHED, .limit = 100};
        if (parse_history_filter(req, &q->filter, r) < 0)
                return -EINVAL;
        long long limit = 100, offset = 0;
        const char *order = NULL;
        if (control_arg_int(req, "limit", &limit) == -EINVAL || limit < 0)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"limit\" must be a non-negative integer");
        if (control_arg_int(req, "offset", &offset) == -EINVAL || offset < 0)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"offset\" must be a non-negative integer");
        if (control_arg_string(req, "order", &order) == -EINVAL ||
            (order && (q->order = history_order_from_string(order)) < 0))
                return reply_error(r, NA_ERR_BAD_REQUEST,
                                   "\"order\" must be one of finished, started, duration, name");
        if (control_arg_bool(req, "ascending", &q->ascending) == -EINVAL ||
            control_arg_bool(req, "count", &q->count) == -EINVAL ||
            control_arg_bool(req, "timeline", &q->timeline) == -EINVAL)
                return reply_error(r, NA_ERR_BAD_REQUEST,
                                   "\"ascending\", \"count\" and \"timeline\" are booleans");
        long long id = 0;
        if (control_arg_int(req, "id", &id) == -EINVAL || (control_arg(req, "id") && id < 1))
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"id\" must be a history row id");
        q->filter.id = id;
        q->limit = (uint64_t) MIN(
                limit, (long long) (q->timeline ? HISTORY_TIMELINE_LIMIT_MAX : HISTORY_LIMIT_MAX));
        q->offset = (uint64_t) offset;
        return 0;
}

static int parse_stats(const ControlRequest *req, HistoryQuery *q, unsigned *top, Reply *r) {
        *q = (HistoryQuery){};
        HistoryFilter *f = &q->filter;
        if (parse_history_filter(req, f, r) < 0)
                return -EINVAL;
        long long n = 10;
        if (control_arg_int(req, "top", &n) == -EINVAL || n < 1 || n > STATS_TOP_MAX)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"top\" must be an integer from 1 to %d",
                                   STATS_TOP_MAX);
        *top = (unsigned) n;
        /* Builds unless substitutions are asked for: "slowest derivations" are builds. */
        if (!f->kind)
                f->kind = "build";
        /* Without a range: the last 30 days. */
        usec_t now = now_realtime();
        if (!control_arg(req, "since"))
                f->since = now - MIN(now, (usec_t) STATS_DEFAULT_DAYS * 86400 * USEC_PER_SEC);
        return 0;
}

static int parse_oom_history(const ControlRequest *req, HistoryQuery *q, unsigned *top, Reply *r) {
        *q = (HistoryQuery){.limit = 100};
        long long limit = 100;
        if (control_arg_int(req, "limit", &limit) == -EINVAL || limit < 0)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"limit\" must be a non-negative integer");
        q->limit = (uint64_t) MIN(limit, (long long) HISTORY_LIMIT_MAX);
        if (parse_time(req, "since", &q->filter.since, r) < 0 ||
            parse_time(req, "until", &q->filter.until, r) < 0)
                return -EINVAL;
        return 0;
}

/* They run on the query thread; the client gets its answer when it is ready. */
int cmd_get_history(ControlConn *c, const ControlRequest *req, Reply *r) {
        return query_worker_submit(c->daemon->queries, c, req, QUERY_HISTORY, parse_get_history, r);
}

int cmd_stats(ControlConn *c, const ControlRequest *req, Reply *r) {
        return query_worker_submit(c->daemon->queries, c, req, QUERY_STATS, parse_stats, r);
}

/* deps of a derivation from the store: drv (checked) or a history row's (history_id). */
static int deps_from_store(ControlConn *c, const ControlRequest *req, const char *drv, int64_t history_id,
                           long long limit, Reply *r) {
        Daemon *d = c->daemon;
        const char *store_dir = d->config.model.store_dir;
        if (drv && deps_store_check(store_dir, drv, r) < 0)
                return -EINVAL;
        DepsStore *ds;
        if (deps_store_new(store_dir, drv, history_id, (uint32_t) limit, (int64_t) c->uid, &ds) < 0)
                return reply_oom(r);
        return query_worker_submit_deps(d->queries, c, req, ds, r);
}

int cmd_get_oom_history(ControlConn *c, const ControlRequest *req, Reply *r) {
        return query_worker_submit(c->daemon->queries, c, req, QUERY_OOM, parse_oom_history, r);
}

/* at: the builds running at an instant and the machine then. The builds the daemon holds
 * answer from memory (their timelines), history the rest on the query thread. */
int cmd_at(ControlConn *c, const ControlRequest *req, Reply *r) {
        Daemon *d = c->daemon;
        usec_t t = 0, now = now_realtime();
        if (!control_arg(req, "time"))
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"time\" (a unix time in seconds) is required");
        if (parse_time(req, "time", &t, r) < 0)
                return -EINVAL;
        if (t > now)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"time\" is in the future");
        cJSON *live = cJSON_CreateArray();
        if (!live)
                return reply_oom(r);
        for (Build *b = model_builds_first(d->model); b; b = b->next) {
                usec_t end = b->finished ? b->finished : build_state_is_final(b->state) ? 0 : now;
                if (!b->started || b->started > t || end < t ||
                    (build_state_is_final(b->state) && !b->finished))
                        continue;
                cJSON *o = build_to_json(b, now, 0);
                const TimelinePoint *p = timeline_at(&b->timeline, t);
                if (!o || !cJSON_AddItemToArray(live, o)) {
                        cJSON_Delete(o);
                        cJSON_Delete(live);
                        return reply_oom(r);
                }
                if (p)
                        cJSON_AddItemToObject(o, "then", history_timeline_point_json(p));
                else
                        cJSON_AddNullToObject(o, "then");
        }
        MachineSample ms;
        bool in_memory = hoststats_at(d->hoststats, t, &ms) == 0;
        return query_worker_submit_at(d->queries, c, req, t, live, in_memory ? &ms : NULL, r);
}

/* deps: the graph of an invocation, or of what one build needs; with "why", the chain from
 * a requested root down to the build. A build the daemon no longer holds (a .drv path, or a
 * history row) is answered from the store, off the loop. */
int cmd_deps(ControlConn *c, const ControlRequest *req, Reply *r) {
        Daemon *d = c->daemon;
        long long id = -1, hist = -1;
        const char *drv = NULL;
        bool why = false;
        if (control_arg_int(req, "invocation", &id) == -EINVAL || (control_arg(req, "invocation") && id < 0))
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"invocation\" must be an invocation id");
        if (control_arg_int(req, "history", &hist) == -EINVAL || (control_arg(req, "history") && hist < 1))
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"history\" must be a history row id");
        if (control_arg_string(req, "drv", &drv) == -EINVAL)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"drv\" must be a path");
        if (control_arg_bool(req, "why", &why) == -EINVAL)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"why\" must be a boolean");
        /* The answer goes through the client's bounded output buffer, and is built on the
         * event loop: a whole 20,000-node graph is neither. */
        long long limit = DEPS_LIMIT_DEFAULT;
        if (control_arg_int(req, "limit", &limit) == -EINVAL || limit < 1 || limit > DEPS_LIMIT_MAX)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"limit\" must be an integer from 1 to %d",
                                   DEPS_LIMIT_MAX);
        const cJSON *target = control_arg(req, "build");
        if ((id >= 0) + (target != NULL) + (hist >= 0) + (drv != NULL) != 1)
                return reply_error(r, NA_ERR_BAD_REQUEST,
                                   "give one of \"invocation\", \"build\", \"drv\" or \"history\"");
        if (why && !target)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"why\" needs a \"build\"");
        if (drv || hist >= 0)
                return deps_from_store(c, req, drv, hist, limit, r);

        Build *b = NULL;
        Invocation *inv;
        if (id >= 0) {
                Source *s = model_source_by_id(d->model, (uint64_t) id);
                if (!s)
                        return reply_error(r, NA_ERR_NOT_FOUND, "no invocation %lld", id);
                inv = &s->invocation;
        } else {
                Reply miss = {};
                if (resolve_build(d, target, &miss, &b) < 0) {
                        /* Not held any more (a restart, an old build): a path is read from
                         * the store. */
                        if (cJSON_IsString(target) && target->valuestring[0] == '/' && !why && miss.code &&
                            strcmp(miss.code, NA_ERR_NOT_FOUND) == 0) {
                                free(miss.message);
                                cJSON_Delete(miss.extra);
                                return deps_from_store(c, req, target->valuestring, -1, limit, r);
                        }
                        *r = miss;
                        return -EINVAL;
                }
                inv = b->invocation;
        }
        const char *error = NULL;
        cJSON *o = why ? graphs_why_json(d, inv, b->drv, &error)
                       : graphs_deps_json(d, inv, b ? b->drv : NULL, (uint32_t) limit, &error);
        /* A build whose invocation's graph is gone: its .drv from the store. */
        if (!o && error && b && !why && !graphs_has(d, inv))
                return deps_from_store(c, req, b->drv, -1, limit, r);
        if (!o)
                return error ? reply_error(r, NA_ERR_NOT_FOUND, "%s", error) : reply_oom(r);
        r->result = o;
        return 0;
}
