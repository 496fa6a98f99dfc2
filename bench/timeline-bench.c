/* The after-the-fact store (issue 19, docs/performance.md "Replay"): what the timelines cost.
 * Two history databases of the same ROWS builds, filled side by side in batches: A as before
 * (no timeline, no phases), B with each build's timeline (1 s samples through timeline_add,
 * as the daemon makes them) and three phases. Builds as a busy builder runs them: 8 at once,
 * durations 70 % 5 s - 1 min, 25 % 1 - 10 min, 5 % 10 min - 2 h. B also has the machine's
 * samples over the same span, thinned as retention thins them (10 s for the last week, one a
 * minute before). Prints the insert cost per row of each, the file sizes, the disk per
 * build-hour of timeline and per year of machine samples, and the time of `at` (history_at
 * and the machine sample) at random instants: median and p99 against <= 50 ms.
 *
 * usage: timeline-bench [ROWS (default 1000000)] [DIR (default /tmp)] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/history.h"
#include "shared/timeline.h"

#define BATCH     5000
#define SLOTS     8
#define REPEATS   201
#define TARGET_MS 50.0

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

/* Seconds a build lasts. */
static uint32_t draw_duration(void) {
        uint64_t k = next_rand() % 100;
        if (k < 70)
                return 5 + (uint32_t) (next_rand() % 55);
        if (k < 95)
                return 60 + (uint32_t) (next_rand() % 540);
        return 600 + (uint32_t) (next_rand() % 6600);
}

static int cmp(const void *a, const void *b) {
        usec_t x = *(const usec_t *) a, y = *(const usec_t *) b;
        return (x > y) - (x < y);
}

static off_t file_size(const char *path) {
        struct stat st;
        char wal[600];
        off_t n = stat(path, &st) == 0 ? st.st_size : 0;
        snprintf(wal, sizeof(wal), "%s-wal", path);
        return n + (stat(wal, &st) == 0 ? st.st_size : 0);
}

static History *open_db(const char *path) {
        History *h;
        char *err = NULL;
        unlink(path);
        if (history_open(path, 0, &h, &err) < 0) {
                fprintf(stderr, "cannot open %s: %s\n", path, err ? err : "?");
                exit(1);
        }
        return h;
}

int main(int argc, char **argv) {
        long rows = argc > 1 ? atol(argv[1]) : 1000000;
        const char *dir = argc > 2 ? argv[2] : "/tmp";
        char path_a[512], path_b[512];
        snprintf(path_a, sizeof(path_a), "%s/na-timeline-bench-a-%d.db", dir, (int) getpid());
        snprintf(path_b, sizeof(path_b), "%s/na-timeline-bench-b-%d.db", dir, (int) getpid());
        History *a = open_db(path_a), *b = open_db(path_b);

        HistoryRecord *batch = calloc(BATCH, sizeof(HistoryRecord));
        usec_t base = 1700000000 * USEC_PER_SEC, slot_free[SLOTS];
        for (int s = 0; s < SLOTS; s++)
                slot_free[s] = base;
        usec_t insert_a = 0, insert_b = 0, end = base;
        double build_hours = 0, timeline_bytes = 0;
        char drv[128], name[64];
        for (long i = 0; i < rows; i += BATCH) {
                long n = rows - i < BATCH ? rows - i : BATCH;
                for (long k = 0; k < n; k++) {
                        long j = i + k;
                        int s = (int) (j % SLOTS);
                        uint32_t dur = draw_duration();
                        usec_t start = slot_free[s] + 2 * USEC_PER_SEC,
                               fin = start + (usec_t) dur * USEC_PER_SEC;
                        slot_free[s] = fin;
                        end = fin > end ? fin : end;
                        build_hours += dur / 3600.0;
                        snprintf(drv, sizeof(drv), "/nix/store/%032ld-pkg%ld-1.%ld.drv", j, j % 2000, j % 7);
                        snprintf(name, sizeof(name), "pkg%ld-1.%ld", j % 2000, j % 7);
                        HistoryRecord *r = &batch[k];
                        *r = (HistoryRecord){
                                .kind = strdup("build"),
                                .drv = strdup(drv),
                                .name = strdup(name),
                                .pname = strndup(name, strcspn(name, "-")),
                                .machine = strdup(""),
                                .state = strdup(j % 20 == 0 ? "failed" : "succeeded"),
                                .requester_uid = 1000 + j % 20,
                                .exit_code = -1,
                                .queued = start,
                                .started = start,
                                .finished = fin,
                                .log_tail = strdup("a log line\nanother log line"),
                        };
                }
                usec_t t = now_monotonic();
                if (history_insert(a, batch, (size_t) n) < 0) {
                        fprintf(stderr, "insert failed: %s\n", history_errmsg(a));
                        return 1;
                }
                insert_a += now_monotonic() - t;
                /* The same rows with their timelines and phases. */
                for (long k = 0; k < n; k++) {
                        HistoryRecord *r = &batch[k];
                        Timeline tl = {};
                        uint32_t dur = (uint32_t) ((r->finished - r->started) / USEC_PER_SEC);
                        for (uint32_t x = 1; x <= dur; x++)
                                (void) timeline_add(&tl, r->started + (usec_t) x * USEC_PER_SEC,
                                                    (double) (next_rand() % 400), (next_rand() % 4096) << 20,
                                                    1 + (uint32_t) (next_rand() % 40), (uint64_t) x << 20,
                                                    (double) (next_rand() % 100));
                        /* As history_record_from_build keeps it. */
                        Timeline thin;
                        (void) timeline_thin(&tl, HISTORY_TIMELINE_POINTS, HISTORY_TIMELINE_STEP, &thin);
                        (void) timeline_encode(&thin, &r->timeline, &r->timeline_len);
                        timeline_bytes += (double) r->timeline_len;
                        timeline_done(&thin);
                        timeline_done(&tl);
                        char phases[256];
                        snprintf(phases, sizeof(phases),
                                 "[{\"name\":\"configurePhase\",\"start\":%.1f,\"duration\":%u},"
                                 "{\"name\":\"buildPhase\",\"start\":%.1f,\"duration\":%u},"
                                 "{\"name\":\"installPhase\",\"start\":%.1f,\"duration\":%u}]",
                                 (double) r->started / 1e6, dur / 10, (double) r->started / 1e6 + dur / 10.0,
                                 dur * 8 / 10, (double) r->started / 1e6 + dur * 0.9, dur / 10);
                        r->phases = strdup(phases);
                }
                t = now_monotonic();
                if (history_insert(b, batch, (size_t) n) < 0) {
                        fprintf(stderr, "insert failed: %s\n", history_errmsg(b));
                        return 1;
                }
                insert_b += now_monotonic() - t;
                for (long k = 0; k < n; k++)
                        history_record_done(&batch[k]);
        }
        free(batch);

        history_close(a);
        history_close(b);
        off_t size_a = file_size(path_a), before_machine = file_size(path_b);
        char *err = NULL;
        if (history_open(path_b, 0, &b, &err) < 0) {
                fprintf(stderr, "cannot reopen: %s\n", err ? err : "?");
                return 1;
        }

        /* The machine's samples over the span, as retention leaves them. */
        usec_t week = HISTORY_MACHINE_FULL_USEC, t_machine = 0;
        size_t n_machine = 0;
        MachineSample ms[1000];
        size_t m = 0;
        for (usec_t t = base; t <= end; t += 10 * USEC_PER_SEC) {
                if (t + week < end && (t / USEC_PER_SEC) % 60 >= 10)
                        continue;
                ms[m++] = (MachineSample){.t = t,
                                          .cpu = (double) (next_rand() % 100),
                                          .load1 = 4.2,
                                          .mem_total = 64ull << 30,
                                          .mem_used = (next_rand() % 64) << 30,
                                          .psi_cpu = 1,
                                          .psi_mem = 0.5,
                                          .psi_io = 2,
                                          .builds = SLOTS};
                if (m == 1000) {
                        usec_t t0 = now_monotonic();
                        history_insert_machine_samples(b, ms, m);
                        t_machine += now_monotonic() - t0;
                        n_machine += m;
                        m = 0;
                }
        }
        history_insert_machine_samples(b, ms, m);
        n_machine += m;
        history_close(b);

        double span_days = (double) (end - base) / 86400e6;
        off_t size_b = file_size(path_b);
        printf("%ld builds, %d at once, over %.0f days: %.0f build-hours; %zu machine samples\n", rows,
               SLOTS, span_days, build_hours, n_machine);
        printf("insert per build row: without timeline %.1f us, with timeline and phases %.1f us (x%.2f)\n",
               (double) insert_a / (double) rows, (double) insert_b / (double) rows,
               (double) insert_b / (double) insert_a);
        printf("file: without %.1f MiB, with %.1f MiB (machine samples %.1f MiB of it)\n",
               size_a / 1048576.0, size_b / 1048576.0, (size_b - before_machine) / 1048576.0);
        printf("timeline blobs: %.0f bytes per build on average, %.1f KiB per build-hour of disk\n",
               timeline_bytes / (double) rows, (double) (before_machine - size_a) / 1024.0 / build_hours);
        printf("machine samples: %.1f MiB per year (a week at 10 s, then one a minute), %.1f us per sample "
               "to insert\n",
               (double) (size_b - before_machine) / 1048576.0 * 365.0 / (span_days > 0 ? span_days : 1),
               (double) t_machine / (double) (n_machine ? n_machine : 1));

        /* `at` on a read-only handle, as the daemon asks it. */
        History *h;
        if (history_open(path_b, HISTORY_OPEN_READONLY, &h, &err) < 0) {
                fprintf(stderr, "cannot reopen: %s\n", err ? err : "?");
                return 1;
        }
        usec_t took[REPEATS];
        size_t found = 0;
        for (int i = 0; i < REPEATS; i++) {
                usec_t at = base + next_rand() % (end - base);
                usec_t t0 = now_monotonic();
                cJSON *builds = NULL;
                MachineSample sample;
                if (history_at(h, at, 0, &builds) < 0) {
                        fprintf(stderr, "history_at failed: %s\n", history_errmsg(h));
                        return 1;
                }
                (void) history_machine_sample_at(h, at, 70 * USEC_PER_SEC, &sample);
                took[i] = now_monotonic() - t0;
                found += (size_t) cJSON_GetArraySize(builds);
                cJSON_Delete(builds);
        }
        history_close(h);
        qsort(took, REPEATS, sizeof(usec_t), cmp);
        double median = (double) took[REPEATS / 2] / 1e3, p99 = (double) took[REPEATS * 99 / 100] / 1e3;
        printf("at an instant: median %.2f ms, p99 %.2f ms (%.1f builds running on average)\n", median, p99,
               (double) found / REPEATS);
        printf("verdict replay: %s (p99 %.2f ms <= %.0f ms)\n", p99 <= TARGET_MS ? "PASS" : "FAIL", p99,
               TARGET_MS);
        unlink(path_a);
        unlink(path_b);
        return p99 <= TARGET_MS ? 0 : 1;
}
