/* Unit tests for src/shared/resume.c and model-resume.c: the running builds kept across a
 * daemon restart, as a document and back (hostile documents included), and what a build
 * found again takes back from its record. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "shared/model-proc.h"
#include "shared/model-resume.h"
#include "shared/model.h"
#include "shared/resume.h"
#include "test-helpers.h"

#define T0 (1000 * USEC_PER_SEC) /* when the fixture's source connected */

/* A build reported by a stream, running with 3 log lines, its invocation at 0/2 done. */
static Build *running_build(TestModelFixture *f) {
        test_feed(f->m, f->s, T0, "{\"action\":\"start\",\"id\":4,\"type\":104,\"level\":0,\"text\":\"\"}");
        test_feed(f->m, f->s, T0, "{\"action\":\"result\",\"id\":4,\"type\":105,\"fields\":[0,2,1,0]}");
        test_feed(
                f->m, f->s, T0 + USEC_PER_SEC,
                "{\"action\":\"start\",\"id\":7,\"type\":105,\"level\":3,\"parent\":4,\"text\":\"building\","
                "\"fields\":[\"%s\",\"\",1,1]}",
                f->drv);
        for (int i = 0; i < 3; i++)
                test_feed(f->m, f->s, T0 + 2 * USEC_PER_SEC,
                          "{\"action\":\"result\",\"id\":7,\"type\":101,\"fields\":[\"line %d\"]}", i);
        Build *b = model_builds_first(f->m);
        assert_non_null(b);
        assert_int_equal(b->state, BUILD_RUNNING);
        assert_int_equal(b->log.total, 3);
        return b;
}

static void test_round_trip(void **state) {
        TestModelFixture *f = *state;
        Build *b = running_build(f);
        b->usage = (BuildUsage){.sampled = true, .cpu_user = 5 * USEC_PER_SEC, .mem_peak = 1 << 20};
        b->invocation->counts[COUNT_SUCCEEDED] = 4; /* as if four had ended and been let go of */
        b->invocation->counts[COUNT_DEPENDENCY] = 2;
        char *doc;
        size_t count;
        assert_int_equal(resume_snapshot(f->m, T0 + 3 * USEC_PER_SEC, &doc, &count), 0);
        assert_int_equal(count, 1);
        ResumeBuild *r;
        size_t n;
        assert_int_equal(resume_parse(doc, strlen(doc), &r, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(r[0].drv, f->drv);
        assert_string_equal(r[0].name, "a");
        assert_int_equal(r[0].started, T0 + USEC_PER_SEC);
        assert_false(r[0].start_unknown);
        assert_int_equal(r[0].log_lines, 3);
        assert_int_equal(r[0].nix_pid, 4242);
        assert_int_equal(r[0].nix_start, 55);
        assert_false(r[0].untrusted);
        assert_int_equal(r[0].progress[1], 2);
        assert_int_equal(r[0].progress[2], 1);
        assert_int_equal(r[0].ended[COUNT_SUCCEEDED], 4);
        assert_int_equal(r[0].ended[COUNT_DEPENDENCY], 2);
        assert_int_equal(r[0].ended[COUNT_RUNNING], 0); /* ended builds only */
        assert_true(r[0].usage.sampled);
        assert_int_equal(r[0].usage.cpu_user, 5 * USEC_PER_SEC);
        assert_int_equal(r[0].usage.mem_peak, 1 << 20);
        resume_builds_free(r, n);
        free(doc);
}

static void test_hostile(void **state) {
        static const char *const bad[] = {
                "", "not json", "[]", "{\"version\":2,\"builds\":[]}", "{\"version\":1,\"builds\":{}}",
        };
        ResumeBuild *r = NULL;
        size_t n = 0;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(resume_parse(bad[i], strlen(bad[i]), &r, &n), -EBADMSG);
        /* Records without a drv or a start, with absurd numbers or wrong types: skipped or
         * defaulted, never trusted. */
        const char *doc =
                "{\"version\":1,\"builds\":["
                "{\"name\":\"x\",\"started\":5},"
                "{\"drv\":\"/s/x.drv\",\"name\":\"x\",\"started\":-1},"
                "{\"drv\":\"/s/x.drv\",\"name\":\"x\",\"started\":1e300},"
                "{\"drv\":7,\"name\":\"x\",\"started\":5},"
                "3,"
                "{\"drv\":\"/s/y.drv\",\"name\":\"y\",\"started\":5,\"nix_pid\":-3,\"log_lines\":\"x\","
                "\"progress\":[1,2],\"requester\":{\"uid\":-99,\"user\":5},\"usage\":[],"
                "\"ended\":{\"succeeded\":-1,\"failed\":1e12,\"killed\":\"x\",\"running\":5,\"lost\":2}}"
                "]}";
        assert_int_equal(resume_parse(doc, strlen(doc), &r, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(r[0].drv, "/s/y.drv");
        assert_int_equal(r[0].nix_pid, 0);
        assert_int_equal(r[0].log_lines, 0);
        assert_int_equal(r[0].progress[0], 0);
        assert_int_equal(r[0].ended[COUNT_SUCCEEDED], 0);
        assert_int_equal(r[0].ended[COUNT_FAILED], 0);
        assert_int_equal(r[0].ended[COUNT_KILLED], 0);
        assert_int_equal(r[0].ended[COUNT_RUNNING], 0);
        assert_int_equal(r[0].ended[COUNT_LOST], 2);
        assert_int_equal(r[0].requester.uid, -1);
        assert_null(r[0].requester.user);
        assert_false(r[0].usage.sampled);
        assert_true(r[0].untrusted); /* not said: not trusted */
        resume_builds_free(r, n);
}

/* Found in /proc after a restart: the record gives back its start, log count, invocation. */
static void test_resume_rediscovered(void **state) {
        TestModelFixture *f = *state;
        ResumeBuild r = {
                .drv = f->drv,
                .name = (char *) "a",
                .queued = T0 - USEC_PER_SEC,
                .started = T0,
                .log_lines = 40,
                .nix_pid = 4242,
                .requester = {.uid = 1000, .pid = 4242, .cmdline = (char *) "nix-build x.nix"},
                .inv_started = T0 - 2 * USEC_PER_SEC,
                .progress = {1, 3, 1, 0},
                .ended = {[COUNT_SUCCEEDED] = 1, [COUNT_FAILED] = 1},
                .usage = {.sampled = true, .cpu_user = 7},
        };
        Build *b;
        usec_t now = T0 + 30 * USEC_PER_SEC;
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, f->drv, r.started, &b), 0);
        model_build_resume(f->m, b, &r, T0 + 100 * USEC_PER_MSEC);
        assert_int_equal(b->started, T0);
        assert_int_equal(b->queued, T0 - USEC_PER_SEC);
        assert_false(b->start_unknown);
        assert_int_equal(b->log.total, 40);
        assert_int_equal(b->usage.cpu_user, 7);
        assert_int_equal(b->requester.uid, 1000);
        Invocation *inv = b->invocation;
        assert_false(inv->done); /* its nix process runs */
        assert_string_equal(invocation_state_to_string(inv), "running");
        assert_int_equal(inv->progress[1], 3);
        assert_int_equal(inv->counts[COUNT_SUCCEEDED], 1); /* ended before the restart */
        assert_int_equal(inv->counts[COUNT_FAILED], 1);
        model_build_resume(f->m, b, &r, 0); /* every record of the invocation says it: once */
        assert_int_equal(inv->counts[COUNT_SUCCEEDED], 1);
        assert_int_equal(inv->started, T0 - 2 * USEC_PER_SEC);
        assert_string_equal(inv->requester.cmdline, "nix-build x.nix");

        /* Its nix process ends: so does the invocation. */
        char path[1024];
        snprintf(path, sizeof(path), "%s/4242/stat", f->proc);
        assert_int_equal(unlink(path), 0);
        (void) model_tick(f->m, now, now_monotonic() + USEC_PER_SEC);
        assert_true(inv->done);
        assert_int_equal(inv->finished, now);
}

/* No record: the builder's start; neither: a guess, marked. */
static void test_resume_without_record(void **state) {
        TestModelFixture *f = *state;
        Build *b;
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, f->drv, T0 + 9 * USEC_PER_SEC, &b), 0);
        model_build_resume(f->m, b, NULL, T0 + 2 * USEC_PER_SEC);
        assert_int_equal(b->started, T0 + 2 * USEC_PER_SEC);
        assert_false(b->start_unknown);
        assert_true(b->queued <= b->started);

        Build *c;
        snprintf(f->drv, sizeof(f->drv), "%s/" TEST_FIXTURE_HO "-b.drv", f->store);
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, f->drv, T0 + 9 * USEC_PER_SEC, &c), 0);
        model_build_resume(f->m, c, NULL, 0);
        assert_true(c->start_unknown);
}

/* The stream of the build's nix process comes back after the restart (ingest, the plugin):
 * its records for the activities it had before name the rediscovered build and invocation,
 * which it takes over; its log lines count on from the record's. */
static void test_stream_comes_back(void **state) {
        TestModelFixture *f = *state;
        ResumeBuild r = {
                .drv = f->drv,
                .name = (char *) "a",
                .started = T0,
                .log_lines = 40,
                .nix_pid = 4242,
                .activity = 7,
                .builds_activity = 4,
                .progress = {0, 1, 1, 0},
                .ended = {[COUNT_SUCCEEDED] = 3},
        };
        Build *b;
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, f->drv, r.started, &b), 0);
        model_build_resume(f->m, b, &r, 0);
        Invocation *old = b->invocation;
        /* the fixture's source stands for the stream, connected again */
        test_feed(f->m, f->s, T0 + 5 * USEC_PER_SEC,
                  "{\"action\":\"result\",\"id\":7,\"type\":101,\"fields\":[\"line 41\"]}");
        assert_ptr_equal(b->invocation, &f->s->invocation);
        assert_false(b->rediscovered);
        assert_int_equal(b->log.total, 41);
        assert_int_equal(b->started, T0);
        assert_int_equal(f->s->invocation.progress[1], 1); /* taken over from the record */
        /* the three that ended before the restart are the stream's invocation's now */
        assert_int_equal(f->s->invocation.counts[COUNT_SUCCEEDED], 3);
        assert_int_equal(old->counts[COUNT_SUCCEEDED], 0);
        assert_true(old->done); /* nothing of it left running: it goes */
        assert_int_equal(old->progress[2], 0);
        assert_true(old->source->nix_exited);
        test_feed(f->m, f->s, T0 + 6 * USEC_PER_SEC,
                  "{\"action\":\"result\",\"id\":4,\"type\":105,\"fields\":[1,1,0,0]}");
        assert_int_equal(f->s->invocation.progress[0], 1);
        /* its stop ends it by events */
        test_write_file(f->dir, "store/" TEST_FIXTURE_HO "-a", "done", (size_t) -1);
        test_feed(f->m, f->s, T0 + 7 * USEC_PER_SEC, "{\"action\":\"stop\",\"id\":7}");
        assert_int_equal(b->state, BUILD_SUCCEEDED);
        assert_int_equal(b->finished - b->started, 7 * USEC_PER_SEC);
        /* an unknown activity of another stream claims nothing */
        test_feed(f->m, f->s, T0, "{\"action\":\"result\",\"id\":99,\"type\":101,\"fields\":[\"x\"]}");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_round_trip, test_model_fixture_setup,
                                                test_model_fixture_teardown),
                cmocka_unit_test(test_hostile),
                cmocka_unit_test_setup_teardown(test_resume_rediscovered, test_model_fixture_setup,
                                                test_model_fixture_teardown),
                cmocka_unit_test_setup_teardown(test_stream_comes_back, test_model_fixture_setup,
                                                test_model_fixture_teardown),
                cmocka_unit_test_setup_teardown(test_resume_without_record, test_model_fixture_setup,
                                                test_model_fixture_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
