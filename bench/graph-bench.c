/* P8 (docs/performance.md): a synthetic 20,000-derivation closure, written as real .drv files in a
 * temporary store directory, resolved by the daemon's graph code the way the daemon does it
 * (turns of at most 256 files or 2 ms); prints the total time, the longest turn, and the
 * critical-path computation time, with a verdict against <= 1 s and <= 10 ms.
 *
 * usage: graph-bench [NODES (default 20000)] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/time-util.h"
#include "shared/graph.h"

#define TURN_FILES  256
#define TURN_BUDGET (2 * USEC_PER_MSEC)

static void drv_path(char *buf, size_t size, const char *store, int i) {
        snprintf(buf, size, "%s/%032d-pkg%d.drv", store, i, i);
}

int main(int argc, char **argv) {
        int n = argc > 1 ? atoi(argv[1]) : 20000;
        if (n < 1) {
                fprintf(stderr, "usage: graph-bench [NODES]\n");
                return 2;
        }
        char store[] = "/tmp/na-graph-bench.XXXXXX";
        if (!mkdtemp(store)) {
                perror("mkdtemp");
                return 1;
        }
        /* A layered DAG: each derivation needs up to 6 earlier ones (like a package set:
         * many small leaves, a few with wide inputs). Deterministic. */
        srand(42);
        usec_t t0 = now_monotonic();
        char path[512], in[512];
        for (int i = 0; i < n; i++) {
                drv_path(path, sizeof(path), store, i);
                FILE *f = fopen(path, "w");
                if (!f) {
                        perror(path);
                        return 1;
                }
                fprintf(f, "Derive([(\"out\",\"%s/%032d-pkg%d\",\"\",\"\")],[", store, n + i, i);
                int k = i == 0 ? 0 : rand() % 7;
                for (int j = 0; j < k; j++) {
                        int dep = i - 1 - rand() % (i < 200 ? i : 200);
                        drv_path(in, sizeof(in), store, dep);
                        fprintf(f, "%s(\"%s\",[\"out\"])", j ? "," : "", in);
                }
                fprintf(f, "],[],\"x86_64-linux\",\"/bin/sh\",[\"-c\",\"build %d\"],[(\"name\",\"pkg%d\")])",
                        i, i);
                fclose(f);
        }
        printf("wrote %d .drv files in %.2f s (%s)\n", n, (double) (now_monotonic() - t0) / 1e6, store);

        Graph *g;
        if (graph_new(store, (uint32_t) n + 1, &g) < 0)
                return 1;
        usec_t start = now_monotonic(), longest = 0;
        unsigned turns = 0;
        /* The plan arrives first ("these N derivations will be built"), then resolution runs
         * in turns between event reads. */
        for (int i = n - 1; i >= 0; i--) {
                drv_path(path, sizeof(path), store, i);
                graph_add(g, path, true);
        }
        usec_t added = now_monotonic() - start;
        for (;;) {
                usec_t t = now_monotonic();
                int more = graph_resolve(g, TURN_FILES, TURN_BUDGET);
                usec_t took = now_monotonic() - t;
                if (took > longest)
                        longest = took;
                turns++;
                if (!more)
                        break;
        }
        usec_t total = now_monotonic() - start;
        double *cost = calloc(g->n_nodes, sizeof(double));
        for (uint32_t i = 0; i < g->n_nodes; i++)
                cost[i] = 1.0 + (i % 10);
        usec_t c0 = now_monotonic();
        double cp = graph_critical_path(g, cost, NULL, NULL);
        usec_t cpt = now_monotonic() - c0;

        printf("nodes %u, files read %llu, plan added in %.1f ms\n", g->n_nodes,
               (unsigned long long) g->files_read, (double) added / 1e3);
        printf("resolved in %.1f ms over %u turns; longest turn %.2f ms\n", (double) total / 1e3, turns,
               (double) longest / 1e3);
        printf("critical path (%.0f) in %.2f ms\n", cp, (double) cpt / 1e3);
        bool ok = total <= USEC_PER_SEC && longest <= 10 * USEC_PER_MSEC && cpt <= 10 * USEC_PER_MSEC;
        printf("P8 verdict: %s (target: resolve <= 1000 ms, no stall > 10 ms)\n", ok ? "PASS" : "FAIL");
        free(cost);
        graph_free(g);
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", store);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", store);
        return ok ? 0 : 1;
}
