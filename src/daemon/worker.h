/* A thread that sleeps until there is work, a deadline or a stop: the loop under the work
 * queue (work-queue.h) and the history writer (history-writer.h). Its owner keeps what the
 * thread works on under lock, wakes it with worker_wake_locked() and stops it with
 * worker_done(); the thread's function returns once it sees stop. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "basic/time-util.h"

typedef struct Worker {
        pthread_mutex_t lock;
        pthread_cond_t wake; /* timed on CLOCK_MONOTONIC, as now_monotonic() */
        bool stop;           /* under lock: worker_done() asked the thread to end */
        bool started;        /* the thread runs (written before it starts, then read-only) */
        pthread_t thread;
} Worker;

/* Makes lock and condition; first, before anything else touches w. */
void worker_init(Worker *w);
/* Runs fn(userdata) on a new thread. 0 or -errno. */
int worker_start(Worker *w, void *(*fn)(void *), void *userdata);
/* Sets stop, wakes the thread and waits for its function to return (nothing to wait for when
 * it never started), then destroys lock and condition. */
void worker_done(Worker *w);

/* With lock held: sleeps until woken, or at most until the monotonic time until (0: no
 * deadline). Wakes may be spurious: the caller looks again at what it waits for. */
void worker_wait_locked(Worker *w, usec_t until);
/* With lock held: wakes the thread. */
void worker_wake_locked(Worker *w);
