/* Unit tests for src/tui/store.c: the TUI's copy of the daemon's state, kept by deltas. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tui/store.h"

static int apply(Store *s, const char *json, double now) {
        cJSON *ev = cJSON_Parse(json);
        assert_non_null(ev);
        int r = store_apply_event(s, ev, now);
        cJSON_Delete(ev);
        return r;
}

static void test_load_and_deltas(void **state) {
        Store s;
        store_init(&s, 2);
        cJSON *list = cJSON_Parse(
                "{\"builds\":["
                "{\"key\":1,\"name\":\"a-1\",\"drv\":\"/nix/store/x-a-1.drv\",\"state\":\"running\","
                "\"invocation\":3,\"started\":100,\"duration\":5,\"requester\":{\"user\":\"alice\"},"
                "\"usage\":{\"cpu_percent\":50,\"mem_current\":1048576}},"
                "{\"key\":2,\"name\":\"b-1\",\"state\":\"queued\",\"invocation\":3}]}");
        assert_int_equal(store_load_builds(&s, list, 105), 0);
        cJSON_Delete(list);
        assert_int_equal(s.counts[BUILD_RUNNING], 1);
        assert_int_equal(s.counts[BUILD_QUEUED], 1);
        StoreBuild *a = store_build(&s, 1);
        assert_non_null(a);
        assert_string_equal(a->name, "a-1");
        assert_int_equal(a->host, 2); /* a build is (host, key): its store's host */
        assert_string_equal(a->user, "alice");
        assert_true(a->cpu_percent == 50);
        /* Elapsed goes on from the duration received, by the local clock. */
        assert_true(store_build_elapsed(a, 108) == 8);

        uint64_t gen = s.generation;
        /* A state change moves the counts. */
        assert_int_equal(
                apply(&s,
                      "{\"event\":\"build\",\"kind\":\"changed\",\"build\":{\"key\":1,\"name\":\"a-1\","
                      "\"state\":\"frozen\",\"invocation\":3}}",
                      110),
                1);
        assert_true(s.generation > gen);
        assert_int_equal(s.counts[BUILD_RUNNING], 0);
        assert_int_equal(s.counts[BUILD_FROZEN], 1);
        assert_int_equal(store_build(&s, 1)->state, BUILD_FROZEN);

        /* A processes event updates only the usage. */
        assert_int_equal(apply(&s,
                               "{\"event\":\"processes\",\"build\":2,\"usage\":{\"cpu_percent\":150,"
                               "\"mem_current\":2048,\"nice\":10,\"cpu_limit\":0.5}}",
                               111),
                         1);
        StoreBuild *b = store_build(&s, 2);
        assert_true(b->cpu_percent == 150);
        assert_true(b->cpu_limit == 0.5);
        assert_int_equal(b->nice, 10);
        assert_int_equal(b->state, BUILD_QUEUED);

        /* New builds arrive by events; unknown events and malformed ones change nothing. */
        assert_int_equal(
                apply(&s,
                      "{\"event\":\"build\",\"kind\":\"finished\",\"build\":{\"key\":9,\"name\":\"c\","
                      "\"state\":\"failed\",\"invocation\":4}}",
                      112),
                1);
        assert_int_equal(s.counts[BUILD_FAILED], 1);
        assert_int_equal(apply(&s, "{\"event\":\"log\",\"build\":9,\"lines\":[\"x\"]}", 113), 0);
        assert_int_equal(apply(&s, "{\"event\":\"build\",\"build\":{\"name\":\"no key\"}}", 113), 0);
        assert_int_equal(apply(&s, "{\"event\":\"processes\",\"build\":77,\"usage\":{}}", 113), 0);
        assert_int_equal(apply(&s, "{\"no\":\"event\"}", 113), 0);
        assert_int_equal(apply(&s, "{\"event\":\"build\",\"build\":{\"key\":10,\"state\":\"bogus\"}}", 113),
                         1);
        assert_int_equal(store_build(&s, 10)->state, BUILD_UNKNOWN);
        assert_string_equal(store_build(&s, 10)->name, "?");

        /* Invocations. */
        assert_int_equal(
                apply(&s,
                      "{\"event\":\"invocation\",\"kind\":\"new\",\"invocation\":{\"id\":3,\"state\":"
                      "\"running\",\"requester\":{\"user\":\"bob\",\"cmdline\":\"nix-build x\"},"
                      "\"progress\":{\"done\":1,\"expected\":4,\"running\":2,\"failed\":0}}}",
                      114),
                1);
        StoreInvocation *inv = store_invocation(&s, 3);
        assert_non_null(inv);
        assert_string_equal(inv->cmdline, "nix-build x");
        assert_true(inv->progress_expected == 4);
        assert_false(inv->done);
        assert_null(inv->error);
        /* Ended by Nix's own error: failed is ended too, and the error is kept. */
        assert_int_equal(apply(&s,
                               "{\"event\":\"invocation\",\"kind\":\"finished\",\"invocation\":{\"id\":3,"
                               "\"state\":\"failed\",\"error\":\"no build users\"}}",
                               115),
                         1);
        inv = store_invocation(&s, 3);
        assert_true(inv->done);
        assert_string_equal(inv->error, "no build users");

        /* A reload replaces the builds wholesale (a restarted daemon numbers them anew). */
        list = cJSON_Parse("{\"builds\":[{\"key\":5,\"name\":\"z\",\"state\":\"running\"}]}");
        assert_int_equal(store_load_builds(&s, list, 120), 0);
        cJSON_Delete(list);
        assert_null(store_build(&s, 1));
        assert_int_equal(s.counts[BUILD_RUNNING], 1);
        assert_int_equal(s.counts[BUILD_FROZEN], 0);
        store_clear(&s);
        assert_null(store_invocation(&s, 3));
}

/* A remote build's phase, CPU and memory are its machine's daemon's, whatever the local
 * build hook's usage says, and stay so across processes events. */
static void test_remote_view(void **state) {
        Store s;
        store_init(&s, 0);
        assert_int_equal(
                apply(&s,
                      "{\"event\":\"build\",\"kind\":\"changed\",\"build\":{\"key\":1,\"name\":\"r\","
                      "\"state\":\"running\",\"machine\":\"ssh-ng://b\",\"phase\":\"unpackPhase\","
                      "\"usage\":{\"cpu_percent\":1,\"mem_current\":10,\"mem_peak\":20},"
                      "\"remote\":{\"state\":\"running\",\"phase\":\"buildPhase\",\"cpu_percent\":95,"
                      "\"mem_current\":4096,\"mem_peak\":8192,\"procs\":2,\"log_lines\":7,\"seen\":100}}}",
                      101),
                1);
        StoreBuild *b = store_build(&s, 1);
        assert_true(b->remote);
        assert_string_equal(b->phase, "buildPhase");
        assert_true(b->cpu_percent == 95 && b->mem_current == 4096 && b->mem_peak == 8192);
        assert_int_equal(apply(&s,
                               "{\"event\":\"processes\",\"build\":1,\"usage\":{\"cpu_percent\":2,"
                               "\"mem_current\":11}}",
                               102),
                         1);
        assert_true(b->remote && b->cpu_percent == 95 && b->mem_current == 4096);
        /* Without a sampled remote view (null usage there, or none): the local figures. */
        assert_int_equal(
                apply(&s,
                      "{\"event\":\"build\",\"kind\":\"changed\",\"build\":{\"key\":1,\"name\":\"r\","
                      "\"state\":\"running\",\"phase\":\"unpackPhase\",\"usage\":{\"cpu_percent\":3},"
                      "\"remote\":{\"state\":\"running\",\"phase\":null,\"cpu_percent\":null}}}",
                      103),
                1);
        b = store_build(&s, 1);
        assert_false(b->remote);
        assert_string_equal(b->phase, "unpackPhase");
        assert_true(b->cpu_percent == 3);
        store_clear(&s);
}

static void test_remaining(void **state) {
        Store s;
        store_init(&s, 0);
        /* Queued: no time left to tell (when it ends depends on when it starts). */
        assert_int_equal(
                apply(&s,
                      "{\"event\":\"build\",\"build\":{\"key\":1,\"name\":\"a\",\"state\":\"queued\","
                      "\"eta\":{\"expected\":10}}}",
                      99),
                1);
        assert_true(isnan(store_build_remaining(store_build(&s, 1), 100)));
        assert_int_equal(
                apply(&s,
                      "{\"event\":\"build\",\"build\":{\"key\":1,\"name\":\"a\",\"state\":\"running\","
                      "\"started\":100,\"duration\":4,\"eta\":{\"expected\":10}}}",
                      104),
                1);
        StoreBuild *b = store_build(&s, 1);
        assert_true(store_build_remaining(b, 106) == 4);
        assert_true(store_build_remaining(b, 200) == -90); /* 90 s over, not a 0 standing still */
        assert_int_equal(
                apply(&s,
                      "{\"event\":\"build\",\"build\":{\"key\":1,\"name\":\"a\",\"state\":\"succeeded\","
                      "\"started\":100,\"finished\":109,\"duration\":9}}",
                      110),
                1);
        assert_true(isnan(store_build_remaining(b, 110))); /* ended: no ETA */
        assert_true(store_build_elapsed(store_build(&s, 1), 500) == 9);
        store_clear(&s);
}

/* The daemon went away: rows stay as last seen with clocks stopped; an event or a reload
 * makes them the daemon's word again; a reload also drops what the daemon no longer has. */
static void test_stale(void **state) {
        Store s;
        store_init(&s, 0);
        assert_int_equal(
                apply(&s,
                      "{\"event\":\"build\",\"build\":{\"key\":1,\"name\":\"a\",\"state\":\"running\","
                      "\"started\":100,\"duration\":4,\"eta\":{\"expected\":10},\"invocation\":7}}",
                      104),
                1);
        assert_int_equal(
                apply(&s,
                      "{\"event\":\"build\",\"build\":{\"key\":2,\"name\":\"b\",\"state\":\"running\","
                      "\"started\":100,\"duration\":4}}",
                      104),
                1);
        assert_int_equal(
                apply(&s, "{\"event\":\"invocation\",\"invocation\":{\"id\":7,\"state\":\"running\"}}", 104),
                1);
        uint64_t gen = s.generation;
        store_mark_stale(&s, 106);
        assert_true(s.generation > gen);
        assert_true(s.stale_since == 106);
        StoreBuild *a = store_build(&s, 1);
        assert_non_null(a);
        assert_true(a->stale_since == 106);
        assert_int_equal(s.counts[BUILD_RUNNING], 2); /* kept, counted as last seen */
        /* The clock stands where the daemon was lost: elapsed 6 s, 4 s left, however late. */
        assert_true(store_build_elapsed(a, 106) == 6);
        assert_true(store_build_elapsed(a, 500) == 6);
        assert_true(store_build_remaining(a, 500) == 4);

        /* A second loss before any reload keeps the first time. */
        store_mark_stale(&s, 120);
        assert_true(s.stale_since == 106);
        assert_true(store_build_elapsed(a, 500) == 6);

        /* Reconnected: an event for a build is the daemon's word on it again, and it ticks. */
        assert_int_equal(
                apply(&s,
                      "{\"event\":\"build\",\"build\":{\"key\":1,\"name\":\"a\",\"state\":\"running\","
                      "\"started\":100,\"duration\":30}}",
                      130),
                1);
        a = store_build(&s, 1);
        assert_true(a->stale_since == 0);
        assert_true(store_build_elapsed(a, 131) == 31);
        assert_true(store_build(&s, 2)->stale_since == 106); /* the other still greyed */
        /* Lost again before the reload: the refreshed build stops at the new time, the
         * other keeps its first. */
        store_mark_stale(&s, 132);
        assert_true(store_build(&s, 1)->stale_since == 132);
        assert_true(store_build(&s, 2)->stale_since == 106);

        /* The reload replaces everything: build 2 and invocation 7 are gone from the daemon. */
        cJSON *list = cJSON_Parse("{\"builds\":[{\"key\":1,\"name\":\"a\",\"state\":\"running\","
                                  "\"started\":100,\"duration\":40}]}");
        assert_int_equal(store_load_builds(&s, list, 140), 0);
        cJSON_Delete(list);
        cJSON *invs = cJSON_Parse("{\"invocations\":[{\"id\":1,\"state\":\"running\"}]}");
        assert_int_equal(store_load_invocations(&s, invs), 0);
        cJSON_Delete(invs);
        assert_true(s.stale_since == 0);
        assert_null(store_build(&s, 2));
        assert_int_equal(s.counts[BUILD_RUNNING], 1);
        assert_true(store_build(&s, 1)->stale_since == 0);
        assert_true(store_build_elapsed(store_build(&s, 1), 145) == 45);
        assert_null(store_invocation(&s, 7));
        assert_non_null(store_invocation(&s, 1));
        store_clear(&s);
}

/* Store.layout moves only with what may add, remove or move a row: not with a phase, usage
 * or progress. */
static void test_layout(void **state) {
        Store s;
        store_init(&s, 0);
        assert_int_equal(
                apply(&s,
                      "{\"event\":\"build\",\"build\":{\"key\":1,\"name\":\"a\",\"state\":\"running\","
                      "\"phase\":\"unpackPhase\",\"invocation\":7}}",
                      100),
                1);
        uint64_t l = s.layout, g = s.generation;
        assert_true(l > 0); /* a new build */
        assert_int_equal(
                apply(&s,
                      "{\"event\":\"build\",\"build\":{\"key\":1,\"name\":\"a\",\"state\":\"running\","
                      "\"phase\":\"buildPhase\",\"invocation\":7}}",
                      101),
                1);
        assert_int_equal(
                apply(&s, "{\"event\":\"processes\",\"build\":1,\"usage\":{\"cpu_percent\":90}}", 101), 1);
        assert_true(s.generation > g);
        assert_true(s.layout == l); /* phase and usage: drawn, no row moves */
        assert_string_equal(store_build(&s, 1)->phase, "buildPhase");
        assert_int_equal(
                apply(&s,
                      "{\"event\":\"build\",\"build\":{\"key\":1,\"name\":\"a\",\"state\":\"frozen\","
                      "\"phase\":\"buildPhase\",\"invocation\":7}}",
                      102),
                1);
        assert_true(s.layout > l); /* a state: the flat list of active builds, the counts */
        l = s.layout;
        assert_int_equal(
                apply(&s,
                      "{\"event\":\"build\",\"build\":{\"key\":1,\"name\":\"a\",\"state\":\"frozen\","
                      "\"phase\":\"buildPhase\",\"invocation\":7,\"machine\":\"ssh://b\"}}",
                      103),
                1);
        assert_true(s.layout > l); /* the filter reads the machine */
        l = s.layout;
        assert_int_equal(apply(&s,
                               "{\"event\":\"invocation\",\"invocation\":{\"id\":7,\"state\":\"running\","
                               "\"progress\":{\"done\":0}}}",
                               104),
                         1);
        assert_true(s.layout > l); /* a new invocation */
        l = s.layout;
        assert_int_equal(apply(&s,
                               "{\"event\":\"invocation\",\"invocation\":{\"id\":7,\"state\":\"running\","
                               "\"progress\":{\"done\":1}}}",
                               105),
                         1);
        assert_true(s.layout == l); /* progress */
        assert_int_equal(apply(&s,
                               "{\"event\":\"invocation\",\"invocation\":{\"id\":7,\"state\":\"done\","
                               "\"finished\":106}}",
                               106),
                         1);
        assert_true(s.layout > l); /* ended: it may leave the tree */
        store_clear(&s);
}

/* Builds are iterated in key order however their events came. */
static void test_key_order(void **state) {
        Store s;
        store_init(&s, 0);
        const char *evs[] = {
                "{\"event\":\"build\",\"build\":{\"key\":5,\"name\":\"e\",\"state\":\"running\"}}",
                "{\"event\":\"build\",\"build\":{\"key\":2,\"name\":\"b\",\"state\":\"running\"}}",
                "{\"event\":\"build\",\"build\":{\"key\":9,\"name\":\"i\",\"state\":\"running\"}}",
                "{\"event\":\"build\",\"build\":{\"key\":1,\"name\":\"a\",\"state\":\"running\"}}",
                "{\"event\":\"build\",\"build\":{\"key\":7,\"name\":\"g\",\"state\":\"running\"}}",
        };
        for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
                assert_int_equal(apply(&s, evs[i], 100), 1);
        char order[16] = "";
        size_t n = 0;
        StoreBuild *b, *tb;
        HASH_ITER(hh, s.builds, b, tb)
                order[n++] = b->name[0];
        assert_string_equal(order, "abegi");
        assert_true(s.max_key == 9);
        store_clear(&s);
        assert_true(s.max_key == 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_load_and_deltas), cmocka_unit_test(test_remaining),
                cmocka_unit_test(test_remote_view),     cmocka_unit_test(test_stale),
                cmocka_unit_test(test_layout),          cmocka_unit_test(test_key_order),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
