/* Unit tests for src/daemon/work-queue.c: the bound on waiting items (refusals counted),
 * answers back on the event loop in submission order, undelivered items released. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "daemon/work-queue.h"

typedef struct Item {
        WorkItem item;
        int id;
        bool ran;
        int *order; /* done() appends id here */
        int *n_order;
        int *released;
} Item;

/* run() blocks until the test opens the gate: the queue stays full meanwhile. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;

static void gate_set(bool open) {
        pthread_mutex_lock(&gate_lock);
        gate_open = open;
        pthread_cond_broadcast(&gate_cond);
        pthread_mutex_unlock(&gate_lock);
}

static void item_run(WorkItem *w, void *userdata) {
        pthread_mutex_lock(&gate_lock);
        while (!gate_open)
                pthread_cond_wait(&gate_cond, &gate_lock);
        pthread_mutex_unlock(&gate_lock);
        ((Item *) w)->ran = true;
}

static void item_done(WorkItem *w, void *userdata) {
        Item *i = (Item *) w;
        assert_ptr_equal(userdata, &gate_open);
        assert_true(i->ran); /* run() finished before done() */
        i->order[(*i->n_order)++] = i->id;
        free(i);
}

static void item_release(WorkItem *w) {
        Item *i = (Item *) w;
        (*i->released)++;
        free(i);
}

static Item *item_new(int id, int *order, int *n_order, int *released) {
        Item *i = calloc(1, sizeof(*i));
        assert_non_null(i);
        *i = (Item){.item = {.run = item_run, .done = item_done, .release = item_release},
                    .id = id,
                    .order = order,
                    .n_order = n_order,
                    .released = released};
        return i;
}

static void test_bounded(void **state) {
        sd_event *e = NULL;
        assert_int_equal(sd_event_new(&e), 0);
        WorkQueue *q = NULL;
        assert_int_equal(work_queue_new(e, "test", 3, &gate_open, &q), 0);
        int order[8], n_order = 0, released = 0;
        gate_set(false);
        for (int id = 1; id <= 3; id++)
                assert_int_equal(work_queue_submit(q, &item_new(id, order, &n_order, &released)->item), 0);
        /* Full: the one running and the two behind it count. */
        Item *extra = item_new(4, order, &n_order, &released);
        assert_int_equal(work_queue_submit(q, &extra->item), -EBUSY);
        assert_int_equal(work_queue_submit(q, &extra->item), -EBUSY);
        WorkQueueStats st;
        work_queue_stats(q, &st);
        assert_int_equal(st.waiting, 3);
        assert_int_equal(st.refused, 2);
        assert_int_equal(st.done, 0);
        free(extra);

        gate_set(true);
        for (int i = 0; i < 500 && n_order < 3; i++)
                assert_true(sd_event_run(e, 10 * 1000) >= 0);
        assert_int_equal(n_order, 3);
        assert_int_equal(order[0], 1);
        assert_int_equal(order[1], 2);
        assert_int_equal(order[2], 3);
        work_queue_stats(q, &st);
        assert_int_equal(st.waiting, 0);
        assert_int_equal(st.done, 3);
        /* Room again once answers are delivered. */
        assert_int_equal(work_queue_submit(q, &item_new(5, order, &n_order, &released)->item), 0);
        for (int i = 0; i < 500 && n_order < 4; i++)
                assert_true(sd_event_run(e, 10 * 1000) >= 0);
        assert_int_equal(order[3], 5);

        /* Stopped with items waiting: each is released, none delivered. */
        gate_set(false);
        for (int id = 6; id <= 8; id++)
                assert_int_equal(work_queue_submit(q, &item_new(id, order, &n_order, &released)->item), 0);
        gate_set(true); /* lets the running one end; the thread then stops */
        q = work_queue_free(q);
        assert_int_equal(n_order, 4);
        assert_int_equal(released, 3);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bounded),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
