/* Unit tests for src/daemon/worker.c: a thread woken by its owner, sleeping to a deadline on
 * the monotonic clock, and stopped from any of its waits. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/worker.h"

typedef struct Counter {
        Worker worker;
        unsigned asked, done; /* under worker.lock */
        usec_t deadline;      /* 0: wait for a wake only */
        unsigned timeouts;
} Counter;

/* Does each job asked for; with a deadline, counts the waits that reached it. */
static void *counter_main(void *userdata) {
        Counter *c = userdata;
        pthread_mutex_lock(&c->worker.lock);
        while (!c->worker.stop) {
                if (c->done < c->asked) {
                        c->done++;
                        continue;
                }
                worker_wait_locked(&c->worker, c->deadline);
                if (c->deadline && now_monotonic() >= c->deadline) {
                        c->timeouts++;
                        c->deadline = 0;
                }
        }
        pthread_mutex_unlock(&c->worker.lock);
        return NULL;
}

static unsigned done_now(Counter *c) {
        pthread_mutex_lock(&c->worker.lock);
        unsigned n = c->done;
        pthread_mutex_unlock(&c->worker.lock);
        return n;
}

static void test_wake_and_stop(void **state) {
        Counter c;
        worker_init(&c.worker);
        c.asked = c.done = c.timeouts = 0;
        c.deadline = 0;
        assert_int_equal(worker_start(&c.worker, counter_main, &c), 0);
        assert_true(c.worker.started);
        for (unsigned i = 1; i <= 3; i++) {
                pthread_mutex_lock(&c.worker.lock);
                c.asked++;
                worker_wake_locked(&c.worker);
                pthread_mutex_unlock(&c.worker.lock);
                usec_t until = now_monotonic() + 5 * USEC_PER_SEC;
                while (done_now(&c) < i && now_monotonic() < until)
                        usleep(1000);
                assert_int_equal(done_now(&c), i);
        }
        /* Stopped while it sleeps with no deadline: returns, joined. */
        worker_done(&c.worker);
        assert_false(c.worker.started);
        assert_int_equal(c.done, 3);
        assert_int_equal(c.timeouts, 0);
}

static void test_deadline(void **state) {
        Counter c;
        worker_init(&c.worker);
        c.asked = c.done = c.timeouts = 0;
        usec_t t0 = now_monotonic();
        c.deadline = t0 + 100 * USEC_PER_MSEC;
        assert_int_equal(worker_start(&c.worker, counter_main, &c), 0);
        usec_t until = t0 + 5 * USEC_PER_SEC;
        for (;;) {
                pthread_mutex_lock(&c.worker.lock);
                unsigned n = c.timeouts;
                pthread_mutex_unlock(&c.worker.lock);
                if (n > 0 || now_monotonic() >= until)
                        break;
                usleep(1000);
        }
        usec_t took = now_monotonic() - t0;
        worker_done(&c.worker);
        assert_int_equal(c.timeouts, 1);
        assert_true(took >= 100 * USEC_PER_MSEC);
        assert_true(took < 5 * USEC_PER_SEC);
}

/* Never started (a disabled history writer): done() only frees. */
static void test_never_started(void **state) {
        Worker w;
        worker_init(&w);
        pthread_mutex_lock(&w.lock);
        worker_wait_locked(&w, now_monotonic() + USEC_PER_MSEC); /* returns at the deadline */
        pthread_mutex_unlock(&w.lock);
        worker_done(&w);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_wake_and_stop),
                cmocka_unit_test(test_deadline),
                cmocka_unit_test(test_never_started),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
