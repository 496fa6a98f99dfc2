/* Unit tests for src/shared/graph.c over a fake store directory: expansion of planned
 * derivations, cached inputs, unreadable and malformed .drv files, bounded resolution,
 * node limits, the critical path, and resolution split between a reading thread and the
 * graph's own (as the daemon does it). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "shared/graph.h"

static char store[] = "/tmp/test-graph.XXXXXX";

/* A store path "<store>/<hash of i>-<name><suffix>". */
static void path_of(char *buf, size_t size, int i, const char *name, const char *suffix) {
        snprintf(buf, size, "%s/%032d-%s%s", store, i, name, suffix);
        /* digits only are valid base-32 characters */
}

/* Writes drv i (name) with the given input drv indices and names; creates its output when
 * built. Returns nothing: asserts. */
static void make_drv(int i, const char *name, const int *inputs, const char *const *input_names, int n,
                     bool built) {
        char drv[512], out[512], in[512];
        path_of(drv, sizeof(drv), i, name, ".drv");
        path_of(out, sizeof(out), 1000 + i, name, "");
        FILE *f = fopen(drv, "w");
        assert_non_null(f);
        fprintf(f, "Derive([(\"out\",\"%s\",\"\",\"\")],[", out);
        for (int k = 0; k < n; k++) {
                path_of(in, sizeof(in), inputs[k], input_names[k], ".drv");
                fprintf(f, "%s(\"%s\",[\"out\"])", k ? "," : "", in);
        }
        fprintf(f, "],[],\"x86_64-linux\",\"/bin/sh\",[],[(\"name\",\"%s\")])", name);
        fclose(f);
        if (built) {
                f = fopen(out, "w");
                assert_non_null(f);
                fclose(f);
        }
}

static int setup(void **state) {
        strcpy(store, "/tmp/test-graph.XXXXXX");
        assert_non_null(mkdtemp(store));
        return 0;
}

static int teardown(void **state) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", store);
        return system(cmd) == 0 ? 0 : -1;
}

static int add(Graph *g, int i, const char *name, bool planned) {
        char drv[512];
        path_of(drv, sizeof(drv), i, name, ".drv");
        return graph_add(g, drv, planned);
}

static GraphNode *node(Graph *g, int i, const char *name) {
        char drv[512];
        path_of(drv, sizeof(drv), i, name, ".drv");
        return graph_find(g, drv);
}

/*   top -> a -> lib (cached: built before, not planned)
 *       -> b -> a
 *       -> bad (malformed) */
static void test_expand(void **state) {
        make_drv(1, "lib", NULL, NULL, 0, true);
        make_drv(2, "a", (int[]){1}, (const char *[]){"lib"}, 1, false);
        make_drv(3, "b", (int[]){2}, (const char *[]){"a"}, 1, false);
        char bad[512];
        path_of(bad, sizeof(bad), 4, "bad", ".drv");
        FILE *f = fopen(bad, "w");
        assert_non_null(f);
        fputs("Derive([(\"out\",", f);
        fclose(f);
        make_drv(5, "top", (int[]){2, 3, 4}, (const char *[]){"a", "b", "bad"}, 3, false);

        Graph *g;
        assert_int_equal(graph_new(store, 100, &g), 0);
        /* The invocation announces its builds (top first, then the others). */
        assert_true(add(g, 5, "top", true) >= 0);
        assert_true(graph_busy(g));
        /* one file per call: incremental */
        assert_int_equal(graph_resolve(g, 1, 0), 1);
        assert_int_equal(node(g, 5, "top")->n_inputs, 3);
        assert_true(add(g, 2, "a", true) >= 0);
        assert_true(add(g, 3, "b", true) >= 0);
        assert_true(add(g, 4, "bad", true) >= 0);
        while (graph_resolve(g, 1, 0) > 0)
                ;
        assert_int_equal(g->n_nodes, 5);
        assert_int_equal(node(g, 2, "a")->n_inputs, 1);
        assert_int_equal(node(g, 3, "b")->n_inputs, 1);
        GraphNode *lib = node(g, 1, "lib");
        assert_false(lib->planned);
        assert_int_equal(lib->outputs, 1); /* cached */
        assert_string_equal(lib->name, "lib");
        assert_int_equal(node(g, 4, "bad")->error, -EBADMSG);
        assert_int_equal(node(g, 4, "bad")->n_inputs, 0);

        /* critical path: costs top 1, a 5, b 2, bad 10, lib 0: max(a, b+a, bad) + top */
        double cost[5] = {};
        cost[node(g, 5, "top")->index] = 1;
        cost[node(g, 2, "a")->index] = 5;
        cost[node(g, 3, "b")->index] = 2;
        cost[node(g, 4, "bad")->index] = 10;
        uint32_t *path = NULL, len = 0;
        double cp = graph_critical_path(g, cost, &path, &len);
        assert_true(cp == 11.0); /* top + bad */
        assert_int_equal(len, 2);
        free(path);
        cost[node(g, 4, "bad")->index] = 3;
        cp = graph_critical_path(g, cost, &path, &len);
        assert_true(cp == 8.0); /* top + b + a */
        assert_int_equal(len, 3);
        assert_int_equal(path[0], node(g, 5, "top")->index);
        assert_int_equal(path[2], node(g, 2, "a")->index);
        free(path);
        graph_free(g);
}

static void test_missing_and_limits(void **state) {
        /* a planned drv that does not exist */
        Graph *g;
        assert_int_equal(graph_new(store, 3, &g), 0);
        assert_true(add(g, 9, "gone", true) >= 0);
        assert_int_equal(graph_resolve(g, 10, 0), 0);
        assert_int_equal(node(g, 9, "gone")->error, -ENOENT);
        /* a path outside the store is never read as an input */
        assert_int_equal(graph_add(g, "/etc/passwd", false) >= 0, true);
        graph_free(g);

        /* more inputs than max_nodes: truncated, not an error */
        make_drv(1, "x", NULL, NULL, 0, false);
        make_drv(2, "y", NULL, NULL, 0, false);
        make_drv(3, "z", NULL, NULL, 0, false);
        make_drv(4, "w", (int[]){1, 2, 3}, (const char *[]){"x", "y", "z"}, 3, false);
        assert_int_equal(graph_new(store, 3, &g), 0);
        assert_true(add(g, 4, "w", true) >= 0);
        while (graph_resolve(g, 100, 0) > 0)
                ;
        assert_int_equal(g->n_nodes, 3);
        assert_true(g->truncated);
        assert_int_equal(add(g, 7, "more", true), -ENOSPC);
        graph_free(g);
}

static void test_deep_chain(void **state) {
        /* 5,000 derivations in one chain: the critical path does not recurse. */
        enum { N = 5000 };
        Graph *g;
        assert_int_equal(graph_new(store, N + 1, &g), 0);
        char name[32];
        for (int i = 0; i < N; i++) {
                char prev[32];
                snprintf(name, sizeof(name), "c%d", i);
                snprintf(prev, sizeof(prev), "c%d", i - 1);
                if (i == 0)
                        make_drv(i, name, NULL, NULL, 0, false);
                else
                        make_drv(i, name, (int[]){i - 1}, (const char *[]){prev}, 1, false);
        }
        for (int i = N - 1; i >= 0; i--) {
                snprintf(name, sizeof(name), "c%d", i);
                assert_true(add(g, i, name, true) >= 0);
        }
        while (graph_resolve(g, 64, 0) > 0)
                ;
        double *cost = calloc(N, sizeof(double));
        for (int i = 0; i < N; i++)
                cost[i] = 1;
        assert_true(graph_critical_path(g, cost, NULL, NULL) == (double) N);
        free(cost);
        graph_free(g);
}

typedef struct Reads {
        GraphRead *r;
        size_t n;
} Reads;

static void *read_thread(void *userdata) {
        Reads *reads = userdata;
        for (size_t i = 0; i < reads->n; i++)
                graph_read_run(store, &reads->r[i]);
        return NULL;
}

/* Takes everything queued, reads it on another thread, applies it
 * with an expired deadline (so a large read is applied in several calls). Returns how many
 * apply calls said "not finished". */
static unsigned resolve_split(Graph *g) {
        unsigned partial = 0;
        while (graph_busy(g)) {
                Reads reads;
                assert_int_equal(graph_take(g, 1000, &reads.r, &reads.n), 0);
                assert_true(graph_busy(g)); /* taken, not applied: still resolving */
                pthread_t t;
                assert_int_equal(pthread_create(&t, NULL, read_thread, &reads), 0);
                assert_int_equal(pthread_join(t, NULL), 0);
                for (size_t i = 0; i < reads.n; i++) {
                        int r;
                        while ((r = graph_read_apply(g, &reads.r[i], /* deadline= */ 1)) > 0)
                                partial++;
                        assert_int_equal(r, 0);
                }
                graph_reads_free(reads.r, reads.n);
        }
        return partial;
}

static void plan_more(Graph *g) {
        /* dep7 was queued as a mere input (its read is out); now the invocation builds it */
        assert_true(add(g, 107, "dep7", true) >= 0);
}

/*   top -> dep0 ... dep299 (dep7 -> lib), dep0 built before */
static void test_split(void **state) {
        enum { N = 300 };
        int ins[N];
        const char *names[N];
        char name[N][16];
        make_drv(1, "lib", NULL, NULL, 0, true);
        for (int i = 0; i < N; i++) {
                snprintf(name[i], sizeof(name[i]), "dep%d", i);
                ins[i] = 100 + i;
                names[i] = name[i];
                if (i == 7)
                        make_drv(100 + i, name[i], (int[]){1}, (const char *[]){"lib"}, 1, false);
                else
                        make_drv(100 + i, name[i], NULL, NULL, 0, i == 0);
        }
        make_drv(2, "top", ins, names, N, false);

        Graph *g, *ref;
        assert_int_equal(graph_new(store, 1000, &g), 0);
        assert_int_equal(graph_new(store, 1000, &ref), 0);
        assert_true(add(g, 2, "top", true) >= 0);
        assert_true(add(ref, 2, "top", true) >= 0);
        assert_true(resolve_split(g) >= 3); /* 300 inputs, 64 per call at most */
        while (graph_resolve(ref, 16, 0) > 0)
                ;
        assert_int_equal(g->n_nodes, ref->n_nodes);
        assert_int_equal(g->n_nodes, N + 1);
        assert_int_equal(g->files_read, ref->files_read);
        for (uint32_t i = 0; i < g->n_nodes; i++) {
                GraphNode *a = g->nodes[i], *b = graph_find(ref, a->drv);
                assert_non_null(b);
                assert_int_equal(a->n_inputs, b->n_inputs);
                assert_int_equal(a->outputs, b->outputs);
                assert_int_equal(a->error, b->error);
                assert_int_equal(a->taken, 0);
                for (uint32_t k = 0; k < a->n_inputs; k++)
                        assert_string_equal(g->nodes[a->inputs[k]]->drv, ref->nodes[b->inputs[k]]->drv);
        }
        assert_int_equal(node(g, 100, "dep0")->outputs, 1);
        assert_int_equal(node(g, 101, "dep1")->outputs, 0);
        assert_int_equal(g->in_flight, 0);
        graph_free(ref);
        graph_free(g);

        /* Planned while its read for outputs only was out: read again and expanded. */
        assert_int_equal(graph_new(store, 1000, &g), 0);
        assert_true(add(g, 2, "top", true) >= 0);
        Reads reads;
        assert_int_equal(graph_take(g, 1, &reads.r, &reads.n), 0);
        assert_int_equal(reads.n, 1);
        read_thread(&reads);
        while (graph_read_apply(g, &reads.r[0], 0) > 0)
                ;
        graph_reads_free(reads.r, reads.n);
        Reads first, second;
        assert_int_equal(graph_take(g, 1000, &first.r, &first.n), 0);
        assert_int_equal(first.n, N);
        plan_more(g);
        assert_int_equal(graph_take(g, 1000, &second.r, &second.n), 0);
        assert_int_equal(second.n, 1); /* dep7 again, now to expand */
        assert_true(second.r[0].planned);
        read_thread(&first);
        read_thread(&second);
        for (size_t i = 0; i < first.n; i++)
                assert_int_equal(graph_read_apply(g, &first.r[i], 0), 0);
        assert_int_equal(graph_read_apply(g, &second.r[0], 0), 0);
        graph_reads_free(first.r, first.n);
        graph_reads_free(second.r, second.n);
        resolve_split(g);
        GraphNode *dep7 = node(g, 107, "dep7");
        assert_true(dep7->planned && dep7->expanded);
        assert_int_equal(dep7->n_inputs, 1);
        assert_non_null(node(g, 1, "lib"));
        assert_int_equal(node(g, 1, "lib")->outputs, 1);
        assert_false(graph_busy(g));
        graph_free(g);

        /* A read dropped (never run) puts its node back in the queue. */
        assert_int_equal(graph_new(store, 1000, &g), 0);
        assert_true(add(g, 2, "top", true) >= 0);
        assert_int_equal(graph_take(g, 1, &reads.r, &reads.n), 0);
        assert_int_equal(g->q_len, 0);
        graph_read_drop(g, &reads.r[0]);
        graph_reads_free(reads.r, reads.n);
        assert_int_equal(g->q_len, 1);
        assert_int_equal(g->in_flight, 0);
        resolve_split(g);
        assert_int_equal(g->n_nodes, N + 1);
        graph_free(g);
}

/* keep(), as the daemon's: the planned nodes whose build_key is not in the "gone" list
 * (inputs stay only while a kept node needs them). */
static bool keep_not_gone(const GraphNode *n, void *userdata) {
        const uint64_t *gone = userdata;
        if (!n->planned)
                return false;
        for (; *gone; gone++)
                if (n->build_key == *gone)
                        return false;
        return true;
}

/* An invocation that never ends: its early builds' nodes go once the daemon forgets those
 * builds, unless a build it still knows needs them; the rest keep their facts and edges. */
static void test_compact(void **state) {
        /* old1 -> lib (cached); old2; keep -> old2 (an input of a node kept); new -> lib */
        make_drv(1, "lib", NULL, NULL, 0, true);
        make_drv(2, "old1", (int[]){1}, (const char *[]){"lib"}, 1, true);
        make_drv(3, "old2", NULL, NULL, 0, true);
        make_drv(4, "keep", (int[]){3}, (const char *[]){"old2"}, 1, false);
        make_drv(5, "new", (int[]){1}, (const char *[]){"lib"}, 1, false);
        make_drv(6, "only-old", NULL, NULL, 0, true);
        make_drv(7, "old3", (int[]){6}, (const char *[]){"only-old"}, 1, true);

        Graph *g;
        assert_int_equal(graph_new(store, 100, &g), 0);
        const struct {
                int i;
                const char *name;
        } planned[] = {{2, "old1"}, {3, "old2"}, {7, "old3"}, {4, "keep"}, {5, "new"}};
        for (size_t k = 0; k < sizeof(planned) / sizeof(planned[0]); k++) {
                int r = add(g, planned[k].i, planned[k].name, true);
                assert_true(r >= 0);
                g->nodes[r]->build_key = 100 + planned[k].i;
        }
        /* Busy: reads name nodes by index. */
        uint64_t gone[] = {102, 103, 107, 0};
        assert_int_equal(graph_compact(g, keep_not_gone, gone), -EBUSY);
        while (graph_resolve(g, 8, 0) > 0)
                ;
        assert_int_equal(g->n_nodes, 7);

        /* old1 and old3 go, and only-old with them (nobody else needs it); old2 stays, keep
         * needs it; lib stays, new needs it. */
        assert_int_equal(graph_compact(g, keep_not_gone, gone), 3);
        assert_int_equal(g->n_nodes, 4);
        assert_null(node(g, 2, "old1"));
        assert_null(node(g, 7, "old3"));
        assert_null(node(g, 6, "only-old"));
        for (uint32_t i = 0; i < g->n_nodes; i++)
                assert_int_equal(g->nodes[i]->index, i);
        GraphNode *k = node(g, 4, "keep"), *n = node(g, 5, "new");
        assert_non_null(k);
        assert_non_null(n);
        assert_int_equal(k->n_inputs, 1);
        assert_ptr_equal(g->nodes[k->inputs[0]], node(g, 3, "old2"));
        assert_int_equal(n->n_inputs, 1);
        assert_ptr_equal(g->nodes[n->inputs[0]], node(g, 1, "lib"));
        assert_int_equal(node(g, 1, "lib")->outputs, 1);

        /* The graph goes on: a new build joins, and the critical path reads the new indices. */
        make_drv(8, "later", (int[]){5}, (const char *[]){"new"}, 1, false);
        int r = add(g, 8, "later", true);
        assert_int_equal(r, 4);
        while (graph_resolve(g, 8, 0) > 0)
                ;
        double cost[5] = {};
        cost[node(g, 8, "later")->index] = 1;
        cost[n->index] = 2;
        cost[k->index] = 10;
        uint32_t *path = NULL, len = 0;
        assert_true(graph_critical_path(g, cost, &path, &len) == 10.0);
        assert_int_equal(len, 1);
        assert_int_equal(path[0], k->index);
        free(path);

        /* Nothing to drop: nothing moves. */
        uint64_t none[] = {0};
        assert_int_equal(graph_compact(g, keep_not_gone, none), 0);
        assert_int_equal(g->n_nodes, 5);
        graph_free(g);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_expand, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_and_limits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deep_chain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_split, setup, teardown),
                cmocka_unit_test_setup_teardown(test_compact, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
