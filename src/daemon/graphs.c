/* Per-invocation dependency graphs: incremental resolution, expiry, critical-path ETAs and
 * the JSON of the "deps" command (see graphs.h). */
#include "daemon/graphs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/work-queue.h"
#include "shared/eta.h"
#include "shared/graph.h"

#define TURN_BUDGET    (2 * USEC_PER_MSEC) /* graph updates per loop turn */
#define BATCH_FILES    256                 /* .drv files per worker item */
#define BATCHES_MAX    2 /* out at once: one read on the worker while the loop applies one */
#define SWEEP_INTERVAL (1 * USEC_PER_SEC)
#define ETA_NOW_NODES  2000 /* graphs up to this size get their ETA at once */
#define COMPACT_MIN    8192 /* nodes before a graph lets go of the builds the model forgot */
#define COMPACT_RETRY  (10 * USEC_PER_SEC)

/* A set of store paths (borrowed, or owned when the set says so). */
typedef struct PathSet {
        const char *path;
        UT_hash_handle hh;
} PathSet;

typedef struct Entry {
        uint64_t inv; /* invocation (= source) id */
        Graph *g;
        bool eta_dirty;
        usec_t done_since; /* monotonic; 0 while the invocation runs */
        usec_t eta_mono;   /* monotonic time of the last ETA computation */
        PathSet *fetched;  /* paths the invocation substituted (owned) */
        uint32_t n_fetched;
        uint64_t serial;      /* tells this graph from a later one of the same invocation */
        uint64_t last_batch;  /* when it last had files read: the least recent goes next */
        uint32_t compact_at;  /* nodes at which forgotten builds' nodes are dropped next */
        usec_t compact_retry; /* monotonic: or at this time, with COMPACT_MIN nodes at least */
        UT_hash_handle hh;
} Entry;

/* .drv files of one graph, read and parsed on the worker thread. The item holds copies
 * (GraphRead) and names its graph by invocation and serial, never by pointer: the graph may
 * be dropped while the worker reads. */
typedef struct Batch {
        WorkItem item; /* first: the queue hands items back */
        uint64_t inv, serial;
        GraphRead *reads;
        size_t n, applied;
        struct Batch *next;
} Batch;

struct Graphs {
        Entry *entries;
        uint32_t n;
        uint64_t *adds; /* keys of new builds, added to their graphs on the next turns */
        size_t n_adds, next_add, cap_adds;
        sd_event_source *defer, *timer;
        uint64_t turns;
        usec_t longest_turn;
        /* Reading and parsing .drv files (up to 16 MiB each, chosen by any local user) happens
         * on a worker of its own: discovery's reads must not wait behind a 20,000-file graph. */
        char *store_dir; /* the worker's copy; never changes */
        WorkQueue *reads;
        unsigned out;               /* batches submitted, not yet back */
        Batch *ready, **ready_tail; /* back from the worker, applied in order on the loop */
        uint64_t serials, batches;
};

static void entry_free(Graphs *gs, Entry *e) {
        HASH_DEL(gs->entries, e);
        PathSet *p, *tmp;
        HASH_ITER(hh, e->fetched, p, tmp) {
                HASH_DEL(e->fetched, p);
                free((char *) p->path);
                free(p);
        }
        gs->n--;
        graph_free(e->g);
        free(e);
}

static void batch_release(WorkItem *item) {
        Batch *b = (Batch *) item;
        graph_reads_free(b->reads, b->n);
        free(b);
}

Graphs *graphs_free(Graphs *gs) {
        if (!gs)
                return NULL;
        /* First: the thread may be reading for us, and undelivered batches go with it. */
        work_queue_free(gs->reads);
        while (gs->ready) {
                Batch *b = gs->ready;
                gs->ready = b->next;
                batch_release(&b->item);
        }
        free(gs->store_dir);
        Entry *e, *tmp;
        HASH_ITER(hh, gs->entries, e, tmp)
                entry_free(gs, e);
        sd_event_source_disable_unref(gs->defer);
        sd_event_source_disable_unref(gs->timer);
        free(gs->adds);
        free(gs);
        return NULL;
}

static Entry *entry_find(Graphs *gs, uint64_t inv) {
        Entry *e = NULL;
        HASH_FIND(hh, gs->entries, &inv, sizeof(inv), e);
        return e;
}

/* Store paths the invocation is substituting right now (its open activities 108). */

static PathSet *substituting_paths(Invocation *inv) {
        PathSet *set = NULL;
        Activity *a, *tmp;
        if (!inv || !inv->source)
                return NULL;
        HASH_ITER(hh, inv->source->activities, a, tmp) {
                if (!a->path)
                        continue;
                PathSet *p = calloc(1, sizeof(*p));
                if (!p)
                        break;
                p->path = a->path;
                HASH_ADD_KEYPTR(hh, set, p->path, strlen(p->path), p);
        }
        return set;
}

static void path_set_free(PathSet *set) {
        PathSet *p, *tmp;
        HASH_ITER(hh, set, p, tmp) {
                HASH_DEL(set, p);
                free(p);
        }
}

/* The invocation's build of a node: by its key (the latest build of the drv, set when it was
 * added; a cheap lookup), else through the invocation's drv index. */
static Build *node_build(Daemon *d, Invocation *inv, const GraphNode *n) {
        if (!inv || !n->planned)
                return NULL;
        Build *b = n->build_key ? model_build_by_key(d->model, n->build_key) : NULL;
        if (b && b->invocation == inv)
                return b;
        b = NULL;
        HASH_FIND(hh_drv, inv->by_drv, n->drv, strlen(n->drv), b);
        return b;
}

/* An input the invocation does not build: substituting now, done (substituted by the
 * invocation), cached (present otherwise), or pending. */
static const char *input_state(const GraphNode *n, PathSet *subst, PathSet *fetched) {
        PathSet *p = NULL;
        if (n->out) {
                HASH_FIND_STR(subst, n->out, p);
                if (p)
                        return "substituting";
                HASH_FIND_STR(fetched, n->out, p);
                if (p)
                        return "done";
        }
        if (n->outputs == 1)
                return "cached";
        return n->out && access(n->out, F_OK) == 0 ? "cached" : "pending";
}

const char *graphs_build_state(const Build *b) {
        switch (b->state) {
        case BUILD_QUEUED:
                return "pending";
        case BUILD_RUNNING:
        case BUILD_FROZEN:
        case BUILD_FINISHING:
                return "building";
        case BUILD_SUCCEEDED:
                return "done";
        default:
                return "failed";
        }
}

static const char *node_state_with(Daemon *d, Invocation *inv, const GraphNode *n, PathSet *subst,
                                   PathSet *fetched, Build **ret_b) {
        Build *b = node_build(d, inv, n);
        *ret_b = b;
        return b ? graphs_build_state(b) : input_state(n, subst, fetched);
}

static const char *node_state(Daemon *d, Invocation *inv, const GraphNode *n, Build **ret_b) {
        return node_state_with(d, inv, n, NULL, NULL, ret_b);
}

static bool state_finished(const char *s) {
        return strcmp(s, "done") == 0 || strcmp(s, "cached") == 0;
}

/* ---- ETA ---- */

/* The invocation's ETA along its critical path. Costs O(nodes): about 0.5 us each. */
static void update_eta(Daemon *d, Entry *e, Invocation *inv) {
        Graph *g = e->g;
        double *cost = calloc(MAX(g->n_nodes, 1u), sizeof(double));
        if (!cost)
                return;
        usec_t now = now_realtime();
        InvocationEta eta = {.known = true, .at = now};
        static const char *const levels[] = {"low", "medium", "high"};
        int level = 2;
        for (uint32_t i = 0; i < g->n_nodes; i++) {
                Build *b = node_build(d, inv, g->nodes[i]);
                if (!b || !build_state_is_active(b->state))
                        continue;
                if (!b->eta.looked_up) {
                        /* Not before every build has its own estimate (estimates.c looks queued
                         * ones up a few at a time): half the estimates give a wrong ETA. */
                        free(cost);
                        e->eta_dirty = true;
                        return;
                }
                eta.left++;
                if (b->eta.samples == 0) {
                        eta.unknown++;
                        level = 0;
                        continue;
                }
                cost[i] = b->state == BUILD_QUEUED
                                  ? b->eta.expected
                                  : eta_remaining(&b->eta, usec_to_sec(build_duration(b, now)));
                int l = strcmp(b->eta.confidence, "high") == 0     ? 2
                        : strcmp(b->eta.confidence, "medium") == 0 ? 1
                                                                   : 0;
                level = MIN(level, l);
        }
        /* What is left takes at least its longest chain, and at least its work spread over as
         * many builds at once as Nix has run for it (its -j, as far as seen; one at least). */
        eta.critical_path = graph_critical_path(g, cost, NULL, NULL);
        for (uint32_t i = 0; i < g->n_nodes; i++)
                eta.work += cost[i];
        eta.slots = MAX(inv->max_running, 1u);
        eta.remaining = MAX(eta.critical_path, eta.work / eta.slots);
        eta.confidence = levels[level];
        free(cost);
        e->eta_dirty = false;
        e->eta_mono = now_monotonic();
        model_invocation_set_eta(d->model, inv, &eta);
}

/* Small graphs get their ETA at once; big ones at most once per sweep interval, so a plan of
 * thousands arriving in pieces does not cost O(nodes) per piece. */
static void maybe_update_eta(Daemon *d, Entry *e) {
        if (!e->eta_dirty || graph_busy(e->g))
                return;
        if (e->g->n_nodes > ETA_NOW_NODES && now_monotonic() - e->eta_mono < SWEEP_INTERVAL)
                return; /* the sweep will do it */
        Source *src = model_source_by_id(d->model, e->inv);
        if (src)
                update_eta(d, e, &src->invocation);
}

/* ---- scheduling ---- */

static Entry *entry_get(Daemon *d, uint64_t id);

/* New builds join their invocation's graph here rather than on the event path: a plan of
 * thousands arrives in a few reads, and each addition costs a little. */
static void add_pending(Daemon *d, usec_t deadline) {
        Graphs *gs = d->graphs;
        while (gs->next_add < gs->n_adds) {
                Build *b = model_build_by_key(d->model, gs->adds[gs->next_add++]);
                Entry *e = b && b->invocation ? entry_get(d, b->invocation->id) : NULL;
                if (e) {
                        int r = graph_add(e->g, b->drv, /* planned= */ true);
                        if (r >= 0)
                                e->g->nodes[r]->build_key = b->key;
                        if (r < 0 && r != -ENOSPC)
                                log_debug("graph of invocation %llu: cannot add %s: %s",
                                          (unsigned long long) e->inv, b->drv, strerror(-r));
                        e->eta_dirty = true;
                }
                if ((gs->next_add & 63) == 0 && now_monotonic() >= deadline)
                        return;
        }
        gs->n_adds = gs->next_add = 0;
}

/* On the worker: the slow part, touching only the batch (and the store). */
static void batch_run(WorkItem *item, void *userdata) {
        Graphs *gs = userdata; /* only store_dir, which never changes */
        Batch *b = (Batch *) item;
        for (size_t i = 0; i < b->n; i++)
                graph_read_run(gs->store_dir, &b->reads[i]);
}

/* Back on the loop: queued for on_defer, which applies batches in order within its budget. */
static void batch_done(WorkItem *item, void *userdata) {
        Graphs *gs = userdata;
        Batch *b = (Batch *) item;
        gs->out--;
        *gs->ready_tail = b;
        gs->ready_tail = &b->next;
        sd_event_source_set_enabled(gs->defer, SD_EVENT_ONESHOT);
}

static Entry *batch_entry(Graphs *gs, const Batch *b) {
        Entry *e = entry_find(gs, b->inv);
        return e && e->serial == b->serial ? e : NULL;
}

/* Applies ready batches until the deadline: 1 while some remain. */
static int apply_ready(Daemon *d, usec_t deadline) {
        Graphs *gs = d->graphs;
        while (gs->ready) {
                Batch *b = gs->ready;
                Entry *e = batch_entry(gs, b);
                while (e && b->applied < b->n) {
                        if (now_monotonic() >= deadline)
                                return 1;
                        if (graph_read_apply(e->g, &b->reads[b->applied], deadline) > 0)
                                return 1;
                        graph_read_clear(&b->reads[b->applied++]);
                }
                gs->ready = b->next;
                if (!gs->ready)
                        gs->ready_tail = &gs->ready;
                batch_release(&b->item);
                if (e && !graph_busy(e->g) && gs->n_adds == 0) {
                        /* Resolved: an ETA right away, not at the next sweep. */
                        e->eta_dirty = true;
                        maybe_update_eta(d, e);
                }
        }
        return 0;
}

/* Hands queued files to the worker, least recently served graph first. */
static void submit_batches(Graphs *gs) {
        while (gs->out < BATCHES_MAX) {
                Entry *e, *tmp, *best = NULL;
                HASH_ITER(hh, gs->entries, e, tmp)
                        if (e->g->q_len > 0 && (!best || e->last_batch < best->last_batch))
                                best = e;
                if (!best)
                        return;
                Batch *b = calloc(1, sizeof(*b));
                if (!b || graph_take(best->g, BATCH_FILES, &b->reads, &b->n) < 0) {
                        free(b);
                        return; /* out of memory: the next turn tries again */
                }
                best->last_batch = ++gs->batches;
                if (b->n == 0) { /* all it had queued was answered already */
                        free(b);
                        continue;
                }
                b->inv = best->inv;
                b->serial = best->serial;
                b->item = (WorkItem){.run = batch_run, .done = batch_done, .release = batch_release};
                if (work_queue_submit(gs->reads, &b->item) < 0) {
                        /* cannot happen (at most BATCHES_MAX out); the files wait for later */
                        for (size_t i = 0; i < b->n; i++)
                                graph_read_drop(best->g, &b->reads[i]);
                        batch_release(&b->item);
                        return;
                }
                gs->out++;
        }
}

static int on_defer(sd_event_source *s, void *userdata) {
        Daemon *d = userdata;
        Graphs *gs = d->graphs;
        usec_t start = now_monotonic();
        add_pending(d, start + TURN_BUDGET);
        bool more = gs->n_adds > 0;
        if (apply_ready(d, start + TURN_BUDGET) > 0)
                more = true;
        submit_batches(gs);
        usec_t took = now_monotonic() - start;
        gs->turns++;
        gs->longest_turn = MAX(gs->longest_turn, took);
        if (more)
                sd_event_source_set_enabled(gs->defer, SD_EVENT_ONESHOT);
        return 0;
}

static void arm_timer(Graphs *gs) {
        int enabled = SD_EVENT_OFF;
        if (sd_event_source_get_enabled(gs->timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return;
        sd_event_source_set_time(gs->timer, now_monotonic() + SWEEP_INTERVAL);
        sd_event_source_set_enabled(gs->timer, SD_EVENT_ONESHOT);
}

/* Once a second: ETAs of graphs that changed, and expiry of finished invocations' graphs. */
/* A node the graph keeps for itself: a build of the invocation the model still holds. */
static bool node_wanted(const GraphNode *n, void *userdata) {
        Daemon *d = userdata;
        return n->planned && (n->build_key == 0 || model_build_by_key(d->model, n->build_key));
}

/* An invocation that goes on for days (a nix-daemon client connection, json-log-path)
 * would hold a node for every derivation it built. From COMPACT_MIN nodes on, those of builds
 * the model no longer holds (evicted: gone from every view too) go, with the inputs only they
 * needed: when the graph has doubled since, or every COMPACT_RETRY (its builds may still have
 * been held the last time). One pass costs a walk of the nodes: doubling keeps the cost per
 * node added flat, and the retry costs one walk per COMPACT_RETRY at most. */
static void maybe_compact(Daemon *d, Entry *e, usec_t now) {
        if (e->g->n_nodes < COMPACT_MIN || (e->g->n_nodes < e->compact_at && now < e->compact_retry) ||
            graph_busy(e->g))
                return;
        int r = graph_compact(e->g, node_wanted, d);
        if (r < 0) {
                log_debug("graph of invocation %llu: cannot compact: %s", (unsigned long long) e->inv,
                          strerror(-r));
                return;
        }
        e->compact_at = 2 * e->g->n_nodes;
        e->compact_retry = now + COMPACT_RETRY;
        if (r > 0)
                e->eta_dirty = true;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        usec_t start = now_monotonic();
        Daemon *d = userdata;
        Graphs *gs = d->graphs;
        usec_t now = now_monotonic();
        Entry *e, *tmp;
        HASH_ITER(hh, gs->entries, e, tmp) {
                Source *src = model_source_by_id(d->model, e->inv);
                if (!src) {
                        entry_free(gs, e);
                        continue;
                }
                Invocation *inv = &src->invocation;
                if (inv->done && !e->done_since)
                        e->done_since = now;
                if (e->done_since && now - e->done_since >= d->config.graph_keep) {
                        entry_free(gs, e);
                        continue;
                }
                maybe_compact(d, e, now);
                /* Between changes a running invocation's ETA counts down by itself (from
                 * `at`); it is recomputed when builds start or end. */
                if (!graph_busy(e->g) && e->eta_dirty)
                        update_eta(d, e, inv);
        }
        if (gs->n > 0)
                arm_timer(gs);
        gs->longest_turn = MAX(gs->longest_turn, now_monotonic() - start);
        return 0;
}

int graphs_new(Daemon *d, Graphs **ret) {
        Graphs *gs = calloc(1, sizeof(*gs));
        if (!gs)
                return -ENOMEM;
        gs->ready_tail = &gs->ready;
        if (!(gs->store_dir = strdup(d->config.model.store_dir))) {
                free(gs);
                return -ENOMEM;
        }
        int r;
        if ((r = work_queue_new(d->event, "graph read", BATCHES_MAX, gs, &gs->reads)) < 0 ||
            (r = sd_event_add_defer(d->event, &gs->defer, on_defer, d)) < 0 ||
            (r = sd_event_source_set_enabled(gs->defer, SD_EVENT_OFF)) < 0 ||
            (r = sd_event_add_time(d->event, &gs->timer, CLOCK_MONOTONIC, 0, 100 * USEC_PER_MSEC, on_timer,
                                   d)) < 0 ||
            (r = sd_event_source_set_enabled(gs->timer, SD_EVENT_OFF)) < 0) {
                graphs_free(gs);
                return r;
        }
        *ret = gs;
        return 0;
}

static Entry *entry_get(Daemon *d, uint64_t id) {
        Graphs *gs = d->graphs;
        Entry *e = entry_find(gs, id);
        if (e)
                return e;
        e = calloc(1, sizeof(*e));
        if (!e || graph_new(d->config.model.store_dir, d->config.graph_max_nodes, &e->g) < 0) {
                free(e);
                return NULL;
        }
        e->inv = id;
        e->serial = ++gs->serials;
        HASH_ADD(hh, gs->entries, inv, sizeof(e->inv), e);
        gs->n++;
        arm_timer(gs);
        return e;
}

void graphs_build_changed(Daemon *d, Build *b, unsigned kinds) {
        Graphs *gs = d->graphs;
        if (!gs || !b->invocation)
                return;
        if (kinds & (1u << CHANGE_NEW)) {
                if (gs->n_adds == gs->cap_adds) {
                        size_t cap = gs->cap_adds ? gs->cap_adds * 2 : 256;
                        uint64_t *a = realloc(gs->adds, cap * sizeof(uint64_t));
                        if (!a)
                                return; /* out of memory: this build stays out of its graph */
                        gs->adds = a;
                        gs->cap_adds = cap;
                }
                gs->adds[gs->n_adds++] = b->key;
                sd_event_source_set_enabled(gs->defer, SD_EVENT_ONESHOT);
                return;
        }
        Entry *e = entry_find(gs, b->invocation->id);
        if (e && (kinds & ((1u << CHANGE_STARTED) | (1u << CHANGE_FINISHED)))) {
                e->eta_dirty = true;
                arm_timer(gs);
        }
}

/* ---- JSON ---- */

static Graph *graph_of(Daemon *d, Invocation *inv, const char **ret_error) {
        Entry *e = d->graphs ? entry_find(d->graphs, inv->id) : NULL;
        if (!e) {
                *ret_error = "no dependency graph for this invocation (no builds seen, or dropped after "
                             "--graph-keep)";
                return NULL;
        }
        return e->g;
}

bool graphs_has(Daemon *d, Invocation *inv) {
        return inv && d->graphs && entry_find(d->graphs, inv->id);
}

/* Which nodes are inputs of some planned node: the others among planned are the roots. */
static bool *input_flags(const Graph *g) {
        bool *is_input = calloc(MAX(g->n_nodes, 1u), sizeof(bool));
        for (uint32_t i = 0; is_input && i < g->n_nodes; i++)
                for (uint32_t k = 0; k < g->nodes[i]->n_inputs; k++)
                        is_input[g->nodes[i]->inputs[k]] = true;
        return is_input;
}

cJSON *graphs_node_json(const GraphNode *n, const char *state, const Build *b, bool requested) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddStringToObject(o, "drv", n->drv);
        cJSON_AddStringToObject(o, "name", n->name);
        cJSON_AddStringToObject(o, "state", state);
        if (b && b->n_phases && strcmp(state, "building") == 0)
                cJSON_AddStringToObject(o, "phase", b->phases[b->n_phases - 1].name);
        else
                cJSON_AddNullToObject(o, "phase");
        if (b)
                cJSON_AddNumberToObject(o, "build", (double) b->key);
        else
                cJSON_AddNullToObject(o, "build");
        cJSON_AddBoolToObject(o, "requested", requested);
        return o;
}

static cJSON *node_json(Daemon *d, Invocation *inv, const Graph *g, const GraphNode *n, bool root,
                        PathSet *subst, PathSet *fetched) {
        Build *b;
        const char *state = node_state_with(d, inv, n, subst, fetched, &b);
        cJSON *o = graphs_node_json(n, state, b, root);
        if (!o)
                return NULL;
        cJSON *inputs = cJSON_AddArrayToObject(o, "inputs");
        cJSON *blocked = cJSON_AddArrayToObject(o, "blocked_on");
        bool waiting = strcmp(state, "pending") == 0;
        for (uint32_t k = 0; inputs && blocked && k < n->n_inputs; k++) {
                const GraphNode *in = g->nodes[n->inputs[k]];
                cJSON_AddItemToArray(inputs, cJSON_CreateString(in->drv));
                Build *ib;
                if (waiting && !state_finished(node_state_with(d, inv, in, subst, fetched, &ib)))
                        cJSON_AddItemToArray(blocked, cJSON_CreateString(in->drv));
        }
        if (n->error)
                cJSON_AddStringToObject(o, "error", strerror(-n->error));
        else
                cJSON_AddNullToObject(o, "error");
        if (cJSON_GetArraySize(o) < 9) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

cJSON *graphs_deps_json(Daemon *d, Invocation *inv, const char *root_drv, uint32_t limit,
                        const char **ret_error) {
        Entry *e = d->graphs ? entry_find(d->graphs, inv->id) : NULL;
        Graph *g = graph_of(d, inv, ret_error);
        if (!g)
                return NULL;
        int root = root_drv ? graph_index(g, root_drv) : -1;
        if (root_drv && root < 0) {
                *ret_error = "the build is not in its invocation's graph";
                return NULL;
        }
        _cleanup_free_ bool *is_input = input_flags(g);
        _cleanup_free_ bool *keep = calloc(MAX(g->n_nodes, 1u), sizeof(bool));
        _cleanup_free_ uint32_t *stack = malloc(MAX(g->n_nodes, 1u) * sizeof(uint32_t));
        if (!is_input || !keep || !stack)
                return NULL;
        if (root >= 0) {
                /* what root needs, transitively */
                uint32_t sp = 0;
                stack[sp++] = (uint32_t) root;
                keep[root] = true;
                while (sp > 0) {
                        const GraphNode *n = g->nodes[stack[--sp]];
                        for (uint32_t k = 0; k < n->n_inputs; k++)
                                if (!keep[n->inputs[k]]) {
                                        keep[n->inputs[k]] = true;
                                        stack[sp++] = n->inputs[k];
                                }
                }
        } else
                memset(keep, 1, g->n_nodes * sizeof(bool));

        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        PathSet *subst = substituting_paths(inv);
        uint32_t listed = 0, omitted = 0;
        cJSON_AddNumberToObject(o, "invocation", (double) inv->id);
        cJSON_AddBoolToObject(o, "complete", !graph_busy(g) && d->graphs->n_adds == 0);
        cJSON_AddBoolToObject(o, "truncated", g->truncated);
        cJSON *roots = cJSON_AddArrayToObject(o, "roots");
        cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
        for (uint32_t i = 0; roots && nodes && i < g->n_nodes; i++) {
                if (!keep[i])
                        continue;
                const GraphNode *n = g->nodes[i];
                bool is_root = root >= 0 ? (int) i == root : n->planned && !is_input[i];
                if (is_root)
                        cJSON_AddItemToArray(roots, cJSON_CreateString(n->drv));
                if (listed >= limit) {
                        omitted++;
                        continue;
                }
                listed++;
                cJSON *nj = node_json(d, inv, g, n, n->planned && !is_input[i], subst, e->fetched);
                if (!nj || !cJSON_AddItemToArray(nodes, nj)) {
                        cJSON_Delete(nj);
                        cJSON_Delete(o);
                        path_set_free(subst);
                        return NULL;
                }
        }
        path_set_free(subst);
        cJSON_AddNumberToObject(o, "omitted", omitted);
        if (cJSON_GetArraySize(o) < 6) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

cJSON *graphs_why_json(Daemon *d, Invocation *inv, const char *drv, const char **ret_error) {
        Graph *g = graph_of(d, inv, ret_error);
        if (!g)
                return NULL;
        int target = graph_index(g, drv);
        if (target < 0) {
                *ret_error = "the build is not in its invocation's graph";
                return NULL;
        }
        uint32_t n = g->n_nodes;
        /* Breadth-first from the target up through its users: the first requested root
         * reached gives the shortest chain. */
        _cleanup_free_ uint32_t *users_start = calloc(n + 1, sizeof(uint32_t));
        _cleanup_free_ uint32_t *parent = malloc(n * sizeof(uint32_t));
        _cleanup_free_ uint32_t *queue = malloc(n * sizeof(uint32_t));
        _cleanup_free_ bool *is_input = input_flags(g);
        uint32_t n_edges = 0;
        for (uint32_t i = 0; i < n; i++)
                n_edges += g->nodes[i]->n_inputs;
        _cleanup_free_ uint32_t *users = malloc(MAX(n_edges, 1u) * sizeof(uint32_t));
        _cleanup_free_ uint32_t *fill = calloc(n + 1, sizeof(uint32_t));
        if (!users_start || !parent || !queue || !is_input || !users || !fill)
                return NULL;
        for (uint32_t i = 0; i < n; i++)
                for (uint32_t k = 0; k < g->nodes[i]->n_inputs; k++)
                        users_start[g->nodes[i]->inputs[k] + 1]++;
        for (uint32_t i = 0; i < n; i++)
                users_start[i + 1] += users_start[i];
        for (uint32_t i = 0; i < n; i++)
                for (uint32_t k = 0; k < g->nodes[i]->n_inputs; k++) {
                        uint32_t in = g->nodes[i]->inputs[k];
                        users[users_start[in] + fill[in]++] = i;
                }
        for (uint32_t i = 0; i < n; i++)
                parent[i] = UINT32_MAX;
        uint32_t head = 0, tail = 0, found = UINT32_MAX;
        queue[tail++] = (uint32_t) target;
        parent[target] = (uint32_t) target;
        while (head < tail) {
                uint32_t v = queue[head++];
                if (!is_input[v]) {
                        found = v;
                        break;
                }
                for (uint32_t k = users_start[v]; k < users_start[v + 1]; k++)
                        if (parent[users[k]] == UINT32_MAX) {
                                parent[users[k]] = v;
                                queue[tail++] = users[k];
                        }
        }
        cJSON *o = cJSON_CreateObject();
        cJSON *chain = o ? cJSON_AddArrayToObject(o, "chain") : NULL;
        if (!chain) {
                cJSON_Delete(o);
                return NULL;
        }
        cJSON_AddNumberToObject(o, "invocation", (double) inv->id);
        /* found -> ... -> target, following parents (each step is an input of the previous) */
        for (uint32_t v = found; v != UINT32_MAX; v = parent[v] == v ? UINT32_MAX : parent[v]) {
                cJSON *step = cJSON_CreateObject();
                if (!step || !cJSON_AddItemToArray(chain, step)) {
                        cJSON_Delete(step);
                        cJSON_Delete(o);
                        return NULL;
                }
                Build *b;
                cJSON_AddStringToObject(step, "drv", g->nodes[v]->drv);
                cJSON_AddStringToObject(step, "name", g->nodes[v]->name);
                cJSON_AddStringToObject(step, "state", node_state(d, inv, g->nodes[v], &b));
        }
        return o;
}

cJSON *graphs_status_json(Daemon *d) {
        Graphs *gs = d->graphs;
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        uint64_t nodes = 0, files = 0, busy = 0;
        Entry *e, *tmp;
        HASH_ITER(hh, gs->entries, e, tmp) {
                nodes += e->g->n_nodes;
                files += e->g->files_read;
                busy += graph_busy(e->g);
        }
        cJSON_AddNumberToObject(o, "invocations", gs->n);
        cJSON_AddNumberToObject(o, "nodes", (double) nodes);
        cJSON_AddNumberToObject(o, "resolving", (double) busy);
        cJSON_AddNumberToObject(o, "files_read", (double) files);
        cJSON_AddNumberToObject(o, "longest_turn_ms", (double) gs->longest_turn / 1000.0);
        WorkQueueStats ws;
        work_queue_stats(gs->reads, &ws);
        cJSON_AddNumberToObject(o, "longest_read_ms", (double) ws.max_run_usec / 1000.0);
        if (cJSON_GetArraySize(o) < 6) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

void graphs_substitution_done(Daemon *d, const Substitution *x) {
        if (!d->graphs || !x->succeeded)
                return;
        /* The invocation's builds may not have joined their graph yet (that happens on idle
         * turns): the entry is made now, so the fetch is not missed. */
        Entry *e = entry_get(d, x->invocation);
        if (!e || e->n_fetched >= d->config.graph_max_nodes)
                return;
        PathSet *p = NULL;
        HASH_FIND_STR(e->fetched, x->path, p);
        if (p)
                return;
        p = calloc(1, sizeof(*p));
        char *path = p ? strdup(x->path) : NULL;
        if (!path) {
                free(p);
                return;
        }
        p->path = path;
        HASH_ADD_KEYPTR(hh, e->fetched, p->path, strlen(p->path), p);
        e->n_fetched++;
}

void graphs_estimates_ready(Daemon *d) {
        Graphs *gs = d->graphs;
        Entry *e, *tmp;
        if (!gs)
                return;
        HASH_ITER(hh, gs->entries, e, tmp)
                maybe_update_eta(d, e);
}
