/* Dependency graphs from .drv files (see graph.h). */
#include "shared/graph.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/macro.h"
#include "shared/drv.h"
#include "shared/storepath.h"

int graph_new(const char *store_dir, uint32_t max_nodes, Graph **ret) {
        Graph *g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->store_dir = strdup(store_dir);
        if (!g->store_dir) {
                free(g);
                return -ENOMEM;
        }
        g->max_nodes = max_nodes ? max_nodes : 1;
        *ret = g;
        return 0;
}

Graph *graph_free(Graph *g) {
        if (!g)
                return NULL;
        HASH_CLEAR(hh, g->by_drv);
        for (uint32_t i = 0; i < g->n_nodes; i++) {
                free(g->nodes[i]->drv);
                free(g->nodes[i]->name);
                free(g->nodes[i]->out);
                free(g->nodes[i]->inputs);
                free(g->nodes[i]);
        }
        free(g->nodes);
        free(g->queue);
        free(g->store_dir);
        free(g);
        return NULL;
}

GraphNode *graph_find(Graph *g, const char *drv) {
        GraphNode *n = NULL;
        HASH_FIND_STR(g->by_drv, drv, n);
        return n;
}

int graph_index(Graph *g, const char *drv) {
        GraphNode *n = graph_find(g, drv);
        return n ? (int) n->index : -ENOENT;
}

static int enqueue(Graph *g, uint32_t index) {
        GraphNode *n = g->nodes[index];
        if (n->queued)
                return 0;
        if (g->q_len == g->q_cap) {
                uint32_t cap = g->q_cap ? g->q_cap * 2 : 64;
                uint32_t *q = malloc(cap * sizeof(uint32_t));
                if (!q)
                        return -ENOMEM;
                for (uint32_t i = 0; i < g->q_len; i++)
                        q[i] = g->queue[(g->q_head + i) % g->q_cap];
                free(g->queue);
                g->queue = q;
                g->q_cap = cap;
                g->q_head = 0;
        }
        g->queue[(g->q_head + g->q_len) % g->q_cap] = index;
        g->q_len++;
        n->queued = true;
        return 0;
}

/* Finds or creates the node for drv; its index in *ret. */
static int node_get(Graph *g, const char *drv, uint32_t *ret) {
        GraphNode *n = graph_find(g, drv);
        if (n) {
                *ret = n->index;
                return 0;
        }
        if (g->n_nodes >= g->max_nodes) {
                g->truncated = true;
                return -ENOSPC;
        }
        if (g->n_nodes == g->cap) {
                uint32_t cap = g->cap ? g->cap * 2 : 64;
                GraphNode **nodes = realloc(g->nodes, cap * sizeof(GraphNode *));
                if (!nodes)
                        return -ENOMEM;
                g->nodes = nodes;
                g->cap = cap;
        }
        n = calloc(1, sizeof(*n));
        if (!n || !(n->drv = strdup(drv))) {
                free(n);
                return -ENOMEM;
        }
        if (store_path_name(g->store_dir, drv, &n->name) < 0) {
                const char *slash = strrchr(drv, '/');
                n->name = strdup(slash ? slash + 1 : drv);
        } else {
                /* "hello-2.12.drv" -> "hello-2.12" */
                size_t len = strlen(n->name);
                if (len > 4 && strcmp(n->name + len - 4, ".drv") == 0)
                        n->name[len - 4] = '\0';
        }
        if (!n->name) {
                free(n->drv);
                free(n);
                return -ENOMEM;
        }
        n->outputs = -1;
        n->index = g->n_nodes;
        HASH_ADD_KEYPTR(hh, g->by_drv, n->drv, strlen(n->drv), n);
        g->nodes[g->n_nodes] = n;
        *ret = g->n_nodes++;
        return 0;
}

int graph_add(Graph *g, const char *drv, bool planned) {
        uint32_t i;
        int r = node_get(g, drv, &i);
        if (r < 0)
                return r;
        GraphNode *n = g->nodes[i];
        if (planned && !n->planned) {
                n->planned = true;
                if (!n->expanded && (r = enqueue(g, i)) < 0)
                        return r;
        }
        return (int) i;
}


/* Expands a planned node: its inputs become nodes (queued for an outputs check). */
static int expand(Graph *g, uint32_t index, const Drv *d) {
        uint32_t *inputs = d->n_inputs ? calloc(d->n_inputs, sizeof(uint32_t)) : NULL;
        if (d->n_inputs && !inputs)
                return -ENOMEM;
        uint32_t k = 0;
        for (size_t i = 0; i < d->n_inputs; i++) {
                if (!store_path_valid(g->store_dir, d->inputs[i].path))
                        continue; /* not in our store: nothing we could look at */
                uint32_t in;
                int r = node_get(g, d->inputs[i].path, &in);
                if (r == -ENOSPC)
                        break;
                if (r < 0) {
                        free(inputs);
                        return r;
                }
                inputs[k++] = in;
                if (!g->nodes[in]->planned && g->nodes[in]->outputs < 0 && (r = enqueue(g, in)) < 0) {
                        free(inputs);
                        return r;
                }
        }
        GraphNode *n = g->nodes[index];
        free(n->inputs);
        n->inputs = inputs;
        n->n_inputs = k;
        return 0;
}

static int8_t outputs_present(Graph *g, const Drv *d) {
        for (size_t i = 0; i < d->n_outputs; i++) {
                if (d->outputs[i].path[0] == '\0' || !store_path_valid(g->store_dir, d->outputs[i].path))
                        return -1; /* content-addressed or foreign: unknown */
                if (access(d->outputs[i].path, F_OK) < 0)
                        return 0;
        }
        return 1;
}

static void resolve_one(Graph *g, uint32_t index) {
        GraphNode *n = g->nodes[index];
        n->queued = false;
        if (n->parsed && (!n->planned || n->expanded))
                return;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        Drv *d = NULL;
        int r = store_file_read(g->store_dir, n->drv, STORE_DRV_MAX, &buf, &len);
        g->files_read++;
        if (r >= 0)
                r = drv_parse(buf, len, &d);
        if (r < 0) {
                n->error = r;
                n->parsed = true;
                return;
        }
        n->outputs = outputs_present(g, d);
        if (!n->out && d->n_outputs > 0 && d->outputs[0].path[0])
                n->out = strdup(d->outputs[0].path); /* best effort: only for "substituting" */
        if (n->planned) {
                r = expand(g, index, d);
                if (r < 0)
                        n->error = r;
                n->expanded = true;
        }
        n->parsed = true;
        drv_free(d);
}

int graph_resolve(Graph *g, unsigned max_files, usec_t budget) {
        usec_t deadline = budget ? now_monotonic() + budget : 0;
        for (unsigned done = 0; g->q_len > 0 && done < max_files; done++) {
                uint32_t index = g->queue[g->q_head];
                g->q_head = (g->q_head + 1) % g->q_cap;
                g->q_len--;
                resolve_one(g, index);
                if (deadline && (done & 7) == 7 && now_monotonic() > deadline)
                        break;
        }
        return g->q_len > 0;
}

bool graph_busy(const Graph *g) {
        return g->q_len > 0;
}

double graph_critical_path(const Graph *g, const double *cost, uint32_t **ret_path, uint32_t *ret_len) {
        uint32_t n = g->n_nodes;
        if (ret_path) {
                *ret_path = NULL;
                *ret_len = 0;
        }
        if (n == 0)
                return 0;
        double *longest = calloc(n, sizeof(double));
        uint32_t *next = malloc(n * sizeof(uint32_t)); /* the input on the longest chain */
        uint8_t *mark = calloc(n, 1);                  /* 0 new, 1 on the stack, 2 done */
        uint32_t *stack = malloc(n * sizeof(uint32_t)), *edge = malloc(n * sizeof(uint32_t));
        double best = 0;
        uint32_t best_start = 0;
        if (!longest || !next || !mark || !stack || !edge)
                goto finish;

        /* Iterative post-order DFS: deep chains (20,000 nodes) must not recurse. A cycle
         * (impossible in a real store, possible in a forged one) counts its back edge as 0. */
        for (uint32_t root = 0; root < n; root++) {
                if (mark[root])
                        continue;
                uint32_t sp = 0;
                stack[sp] = root;
                edge[sp] = 0;
                mark[root] = 1;
                sp++;
                while (sp > 0) {
                        uint32_t v = stack[sp - 1];
                        const GraphNode *node = g->nodes[v];
                        if (edge[sp - 1] < node->n_inputs) {
                                uint32_t w = node->inputs[edge[sp - 1]++];
                                if (mark[w] == 0) {
                                        mark[w] = 1;
                                        stack[sp] = w;
                                        edge[sp] = 0;
                                        sp++;
                                }
                                continue;
                        }
                        double m = 0;
                        next[v] = UINT32_MAX;
                        for (uint32_t i = 0; i < node->n_inputs; i++) {
                                uint32_t w = node->inputs[i];
                                if (mark[w] == 2 && longest[w] > m) {
                                        m = longest[w];
                                        next[v] = w;
                                }
                        }
                        longest[v] = cost[v] + m;
                        mark[v] = 2;
                        sp--;
                        if (longest[v] > best) {
                                best = longest[v];
                                best_start = v;
                        }
                }
        }
        if (ret_path) {
                uint32_t len = 0;
                uint32_t *path = best > 0 ? malloc(n * sizeof(uint32_t)) : NULL;
                for (uint32_t v = best_start; path && v != UINT32_MAX && len < n; v = next[v])
                        path[len++] = v;
                *ret_path = path;
                *ret_len = path ? len : 0;
        }
finish:
        free(longest);
        free(next);
        free(mark);
        free(stack);
        free(edge);
        return best;
}
