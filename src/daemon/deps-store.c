/* deps of any derivation, from the store and the history (see deps-store.h). */
#include "daemon/deps-store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "daemon/graphs.h"
#include "shared/graph.h"
#include "shared/storepath.h"

struct DepsStore {
        char *store_dir;
        char *drv; /* the root; from the history row when asked by id */
        int64_t history_id;
        uint32_t limit;
        int64_t viewer_uid;
        /* from the worker */
        Graph *g;
        HistoryLast *last; /* per node index */
        bool timed_out, depth_cut;
};

int deps_store_new(const char *store_dir, const char *drv, int64_t history_id, uint32_t limit,
                   int64_t viewer_uid, DepsStore **ret) {
        DepsStore *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = (DepsStore){.history_id = history_id, .limit = limit, .viewer_uid = viewer_uid};
        if (!(s->store_dir = strdup(store_dir)) || (drv && !(s->drv = strdup(drv)))) {
                deps_store_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

DepsStore *deps_store_free(DepsStore *s) {
        if (!s)
                return NULL;
        if (s->g)
                history_last_free(s->last, s->g->n_nodes);
        free(s->last);
        graph_free(s->g);
        free(s->drv);
        free(s->store_dir);
        free(s);
        return NULL;
}

static bool has_drv_suffix(const char *path) {
        size_t len = strlen(path);
        return len > 4 && strcmp(path + len - 4, ".drv") == 0;
}

int deps_store_check(const char *store_dir, const char *drv, Reply *r) {
        /* Only a file directly in the store, named like a derivation: never "..", another
         * directory, or a path a client made up to probe the file system. The read itself
         * (store_file_read) follows no link and opens nothing but a regular file. */
        if (!store_path_valid(store_dir, drv) || !has_drv_suffix(drv))
                return reply_error(r, NA_ERR_BAD_REQUEST, "%s is not a derivation in the store %s", drv,
                                   store_dir);
        return 0;
}

/* ---- on the query worker ---- */

static const char *read_error(int error) {
        switch (error) {
        case -ENOENT:
                return "no such derivation in the store";
        case -ELOOP:
                return "a symbolic link (not followed)";
        case -EISDIR:
        case -EBADMSG:
                return "not a regular file holding a derivation";
        case -EFBIG:
        case -E2BIG:
                return "too large";
        default:
                return strerror(-error);
        }
}

/* Breadth first from the root: each node read once, expanded while shallower than the
 * depth bound (deeper ones only have their outputs checked). */
static int walk(DepsStore *s) {
        int r = graph_new(s->store_dir, DEPS_STORE_MAX_NODES, &s->g);
        if (r < 0)
                return r;
        Graph *g = s->g;
        _cleanup_free_ uint8_t *depth = calloc(DEPS_STORE_MAX_NODES, 1);
        if (!depth)
                return -ENOMEM;
        if ((r = graph_add(g, s->drv, /* planned= */ true)) < 0)
                return r;
        usec_t deadline = now_monotonic() + DEPS_STORE_BUDGET;
        while (graph_busy(g)) {
                if (now_monotonic() > deadline) {
                        s->timed_out = true;
                        break;
                }
                GraphRead *reads;
                size_t n;
                if ((r = graph_take(g, 1, &reads, &n)) < 0)
                        return r;
                if (n == 0)
                        continue;
                uint32_t index = reads->index, before = g->n_nodes;
                graph_read_run(s->store_dir, reads);
                (void) graph_read_apply(g, reads, /* deadline= */ 0);
                graph_reads_free(reads, n);
                const GraphNode *p = g->nodes[index];
                for (uint32_t k = 0; k < p->n_inputs; k++) {
                        uint32_t in = p->inputs[k];
                        if (in < before)
                                continue;
                        depth[in] = (uint8_t) (depth[index] + 1);
                        if (depth[in] >= DEPS_STORE_MAX_DEPTH)
                                s->depth_cut = true;
                        else if ((r = graph_add(g, g->nodes[in]->drv, true)) < 0)
                                return r;
                }
        }
        return 0;
}

void deps_store_run(DepsStore *s, History *h, Reply *r) {
        int k;
        if (!s->drv) {
                k = h ? history_row_drv(h, s->history_id, &s->drv) : -ENOENT;
                if (k == -ENOENT) {
                        reply_error(r, NA_ERR_NOT_FOUND, "no build row %lld in history",
                                    (long long) s->history_id);
                        return;
                }
                if (k < 0 || deps_store_check(s->store_dir, s->drv, r) < 0) {
                        if (k < 0)
                                reply_error(r, NA_ERR_UNAVAILABLE, "history: %s", strerror(-k));
                        return;
                }
        }
        if ((k = walk(s)) < 0) {
                reply_oom(r);
                return;
        }
        const GraphNode *root = s->g->nodes[0];
        if (root->error) {
                reply_error(r, root->error == -ENOENT ? NA_ERR_NOT_FOUND : NA_ERR_BAD_REQUEST,
                            "cannot read %s: %s", s->drv, read_error(root->error));
                return;
        }
        uint32_t n = s->g->n_nodes;
        _cleanup_free_ const char **drvs = calloc(MAX(n, 1u), sizeof(char *));
        s->last = calloc(MAX(n, 1u), sizeof(HistoryLast));
        if (!drvs || !s->last) {
                reply_oom(r);
                return;
        }
        for (uint32_t i = 0; i < n; i++)
                drvs[i] = s->g->nodes[i]->drv;
        /* Without a history store the graph still answers, with no past. */
        if (h && (k = history_last_builds(h, drvs, n, s->viewer_uid, DEPS_STORE_BUDGET, s->last)) < 0)
                s->timed_out = true;
}

/* ---- on the loop ---- */

static cJSON *last_json(const HistoryLast *l) {
        if (!l->state)
                return cJSON_CreateNull();
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddNumberToObject(o, "id", (double) l->id);
        cJSON_AddStringToObject(o, "state", l->state);
        if (l->failure_kind)
                cJSON_AddStringToObject(o, "failure_kind", l->failure_kind);
        else
                cJSON_AddNullToObject(o, "failure_kind");
        cJSON_AddNumberToObject(o, "finished", (double) l->finished / 1e6);
        if (l->has_duration)
                cJSON_AddNumberToObject(o, "duration", (double) l->duration / 1e6);
        else
                cJSON_AddNullToObject(o, "duration");
        return o;
}

/* Without a live build: what the store says of its outputs. */
static const char *store_state(const GraphNode *n) {
        return n->outputs > 0 ? "cached" : n->outputs == 0 ? "missing" : "unknown";
}

static const char *state_of(const GraphNode *n, Build *const *live) {
        return live[n->index] ? graphs_build_state(live[n->index]) : store_state(n);
}

static cJSON *node_json(const Graph *g, const GraphNode *n, Build *const *live, const HistoryLast *last) {
        const char *state = state_of(n, live);
        cJSON *o = graphs_node_json(n, state, live[n->index], n->index == 0);
        if (!o)
                return NULL;
        cJSON *inputs = cJSON_AddArrayToObject(o, "inputs");
        cJSON *blocked = cJSON_AddArrayToObject(o, "blocked_on");
        bool waiting = strcmp(state, "pending") == 0 || strcmp(state, "missing") == 0;
        for (uint32_t k = 0; inputs && blocked && k < n->n_inputs; k++) {
                const GraphNode *in = g->nodes[n->inputs[k]];
                cJSON_AddItemToArray(inputs, cJSON_CreateString(in->drv));
                const char *s = state_of(in, live);
                if (waiting && strcmp(s, "done") != 0 && strcmp(s, "cached") != 0)
                        cJSON_AddItemToArray(blocked, cJSON_CreateString(in->drv));
        }
        cJSON_AddItemToObject(o, "last", last_json(last));
        if (n->error)
                cJSON_AddStringToObject(o, "error", read_error(n->error));
        else
                cJSON_AddNullToObject(o, "error");
        if (cJSON_GetArraySize(o) < 10) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

void deps_store_finish(Daemon *d, DepsStore *s, Reply *r) {
        Graph *g = s->g;
        /* The daemon's own builds of these derivations, whatever invocation: an active one
         * wins over a finished one, a later one over an earlier. */
        _cleanup_free_ Build **live = calloc(MAX(g->n_nodes, 1u), sizeof(Build *));
        cJSON *o = cJSON_CreateObject();
        if (!live || !o) {
                cJSON_Delete(o);
                reply_oom(r);
                return;
        }
        for (Build *b = model_builds_first(d->model); b; b = b->next) {
                GraphNode *n = graph_find(g, b->drv);
                if (n && (!live[n->index] || build_state_is_active(b->state) ||
                          !build_state_is_active(live[n->index]->state)))
                        live[n->index] = b;
        }
        cJSON_AddNullToObject(o, "invocation");
        cJSON_AddStringToObject(o, "drv", s->drv);
        if (s->history_id > 0)
                cJSON_AddNumberToObject(o, "history", (double) s->history_id);
        else
                cJSON_AddNullToObject(o, "history");
        cJSON_AddBoolToObject(o, "complete", !s->timed_out);
        cJSON_AddBoolToObject(o, "truncated", g->truncated || s->depth_cut);
        cJSON *roots = cJSON_AddArrayToObject(o, "roots");
        cJSON_AddItemToArray(roots, cJSON_CreateString(s->drv));
        cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
        uint32_t listed = MIN(g->n_nodes, s->limit);
        for (uint32_t i = 0; nodes && i < listed; i++) {
                cJSON *nj = node_json(g, g->nodes[i], live, &s->last[i]);
                if (!nj || !cJSON_AddItemToArray(nodes, nj)) {
                        cJSON_Delete(nj);
                        nodes = NULL;
                }
        }
        cJSON_AddNumberToObject(o, "omitted", g->n_nodes - listed);
        if (!nodes || cJSON_GetArraySize(o) < 8) {
                cJSON_Delete(o);
                reply_oom(r);
                return;
        }
        r->result = o;
}
