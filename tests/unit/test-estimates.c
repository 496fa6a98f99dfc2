/* Unit tests for src/daemon/estimates.c: build ETAs from a real history file, looked up on the
 * worker thread and given to the builds when the answer is back on the event loop (then from
 * the cache before the change drain reports a build); new history rows make answers stale. */
#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/daemon.h"
#include "daemon/estimates.h"
#include "daemon/history-writer.h"
#include "shared/history.h"
#include "shared/model.h"
#include "test-helpers.h"

#define HA "hcdvxxibblyx54zh5h35428q32q9qwzb"
#define HB "8gp0x1zy0kk0fmxyw2v1jyjps2xrygcy"
#define HO "0ai2l1c3xzgw3zkbw4asr4l4wv5l2p1s"
#define T0 (1000 * USEC_PER_SEC)

typedef struct Fixture {
        char *dir;
        char store[512], db[512];
        Daemon d;
        Source *s;
} Fixture;

/* Three successful builds of hello on this machine, 10, 12 and 14 s long. */
static void write_history(Fixture *f) {
        History *h;
        assert_int_equal(history_open(f->db, 0, &h, NULL), 0);
        HistoryRecord recs[3];
        char drv[600], kind[] = "build", name[] = "hello-2.0", pname[] = "hello", machine[] = "",
                       st[] = "succeeded";
        snprintf(drv, sizeof(drv), "%s/" HB "-hello-2.0.drv", f->store);
        for (int i = 0; i < 3; i++)
                recs[i] = (HistoryRecord){
                        .kind = kind,
                        .drv = drv,
                        .name = name,
                        .pname = pname,
                        .machine = machine,
                        .state = st,
                        .requester_uid = -1,
                        .queued = T0 + (usec_t) i * 100 * USEC_PER_SEC,
                        .started = T0 + (usec_t) i * 100 * USEC_PER_SEC,
                        .finished =
                                T0 + (usec_t) i * 100 * USEC_PER_SEC + (10 + 2 * (usec_t) i) * USEC_PER_SEC,
                        .exit_code = 0,
                };
        assert_int_equal(history_insert(h, recs, 3), 3); /* rows inserted */
        history_close(h);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        f->dir = test_mkdtemp();
        snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
        snprintf(f->db, sizeof(f->db), "%s/history.db", f->dir);
        write_history(f);

        Daemon *d = &f->d;
        model_config_defaults(&d->config.model);
        d->config.model.store_dir = f->store;
        d->config.history.path = f->db;
        d->config.history.queue_max = 16;
        assert_int_equal(sd_event_new(&d->event), 0);
        assert_int_equal(model_new(&d->config.model, &d->model), 0);
        assert_int_equal(history_writer_start(&d->config.history, &d->history), 0);
        history_writer_wait_started(d->history, 5 * USEC_PER_SEC);
        assert_int_equal(estimates_new(d, &d->estimates), 0);
        assert_int_equal(model_source_new(d->model, getpid(), getuid(), true, T0, &f->s), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        estimates_free(f->d.estimates);
        history_writer_stop(f->d.history);
        model_free(f->d.model);
        sd_event_unref(f->d.event);
        test_rm_rf(f->dir);
        free(f->dir);
        free(f);
        return 0;
}

static unsigned reported, reported_samples, reported_kinds;
static void on_build(void *userdata, Build *b, unsigned kinds, uint64_t new_lines) {
        reported++;
        reported_samples = b->eta.samples;
        reported_kinds = kinds;
}

static void drain(Fixture *f) {
        static const ModelChangeHandler h = {.build = on_build};
        reported = reported_samples = reported_kinds = 0;
        model_drain_changes(f->d.model, &h, NULL);
}

/* Runs the event loop until the model has changes (an answer came back), at most 5 s. */
static void wait_for_answer(Fixture *f) {
        for (int i = 0; i < 50 && !model_has_changes(f->d.model); i++)
                assert_true(sd_event_run(f->d.event, 100 * USEC_PER_MSEC) >= 0);
        assert_true(model_has_changes(f->d.model));
}

static Build *start_build(Fixture *f, const char *hash, unsigned id, usec_t now) {
        assert_int_equal(test_feed(f->d.model, f->s, now,
                                   "{\"action\":\"start\",\"fields\":[\"%s/%s-hello-2.0.drv\",\"\",1,1],"
                                   "\"id\":%u,\"level\":3,\"text\":\"b\",\"type\":105}",
                                   f->store, hash, id),
                         0);
        for (Build *b = model_builds_first(f->d.model); b; b = b->next)
                if (strstr(b->drv, hash))
                        return b;
        fail_msg("no build of %s", hash);
        return NULL;
}

/* A build that starts running is reported at once without an ETA (the lookup runs on the
 * worker thread), then changed with the ETA when the answer is back. */
static void test_running_build_gets_eta_from_worker(void **state) {
        Fixture *f = *state;
        Build *b = start_build(f, HA, 7, T0);
        assert_false(b->eta.looked_up);
        estimates_update(&f->d);
        drain(f);
        assert_int_equal(reported, 1);
        assert_int_equal(reported_samples, 0);
        assert_true(reported_kinds & (1u << CHANGE_NEW));
        assert_false(b->eta.looked_up);

        wait_for_answer(f);
        estimates_update(&f->d);
        drain(f);
        assert_int_equal(reported, 1);
        assert_int_equal(reported_kinds, 1u << CHANGE_CHANGED);
        assert_int_equal(reported_samples, 3);
        assert_true(b->eta.looked_up);
        assert_true(b->eta.expected == 12.0); /* the median */
        assert_false(b->eta.other_machines);

        /* Changed again, same estimate (cached): nothing more to report for it. */
        estimates_update(&f->d);
        assert_false(model_has_changes(f->d.model));
}

/* A second build of the same pname gets the cached answer before it is first reported; a
 * build of it ending in history makes the answer stale: the next build's ETA counts it. */
static void test_cached_then_stale_after_new_history(void **state) {
        Fixture *f = *state;
        Build *a = start_build(f, HA, 7, T0);
        estimates_update(&f->d);
        drain(f);
        wait_for_answer(f);
        estimates_update(&f->d);
        drain(f);
        assert_true(a->eta.expected == 12.0);

        Build *b = start_build(f, HB, 8, T0);
        estimates_update(&f->d);
        drain(f);
        assert_int_equal(reported, 1);
        assert_int_equal(reported_samples, 3); /* from the cache, in its first event */

        /* a ends after 20 s, its output there (succeeded), and goes to history: samples 10,
         * 12, 14, 20, median 13. */
        char drv[1024], out[1024];
        snprintf(drv, sizeof(drv),
                 "Derive([(\"out\",\"%s/" HO
                 "-hello-2.0\",\"\",\"\")],[],[],\"x86_64-linux\",\"/bin/sh\",[],[])",
                 f->store);
        test_write_file(f->dir, "store/" HA "-hello-2.0.drv", drv, (size_t) -1);
        snprintf(out, sizeof(out), "store/" HO "-hello-2.0");
        test_write_file(f->dir, out, "done\n", (size_t) -1);
        uint64_t gen = history_writer_generation(f->d.history);
        assert_int_equal(
                test_feed(f->d.model, f->s, T0 + 20 * USEC_PER_SEC, "{\"action\":\"stop\",\"id\":7}"), 0);
        assert_int_equal(a->state, BUILD_SUCCEEDED);
        history_writer_record(f->d.history, a);
        for (int i = 0; i < 500 && history_writer_generation(f->d.history) == gen; i++)
                usleep(10 * 1000);
        assert_true(history_writer_generation(f->d.history) != gen);
        drain(f);

        /* b changes (a new phase): the stale answer is asked again, and b gets the new one. */
        assert_int_equal(
                test_feed(f->d.model, f->s, T0 + 21 * USEC_PER_SEC,
                          "{\"action\":\"result\",\"id\":8,\"type\":104,\"fields\":[\"configure\"]}"),
                0);
        estimates_update(&f->d);
        drain(f);
        assert_int_equal(b->eta.samples, 3); /* the old answer until the new one is back */
        wait_for_answer(f);
        estimates_update(&f->d);
        drain(f);
        assert_int_equal(reported, 1);
        assert_int_equal(reported_samples, 4);
        assert_true(b->eta.expected == 13.0);
}

/* Queued builds wait for the idle source and the worker, then are reported changed with
 * their ETA; a pname without history is looked up too, and has none. */
static void test_queued_builds_looked_up_later(void **state) {
        Fixture *f = *state;
        assert_int_equal(
                test_feed(f->d.model, f->s, T0,
                          "{\"action\":\"msg\",\"level\":3,\"msg\":\"these 2 derivations will be built:\"}"),
                0);
        assert_int_equal(test_feed(f->d.model, f->s, T0,
                                   "{\"action\":\"msg\",\"level\":3,\"msg\":\"  %s/" HA "-hello-2.0.drv\"}",
                                   f->store),
                         0);
        assert_int_equal(test_feed(f->d.model, f->s, T0,
                                   "{\"action\":\"msg\",\"level\":3,\"msg\":\"  %s/" HB "-other-1.0.drv\"}",
                                   f->store),
                         0);
        estimates_update(&f->d);
        drain(f);
        assert_int_equal(reported, 2);
        assert_int_equal(reported_samples, 0);
        for (Build *b = model_builds_first(f->d.model); b; b = b->next) {
                assert_int_equal(b->state, BUILD_QUEUED);
                assert_false(b->eta.looked_up);
        }

        /* Both answers are back once both builds have them (one may come in a later turn). */
        for (int i = 0; i < 50; i++) {
                bool all = true;
                for (Build *b = model_builds_first(f->d.model); b; b = b->next)
                        all = all && b->eta.looked_up;
                if (all)
                        break;
                assert_true(sd_event_run(f->d.event, 100 * USEC_PER_MSEC) >= 0);
        }
        estimates_update(&f->d);
        drain(f);
        assert_int_equal(reported, 2);
        assert_int_equal(reported_kinds, 1u << CHANGE_CHANGED);
        for (Build *b = model_builds_first(f->d.model); b; b = b->next) {
                assert_true(b->eta.looked_up);
                assert_int_equal(b->eta.samples, strstr(b->name, "hello") ? 3 : 0);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_running_build_gets_eta_from_worker, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cached_then_stale_after_new_history, setup, teardown),
                cmocka_unit_test_setup_teardown(test_queued_builds_looked_up_later, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
