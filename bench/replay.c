/* replay: P1 ingest benchmark client. Streams N internal-json records of a realistic mix into
 * a nix-analyticsd event socket as fast as it takes them, then waits until the daemon's
 * status counts them all, sampling the daemon's CPU time and memory along the way.
 *
 * The records come from a few pre-generated "rounds" (buffers holding the whole life of a
 * handful of overlapping builds: start, phases, 60-120 byte log lines, progress, stop). Each
 * time a round is sent again its activity ids and drv hashes are rewritten in place (fixed
 * width fields, offsets remembered at generation), so every build the daemon sees is a new
 * one, as in a long real session, at the cost of one small memcpy per record. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define ID_WIDTH     15 /* activity ids: 15 decimal digits, first one non-zero */
#define HASH_WIDTH   32 /* store path hash: nix base32 */
#define ROUND_BUILDS 8  /* builds per round */
#define MAX_ACTIVE   3  /* builds running at once inside a round (-j3) */
#define N_TEMPLATES  4  /* distinct pre-generated rounds */

static const char nix32[] = "0123456789abcdfghijklmnpqrsvwxyz";

/* PATCH_ID: a build's activity id (15 digits, '1' then the build serial); PATCH_QID: the id of
 * the short "querying" activity before it ('2' then the serial); PATCH_HASH: its drv hash.
 * All ids stay below 2^53 so no parser loses them to double precision. */
enum patch_kind { PATCH_ID, PATCH_QID, PATCH_HASH };

struct patch {
        size_t off;
        unsigned build; /* index of the build within the round */
        enum patch_kind kind;
};

/* One pre-generated round: the bytes, where each record ends, what to rewrite per copy. */
struct round {
        char *buf;
        size_t len, cap;
        size_t *rec_end; /* rec_end[i]: offset just past record i's newline */
        size_t n_recs, recs_cap;
        struct patch *patches;
        size_t n_patches, patches_cap;
};

/* Senders stream until they reach their share of the current mark, then wait there, so the
 * daemon can be sampled at exact record counts (1 M, 2 M, ...) whether or not it answers
 * control requests while its event socket is busy. */
struct gate {
        pthread_mutex_t lock;
        pthread_cond_t moved;   /* main -> senders: the mark advanced */
        pthread_cond_t arrived; /* senders -> main: one reached the mark or stopped */
        uint64_t mark;          /* records (all connections) allowed so far */
};

struct sender {
        pthread_t thread;
        const char *socket_path;
        struct round *rounds;
        struct gate *gate;
        unsigned index, count; /* this connection, of how many */
        uint64_t records;      /* to send on this connection */
        uint64_t id_base;      /* first build serial of this connection */
        uint64_t sent;         /* under gate->lock */
        bool done;             /* under gate->lock */
        double finished;
        int error;
};

/* This connection's share of `total` records: the same split at every mark and at the end. */
static uint64_t share(uint64_t total, unsigned index, unsigned count) {
        return total / count + (index < total % count ? 1 : 0);
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("replay: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        exit(EXIT_FAILURE);
}

static void *xrealloc(void *p, size_t n) {
        void *q = realloc(p, n);
        if (!q)
                die("out of memory");
        return q;
}

/* xorshift64*: deterministic content, no libc rand state. */
static uint64_t rng_next(uint64_t *s) {
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        return *s * UINT64_C(2685821657736338717);
}

static unsigned rng_range(uint64_t *s, unsigned lo, unsigned hi) {
        return lo + (unsigned) (rng_next(s) % (uint64_t) (hi - lo + 1));
}

static void round_append(struct round *r, const char *s, size_t n) {
        if (r->len + n > r->cap) {
                r->cap = (r->len + n) * 2;
                r->buf = xrealloc(r->buf, r->cap);
        }
        memcpy(r->buf + r->len, s, n);
        r->len += n;
}

static void round_puts(struct round *r, const char *s) {
        round_append(r, s, strlen(s));
}

static void round_patch_here(struct round *r, unsigned build, enum patch_kind kind) {
        if (r->n_patches == r->patches_cap) {
                r->patches_cap = r->patches_cap ? r->patches_cap * 2 : 1024;
                r->patches = xrealloc(r->patches, r->patches_cap * sizeof *r->patches);
        }
        r->patches[r->n_patches++] = (struct patch){.off = r->len, .build = build, .kind = kind};
        /* placeholder, rewritten before every send */
        if (kind != PATCH_HASH)
                round_puts(r, "100000000000000");
        else
                round_puts(r, "00000000000000000000000000000000");
}

static void round_end_record(struct round *r) {
        round_puts(r, "\n");
        if (r->n_recs == r->recs_cap) {
                r->recs_cap = r->recs_cap ? r->recs_cap * 2 : 4096;
                r->rec_end = xrealloc(r->rec_end, r->recs_cap * sizeof *r->rec_end);
        }
        r->rec_end[r->n_recs++] = r->len;
}

static void round_printf(struct round *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void round_printf(struct round *r, const char *fmt, ...) {
        char tmp[512];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof tmp)
                die("internal: record fragment too long");
        round_append(r, tmp, (size_t) n);
}

/* The activity id of the invocation-wide "builds" activity that carries progress results. */
#define BUILDS_ACT_ID "900000000000002"

static const char *const phase_names[] = {"unpackPhase", "configurePhase", "buildPhase", "installPhase"};
static const char *const words[] = {
        "gcc",         "-O2", "-c",    "src/main.c", "-o",       "main.o",   "checking",  "for",
        "unistd.h...", "yes", "CC",    "libfoo.la",  "make[2]:", "Entering", "directory", "'/build/source'",
        "installing",  "ok",  "PASS:", "test"};

static void emit_log_line(struct round *r, uint64_t *rng, unsigned b) {
        /* "text" of 60-120 bytes, like compiler and make output */
        char text[128];
        unsigned want = rng_range(rng, 60, 120);
        size_t n = 0;
        while (n < want) {
                const char *w = words[rng_next(rng) % (sizeof words / sizeof *words)];
                size_t wl = strlen(w);
                if (n + wl + 1 > want)
                        wl = want - n - (n ? 1 : 0);
                if (n)
                        text[n++] = ' ';
                memcpy(text + n, w, wl);
                n += wl;
        }
        text[n] = '\0';
        round_puts(r, "{\"action\":\"result\",\"fields\":[\"");
        round_puts(r, text);
        round_puts(r, "\"],\"id\":");
        round_patch_here(r, b, PATCH_ID);
        round_puts(r, ",\"type\":101}");
        round_end_record(r);
}

static void emit_progress(struct round *r, unsigned done, unsigned expected, unsigned running) {
        round_printf(r,
                     "{\"action\":\"result\",\"fields\":[%u,%u,%u,0],\"id\":" BUILDS_ACT_ID ",\"type\":105}",
                     done, expected, running);
        round_end_record(r);
}

/* One round: ROUND_BUILDS builds, at most MAX_ACTIVE at once, log lines interleaved. */
static void round_generate(struct round *r, uint64_t seed) {
        uint64_t rng = seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
        unsigned lines_total[ROUND_BUILDS], lines_done[ROUND_BUILDS], phase[ROUND_BUILDS];
        unsigned active[MAX_ACTIVE], n_active = 0, next = 0, finished = 0, since_progress = 0;

        for (unsigned b = 0; b < ROUND_BUILDS; b++) {
                lines_total[b] = rng_range(&rng, 200, 2400);
                lines_done[b] = 0;
                phase[b] = 0;
        }

        while (finished < ROUND_BUILDS) {
                while (n_active < MAX_ACTIVE && next < ROUND_BUILDS) {
                        unsigned b = next++;
                        /* what Nix prints before a build: a short "querying" activity */
                        round_puts(r, "{\"action\":\"start\",\"id\":");
                        round_patch_here(r, b, PATCH_QID);
                        round_puts(
                                r,
                                ",\"level\":6,\"text\":\"querying info about missing paths\",\"type\":0}");
                        round_end_record(r);
                        round_puts(r, "{\"action\":\"stop\",\"id\":");
                        round_patch_here(r, b, PATCH_QID);
                        round_puts(r, "}");
                        round_end_record(r);

                        round_puts(r, "{\"action\":\"start\",\"fields\":[\"/nix/store/");
                        round_patch_here(r, b, PATCH_HASH);
                        round_printf(r, "-bench-pkg-%u.drv\",\"\",1,1],\"id\":", b);
                        round_patch_here(r, b, PATCH_ID);
                        round_puts(r, ",\"level\":3,\"text\":\"building '/nix/store/");
                        round_patch_here(r, b, PATCH_HASH);
                        round_printf(r, "-bench-pkg-%u.drv'\",\"type\":105}", b);
                        round_end_record(r);
                        emit_progress(r, finished, ROUND_BUILDS, n_active + 1);
                        active[n_active++] = b;
                }

                unsigned slot = (unsigned) (rng_next(&rng) % n_active);
                unsigned b = active[slot];

                /* phases at 0, 1/4, 1/2, 3/4 of the build's output */
                if (phase[b] < 4 && lines_done[b] >= lines_total[b] * phase[b] / 4) {
                        round_printf(r, "{\"action\":\"result\",\"fields\":[\"%s\"],\"id\":",
                                     phase_names[phase[b]]);
                        round_patch_here(r, b, PATCH_ID);
                        round_puts(r, ",\"type\":104}");
                        round_end_record(r);
                        phase[b]++;
                        continue;
                }
                if (lines_done[b] < lines_total[b]) {
                        emit_log_line(r, &rng, b);
                        lines_done[b]++;
                        if (++since_progress == 40) { /* Nix re-sends progress on scheduler changes */
                                emit_progress(r, finished, ROUND_BUILDS, n_active);
                                since_progress = 0;
                        }
                        continue;
                }
                round_puts(r, "{\"action\":\"stop\",\"id\":");
                round_patch_here(r, b, PATCH_ID);
                round_puts(r, "}");
                round_end_record(r);
                finished++;
                active[slot] = active[--n_active];
                emit_progress(r, finished, ROUND_BUILDS, n_active);
        }
}

/* Rewrite a round's ids and hashes for the builds numbered serial0 .. serial0+ROUND_BUILDS-1. */
static void round_patch(struct round *r, uint64_t serial0) {
        char ids[ROUND_BUILDS][ID_WIDTH], qids[ROUND_BUILDS][ID_WIDTH], hashes[ROUND_BUILDS][HASH_WIDTH];

        for (unsigned b = 0; b < ROUND_BUILDS; b++) {
                uint64_t v = serial0 + b;
                ids[b][0] = '1';
                for (int i = ID_WIDTH - 1; i >= 1; i--) {
                        ids[b][i] = (char) ('0' + v % 10);
                        v /= 10;
                }
                memcpy(qids[b], ids[b], ID_WIDTH);
                qids[b][0] = '2';
                v = (serial0 + b) * UINT64_C(0x9E3779B97F4A7C15);
                uint64_t w = serial0 + b;
                for (int i = 0; i < HASH_WIDTH; i++) {
                        /* low half: the serial itself (unique); high half: a mix (looks random) */
                        if (i >= HASH_WIDTH - 13) {
                                hashes[b][i] = nix32[w % 32];
                                w /= 32;
                        } else {
                                hashes[b][i] = nix32[v % 32];
                                v = v / 32 ^ (v << 59);
                        }
                }
        }
        for (size_t i = 0; i < r->n_patches; i++) {
                const struct patch *p = &r->patches[i];
                if (p->kind == PATCH_ID)
                        memcpy(r->buf + p->off, ids[p->build], ID_WIDTH);
                else if (p->kind == PATCH_QID)
                        memcpy(r->buf + p->off, qids[p->build], ID_WIDTH);
                else
                        memcpy(r->buf + p->off, hashes[p->build], HASH_WIDTH);
        }
}

static int connect_unix(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof sa.sun_path)
                die("socket path too long: %s", path);
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                die("socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                die("connect %s: %s", path, strerror(errno));
        return fd;
}

static int send_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Blocks until this sender may send more; returns how many records (0: stop). */
static uint64_t sender_allowance(struct sender *s, uint64_t sent_now) {
        struct gate *g = s->gate;
        uint64_t allowed;
        pthread_mutex_lock(&g->lock);
        s->sent = sent_now;
        for (;;) {
                uint64_t limit = share(g->mark, s->index, s->count);
                if (limit > s->records)
                        limit = s->records;
                if (sent_now >= s->records || s->error < 0) {
                        allowed = 0;
                        break;
                }
                if (limit > sent_now) {
                        allowed = limit - sent_now;
                        break;
                }
                pthread_cond_signal(&g->arrived);
                pthread_cond_wait(&g->moved, &g->lock);
        }
        if (allowed == 0) {
                s->done = true;
                pthread_cond_signal(&g->arrived);
        }
        pthread_mutex_unlock(&g->lock);
        return allowed;
}

static void *sender_run(void *arg) {
        struct sender *s = arg;
        /* private copies: each connection patches its own buffers */
        struct round rounds[N_TEMPLATES];
        for (unsigned t = 0; t < N_TEMPLATES; t++) {
                rounds[t] = s->rounds[t];
                rounds[t].buf = xrealloc(NULL, s->rounds[t].len);
                memcpy(rounds[t].buf, s->rounds[t].buf, s->rounds[t].len);
        }
        int fd = connect_unix(s->socket_path);
        int sz = 4 << 20;
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);

        /* the invocation's top activities (realise, builds), as Nix starts every stream */
        static const char preamble[] =
                "{\"action\":\"start\",\"id\":900000000000001,\"level\":0,\"text\":\"\",\"type\":102}\n"
                "{\"action\":\"start\",\"id\":" BUILDS_ACT_ID ",\"level\":0,\"text\":\"\",\"type\":104}\n";
        uint64_t sent = 0, serial = s->id_base, allowed = sender_allowance(s, 0);
        if (allowed >= 2) {
                if ((s->error = send_all(fd, preamble, sizeof preamble - 1)) < 0)
                        goto out;
                sent = 2;
                allowed -= 2;
        }
        unsigned t = 0;
        struct round *r = &rounds[0];
        size_t from = r->n_recs; /* position in the current round; "used up" forces a patch */
        for (;;) {
                if (allowed == 0 && (allowed = sender_allowance(s, sent)) == 0)
                        break;
                if (from == r->n_recs) {
                        r = &rounds[t];
                        t = (t + 1) % N_TEMPLATES;
                        round_patch(r, serial);
                        serial += ROUND_BUILDS;
                        from = 0;
                }
                /* slices of at most 4096 records, ending on record boundaries */
                size_t n = r->n_recs - from;
                if (n > 4096)
                        n = 4096;
                if (n > allowed)
                        n = (size_t) allowed;
                size_t b0 = from ? r->rec_end[from - 1] : 0, b1 = r->rec_end[from + n - 1];
                if ((s->error = send_all(fd, r->buf + b0, b1 - b0)) < 0)
                        break;
                from += n;
                sent += n;
                allowed -= n;
        }
out:
        s->finished = now_s();
        close(fd);
        if (s->error < 0)
                sender_allowance(s, sent); /* marks it done */
        for (unsigned i = 0; i < N_TEMPLATES; i++)
                free(rounds[i].buf);
        return NULL;
}

/* --- the control socket: status --- */

struct control {
        int fd;
        char *buf;
        size_t len, cap;
        unsigned next_id;
};

/* Sends `status`, returns the parsed events.total (and the whole result if wanted). */
static int control_status(struct control *c, uint64_t *ret_total, cJSON **ret_result) {
        char req[64];
        int n = snprintf(req, sizeof req, "{\"id\":%u,\"cmd\":\"status\"}\n", ++c->next_id);
        if (send_all(c->fd, req, (size_t) n) < 0)
                return -EIO;
        for (;;) {
                char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
                if (nl) {
                        size_t linelen = (size_t) (nl - c->buf);
                        cJSON *j = cJSON_ParseWithLength(c->buf, linelen);
                        memmove(c->buf, nl + 1, c->len - linelen - 1);
                        c->len -= linelen + 1;
                        if (!j)
                                return -EBADMSG;
                        cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
                        if (!cJSON_IsNumber(id) || (unsigned) id->valuedouble != c->next_id) {
                                cJSON_Delete(j); /* an event or a stale answer */
                                continue;
                        }
                        cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "result");
                        cJSON *ev = cJSON_GetObjectItemCaseSensitive(res, "events");
                        cJSON *tot = cJSON_GetObjectItemCaseSensitive(ev, "total");
                        if (!cJSON_IsNumber(tot)) {
                                cJSON_Delete(j);
                                return -EBADMSG;
                        }
                        *ret_total = (uint64_t) tot->valuedouble;
                        if (ret_result)
                                *ret_result = cJSON_DetachItemFromObjectCaseSensitive(j, "result");
                        cJSON_Delete(j);
                        return 0;
                }
                if (c->len + 65536 > c->cap) {
                        c->cap = c->len + 65536 * 2;
                        c->buf = xrealloc(c->buf, c->cap);
                }
                ssize_t k = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -EPIPE;
                c->len += (size_t) k;
        }
}

/* A second control client asks for status every 10 ms during the run and times the answers:
 * how long control requests wait while the event socket is busy (P4/R5 want them fast). */
struct prober {
        pthread_t thread;
        const char *socket_path;
        atomic_bool stop;
        double *lat;
        size_t n, cap;
};

static void *prober_run(void *arg) {
        struct prober *p = arg;
        struct control c = {.fd = connect_unix(p->socket_path)};
        while (!atomic_load(&p->stop)) {
                uint64_t total;
                double q0 = now_s();
                if (control_status(&c, &total, NULL) < 0)
                        break;
                if (p->n == p->cap) {
                        p->cap = p->cap ? p->cap * 2 : 1024;
                        p->lat = xrealloc(p->lat, p->cap * sizeof *p->lat);
                }
                p->lat[p->n++] = now_s() - q0;
                usleep(10000);
        }
        free(c.buf);
        close(c.fd);
        return NULL;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

/* --- /proc sampling of the daemon --- */

struct sample {
        double t;
        uint64_t processed;
        double cpu_s;
        long rss_kb, hwm_kb;
};

static int sample_daemon(int pid, struct sample *s) {
        char path[64], buf[4096];
        FILE *f;

        s->cpu_s = -1;
        s->rss_kb = s->hwm_kb = -1;
        if (pid <= 0)
                return 0;
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* fields after the command name, which may hold spaces and parentheses */
        char *p = strrchr(buf, ')');
        if (!p)
                return -EBADMSG;
        unsigned long long utime = 0, stime = 0;
        if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
                return -EBADMSG;
        s->cpu_s = (double) (utime + stime) / (double) sysconf(_SC_CLK_TCK);

        snprintf(path, sizeof path, "/proc/%d/status", pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(buf, sizeof buf, f)) {
                if (strncmp(buf, "VmRSS:", 6) == 0)
                        s->rss_kb = strtol(buf + 6, NULL, 10);
                else if (strncmp(buf, "VmHWM:", 6) == 0)
                        s->hwm_kb = strtol(buf + 6, NULL, 10);
        }
        fclose(f);
        return 0;
}

static void print_sample(const char *tag, const struct sample *s, double t0) {
        printf("%s records=%" PRIu64 " seconds=%.3f cpu_s=%.2f rss_kb=%ld hwm_kb=%ld\n", tag, s->processed,
               s->t - t0, s->cpu_s, s->rss_kb, s->hwm_kb);
        fflush(stdout);
}

static void usage(FILE *f) {
        fputs("usage: replay -s SOCKET_DIR [-n RECORDS] [-c CONNECTIONS] [-p DAEMON_PID] [-k SAMPLE_EVERY]\n"
              "  Sends RECORDS (default 10000000) internal-json records to SOCKET_DIR/events.sock,\n"
              "  waits until SOCKET_DIR/control.sock's status counts them, prints records/s.\n"
              "  With -p, samples the daemon's CPU time and memory every SAMPLE_EVERY records\n"
              "  (default 1000000) processed.\n"
              "  Output: 'sample ...' lines, then one 'result ...' line (key=value).\n",
              f);
}

int main(int argc, char **argv) {
        const char *dir = NULL;
        uint64_t records = 10000000, every = 1000000;
        unsigned conns = 1;
        int pid = 0, opt;

        while ((opt = getopt(argc, argv, "s:n:c:p:k:h")) != -1) {
                switch (opt) {
                case 's':
                        dir = optarg;
                        break;
                case 'n':
                        records = strtoull(optarg, NULL, 10);
                        break;
                case 'c':
                        conns = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'p':
                        pid = atoi(optarg);
                        break;
                case 'k':
                        every = strtoull(optarg, NULL, 10);
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (!dir || optind != argc || records == 0 || conns == 0 || conns > 64 || every == 0) {
                usage(stderr);
                return 2;
        }

        char ev_path[4096], ct_path[4096];
        snprintf(ev_path, sizeof ev_path, "%s/events.sock", dir);
        snprintf(ct_path, sizeof ct_path, "%s/control.sock", dir);

        struct round rounds[N_TEMPLATES] = {0};
        size_t recs_per_cycle = 0, bytes_per_cycle = 0;
        for (unsigned t = 0; t < N_TEMPLATES; t++) {
                round_generate(&rounds[t], t + 1);
                recs_per_cycle += rounds[t].n_recs;
                bytes_per_cycle += rounds[t].len;
        }
        fprintf(stderr, "replay: %u templates, %zu records, %.1f bytes/record on average\n", N_TEMPLATES,
                recs_per_cycle, (double) bytes_per_cycle / (double) recs_per_cycle);

        struct control ctl = {.fd = connect_unix(ct_path)};
        uint64_t base = 0;
        if (control_status(&ctl, &base, NULL) < 0)
                die("no status answer on %s", ct_path);

        struct gate gate = {.lock = PTHREAD_MUTEX_INITIALIZER,
                            .moved = PTHREAD_COND_INITIALIZER,
                            .arrived = PTHREAD_COND_INITIALIZER};
        struct sender *senders = calloc(conns, sizeof *senders);
        if (!senders)
                die("out of memory");
        for (unsigned i = 0; i < conns; i++) {
                senders[i] = (struct sender){
                        .socket_path = ev_path,
                        .rounds = rounds,
                        .gate = &gate,
                        .index = i,
                        .count = conns,
                        .records = share(records, i, conns),
                        .id_base = (uint64_t) i * 10000000000ULL,
                };
                if (pthread_create(&senders[i].thread, NULL, sender_run, &senders[i]) != 0)
                        die("pthread_create failed");
        }

        struct prober prober = {.socket_path = ct_path};
        if (pthread_create(&prober.thread, NULL, prober_run, &prober) != 0)
                die("pthread_create failed");
        double t0 = now_s();
        struct sample s0 = {.t = t0}, last;
        sample_daemon(pid, &s0);
        print_sample("sample", &s0, t0);
        last = s0;
        uint64_t processed = 0;
        bool failed = false;
        for (uint64_t mark = every < records ? every : records;;
             mark = mark + every < records ? mark + every : records) {
                pthread_mutex_lock(&gate.lock);
                gate.mark = mark;
                pthread_cond_broadcast(&gate.moved);
                pthread_mutex_unlock(&gate.lock);

                uint64_t total;
                /* all senders at the mark (or finished/failed) */
                uint64_t sent = 0;
                pthread_mutex_lock(&gate.lock);
                for (;;) {
                        bool all = true;
                        sent = 0;
                        for (unsigned i = 0; i < conns; i++) {
                                struct sender *x = &senders[i];
                                sent += x->sent;
                                if (!x->done && x->sent < share(mark, i, conns))
                                        all = false;
                        }
                        if (all)
                                break;
                        pthread_cond_wait(&gate.arrived, &gate.lock);
                }
                pthread_mutex_unlock(&gate.lock);
                for (unsigned i = 0; i < conns; i++)
                        if (senders[i].error < 0)
                                die("send failed: %s", strerror(-senders[i].error));

                /* drained: the daemon has counted everything sent so far */
                double last_change = now_s();
                uint64_t last_seen = UINT64_MAX;
                for (;;) {
                        if (control_status(&ctl, &total, NULL) < 0)
                                die("lost the control connection (daemon gone?)");
                        processed = total - base;
                        if (processed >= sent)
                                break;
                        if (processed != last_seen) {
                                last_seen = processed;
                                last_change = now_s();
                        } else if (now_s() - last_change > 10) {
                                fprintf(stderr,
                                        "replay: stalled: daemon counted %" PRIu64 " of %" PRIu64
                                        " records\n",
                                        processed, sent);
                                failed = true;
                                break;
                        }
                        usleep(1000);
                }
                struct sample smp = {.t = now_s(), .processed = processed};
                sample_daemon(pid, &smp);
                print_sample("sample", &smp, t0);
                last = smp;
                if (failed || mark >= records)
                        break;
        }
        atomic_store(&prober.stop, true);
        pthread_join(prober.thread, NULL);
        qsort(prober.lat, prober.n, sizeof *prober.lat, cmp_double);
        double lat_p50 = prober.n ? prober.lat[prober.n / 2] : 0;
        double lat_p99 = prober.n ? prober.lat[prober.n * 99 / 100] : 0;
        double lat_max = prober.n ? prober.lat[prober.n - 1] : 0;
        double send_end = t0;
        for (unsigned i = 0; i < conns; i++) {
                pthread_join(senders[i].thread, NULL);
                if (senders[i].finished > send_end)
                        send_end = senders[i].finished;
        }
        uint64_t sent = 0;
        for (unsigned i = 0; i < conns; i++)
                sent += senders[i].sent;

        double secs = last.t - t0;
        printf("result sent=%" PRIu64 " processed=%" PRIu64 " seconds=%.3f rate=%.0f send_seconds=%.3f "
               "cpu_s=%.2f rss_kb=%ld hwm_kb=%ld bytes_per_record=%.1f connections=%u status_probes=%zu "
               "status_p50_ms=%.1f status_p99_ms=%.1f status_max_ms=%.1f\n",
               sent, processed, secs, (double) processed / secs, send_end - t0, last.cpu_s - s0.cpu_s,
               last.rss_kb, last.hwm_kb, (double) bytes_per_cycle / (double) recs_per_cycle, conns, prober.n,
               lat_p50 * 1000, lat_p99 * 1000, lat_max * 1000);
        free(prober.lat);

        for (unsigned t = 0; t < N_TEMPLATES; t++) {
                free(rounds[t].buf);
                free(rounds[t].rec_end);
                free(rounds[t].patches);
        }
        free(senders);
        free(ctl.buf);
        close(ctl.fd);
        return !failed && processed == records ? 0 : 1;
}
