/* An invocation's dependency graph, resolved incrementally from .drv files.
 *
 * Nodes are derivations. "Planned" nodes are those the invocation builds (its builds): their
 * .drv is parsed for input derivations, which become nodes (edges node -> input). An input
 * that is not planned is not expanded further; its outputs are checked once (present:
 * cached). Resolution reads a bounded number of files per call, so a caller can interleave
 * it with other work; the store directory is injectable for tests. */
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
} Graph;

int graph_new(const char *store_dir, uint32_t max_nodes, Graph **ret);
Graph *graph_free(Graph *g);

/* Adds drv (or finds it); planned marks it built by the invocation, which queues it for
 * expansion. Returns the node index, or -ENOSPC (max_nodes), -ENOMEM. */
int graph_add(Graph *g, const char *drv, bool planned);
GraphNode *graph_find(Graph *g, const char *drv);
int graph_index(Graph *g, const char *drv);

/* Reads up to max_files queued .drv files, stopping early once budget (monotonic usec,
 * 0 none) has passed. Returns 1 while work remains, 0 when everything is resolved. */
int graph_resolve(Graph *g, unsigned max_files, usec_t budget);
bool graph_busy(const Graph *g);

/* Longest remaining path: cost[i] is node i's remaining seconds; returns the longest sum of
 * costs along any chain of inputs (a node waits for all its inputs). ret_path (optional)
 * gets the node indices of that chain, top first, and its length. */
double graph_critical_path(const Graph *g, const double *cost, uint32_t **ret_path, uint32_t *ret_len);
