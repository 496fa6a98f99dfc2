/* A thread with the lock, condition and stop flag it sleeps on (see the header). */
#include "daemon/worker.h"

#include <time.h>

void worker_init(Worker *w) {
        *w = (Worker){};
        pthread_mutex_init(&w->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&w->wake, &ca);
        pthread_condattr_destroy(&ca);
}

int worker_start(Worker *w, void *(*fn)(void *), void *userdata) {
        int r = pthread_create(&w->thread, NULL, fn, userdata);
        if (r != 0)
                return -r;
        w->started = true;
        return 0;
}

void worker_done(Worker *w) {
        if (w->started) {
                pthread_mutex_lock(&w->lock);
                w->stop = true;
                pthread_cond_signal(&w->wake);
                pthread_mutex_unlock(&w->lock);
                pthread_join(w->thread, NULL);
                w->started = false;
        }
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
}

void worker_wait_locked(Worker *w, usec_t until) {
        if (until == 0) {
                pthread_cond_wait(&w->wake, &w->lock);
                return;
        }
        struct timespec ts = {
                .tv_sec = (time_t) (until / USEC_PER_SEC),
                .tv_nsec = (long) (until % USEC_PER_SEC) * 1000,
        };
        pthread_cond_timedwait(&w->wake, &w->lock, &ts);
}

void worker_wake_locked(Worker *w) {
        pthread_cond_signal(&w->wake);
}
