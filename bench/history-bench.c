/* P9 (docs/performance.md): a history database of 1,000,000 rows, then the two questions the
 * TUI and CLI ask most: "the last 100 builds" and "the ETA for this name". Prints medians
 * over repeated runs and a verdict against <= 5 ms each. Also times retention (prune).
 *
 * usage: history-bench [ROWS (default 1000000)] [DB (default: a temporary file)] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/eta.h"
#include "shared/history.h"

#define REPEATS 101
#define BATCH   10000

static int cmp(const void *a, const void *b) {
        usec_t x = *(const usec_t *) a, y = *(const usec_t *) b;
        return (x > y) - (x < y);
}

static double median_ms(usec_t *v, size_t n) {
        qsort(v, n, sizeof(usec_t), cmp);
        return (double) v[n / 2] / 1e3;
}

int main(int argc, char **argv) {
        long rows = argc > 1 ? atol(argv[1]) : 1000000;
        char path[256];
        if (argc > 2)
                snprintf(path, sizeof(path), "%s", argv[2]);
        else
                snprintf(path, sizeof(path), "/tmp/na-history-bench-%d.db", (int) getpid());
        History *h;
        char *err = NULL;
        if (history_open(path, 0, &h, &err) < 0) {
                fprintf(stderr, "cannot open %s: %s\n", path, err ? err : "?");
                return 1;
        }
        uint64_t have = 0;
        history_count(h, &have);
        usec_t t0 = now_monotonic(), base = 1700000000 * USEC_PER_SEC;
        HistoryRecord *batch = calloc(BATCH, sizeof(HistoryRecord));
        char drv[128], name[64];
        /* 2,000 packages, versions, 3 machines, 20 users, 5 % failures. */
        for (long i = (long) have; i < rows; i += BATCH) {
                long n = rows - i < BATCH ? rows - i : BATCH;
                for (long k = 0; k < n; k++) {
                        long j = i + k;
                        snprintf(drv, sizeof(drv), "/nix/store/%032ld-pkg%ld-1.%ld.drv", j, j % 2000, j % 7);
                        snprintf(name, sizeof(name), "pkg%ld-1.%ld", j % 2000, j % 7);
                        HistoryRecord *r = &batch[k];
                        *r = (HistoryRecord){
                                .kind = strdup("build"),
                                .drv = strdup(drv),
                                .name = strdup(name),
                                .requester_uid = 1000 + j % 20,
                                .exit_code = -1,
                                .queued = base + (usec_t) j * USEC_PER_SEC,
                                .started = base + (usec_t) j * USEC_PER_SEC,
                                .finished = base + (usec_t) j * USEC_PER_SEC +
                                            (usec_t) (1 + j % 600) * USEC_PER_SEC,
                        };
                        r->pname = strndup(name, strcspn(name, "-"));
                        r->machine = strdup(j % 3 == 0 ? "" : j % 3 == 1 ? "ssh://a" : "ssh://b");
                        r->state = strdup(j % 20 == 0 ? "failed" : "succeeded");
                        r->log_tail = strdup("a log line\nanother log line");
                }
                if (history_insert(h, batch, (size_t) n) < 0) {
                        fprintf(stderr, "insert failed: %s\n", history_errmsg(h));
                        return 1;
                }
                for (long k = 0; k < n; k++)
                        history_record_done(&batch[k]);
        }
        free(batch);
        history_count(h, &have);
        printf("%llu rows (filled in %.1f s) in %s\n", (unsigned long long) have,
               (double) (now_monotonic() - t0) / 1e6, path);
        history_close(h);
        /* Queries on a read-only handle, as the daemon makes them. */
        if (history_open(path, HISTORY_OPEN_READONLY, &h, &err) < 0) {
                fprintf(stderr, "cannot reopen: %s\n", err ? err : "?");
                return 1;
        }

        usec_t last100[REPEATS], last100_total[REPEATS], by_name[REPEATS], eta[REPEATS];
        for (int i = 0; i < REPEATS; i++) {
                cJSON *rowsj = NULL;
                uint64_t total;
                HistoryQuery q = {.order = HISTORY_ORDER_FINISHED, .limit = 100};
                usec_t t = now_monotonic();
                history_query(h, &q, 0, &rowsj, &total);
                last100[i] = now_monotonic() - t;
                cJSON_Delete(rowsj);

                q.count = true;
                t = now_monotonic();
                history_query(h, &q, 0, &rowsj, &total);
                last100_total[i] = now_monotonic() - t;
                cJSON_Delete(rowsj);

                q = (HistoryQuery){.order = HISTORY_ORDER_FINISHED, .limit = 100, .count = true};
                snprintf(name, sizeof(name), "pkg%d-1.*", i % 2000);
                q.filter.name = name;
                t = now_monotonic();
                history_query(h, &q, 0, &rowsj, &total);
                by_name[i] = now_monotonic() - t;
                cJSON_Delete(rowsj);

                char pname[32];
                snprintf(pname, sizeof(pname), "pkg%d", (i * 37) % 2000);
                double v[ETA_SAMPLES];
                BuildEta e;
                t = now_monotonic();
                int n = history_recent_durations(h, pname, "ssh://a", 1000 + i % 20, ETA_SAMPLES, 0, v,
                                                 NULL);
                if (n > 0)
                        eta_from_durations(v, (size_t) n, false, &e);
                eta[i] = now_monotonic() - t;
        }
        double m1 = median_ms(last100, REPEATS), m2 = median_ms(last100_total, REPEATS),
               m3 = median_ms(by_name, REPEATS), m4 = median_ms(eta, REPEATS);
        printf("last 100 builds:                 median %.3f ms\n", m1);
        printf("last 100 builds + total count:   median %.3f ms\n", m2);
        printf("last 100 by name glob + count:   median %.3f ms\n", m3);
        printf("ETA for a name (10 samples):     median %.3f ms\n", m4);
        /* stats over every row (the daemon's default is the last 30 days, and it interrupts a
         * query past 250 ms): how long the whole-history question takes. */
        HistoryFilter all = {};
        cJSON *stats = NULL;
        usec_t t = now_monotonic();
        int r = history_stats(h, &all, 10, 0, &stats);
        printf("stats over all rows:             %.1f ms%s\n", (double) (now_monotonic() - t) / 1e3,
               r < 0 ? " (failed)" : "");
        cJSON_Delete(stats);
        HistoryFilter day = {.since = base + 86400 * USEC_PER_SEC * 10};
        t = now_monotonic();
        r = history_stats(h, &day, 10, 0, &stats);
        printf("stats over the last day of rows: %.1f ms%s\n", (double) (now_monotonic() - t) / 1e3,
               r < 0 ? " (failed)" : "");
        cJSON_Delete(stats);
        history_close(h);

        bool ok = m1 <= 5 && m4 <= 5;
        printf("P9 verdict: %s (target: last 100 and ETA <= 5 ms with %llu rows)\n", ok ? "PASS" : "FAIL",
               (unsigned long long) have);
        if (argc <= 2) {
                unlink(path);
                char aux[300];
                snprintf(aux, sizeof(aux), "%s-wal", path);
                unlink(aux);
                snprintf(aux, sizeof(aux), "%s-shm", path);
                unlink(aux);
        }
        return ok ? 0 : 1;
}
