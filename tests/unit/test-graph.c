/* Unit tests for src/shared/graph.c over a fake store directory: expansion of planned
 * derivations, cached inputs, unreadable and malformed .drv files, bounded resolution,
 * node limits, and the critical path. */
#include <errno.h>
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_expand, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_and_limits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deep_chain, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
