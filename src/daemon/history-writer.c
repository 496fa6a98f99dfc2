/* The history writer thread, its bounded queue, and the store's health (see the header).
 *
 * The event loop only copies a finished build into the queue under a mutex. The thread takes
 * up to BATCH_MAX records at a time into its own batch and commits them in one transaction;
 * a batch that fails stays with the thread and is retried, so nothing is lost while the
 * database is locked or full, up to queue_max records or QUEUE_BYTES_MAX of them, after
 * which the oldest queued records are dropped and counted. A database that is not a database (corrupt) is
 * moved aside and a new one created, loudly. */
#include "daemon/history-writer.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/worker.h"

#define BATCH_MAX         256
#define RETRY_USEC        (1 * USEC_PER_SEC)
#define PRUNE_EVERY_USEC  (60 * USEC_PER_SEC)
#define STOP_PATIENCE     (3 * USEC_PER_SEC)
#define MACHINE_QUEUE_MAX 360 /* an hour of machine samples */

struct HistoryWriter {
        HistoryConfig config;

        Worker worker;        /* the thread; its lock guards the queue and the health */
        HistoryRecord *queue; /* ring of size, grown up to queue_max while records wait */
        uint32_t size, head, count;
        uint64_t bytes; /* the queued records' memory, about */

        /* guarded by lock: the health shown in status */
        const char *state; /* "starting", "ok", "unavailable", "disabled" */
        char *error;       /* what is wrong now, or NULL */
        usec_t error_since;
        char *recovered; /* the last recovery done (corrupt file moved aside) */
        uint64_t written, ignored, dropped, pruned, rows;
        int schema;
        uint32_t pending; /* records in the thread's batch */
        /* machine samples waiting (a ring: the oldest go when the database is away long) */
        MachineSample samples[MACHINE_QUEUE_MAX];
        uint32_t samples_head, samples_count;
        uint64_t samples_written;

        _Atomic uint64_t generation;
        _Atomic uint64_t reopened; /* the file was replaced: readers reopen */
};

/* ---- the queue (under lock) ----
 *
 * It holds the records the thread has not taken yet: a few at a time while the database
 * keeps up, up to queue_max while it is unavailable. Its memory follows: allocated up front,
 * 100 000 records (24 MB) would be touched page by page as the ring goes round, and the
 * daemon's memory would creep up for hours before it settled. */

#define QUEUE_KEEP      64u         /* records' room kept once the queue is drained */
#define QUEUE_BYTES_MAX (32u << 20) /* and memory: a record keeps a log tail of up to 8 KiB */

/* About the memory rec holds: itself and its strings. */
static uint64_t record_bytes(const HistoryRecord *rec) {
        const char *const strs[] = {rec->kind,           rec->drv,
                                    rec->name,           rec->pname,
                                    rec->machine,        rec->state,
                                    rec->requester_user, rec->requester_cmdline,
                                    rec->failure_kind,   rec->failure_message,
                                    rec->log_tail};
        uint64_t n = sizeof(*rec) + rec->timeline_len + (rec->phases ? strlen(rec->phases) + 1 : 0) +
                     (rec->oom ? sizeof(*rec->oom) + 512 : 0);
        for (size_t i = 0; i < ELEMENTSOF(strs); i++)
                n += strs[i] ? strlen(strs[i]) + 1 : 0;
        return n;
}

/* The oldest queued record goes (counted dropped). */
static void queue_drop_oldest(HistoryWriter *w) {
        assert(w->count > 0);
        w->bytes -= MIN(w->bytes, record_bytes(&w->queue[w->head]));
        history_record_done(&w->queue[w->head]);
        w->head = (w->head + 1) % w->size;
        w->count--;
        w->dropped++;
}

/* Doubles the ring (up to queue_max), its records in order from index 0. -ENOSPC at
 * queue_max, -ENOMEM. */
static int queue_grow(HistoryWriter *w) {
        if (w->size >= w->config.queue_max)
                return -ENOSPC;
        uint32_t size = (uint32_t) MIN(MAX((uint64_t) w->size * 2, QUEUE_KEEP), w->config.queue_max);
        HistoryRecord *q = calloc(size, sizeof(HistoryRecord));
        if (!q)
                return -ENOMEM;
        for (uint32_t i = 0; i < w->count; i++)
                q[i] = w->queue[(w->head + i) % w->size];
        free(w->queue);
        w->queue = q;
        w->size = size;
        w->head = 0;
        return 0;
}

/* The drained ring's memory goes back; the next record allocates QUEUE_KEEP again. */
static void queue_release(HistoryWriter *w) {
        assert(w->count == 0);
        free(w->queue);
        w->queue = NULL;
        w->size = w->head = 0;
}

/* ---- paths ---- */

int history_default_path(char **ret) {
        if (geteuid() == 0)
                return (*ret = strdup("/var/lib/nix-analytics/history.db")) ? 0 : -ENOMEM;
        const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
        int r;
        if (state && state[0] == '/')
                r = asprintf(ret, "%s/nix-analytics/history.db", state);
        else if (home && home[0] == '/')
                r = asprintf(ret, "%s/.local/state/nix-analytics/history.db", home);
        else
                return -ENOENT;
        return r < 0 ? -ENOMEM : 0;
}

/* mkdir -p of the directory holding path. */
static int make_parent(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = '\0';
        for (char *p = dir + 1;; p++) {
                if (*p == '/' || *p == '\0') {
                        char c = *p;
                        *p = '\0';
                        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *p = c;
                        if (!c)
                                return 0;
                }
        }
}

/* ---- health (lock held) ---- */

static void set_error_locked(HistoryWriter *w, const char *msg) {
        if (w->error && msg && strcmp(w->error, msg) == 0)
                return;
        free(w->error);
        w->error = msg ? strdup(msg) : NULL;
        w->error_since = msg ? now_realtime() : 0;
        w->state = msg ? "unavailable" : "ok";
        if (msg)
                log_warning("history: %s (live monitoring carries on; retrying)", msg);
        else
                log_info("history: %s is available", w->config.path);
}

static void set_error(HistoryWriter *w, const char *msg) {
        pthread_mutex_lock(&w->worker.lock);
        set_error_locked(w, msg);
        pthread_mutex_unlock(&w->worker.lock);
}

static void set_errorf(HistoryWriter *w, int r, const char *what, History *h) {
        char *msg = NULL;
        const char *detail = r == -EBUSY    ? "database is locked by another process"
                             : r == -ENOSPC ? "disk full"
                             : r == -EROFS  ? "database or file system is read-only"
                             : h            ? history_errmsg(h)
                                            : strerror(-r);
        if (asprintf(&msg, "%s: %s: %s", w->config.path, what, detail) < 0)
                msg = NULL;
        set_error(w, msg ? msg : what);
        free(msg);
}

/* ---- the thread ---- */

/* Moves a file that is not a database aside, so a new one can be made. */
static void move_aside(HistoryWriter *w) {
        _cleanup_free_ char *dest = NULL, *wal = NULL, *shm = NULL;
        if (asprintf(&dest, "%s.corrupt-%llu", w->config.path,
                     (unsigned long long) (now_realtime() / USEC_PER_SEC)) < 0)
                return;
        if (rename(w->config.path, dest) < 0) {
                log_error_errno(errno, "history: cannot move corrupt %s aside: %m", w->config.path);
                return;
        }
        if (asprintf(&wal, "%s-wal", w->config.path) >= 0)
                (void) unlink(wal);
        if (asprintf(&shm, "%s-shm", w->config.path) >= 0)
                (void) unlink(shm);
        log_error("history: %s is corrupt or not a database: moved to %s, starting a new one",
                  w->config.path, dest);
        pthread_mutex_lock(&w->worker.lock);
        free(w->recovered);
        if (asprintf(&w->recovered, "moved a corrupt database to %s", dest) < 0)
                w->recovered = NULL;
        pthread_mutex_unlock(&w->worker.lock);
        atomic_fetch_add(&w->reopened, 1);
}

static History *open_store(HistoryWriter *w) {
        History *h = NULL;
        _cleanup_free_ char *error = NULL;
        int r = make_parent(w->config.path);
        if (r < 0) {
                set_errorf(w, r, "cannot create its directory", NULL);
                return NULL;
        }
        r = history_open(w->config.path, 0, &h, &error);
        if (r == -EUCLEAN) {
                move_aside(w);
                free(TAKE_PTR(error));
                r = history_open(w->config.path, 0, &h, &error);
        }
        if (r < 0) {
                set_error(w, error ? error : strerror(-r));
                return NULL;
        }
        uint64_t rows = 0;
        (void) history_count(h, &rows);
        pthread_mutex_lock(&w->worker.lock);
        w->schema = history_schema_version(h);
        w->rows = rows;
        set_error_locked(w, NULL);
        pthread_mutex_unlock(&w->worker.lock);
        atomic_fetch_add(&w->reopened, 1);
        return h;
}

static void batch_free(HistoryRecord *batch, uint32_t *n) {
        for (uint32_t i = 0; i < *n; i++)
                history_record_done(&batch[i]);
        *n = 0;
}

static void *writer_main(void *userdata) {
        HistoryWriter *w = userdata;
        HistoryRecord batch[BATCH_MAX];
        uint32_t n = 0;
        History *h = NULL;
        usec_t retry_at = 0, prune_at = 0, stop_deadline = 0;

        for (;;) {
                pthread_mutex_lock(&w->worker.lock);
                for (;;) {
                        usec_t now = now_monotonic();
                        bool can_try = now >= retry_at;
                        bool work = n > 0 || w->count > 0 || w->samples_count > 0 || (h && now >= prune_at);
                        if (w->worker.stop && (!work || (stop_deadline && now >= stop_deadline)))
                                break;
                        if (w->worker.stop && !stop_deadline)
                                stop_deadline = now + STOP_PATIENCE;
                        if ((work || !h) && can_try)
                                break;
                        /* Sleep until there is work, the retry time, or the prune time. */
                        usec_t until = now + PRUNE_EVERY_USEC;
                        if (retry_at > now)
                                until = MIN(until, retry_at);
                        if (h && prune_at > now)
                                until = MIN(until, prune_at);
                        if (!h && retry_at <= now)
                                until = now;
                        worker_wait_locked(&w->worker, until);
                }
                bool stopping = w->worker.stop;
                usec_t now = now_monotonic();
                if (stopping && (n == 0 && w->count == 0 ? true : stop_deadline && now >= stop_deadline)) {
                        pthread_mutex_unlock(&w->worker.lock);
                        break;
                }
                /* Take more records into the batch. */
                while (n < BATCH_MAX && w->count > 0) {
                        w->bytes -= MIN(w->bytes, record_bytes(&w->queue[w->head]));
                        batch[n++] = w->queue[w->head];
                        w->queue[w->head] = (HistoryRecord){};
                        w->head = (w->head + 1) % w->size;
                        w->count--;
                }
                if (w->count == 0 && w->size > QUEUE_KEEP)
                        queue_release(w);
                w->pending = n;
                MachineSample samples[MACHINE_QUEUE_MAX];
                uint32_t n_samples = 0;
                for (; h && w->samples_count > 0; w->samples_count--) { /* once open: else kept */
                        samples[n_samples++] = w->samples[w->samples_head];
                        w->samples_head = (w->samples_head + 1) % MACHINE_QUEUE_MAX;
                }
                pthread_mutex_unlock(&w->worker.lock);

                if (!h && !(h = open_store(w))) {
                        retry_at = now_monotonic() + RETRY_USEC;
                        continue;
                }

                if (n > 0) {
                        int r = history_insert(h, batch, n);
                        if (r < 0) {
                                set_errorf(w, r, "cannot write", h);
                                if (r != -EBUSY && r != -ENOSPC) {
                                        /* Read-only, corrupt, gone: open afresh next time. */
                                        if (r == -EUCLEAN)
                                                move_aside(w);
                                        h = history_close(h);
                                }
                                retry_at = now_monotonic() + RETRY_USEC;
                                continue;
                        }
                        pthread_mutex_lock(&w->worker.lock);
                        w->written += (uint64_t) r;
                        uint32_t n_oom = 0; /* OOM kills' rows are not builds' */
                        for (uint32_t i = 0; i < n; i++)
                                n_oom += batch[i].oom != NULL;
                        w->ignored += n - n_oom - (uint32_t) r;
                        w->rows += (uint64_t) r;
                        w->pending = 0;
                        if (w->error)
                                set_error_locked(w, NULL);
                        pthread_mutex_unlock(&w->worker.lock);
                        batch_free(batch, &n);
                        atomic_fetch_add(&w->generation, 1);
                }

                if (n_samples > 0) {
                        int r = history_insert_machine_samples(h, samples, n_samples);
                        pthread_mutex_lock(&w->worker.lock);
                        if (r >= 0)
                                w->samples_written += (uint64_t) r;
                        else
                                w->dropped += n_samples; /* figures, not builds: not retried */
                        pthread_mutex_unlock(&w->worker.lock);
                        if (r < 0)
                                set_errorf(w, r, "cannot write machine samples", h);
                }

                if (now_monotonic() >= prune_at) {
                        prune_at = now_monotonic() + PRUNE_EVERY_USEC;
                        int r = history_prune(h, now_realtime(), w->config.max_age, w->config.max_rows);
                        uint64_t rows = 0;
                        bool counted = r >= 0 && history_count(h, &rows) >= 0;
                        pthread_mutex_lock(&w->worker.lock);
                        if (r > 0)
                                w->pruned += (uint64_t) r;
                        if (counted)
                                w->rows = rows;
                        pthread_mutex_unlock(&w->worker.lock);
                        if (r > 0)
                                log_info("history: deleted %d rows past retention", r);
                }
        }

        if (n > 0 || w->count > 0)
                log_warning("history: stopping with %u records unwritten", n + w->count);
        batch_free(batch, &n);
        history_close(h);
        return NULL;
}

/* ---- event loop side ---- */

int history_writer_start(const HistoryConfig *cfg, HistoryWriter **ret) {
        HistoryWriter *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->config = *cfg;
        w->config.path = cfg->path ? strdup(cfg->path) : NULL;
        if (w->config.queue_max == 0)
                w->config.queue_max = 1;
        worker_init(&w->worker);
        w->state = "disabled";
        if (!cfg->path) {
                *ret = w;
                return 0;
        }
        w->state = "starting";
        if (!w->config.path) {
                history_writer_stop(w);
                return -ENOMEM;
        }
        int r = worker_start(&w->worker, writer_main, w);
        if (r < 0) {
                history_writer_stop(w);
                return r;
        }
        *ret = w;
        return 0;
}

HistoryWriter *history_writer_stop(HistoryWriter *w) {
        if (!w)
                return NULL;
        worker_done(&w->worker);
        for (uint32_t i = 0; i < w->count; i++)
                history_record_done(&w->queue[(w->head + i) % w->size]);
        free(w->queue);
        free(w->error);
        free(w->recovered);
        free(w->config.path);
        free(w);
        return NULL;
}

/* Takes rec (r == 0) into the queue, or counts it dropped (r < 0). */
static void queue_push(HistoryWriter *w, HistoryRecord *rec, int r) {
        pthread_mutex_lock(&w->worker.lock);
        if (r < 0) {
                w->dropped++;
                pthread_mutex_unlock(&w->worker.lock);
                return;
        }
        /* Full (the database has been unavailable for long): the oldest go. */
        uint64_t bytes = record_bytes(rec);
        while (w->count > 0 && w->bytes + bytes > QUEUE_BYTES_MAX)
                queue_drop_oldest(w);
        if (w->count == w->size && queue_grow(w) < 0) {
                if (w->size == 0) {
                        history_record_done(rec);
                        w->dropped++;
                        pthread_mutex_unlock(&w->worker.lock);
                        return;
                }
                queue_drop_oldest(w);
        }
        w->queue[(w->head + w->count) % w->size] = *rec;
        w->count++;
        w->bytes += bytes;
        worker_wake_locked(&w->worker);
        pthread_mutex_unlock(&w->worker.lock);
}

void history_writer_record(HistoryWriter *w, const Build *b) {
        if (!w || !w->worker.started)
                return;
        HistoryRecord rec;
        queue_push(w, &rec, history_record_from_build(b, &rec));
}

void history_writer_machine_sample(HistoryWriter *w, const MachineSample *s) {
        if (!w || !w->worker.started)
                return;
        pthread_mutex_lock(&w->worker.lock);
        if (w->samples_count == MACHINE_QUEUE_MAX) {
                w->samples_head = (w->samples_head + 1) % MACHINE_QUEUE_MAX;
                w->samples_count--;
                w->dropped++;
        }
        w->samples[(w->samples_head + w->samples_count) % MACHINE_QUEUE_MAX] = *s;
        w->samples_count++;
        worker_wake_locked(&w->worker);
        pthread_mutex_unlock(&w->worker.lock);
}

void history_writer_record_row(HistoryWriter *w, HistoryRecord *rec) {
        HistoryRecord r = *rec;
        *rec = (HistoryRecord){.requester_uid = -1, .exit_code = -1};
        if (!w || !w->worker.started) {
                history_record_done(&r);
                return;
        }
        queue_push(w, &r, 0);
}

void history_writer_record_oom(HistoryWriter *w, HistoryOom *o) {
        HistoryRecord rec = {.requester_uid = -1, .exit_code = -1, .oom = malloc(sizeof(HistoryOom))};
        if (rec.oom)
                *rec.oom = *o;
        else
                history_oom_done(o);
        *o = (HistoryOom){.requester_uid = -1};
        if (!w || !w->worker.started) {
                history_record_done(&rec);
                return;
        }
        queue_push(w, &rec, rec.oom ? 0 : -ENOMEM);
}

void history_writer_record_substitution(HistoryWriter *w, const Substitution *x) {
        if (!w || !w->worker.started)
                return;
        HistoryRecord rec;
        queue_push(w, &rec, history_record_from_substitution(x, &rec));
}

static void add_time_or_null(cJSON *o, const char *key, usec_t t) {
        if (t)
                cJSON_AddNumberToObject(o, key, usec_to_sec(t));
        else
                cJSON_AddNullToObject(o, key);
}

static void add_string_or_null(cJSON *o, const char *key, const char *s) {
        if (s)
                cJSON_AddStringToObject(o, key, s);
        else
                cJSON_AddNullToObject(o, key);
}

cJSON *history_writer_status(HistoryWriter *w) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        pthread_mutex_lock(&w->worker.lock);
        cJSON_AddStringToObject(o, "state", w->state);
        add_string_or_null(o, "path", w->config.path);
        add_string_or_null(o, "error", w->error);
        add_time_or_null(o, "error_since", w->error_since);
        add_string_or_null(o, "recovered", w->recovered);
        cJSON_AddNumberToObject(o, "schema", w->schema);
        cJSON_AddNumberToObject(o, "rows", (double) w->rows);
        cJSON_AddNumberToObject(o, "written", (double) w->written);
        cJSON_AddNumberToObject(o, "duplicates", (double) w->ignored);
        cJSON_AddNumberToObject(o, "queued", (double) (w->count + w->pending));
        cJSON_AddNumberToObject(o, "dropped", (double) w->dropped);
        cJSON_AddNumberToObject(o, "pruned", (double) w->pruned);
        pthread_mutex_unlock(&w->worker.lock);
        if (cJSON_GetArraySize(o) < 12) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

void history_writer_stats(HistoryWriter *w, HistoryWriterStats *ret) {
        if (!w) {
                *ret = (HistoryWriterStats){.state = "disabled"};
                return;
        }
        pthread_mutex_lock(&w->worker.lock);
        *ret = (HistoryWriterStats){
                .state = w->state,
                .written = w->written,
                .dropped = w->dropped,
                .queued = w->count + w->pending,
        };
        pthread_mutex_unlock(&w->worker.lock);
}

History *history_reader_get(HistoryWriter *w, HistoryReader *r, char **ret_error) {
        /* The writer replaced the file (corrupt, recreated): reopen. */
        if (r->h && r->opened_at != history_writer_reopened(w))
                r->h = history_close(r->h);
        if (r->h)
                return r->h;
        char *error = NULL;
        history_writer_wait_started(w, 5 * USEC_PER_SEC);
        const char *path = history_writer_path(w);
        if (path && history_open(path, HISTORY_OPEN_READONLY, &r->h, &error) >= 0) {
                r->opened_at = history_writer_reopened(w);
                return r->h;
        }
        r->h = NULL;
        char *why = history_writer_error(w);
        if (!why)
                why = error  ? TAKE_PTR(error)
                      : path ? strdup("history is unavailable")
                             : strdup("history is disabled (--history-db none)");
        free(error);
        *ret_error = why;
        return NULL;
}

void history_reader_close(HistoryReader *r) {
        r->h = history_close(r->h);
}

uint64_t history_writer_generation(HistoryWriter *w) {
        return w ? atomic_load(&w->generation) : 0;
}

const char *history_writer_path(HistoryWriter *w) {
        return w ? w->config.path : NULL;
}

char *history_writer_error(HistoryWriter *w) {
        if (!w)
                return NULL;
        pthread_mutex_lock(&w->worker.lock);
        char *e = w->error                            ? strdup(w->error)
                  : strcmp(w->state, "starting") == 0 ? strdup("history is not open yet")
                                                      : NULL;
        pthread_mutex_unlock(&w->worker.lock);
        return e;
}

uint64_t history_writer_reopened(HistoryWriter *w) {
        return w ? atomic_load(&w->reopened) : 0;
}

void history_writer_wait_started(HistoryWriter *w, usec_t timeout) {
        if (!w)
                return;
        usec_t deadline = now_monotonic() + timeout;
        for (;;) {
                pthread_mutex_lock(&w->worker.lock);
                bool starting = strcmp(w->state, "starting") == 0;
                pthread_mutex_unlock(&w->worker.lock);
                if (!starting || now_monotonic() >= deadline)
                        return;
                usleep(10 * 1000);
        }
}
