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
#include "basic/base64.h"
#include "basic/macro.h"
#include "shared/resume.h"
#include "test-helpers.h"

#define T0  (1000 * USEC_PER_SEC) /* when the fixture's source connected */
#define MiB (1024 * 1024)

/* n samples a second apart from t: 2 cores, 64 MiB from the 10th on, 3 processes. */
static void sample(Timeline *tl, usec_t t, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                assert_int_equal(timeline_add(tl, t + i * USEC_PER_SEC, 200, i >= 10 ? 64 * MiB : MiB, 3,
                                              i * 4096, -1),
                                 0);
}

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

/* The timeline goes with the build: every point back, to the millisecond and KiB of the blob. */
static void test_timeline_round_trip(void **state) {
        TestModelFixture *f = *state;
        Build *b = running_build(f);
        test_feed(f->m, f->s, T0 + 2 * USEC_PER_SEC,
                  "{\"action\":\"result\",\"id\":7,\"type\":104,\"fields\":[\"growPhase\"]}");
        test_feed(f->m, f->s, T0 + 300 * USEC_PER_SEC,
                  "{\"action\":\"result\",\"id\":7,\"type\":104,\"fields\":[\"quietPhase\"]}");
        assert_int_equal(b->n_phases, 2);
        sample(&b->timeline, T0 + USEC_PER_SEC, 600); /* ten minutes: merged down to its bound */
        assert_true(b->timeline.n <= TIMELINE_POINTS_MAX);
        assert_true(b->timeline.step >= 2 * USEC_PER_SEC);
        char *doc;
        size_t count, n;
        assert_int_equal(resume_snapshot(f->m, T0 + 601 * USEC_PER_SEC, &doc, &count), 0);
        ResumeBuild *r;
        assert_int_equal(resume_parse(doc, strlen(doc), &r, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(r[0].n_phases, 2);
        assert_string_equal(r[0].phases[0].name, "growPhase");
        assert_int_equal(r[0].phases[0].time, T0 + 2 * USEC_PER_SEC);
        assert_string_equal(r[0].phases[1].name, "quietPhase");
        const Timeline *tl = &r[0].timeline;
        assert_int_equal(tl->n, b->timeline.n);
        assert_int_equal(tl->step, b->timeline.step);
        for (uint32_t i = 0; i < tl->n; i++) {
                assert_int_equal(tl->points[i].t, b->timeline.points[i].t);
                assert_int_equal(tl->points[i].mem, b->timeline.points[i].mem);
                assert_int_equal(tl->points[i].cpu_permil, b->timeline.points[i].cpu_permil);
                assert_int_equal(tl->points[i].procs, 3);
        }

        /* Found again after the restart, with two samples of its own already: its past comes
         * first, and sampling goes on after them. */
        Build *again;
        usec_t restart = T0 + 610 * USEC_PER_SEC;
        /* (another drv: the fixture's stream still reports this one, which would be it) */
        char drv[1024];
        snprintf(drv, sizeof(drv), "%s/00%s-a.drv", f->store, &TEST_FIXTURE_HA[2]);
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, drv, r[0].started, &again), 0);
        assert_ptr_not_equal(again, b);
        assert_int_equal(again->timeline.n, 0);
        sample(&again->timeline, restart, 2);
        model_build_resume(f->m, again, &r[0], 0);
        const Timeline *got = &again->timeline;
        assert_true(got->n > 2 && got->n <= TIMELINE_POINTS_MAX);
        assert_int_equal(got->points[0].t, tl->points[0].t);
        assert_int_equal(got->points[got->n - 1].t, restart + USEC_PER_SEC);
        unsigned before = 0;
        uint64_t mem = 0;
        for (uint32_t i = 0; i < got->n; i++) {
                if (i > 0)
                        assert_true(got->points[i].t > got->points[i - 1].t);
                if (got->points[i].t < restart) {
                        before++;
                        mem = MAX(mem, got->points[i].mem);
                }
        }
        assert_true(before >= tl->n - 1);
        assert_int_equal(mem, 64 * MiB);
        /* and its phases */
        assert_int_equal(again->n_phases, 2);
        assert_string_equal(again->phases[0].name, "growPhase");
        assert_int_equal(again->phases[1].time, T0 + 300 * USEC_PER_SEC);
        model_build_resume(f->m, again, &r[0], 0); /* once only */
        assert_int_equal(again->n_phases, 2);
        assert_int_equal(again->timeline.n, got->n);
        assert_int_equal(timeline_add(&again->timeline, restart + 5 * USEC_PER_SEC, 100, MiB, 1, 0, -1), 0);
        assert_int_equal(got->points[got->n - 1].t, restart + 5 * USEC_PER_SEC);
        resume_builds_free(r, n);
        free(doc);
}

/* A record whose timeline is damaged keeps the rest and goes without it; points in the future
 * are not taken back (new samples must still come after the last). */
static void test_timeline_damaged(void **state) {
        TestModelFixture *f = *state;
        Timeline tl = {};
        sample(&tl, T0, 20);
        _cleanup_free_ uint8_t *blob = NULL;
        size_t len;
        assert_int_equal(timeline_encode(&tl, &blob, &len), 0);
        /* cut short; a byte too many; a version unknown (the blob is timeline.c's: only its
         * length and its leading version byte are relied on here) */
        uint8_t *cut = malloc(len), *many = malloc(len + 1), *version = malloc(len);
        assert_non_null(cut && many && version);
        memcpy(cut, blob, len);
        memcpy(many, blob, len);
        memcpy(version, blob, len);
        many[len] = 0x42;
        version[0] = 0xee;
        char *texts[4];
        assert_int_equal(base64_encode(cut, len - 5, &texts[0]), 0);
        assert_int_equal(base64_encode(many, len + 1, &texts[1]), 0);
        assert_int_equal(base64_encode(version, len, &texts[2]), 0);
        char *huge = malloc(RESUME_TIMELINE_TEXT_MAX + 8);
        assert_non_null(huge);
        memset(huge, 'A', RESUME_TIMELINE_TEXT_MAX + 4);
        huge[RESUME_TIMELINE_TEXT_MAX + 4] = '\0';
        texts[3] = huge;
        const char *plain[] = {"!!!!", "QUJD", "QQ=", "Q===", "=AAA", "", "AAAA"};
        size_t n_docs = 4 + ELEMENTSOF(plain) + 2;
        for (size_t i = 0; i < n_docs; i++) {
                char *doc;
                if (i < 4)
                        assert_true(
                                asprintf(&doc,
                                         "{\"version\":1,\"builds\":[{\"drv\":\"/s/x.drv\",\"name\":\"x\","
                                         "\"started\":5,\"timeline\":\"%s\"}]}",
                                         texts[i]) > 0);
                else if (i < 4 + ELEMENTSOF(plain))
                        assert_true(
                                asprintf(&doc,
                                         "{\"version\":1,\"builds\":[{\"drv\":\"/s/x.drv\",\"name\":\"x\","
                                         "\"started\":5,\"timeline\":\"%s\"}]}",
                                         plain[i - 4]) > 0);
                else
                        assert_true(
                                asprintf(&doc,
                                         "{\"version\":1,\"builds\":[{\"drv\":\"/s/x.drv\",\"name\":\"x\","
                                         "\"started\":5,\"timeline\":%s}]}",
                                         i % 2 ? "[1,2]" : "7") > 0);
                ResumeBuild *r;
                size_t n;
                assert_int_equal(resume_parse(doc, strlen(doc), &r, &n), 0);
                assert_int_equal(n, 1);
                assert_string_equal(r[0].drv, "/s/x.drv");
                assert_int_equal(r[0].timeline.n, 0);
                resume_builds_free(r, n);
                free(doc);
        }
        for (size_t i = 0; i < 3; i++)
                free(texts[i]);
        free(huge);
        free(cut);
        free(many);
        free(version);

        /* Phases: wrong types, empty or long names, times going back end the list. */
        char *doc, *name = malloc(RESUME_PHASE_NAME_MAX + 2);
        assert_non_null(name);
        memset(name, 'p', RESUME_PHASE_NAME_MAX + 1);
        name[RESUME_PHASE_NAME_MAX + 1] = '\0';
        static const char *const tails[] = {
                "{\"name\":\"\",\"time\":9}",   "{\"name\":7,\"time\":9}", "{\"name\":\"b\",\"time\":-1}",
                "{\"name\":\"b\",\"time\":4}",  "{\"name\":\"b\"}",        "3",
                "{\"name\":\"%s\",\"time\":9}",
        };
        for (size_t i = 0; i < ELEMENTSOF(tails); i++) {
                char tail[RESUME_PHASE_NAME_MAX + 64];
                snprintf(tail, sizeof(tail), tails[i], name);
                assert_true(asprintf(&doc,
                                     "{\"version\":1,\"builds\":[{\"drv\":\"/s/"
                                     "x.drv\",\"name\":\"x\",\"started\":5,"
                                     "\"phases\":[{\"name\":\"a\",\"time\":5},%s,{\"name\":\"c\",\"time\":"
                                     "10}]}]}",
                                     tail) > 0);
                ResumeBuild *r;
                size_t n;
                assert_int_equal(resume_parse(doc, strlen(doc), &r, &n), 0);
                assert_int_equal(n, 1);
                assert_int_equal(r[0].n_phases, 1);
                assert_string_equal(r[0].phases[0].name, "a");
                resume_builds_free(r, n);
                free(doc);
        }
        free(name);

        /* From the future (a clock set back, or a forged file): not taken. */
        ResumeBuild r = {.drv = f->drv, .name = (char *) "a", .started = T0, .nix_pid = 4242};
        usec_t future = now_realtime() + 3600 * USEC_PER_SEC;
        sample(&r.timeline, future, 5);
        r.phases = &(Phase){.name = (char *) "later", .time = future};
        r.n_phases = 1;
        Build *b;
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, f->drv, r.started, &b), 0);
        model_build_resume(f->m, b, &r, 0);
        assert_int_equal(b->timeline.n, 0);
        assert_int_equal(b->n_phases, 0);
        timeline_done(&r.timeline);
        timeline_done(&tl);
}

/* What the state file costs: 50 running builds with full timelines (measured, not bounded
 * here beyond the document's own limit; docs/history.md states the figure). */
static void test_timeline_size(void **state) {
        TestModelFixture *f = *state;
        static const char digits[] = "0123456789abcdfghijklmnpqrsvwxyz";
        for (unsigned i = 0; i < 50; i++) {
                char drv[1024];
                snprintf(drv, sizeof(drv), "%s/%c%c%s-b%u.drv", f->store, digits[i / 32], digits[i % 32],
                         &TEST_FIXTURE_HA[2], i);
                Build *b;
                assert_int_equal(model_rediscovered_build(f->m, 4242, 0, drv, T0, &b), 0);
                b->usage.sampled = true;
                sample(&b->timeline, T0, TIMELINE_POINTS_MAX);
                assert_int_equal(b->timeline.n, TIMELINE_POINTS_MAX);
        }
        char *doc;
        size_t count;
        usec_t t = now_monotonic();
        assert_int_equal(resume_snapshot(f->m, T0 + 300 * USEC_PER_SEC, &doc, &count), 0);
        t = now_monotonic() - t;
        assert_int_equal(count, 50);
        size_t len = strlen(doc);
        printf("state file for 50 running builds with full timelines: %zu bytes, made in %.2f ms\n", len,
               (double) t / 1e3);
        assert_true(len < 50 * 8000);
        ResumeBuild *r;
        size_t n;
        assert_int_equal(resume_parse(doc, len, &r, &n), 0);
        assert_int_equal(n, 50);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(r[i].timeline.n, TIMELINE_POINTS_MAX);
        resume_builds_free(r, n);
        free(doc);

        /* the same builds without their timelines: what the timelines add */
        for (Build *b = model_builds_first(f->m); b; b = b->next)
                timeline_done(&b->timeline);
        t = now_monotonic();
        assert_int_equal(resume_snapshot(f->m, T0 + 300 * USEC_PER_SEC, &doc, &count), 0);
        t = now_monotonic() - t;
        printf("and without timelines: %zu bytes, made in %.2f ms\n", strlen(doc), (double) t / 1e3);
        free(doc);
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
                cmocka_unit_test_setup_teardown(test_timeline_round_trip, test_model_fixture_setup,
                                                test_model_fixture_teardown),
                cmocka_unit_test_setup_teardown(test_timeline_damaged, test_model_fixture_setup,
                                                test_model_fixture_teardown),
                cmocka_unit_test_setup_teardown(test_timeline_size, test_model_fixture_setup,
                                                test_model_fixture_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
