/* An invocation's dependency graph, resolved incrementally from .drv files.
 *
 * Nodes are derivations. "Planned" nodes are those the invocation builds (its builds): their
 * .drv is parsed for input derivations, which become nodes (edges node -> input). An input
 * that is not planned is not expanded further; its outputs are checked once (present:
 * cached). Resolution reads a bounded number of files per call, so a caller can interleave
 * it with other work; the store directory is injectable for tests.
 *
 * Resolution comes in three steps so the slow one can run on another thread: graph_take()
 * hands queued nodes out as GraphReads (copies: nothing in them points into the Graph),
 * graph_read_run() reads and parses one .drv touching only the GraphRead, and
 * graph_read_apply() puts its facts into the Graph, on the Graph's own thread, in the order
 * taken. graph_resolve() does the three in a row. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "basic/time-util.h"
#include "shared/model.h"

typedef struct GraphNode {
        char *drv;
        char *name;
        char *out; /* its first output path, once read (NULL: unknown, content-addressed) */
        uint32_t index;
        uint32_t *inputs; /* indices of input nodes */
        uint32_t n_inputs;
        bool planned;  /* built by the invocation: expanded */
        bool parsed;   /* .drv read (outputs checked) */
        bool expanded; /* inputs known (planned nodes) */
        bool queued;
        uint8_t taken;      /* its read is out: 0 no, 1 for outputs only, 2 to expand too */
        int8_t outputs;     /* -1 unknown, 0 some missing, 1 all present */
        int error;          /* why the .drv could not be read (-errno), 0 none */
        uint64_t build_key; /* for the daemon: the invocation's build of it, 0 none */
        UT_hash_handle hh;
} GraphNode;

typedef struct Graph {
        char *store_dir;
        GraphNode **nodes;
        uint32_t n_nodes, cap;
        GraphNode *by_drv;
        uint32_t *queue; /* indices waiting to be read */
        uint32_t q_head, q_len, q_cap;
        uint32_t max_nodes;
        bool truncated; /* max_nodes reached: some inputs left out */
        uint64_t files_read;
        uint32_t in_flight; /* taken, not yet applied (or dropped) */
} Graph;

/* One node's .drv, read away from the Graph. */
typedef struct GraphRead {
        /* in, set by graph_take() */
        uint32_t index;
        bool planned; /* expand: its inputs wanted */
        char *drv;
        uint32_t max_inputs; /* the graph's max_nodes: more could never join */
        /* out, set by graph_read_run() */
        int error;
        int8_t outputs;
        char *out;
        char *inputs;      /* n_inputs NUL-terminated input .drv paths in the store, in a row */
        uint32_t n_inputs; /* at most max_inputs (more: truncated) */
        bool truncated;
        /* graph_read_apply()'s progress through a large read */
        uint32_t applied;
        const char *next;
        uint32_t *indices;
        uint32_t n_indices;
} GraphRead;

int graph_new(const char *store_dir, uint32_t max_nodes, Graph **ret);
Graph *graph_free(Graph *g);

/* Adds drv (or finds it); planned marks it built by the invocation, which queues it for
 * expansion. Returns the node index, or -ENOSPC (max_nodes), -ENOMEM. */
int graph_add(Graph *g, const char *drv, bool planned);
GraphNode *graph_find(Graph *g, const char *drv);
int graph_index(Graph *g, const char *drv);

/* Drops the nodes keep() refuses, except those a kept node needs (its inputs, transitively),
 * and numbers the rest anew in the same order. A long-lived invocation (one nix-daemon
 * client connection feeding builds for days) would otherwise hold a node for every
 * derivation it ever built. Only while nothing is queued or taken (-EBUSY): reads name nodes
 * by index. Returns the nodes dropped, or -ENOMEM. */
int graph_compact(Graph *g, bool (*keep)(const GraphNode *n, void *userdata), void *userdata);

/* Reads up to max_files queued .drv files, stopping early once budget (monotonic usec,
 * 0 none) has passed. Returns 1 while work remains, 0 when everything is resolved. */
int graph_resolve(Graph *g, unsigned max_files, usec_t budget);
/* Whether nodes wait, queued or taken. */
bool graph_busy(const Graph *g);

/* Takes up to max queued nodes into ret (an array of *ret_n reads, the caller's; 0 reads and
 * NULL when none wait). -ENOMEM. */
int graph_take(Graph *g, unsigned max, GraphRead **ret, size_t *ret_n);
/* Reads and parses r->drv: any thread, touches only r. */
void graph_read_run(const char *store_dir, GraphRead *r);
/* Puts r's facts into g, stopping once deadline (monotonic usec, 0 none) has passed: 1 when
 * r is not finished (call again), 0 when it is (then clear it). Reads are applied in the
 * order taken. */
int graph_read_apply(Graph *g, GraphRead *r, usec_t deadline);
/* A taken read that will not be run after all: its node waits in the queue again. */
void graph_read_drop(Graph *g, GraphRead *r);
void graph_read_clear(GraphRead *r);
void graph_reads_free(GraphRead *reads, size_t n);

/* Longest remaining path: cost[i] is node i's remaining seconds; returns the longest sum of
 * costs along any chain of inputs (a node waits for all its inputs). ret_path (optional)
 * gets the node indices of that chain, top first, and its length. */
double graph_critical_path(const Graph *g, const double *cost, uint32_t **ret_path, uint32_t *ret_len);
