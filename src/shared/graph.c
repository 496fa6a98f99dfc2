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

static void node_free(GraphNode *n) {
        free(n->drv);
        free(n->name);
        free(n->out);
        free(n->inputs);
        free(n);
}

Graph *graph_free(Graph *g) {
        if (!g)
                return NULL;
        HASH_CLEAR(hh, g->by_drv);
        for (uint32_t i = 0; i < g->n_nodes; i++)
                node_free(g->nodes[i]);
        free(g->nodes);
        free(g->queue);
        free(g->store_dir);
        free(g);
        return NULL;
}

int graph_compact(Graph *g, bool (*keep)(const GraphNode *n, void *userdata), void *userdata) {
        if (graph_busy(g))
                return -EBUSY;
        if (g->n_nodes == 0)
                return 0;
        _cleanup_free_ uint32_t *map = malloc(g->n_nodes * sizeof(uint32_t));
        _cleanup_free_ uint32_t *stack = malloc(g->n_nodes * sizeof(uint32_t));
        if (!map || !stack)
                return -ENOMEM;

        /* map[i]: UINT32_MAX dropped, else kept. What keep() wants, and everything it needs. */
        uint32_t n_stack = 0;
        for (uint32_t i = 0; i < g->n_nodes; i++) {
                map[i] = keep(g->nodes[i], userdata) ? 0 : UINT32_MAX;
                if (map[i] == 0)
                        stack[n_stack++] = i;
        }
        while (n_stack > 0) {
                const GraphNode *n = g->nodes[stack[--n_stack]];
                for (uint32_t k = 0; k < n->n_inputs; k++)
                        if (map[n->inputs[k]] == UINT32_MAX) {
                                map[n->inputs[k]] = 0;
                                stack[n_stack++] = n->inputs[k];
                        }
        }

        uint32_t kept = 0;
        for (uint32_t i = 0; i < g->n_nodes; i++) {
                GraphNode *n = g->nodes[i];
                if (map[i] == UINT32_MAX) {
                        HASH_DEL(g->by_drv, n);
                        node_free(n);
                        continue;
                }
                map[i] = kept;
                n->index = kept;
                g->nodes[kept++] = n;
        }
        for (uint32_t i = 0; i < kept; i++) {
                GraphNode *n = g->nodes[i];
                for (uint32_t k = 0; k < n->n_inputs; k++)
                        n->inputs[k] = map[n->inputs[k]];
        }
        uint32_t dropped = g->n_nodes - kept;
        g->n_nodes = kept;
        /* The pointer array shrinks with the graph (it never grows past twice the nodes). */
        if (g->cap > 64 && kept < g->cap / 4) {
                uint32_t cap = MAX(kept * 2, 64u);
                GraphNode **nodes = realloc(g->nodes, cap * sizeof(GraphNode *));
                if (nodes) {
                        g->nodes = nodes;
                        g->cap = cap;
                }
        }
        return (int) MIN(dropped, (uint32_t) INT32_MAX);
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

/* ---- reading, on any thread: only the GraphRead and the store ---- */

static int8_t outputs_present(const char *store_dir, const Drv *d) {
        for (size_t i = 0; i < d->n_outputs; i++) {
                if (d->outputs[i].path[0] == '\0' || !store_path_valid(store_dir, d->outputs[i].path))
                        return -1; /* content-addressed or foreign: unknown */
                if (access(d->outputs[i].path, F_OK) < 0)
                        return 0;
        }
        return 1;
}

/* The inputs in our store (others: nothing we could look at), packed in one buffer so the
 * graph's thread frees one block however many there are. */
static int inputs_pack(const char *store_dir, GraphRead *r, const Drv *d) {
        size_t size = 1;
        uint32_t n = 0;
        for (size_t i = 0; i < d->n_inputs; i++) {
                if (!store_path_valid(store_dir, d->inputs[i].path))
                        continue;
                if (n == r->max_inputs) {
                        r->truncated = true;
                        break;
                }
                size += strlen(d->inputs[i].path) + 1;
                n++;
        }
        char *buf = malloc(size), *p = buf;
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0, k = 0; k < n; i++) {
                if (!store_path_valid(store_dir, d->inputs[i].path))
                        continue;
                size_t len = strlen(d->inputs[i].path) + 1;
                memcpy(p, d->inputs[i].path, len);
                p += len;
                k++;
        }
        r->inputs = buf;
        r->n_inputs = n;
        return 0;
}

void graph_read_run(const char *store_dir, GraphRead *r) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        Drv *d = NULL;
        int k = store_file_read(store_dir, r->drv, STORE_DRV_MAX, &buf, &len);
        if (k >= 0)
                k = drv_parse(buf, len, &d);
        if (k < 0) {
                r->error = k;
                return;
        }
        r->outputs = outputs_present(store_dir, d);
        if (d->n_outputs > 0 && d->outputs[0].path[0])
                r->out = strdup(d->outputs[0].path); /* best effort: only for "substituting" */
        if (r->planned && (k = inputs_pack(store_dir, r, d)) < 0)
                r->error = k;
        drv_free(d);
}

void graph_read_clear(GraphRead *r) {
        free(r->drv);
        free(r->out);
        free(r->inputs);
        free(r->indices);
        *r = (GraphRead){};
}

void graph_reads_free(GraphRead *reads, size_t n) {
        for (size_t i = 0; i < n; i++)
                graph_read_clear(&reads[i]);
        free(reads);
}

/* ---- the graph's side ---- */

int graph_take(Graph *g, unsigned max, GraphRead **ret, size_t *ret_n) {
        *ret = NULL;
        *ret_n = 0;
        size_t want = MIN((size_t) max, (size_t) g->q_len);
        if (want == 0)
                return 0;
        GraphRead *reads = calloc(want, sizeof(GraphRead));
        if (!reads)
                return -ENOMEM;
        size_t n = 0;
        while (g->q_len > 0 && n < want) {
                uint32_t index = g->queue[g->q_head];
                g->q_head = (g->q_head + 1) % g->q_cap;
                g->q_len--;
                GraphNode *node = g->nodes[index];
                node->queued = false;
                if (node->parsed && (!node->planned || node->expanded))
                        continue;
                if (node->taken == 2 || (node->taken == 1 && !node->planned))
                        continue; /* the read out answers this too */
                GraphRead *r = &reads[n];
                *r = (GraphRead){
                        .index = index,
                        .planned = node->planned,
                        .max_inputs = g->max_nodes,
                        .outputs = -1,
                        .drv = strdup(node->drv),
                };
                if (!r->drv) {
                        node->error = -ENOMEM;
                        node->parsed = true;
                        continue;
                }
                node->taken = node->planned ? 2 : 1;
                n++;
        }
        if (n == 0) {
                free(reads);
                return 0;
        }
        g->in_flight += n;
        *ret = reads;
        *ret_n = n;
        return 0;
}

static void read_finished(Graph *g, GraphNode *n) {
        n->taken = 0;
        n->parsed = true;
        g->in_flight--;
}

int graph_read_apply(Graph *g, GraphRead *r, usec_t deadline) {
        GraphNode *n = g->nodes[r->index];
        int k;
        if (!r->next) { /* first call */
                g->files_read++;
                if (r->error) {
                        n->error = r->error;
                        read_finished(g, n);
                        return 0;
                }
                n->outputs = r->outputs;
                if (!n->out && r->out)
                        n->out = TAKE_PTR(r->out);
                if (!r->planned) {
                        read_finished(g, n);
                        return 0;
                }
                if (r->n_inputs > 0 && !(r->indices = calloc(r->n_inputs, sizeof(uint32_t)))) {
                        k = -ENOMEM;
                        goto mark_unreadable;
                }
                r->next = r->inputs;
        }
        /* Its inputs become nodes (queued for an outputs check), a few at a time: a forged
         * .drv may list very many. */
        while (r->applied < r->n_inputs) {
                const char *path = r->next;
                r->next += strlen(path) + 1;
                r->applied++;
                uint32_t in;
                k = node_get(g, path, &in);
                if (k == -ENOSPC)
                        break;
                if (k < 0)
                        goto mark_unreadable;
                r->indices[r->n_indices++] = in;
                if (!g->nodes[in]->planned && g->nodes[in]->outputs < 0 && (k = enqueue(g, in)) < 0)
                        goto mark_unreadable;
                if (deadline && (r->applied & 63) == 0 && r->applied < r->n_inputs &&
                    now_monotonic() > deadline)
                        return 1;
        }
        free(n->inputs);
        n->inputs = TAKE_PTR(r->indices);
        n->n_inputs = r->n_indices;
        if (r->truncated)
                g->truncated = true;
        n->expanded = true;
        read_finished(g, n);
        return 0;
mark_unreadable:
        n->error = k;
        n->expanded = true;
        read_finished(g, n);
        return 0;
}

void graph_read_drop(Graph *g, GraphRead *r) {
        GraphNode *n = g->nodes[r->index];
        n->taken = 0;
        g->in_flight--;
        if (enqueue(g, r->index) < 0) {
                n->error = -ENOMEM;
                n->parsed = true;
        }
}

int graph_resolve(Graph *g, unsigned max_files, usec_t budget) {
        usec_t deadline = budget ? now_monotonic() + budget : 0;
        for (unsigned done = 0; g->q_len > 0 && done < max_files; done++) {
                GraphRead *r;
                size_t n;
                int k = graph_take(g, 1, &r, &n);
                if (k < 0)
                        return k;
                if (n > 0) {
                        graph_read_run(g->store_dir, r);
                        (void) graph_read_apply(g, r, /* deadline= */ 0);
                        graph_reads_free(r, n);
                }
                if (deadline && (done & 7) == 7 && now_monotonic() > deadline)
                        break;
        }
        return graph_busy(g);
}

bool graph_busy(const Graph *g) {
        return g->q_len > 0 || g->in_flight > 0;
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
                goto free_walk;

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
free_walk:
        free(longest);
        free(next);
        free(mark);
        free(stack);
        free(edge);
        return best;
}
