/* A worker thread with a bounded queue, for work that must not run on the event loop (history
 * queries, reading and parsing files a local user chose). Items are run in order, one at a
 * time, on the thread; each finished item comes back through an eventfd and its done()
 * runs on the event loop, which does only the cheap part (send a reply, update the model).
 * Bounded: at most max items wait; past that, submit refuses and counts the refusal. */
#pragma once

#include <stdint.h>

#include <systemd/sd-event.h>

#include "basic/time-util.h"

typedef struct WorkQueue WorkQueue;
typedef struct WorkItem WorkItem;

struct WorkItem {
        /* On the worker thread: everything slow. Touches only the item (and data it owns). */
        void (*run)(WorkItem *item, void *userdata);
        /* On the event loop once run() returned, and then never again: takes the item (frees
         * it). Items never run (the queue stopped first) go to release() instead. */
        void (*done)(WorkItem *item, void *userdata);
        void (*release)(WorkItem *item);
        WorkItem *next;
};

typedef struct WorkQueueStats {
        uint32_t waiting;    /* submitted, not yet finished */
        uint64_t done;       /* finished */
        uint64_t refused;    /* submit() said -EBUSY */
        usec_t max_run_usec; /* the longest run() so far */
} WorkQueueStats;

/* name: for log messages; userdata: passed to run() and done(). */
int work_queue_new(sd_event *e, const char *name, unsigned max, void *userdata, WorkQueue **ret);
/* Stops the thread after the item it runs (if any), and releases every undelivered item. */
WorkQueue *work_queue_free(WorkQueue *q);

/* Queues item (which must set run, done and release): 0, or -EBUSY when max items wait
 * already (counted; the item stays the caller's). */
int work_queue_submit(WorkQueue *q, WorkItem *item);
void work_queue_stats(WorkQueue *q, WorkQueueStats *ret);
