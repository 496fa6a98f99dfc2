/* The plugin core's cost per record, the part of P2/P3 (docs/performance.md) the plugin itself adds
 * to Nix: a build activity of N log lines (each a resBuildLogLine result, as a nix-daemon
 * worker reports them) emitted through the real core (src/plugin/core.c) to a Unix socket
 * whose reader is live (drains it), stalled (never reads: nix-analyticsd SIGSTOPped) or
 * absent (no socket), at the pace of a fast build through nix-daemon (200 k lines/s by default,
 * Nix 2.8 manages ~150 k). Each run is a fresh process (the core is process-wide state). Prints,
 * per mode, the median over the runs of the emitting thread's CPU time per record (what the
 * Nix thread pays), the whole process's (the flusher thread included) and the records the
 * reader got.
 *
 * usage: plugin-core-bench [RECORDS (default 200000)] [RUNS (default 7)] [RATE (default 200000)] */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plugin/core.h"

typedef enum Mode { MODE_LIVE, MODE_STALLED, MODE_ABSENT, _MODE_MAX } Mode;
static const char *const mode_name[] = {"live", "stalled", "absent"};

typedef struct Result {
        double thread_ns, process_ns; /* CPU per record */
        unsigned long long lines_read;
} Result;

static char sock_path[108];

static int bench_socket_path(char *buf, size_t size) {
        size_t l = strlen(sock_path);
        if (l >= size)
                return -1;
        memcpy(buf, sock_path, l + 1);
        return (int) l;
}

static double cpu_ns(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}

typedef struct Reader {
        int listen_fd;
        unsigned long long lines;
} Reader;

static void *reader_main(void *arg) {
        Reader *r = arg;
        char buf[1 << 16];
        int fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return NULL;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n <= 0)
                        break;
                unsigned long long k = 0;
                for (ssize_t i = 0; i < n; i++)
                        k += buf[i] == '\n';
                __atomic_add_fetch(&r->lines, k, __ATOMIC_RELAXED);
        }
        close(fd);
        return NULL;
}

/* In a fresh child: the whole run; the figures go back through fd. */
static int child_run(Mode mode, long records, long rate, int out_fd) {
        Reader reader = {.listen_fd = -1};
        pthread_t rt;
        Result res = {0};

        if (mode != MODE_ABSENT) {
                struct sockaddr_un sa = {.sun_family = AF_UNIX};
                memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
                reader.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (reader.listen_fd < 0 ||
                    bind(reader.listen_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
                    listen(reader.listen_fd, 8) < 0) {
                        perror("plugin-core-bench: listen");
                        return 1;
                }
                /* Stalled: the connection is queued, never accepted, never read. */
                if (mode == MODE_LIVE && pthread_create(&rt, NULL, reader_main, &reader) != 0)
                        return 1;
        }

        na_core_init("2.8.0", bench_socket_path);
        NaField start_fields[1] = {{.is_string = true, .s = "/nix/store/x-bench.drv", .len = 22}};
        na_emit_start(NA_ROLE_CLI, 42, 0, 105, "building bench", 14, start_fields, 1, 0);

        char line[160];
        double t0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID), p0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
        double w0 = cpu_ns(CLOCK_MONOTONIC);
        for (long i = 1; i <= records; i++) {
                if (i % 1000 == 0) { /* the pace: sleeping is no CPU time */
                        double ahead = w0 + (double) i * 1e9 / (double) rate - cpu_ns(CLOCK_MONOTONIC);
                        if (ahead > 0) {
                                struct timespec ts = {.tv_sec = (time_t) (ahead / 1e9),
                                                      .tv_nsec = (long) ((long long) ahead % 1000000000LL)};
                                nanosleep(&ts, NULL);
                        }
                }
                int l = snprintf(
                        line, sizeof(line),
                        "bench line %ld: some text of a usual build log line length, like a compiler", i);
                NaField f = {.is_string = true, .s = line, .len = (size_t) l};
                na_emit_result(NA_ROLE_CLI, 42, 101, &f, 1);
        }
        double t1 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
        na_emit_stop(NA_ROLE_CLI, 42);
        /* Let the flusher send what is left (its CPU time counts for the process); a live
         * reader must get every record: the hello, the start, the lines and the stop. */
        for (int i = 0; i < 40; i++) {
                usleep(5 * 1000);
                if (mode == MODE_LIVE &&
                    __atomic_load_n(&reader.lines, __ATOMIC_RELAXED) >= (unsigned long long) records + 3)
                        break;
        }
        res.lines_read = __atomic_load_n(&reader.lines, __ATOMIC_RELAXED);
        double p1 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);

        /* The snprintf above is the bench's own, not the plugin's: take it out. */
        double s0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
        for (long i = 1; i <= records; i++) {
                snprintf(line, sizeof(line),
                         "bench line %ld: some text of a usual build log line length, like a compiler", i);
                __asm__ volatile("" : : "r"(line) : "memory");
        }
        double own = cpu_ns(CLOCK_THREAD_CPUTIME_ID) - s0;

        res.thread_ns = (t1 - t0 - own) / (double) records;
        res.process_ns = (p1 - p0 - own) / (double) records;
        if (mode == MODE_LIVE) {
                shutdown(reader.listen_fd, SHUT_RDWR);
                _exit(write(out_fd, &res, sizeof(res)) == sizeof(res) ? 0
                                                                      : 1); /* the reader is still reading */
        }
        return write(out_fd, &res, sizeof(res)) == sizeof(res) ? 0 : 1;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static double median(double *v, int n) {
        qsort(v, (size_t) n, sizeof(double), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
        long records = argc > 1 ? atol(argv[1]) : 200000;
        int runs = argc > 2 ? atoi(argv[2]) : 7;
        long rate = argc > 3 ? atol(argv[3]) : 200000;
        char dir[] = "/tmp/na-plugin-core-bench.XXXXXX";

        if (records <= 0 || runs <= 0 || runs > 1000 || rate <= 0) {
                fprintf(stderr, "usage: plugin-core-bench [RECORDS] [RUNS] [RATE]\n");
                return 2;
        }
        if (!mkdtemp(dir)) {
                perror("plugin-core-bench: mkdtemp");
                return 1;
        }
        snprintf(sock_path, sizeof(sock_path), "%s/events.sock", dir);
        printf("plugin core: %ld log-line records per run at %ld/s, %d runs per mode, medians (min..max)\n",
               records, rate, runs);

        double *th = calloc((size_t) runs, sizeof(double)), *pr = calloc((size_t) runs, sizeof(double));
        if (!th || !pr)
                return 1;
        /* Interleaved: run i of every mode, then run i + 1, so drift on a shared machine hits
         * every mode alike. */
        Result(*all)[_MODE_MAX] = calloc((size_t) runs, sizeof(*all));
        if (!all)
                return 1;
        for (int i = 0; i < runs; i++)
                for (Mode m = 0; m < _MODE_MAX; m++) {
                        int p[2];
                        if (pipe(p) < 0)
                                return 1;
                        pid_t pid = fork();
                        if (pid < 0)
                                return 1;
                        if (pid == 0) {
                                close(p[0]);
                                _exit(child_run(m, records, rate, p[1]));
                        }
                        close(p[1]);
                        Result r = {0};
                        ssize_t n = read(p[0], &r, sizeof(r));
                        close(p[0]);
                        int status;
                        waitpid(pid, &status, 0);
                        unlink(sock_path);
                        if (n != sizeof(r)) {
                                fprintf(stderr, "plugin-core-bench: run %d (%s) failed\n", i, mode_name[m]);
                                return 1;
                        }
                        all[i][m] = r;
                }
        bool lost = false;
        for (Mode m = 0; m < _MODE_MAX; m++) {
                for (int i = 0; i < runs; i++) {
                        th[i] = all[i][m].thread_ns;
                        pr[i] = all[i][m].process_ns;
                }
                double tmed = median(th, runs), pmed = median(pr, runs);
                printf("  %-8s Nix thread %6.1f ns/record (%.1f..%.1f), whole process %6.1f ns/record "
                       "(%.1f..%.1f)",
                       mode_name[m], tmed, th[0], th[runs - 1], pmed, pr[0], pr[runs - 1]);
                if (m == MODE_LIVE) {
                        unsigned long long lo = all[0][m].lines_read;
                        for (int i = 1; i < runs; i++)
                                lo = all[i][m].lines_read < lo ? all[i][m].lines_read : lo;
                        printf(", the reader got >= %llu of %ld lines", lo, records + 3);
                        if (lo < (unsigned long long) records + 3)
                                lost = true;
                }
                printf("\n");
        }
        rmdir(dir);
        free(th);
        free(pr);
        free(all);
        if (lost)
                fprintf(stderr, "plugin-core-bench: records lost with a live reader\n");
        return lost ? 1 : 0;
}
