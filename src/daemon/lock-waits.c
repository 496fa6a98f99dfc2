/* Lock waits Nix reports from inside nix-daemon, attributed through Nix's database (see
 * lock-waits.h). */
#include "daemon/lock-waits.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/work-queue.h"
#include "shared/model-machines.h"
#include "shared/store-db.h"

#define ASKS_MAX   64 /* lookups waiting at once; more are dropped (a peer may send many waits) */
#define BUSY_TRIES 20 /* Nix writing: looked at again 50 ms later, this many times at most */
#define BUSY_PAUSE (50 * 1000 * 1000L)

typedef struct Ask {
        WorkItem item; /* first: the queue hands items back */
        uint64_t source_id, activity_id;
        char *output, *drv;
        int r;
} Ask;

struct LockWaits {
        Daemon *d;
        WorkQueue *queue;
        StoreDb *db; /* the worker thread's (and lock_waits_free's once it stopped) */
};

static void ask_free(Ask *a) {
        free(a->output);
        free(a->drv);
        free(a);
}

static void ask_run(WorkItem *item, void *userdata) {
        LockWaits *l = userdata;
        Ask *a = (Ask *) item;
        for (int i = 0; i < BUSY_TRIES; i++) {
                a->r = store_db_output_drv(l->db, a->output, &a->drv);
                if (a->r != -EAGAIN)
                        return;
                (void) nanosleep(&(struct timespec){.tv_nsec = BUSY_PAUSE}, NULL);
        }
}

static void ask_done(WorkItem *item, void *userdata) {
        LockWaits *l = userdata;
        Ask *a = (Ask *) item;
        if (a->r > 0) {
                int r = model_lock_wait_found(l->d->model, a->source_id, a->activity_id, a->drv,
                                              now_realtime());
                if (r < 0)
                        log_debug_errno(r, "lock wait on %s: build of %s not made: %m", a->output, a->drv);
        } else if (a->r == 0 || a->r == -ENOTUNIQ)
                log_debug("lock wait on %s: %s derivation of it in Nix's database", a->output,
                          a->r == 0 ? "no" : "more than one");
        else
                log_debug_errno(a->r, "lock wait on %s: Nix's database not read: %m", a->output);
        ask_free(a);
}

static void ask_release(WorkItem *item) {
        ask_free((Ask *) item);
}

void lock_waits_ask(LockWaits *l, uint64_t source_id, uint64_t activity_id, const char *output) {
        if (!l)
                return;
        Ask *a = calloc(1, sizeof(*a));
        if (!a || !(a->output = strdup(output))) {
                free(a);
                return;
        }
        a->item = (WorkItem){.run = ask_run, .done = ask_done, .release = ask_release};
        a->source_id = source_id;
        a->activity_id = activity_id;
        if (work_queue_submit(l->queue, &a->item) < 0)
                ask_free(a);
}

int lock_waits_new(Daemon *d, const char *db_path, LockWaits **ret) {
        LockWaits *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->d = d;
        int r = store_db_new(db_path, &l->db);
        if (r >= 0)
                r = work_queue_new(d->event, "lock wait lookup", ASKS_MAX, l, &l->queue);
        if (r < 0) {
                lock_waits_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

LockWaits *lock_waits_free(LockWaits *l) {
        if (!l)
                return NULL;
        work_queue_free(l->queue); /* first: the thread stops using the database */
        store_db_free(l->db);
        free(l);
        return NULL;
}
