/* The history query thread (see the header). Jobs go in under a mutex; finished jobs come
 * back through an eventfd watched by the event loop, which sends each answer on its
 * connection if the client is still there. */
#include "daemon/query-worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/commands.h"
#include "daemon/control-conn.h"
#include "daemon/history-writer.h"
#include "daemon/reply.h"

typedef struct Job {
        uint64_t conn;
        cJSON *id;   /* the request's id (a copy) */
        cJSON *args; /* the request's args (a copy): the query's strings point into it */
        QueryKind kind;
        HistoryQuery q;
        unsigned top;
        Reply reply;
        struct Job *next;
} Job;

struct QueryWorker {
        Daemon *d;
        pthread_t thread;
        bool started;
        int efd;
        sd_event_source *done_source;

        pthread_mutex_t lock;
        pthread_cond_t wake;
        bool stop;
        Job *todo, **todo_tail;
        Job *done;
        unsigned n_todo;

        /* worker thread only */
        History *h;
        uint64_t opened_at;
};

static void job_free(Job *j) {
        if (!j)
                return;
        cJSON_Delete(j->id);
        cJSON_Delete(j->args);
        cJSON_Delete(j->reply.result);
        cJSON_Delete(j->reply.extra);
        free(j->reply.message);
        free(j);
}

/* ---- worker thread ---- */

static void run_job(QueryWorker *w, Job *j) {
        if (!w->h) {
                char *error = NULL;
                history_writer_wait_started(w->d->history, 5 * USEC_PER_SEC);
                const char *path = history_writer_path(w->d->history);
                int k = path ? history_open(path, HISTORY_OPEN_READONLY, &w->h, &error) : -ENOENT;
                if (k < 0) {
                        w->h = NULL;
                        char *why = history_writer_error(w->d->history);
                        reply_error(&j->reply, NA_ERR_UNAVAILABLE, "%s",
                                    why     ? why
                                    : error ? error
                                    : path  ? "history is unavailable"
                                            : "history is disabled (--history-db none)");
                        free(why);
                        free(error);
                        return;
                }
                w->opened_at = history_writer_reopened(w->d->history);
        }
        int k;
        if (j->kind == QUERY_HISTORY) {
                cJSON *rows = NULL;
                uint64_t total = 0;
                k = history_query(w->h, &j->q, QUERY_BUDGET, &rows, &total);
                if (k >= 0) {
                        j->reply.result = cJSON_CreateObject();
                        if (!j->reply.result || !cJSON_AddItemToObject(j->reply.result, "builds", rows)) {
                                cJSON_Delete(rows);
                                k = -ENOMEM;
                        } else if (j->q.count)
                                cJSON_AddNumberToObject(j->reply.result, "total", (double) total);
                        else
                                cJSON_AddNullToObject(j->reply.result, "total");
                }
        } else {
                cJSON *stats = NULL;
                k = history_stats(w->h, &j->q.filter, j->top, QUERY_BUDGET, &stats);
                if (k >= 0) {
                        cJSON_AddNumberToObject(stats, "since", usec_to_sec(j->q.filter.since));
                        if (j->q.filter.until)
                                cJSON_AddNumberToObject(stats, "until", usec_to_sec(j->q.filter.until));
                        else
                                cJSON_AddNullToObject(stats, "until");
                        j->reply.result = stats;
                }
        }
        if (k >= 0)
                return;
        cJSON_Delete(j->reply.result);
        j->reply.result = NULL;
        if (k == -ENOMEM)
                reply_oom(&j->reply);
        else if (k == -ETIME)
                reply_error(&j->reply, NA_ERR_UNAVAILABLE, "the query took longer than %llu s: narrow it",
                            (unsigned long long) (QUERY_BUDGET / USEC_PER_SEC));
        else {
                reply_error(&j->reply, NA_ERR_UNAVAILABLE, "history query failed: %s", history_errmsg(w->h));
                w->h = history_close(w->h); /* the file may have changed: open afresh */
        }
}

static void *worker_main(void *userdata) {
        QueryWorker *w = userdata;
        for (;;) {
                pthread_mutex_lock(&w->lock);
                while (!w->stop && !w->todo)
                        pthread_cond_wait(&w->wake, &w->lock);
                if (w->stop) {
                        pthread_mutex_unlock(&w->lock);
                        break;
                }
                Job *j = w->todo;
                w->todo = j->next;
                if (!w->todo)
                        w->todo_tail = &w->todo;
                w->n_todo--;
                pthread_mutex_unlock(&w->lock);

                /* The writer replaced the file (corrupt, recreated): reopen. */
                if (w->h && w->opened_at != history_writer_reopened(w->d->history))
                        w->h = history_close(w->h);
                run_job(w, j);

                pthread_mutex_lock(&w->lock);
                j->next = w->done;
                w->done = j;
                pthread_mutex_unlock(&w->lock);
                uint64_t one = 1;
                if (write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                        log_warning_errno(errno, "query worker: cannot wake the event loop: %m");
        }
        history_close(w->h);
        return NULL;
}

/* ---- event loop ---- */

static int on_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        QueryWorker *w = userdata;
        uint64_t n;
        (void) read(w->efd, &n, sizeof(n));
        pthread_mutex_lock(&w->lock);
        Job *list = TAKE_PTR(w->done);
        pthread_mutex_unlock(&w->lock);
        /* The list is newest first; answers to different connections may go in any order. */
        while (list) {
                Job *j = list;
                list = j->next;
                ControlConn *c = control_conn_by_serial(w->d, j->conn);
                if (c) {
                        commands_send_reply(c, j->id, &j->reply);
                        j->reply = (Reply){};
                        control_conn_resume(c);
                }
                job_free(j);
        }
        return 0;
}

int query_worker_start(Daemon *d, QueryWorker **ret) {
        QueryWorker *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->d = d;
        w->todo_tail = &w->todo;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->wake, NULL);
        w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int r = w->efd < 0 ? -errno : 0;
        if (r == 0)
                r = sd_event_add_io(d->event, &w->done_source, w->efd, EPOLLIN, on_done, w);
        if (r == 0)
                r = -pthread_create(&w->thread, NULL, worker_main, w);
        if (r < 0) {
                query_worker_stop(w);
                return r;
        }
        w->started = true;
        *ret = w;
        return 0;
}

QueryWorker *query_worker_stop(QueryWorker *w) {
        if (!w)
                return NULL;
        if (w->started) {
                pthread_mutex_lock(&w->lock);
                w->stop = true;
                pthread_cond_signal(&w->wake);
                pthread_mutex_unlock(&w->lock);
                pthread_join(w->thread, NULL);
        }
        for (Job *j = w->todo; j;) {
                Job *next = j->next;
                job_free(j);
                j = next;
        }
        for (Job *j = w->done; j;) {
                Job *next = j->next;
                job_free(j);
                j = next;
        }
        sd_event_source_disable_unref(w->done_source);
        if (w->efd >= 0)
                close(w->efd);
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
}

int query_worker_submit(QueryWorker *w, ControlConn *c, const ControlRequest *req, QueryKind kind,
                        QueryParse parse, Reply *r) {
        Job *j = calloc(1, sizeof(*j));
        if (!j)
                return reply_oom(r);
        j->conn = c->serial;
        j->kind = kind;
        j->id = req->id ? cJSON_Duplicate(req->id, true) : cJSON_CreateNull();
        j->args = req->args ? cJSON_Duplicate(req->args, true) : cJSON_CreateObject();
        if (!j->id || !j->args) {
                job_free(j);
                return reply_oom(r);
        }
        ControlRequest copy = {.args = j->args};
        if (parse(&copy, &j->q, &j->top, r) < 0) {
                job_free(j);
                return -EINVAL;
        }
        pthread_mutex_lock(&w->lock);
        if (w->n_todo >= QUERY_JOBS_MAX) {
                pthread_mutex_unlock(&w->lock);
                job_free(j);
                return reply_error(r, NA_ERR_UNAVAILABLE,
                                   "%d history queries are waiting already; try again", QUERY_JOBS_MAX);
        }
        *w->todo_tail = j;
        w->todo_tail = &j->next;
        w->n_todo++;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
        r->deferred = true;
        control_conn_defer(c);
        return 0;
}
