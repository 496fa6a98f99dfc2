/* The worker thread (see the header), on worker.h. Its lock guards both lists; the thread
 * takes items from the head of todo and pushes finished ones on done, then writes the
 * eventfd, whose handler on the event loop takes the whole done list at once. */
#include "daemon/work-queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/worker.h"

struct WorkQueue {
        char *name;
        void *userdata;
        unsigned max;
        int efd;
        sd_event_source *done_source;

        Worker worker; /* its lock guards what follows */
        WorkItem *todo, **todo_tail;
        WorkItem *done; /* newest first */
        unsigned waiting;
        uint64_t n_done, refused;
        usec_t max_run;
};

static void *worker_main(void *userdata) {
        WorkQueue *q = userdata;
        for (;;) {
                pthread_mutex_lock(&q->worker.lock);
                while (!q->worker.stop && !q->todo)
                        worker_wait_locked(&q->worker, /* until= */ 0);
                if (q->worker.stop) {
                        pthread_mutex_unlock(&q->worker.lock);
                        break;
                }
                WorkItem *item = q->todo;
                q->todo = item->next;
                if (!q->todo)
                        q->todo_tail = &q->todo;
                pthread_mutex_unlock(&q->worker.lock);

                usec_t t0 = now_monotonic();
                item->run(item, q->userdata);
                usec_t took = now_monotonic() - t0;

                pthread_mutex_lock(&q->worker.lock);
                item->next = q->done;
                q->done = item;
                q->max_run = MAX(q->max_run, took);
                pthread_mutex_unlock(&q->worker.lock);
                uint64_t one = 1;
                if (write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                        log_warning_errno(errno, "%s worker: cannot wake the event loop: %m", q->name);
        }
        return NULL;
}

static int on_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        WorkQueue *q = userdata;
        uint64_t n;
        (void) read(q->efd, &n, sizeof(n));
        pthread_mutex_lock(&q->worker.lock);
        WorkItem *list = TAKE_PTR(q->done);
        unsigned count = 0;
        for (WorkItem *i = list; i; i = i->next)
                count++;
        q->waiting -= count;
        q->n_done += count;
        pthread_mutex_unlock(&q->worker.lock);
        /* Back to submission order: done() of one item may depend on an earlier one's. */
        WorkItem *ordered = NULL;
        while (list) {
                WorkItem *i = list;
                list = i->next;
                i->next = ordered;
                ordered = i;
        }
        while (ordered) {
                WorkItem *i = ordered;
                ordered = i->next;
                i->next = NULL;
                i->done(i, q->userdata);
        }
        return 0;
}

int work_queue_new(sd_event *e, const char *name, unsigned max, void *userdata, WorkQueue **ret) {
        WorkQueue *q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->userdata = userdata;
        q->max = max;
        q->todo_tail = &q->todo;
        worker_init(&q->worker);
        q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int r = q->efd < 0 ? -errno : 0;
        if (r == 0 && !(q->name = strdup(name)))
                r = -ENOMEM;
        if (r == 0)
                r = sd_event_add_io(e, &q->done_source, q->efd, EPOLLIN, on_done, q);
        if (r == 0)
                r = worker_start(&q->worker, worker_main, q);
        if (r < 0) {
                work_queue_free(q);
                return r;
        }
        *ret = q;
        return 0;
}

static void release_list(WorkItem *list) {
        while (list) {
                WorkItem *next = list->next;
                list->release(list);
                list = next;
        }
}

WorkQueue *work_queue_free(WorkQueue *q) {
        if (!q)
                return NULL;
        worker_done(&q->worker);
        release_list(q->todo);
        release_list(q->done);
        sd_event_source_disable_unref(q->done_source);
        if (q->efd >= 0)
                close(q->efd);
        free(q->name);
        free(q);
        return NULL;
}

int work_queue_submit(WorkQueue *q, WorkItem *item) {
        item->next = NULL;
        pthread_mutex_lock(&q->worker.lock);
        if (q->waiting >= q->max) {
                q->refused++;
                pthread_mutex_unlock(&q->worker.lock);
                return -EBUSY;
        }
        *q->todo_tail = item;
        q->todo_tail = &item->next;
        q->waiting++;
        worker_wake_locked(&q->worker);
        pthread_mutex_unlock(&q->worker.lock);
        return 0;
}

void work_queue_stats(WorkQueue *q, WorkQueueStats *ret) {
        pthread_mutex_lock(&q->worker.lock);
        *ret = (WorkQueueStats){
                .waiting = q->waiting,
                .done = q->n_done,
                .refused = q->refused,
                .max_run_usec = q->max_run,
        };
        pthread_mutex_unlock(&q->worker.lock);
}
