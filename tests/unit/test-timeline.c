/* Unit tests for src/shared/timeline.c: samples kept one per point until the timeline is full,
 * then merged two into one (bounded at any length, the whole life kept), the point covering
 * an instant, and the history blob: a round trip, and hostile blobs refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "shared/timeline.h"

#define T0 ((usec_t) 1700000000 * USEC_PER_SEC)

/* Sample i of a build: 1 s apart, CPU i % 200 %, MEM i MiB, i % 7 processes, IO i KiB. */
static void add_sample(Timeline *tl, uint32_t i) {
        assert_int_equal(timeline_add(tl, T0 + (usec_t) i * USEC_PER_SEC, i % 200, (uint64_t) i << 20, i % 7,
                                      (uint64_t) i * 1024),
                         0);
}

static void test_one_point_per_sample(void **state) {
        Timeline tl = {};
        for (uint32_t i = 1; i <= 100; i++)
                add_sample(&tl, i);
        assert_int_equal(tl.n, 100);
        assert_int_equal(tl.step, USEC_PER_SEC);
        assert_int_equal(tl.points[41].t, T0 + 42 * USEC_PER_SEC);
        assert_int_equal(tl.points[41].cpu_permil, 420);
        assert_int_equal(tl.points[41].mem, 42u << 20);
        /* an older or repeated sample is dropped */
        assert_int_equal(timeline_add(&tl, T0 + 50 * USEC_PER_SEC, 1, 1, 1, 1), 0);
        assert_int_equal(tl.n, 100);
        timeline_done(&tl);
}

static void test_bounded_whole_life(void **state) {
        Timeline tl = {};
        /* ten hours of 1 s samples */
        for (uint32_t i = 1; i <= 36000; i++)
                add_sample(&tl, i);
        assert_true(tl.n <= TIMELINE_POINTS_MAX);
        assert_true(tl.n > TIMELINE_POINTS_MAX / 2);
        assert_int_equal(tl.step, 256 * USEC_PER_SEC); /* halved 8 times */
        /* the whole life: from the first samples to the last */
        assert_true(tl.points[0].t <= T0 + 256 * USEC_PER_SEC);
        assert_int_equal(tl.points[tl.n - 1].t, T0 + 36000 * USEC_PER_SEC);
        /* MEM is the most in each span (samples grow: its last sample's), IO its last */
        assert_int_equal(tl.points[tl.n - 1].mem, 36000ull << 20);
        assert_int_equal(tl.points[tl.n - 1].io, 36000ull * 1024);
        for (uint32_t i = 1; i < tl.n; i++)
                assert_true(tl.points[i].t > tl.points[i - 1].t);
        timeline_done(&tl);
}

static void test_cpu_averaged_peak_kept(void **state) {
        Timeline tl = {};
        /* one spike of 100 MiB at sample 100 among 10 MiB, CPU 50 % then 150 % */
        for (uint32_t i = 1; i <= 1024; i++)
                assert_int_equal(timeline_add(&tl, T0 + (usec_t) i * USEC_PER_SEC, i <= 512 ? 50 : 150,
                                              (i == 100 ? 100ull : 10ull) << 20, 1, 0),
                                 0);
        uint64_t peak = 0;
        for (uint32_t i = 0; i < tl.n; i++)
                peak = MAX(peak, tl.points[i].mem);
        assert_int_equal(peak, 100ull << 20); /* merging never loses the peak */
        assert_int_equal(tl.points[0].cpu_permil, 500);
        assert_int_equal(tl.points[tl.n - 1].cpu_permil, 1500);
        timeline_done(&tl);
}

static void test_thin(void **state) {
        Timeline tl = {}, thin;
        for (uint32_t i = 1; i <= 30; i++)
                add_sample(&tl, i);
        /* 30 s at 1 s, 4 s apart: the first sample, then one point per 4 s after it */
        assert_int_equal(timeline_thin(&tl, 64, 4 * USEC_PER_SEC, &thin), 0);
        assert_int_equal(thin.step, 4 * USEC_PER_SEC);
        assert_int_equal(thin.n, 9);
        assert_int_equal(thin.points[1].t, T0 + 5 * USEC_PER_SEC);
        assert_int_equal(thin.points[1].mem, 5ull << 20); /* the most of samples 2-5 */
        assert_int_equal(thin.points[thin.n - 1].t, T0 + 30 * USEC_PER_SEC);
        assert_int_equal(thin.points[thin.n - 1].mem, 30ull << 20);
        assert_int_equal(tl.n, 30); /* the original is left alone */
        timeline_done(&thin);
        for (uint32_t i = 31; i <= 3600; i++)
                add_sample(&tl, i);
        assert_int_equal(timeline_thin(&tl, 64, 4 * USEC_PER_SEC, &thin), 0);
        assert_true(thin.n <= 64);
        assert_int_equal(thin.points[thin.n - 1].t, T0 + 3600 * USEC_PER_SEC);
        timeline_done(&thin);
        timeline_done(&tl);
        /* a start sampled every 100 ms (the sampler looks often while a build starts), then
         * every second: thinned by time, not by the first interval */
        for (uint32_t i = 0; i < 10; i++)
                assert_int_equal(timeline_add(&tl, T0 + i * 100 * USEC_PER_MSEC, 50, 1 << 20, 1, 0), 0);
        for (uint32_t i = 1; i <= 30; i++)
                add_sample(&tl, i);
        assert_int_equal(timeline_thin(&tl, 64, 4 * USEC_PER_SEC, &thin), 0);
        assert_int_equal(thin.n, 9);
        assert_int_equal(thin.points[thin.n - 1].t, T0 + 30 * USEC_PER_SEC);
        timeline_done(&thin);
        timeline_done(&tl);
        /* one sample: kept as it is */
        add_sample(&tl, 7);
        assert_int_equal(timeline_thin(&tl, 64, 4 * USEC_PER_SEC, &thin), 0);
        assert_int_equal(thin.n, 1);
        timeline_done(&thin);
        timeline_done(&tl);
}

static void test_at(void **state) {
        Timeline tl = {};
        assert_null(timeline_at(&tl, T0));
        for (uint32_t i = 10; i <= 20; i++)
                add_sample(&tl, i);
        const TimelinePoint *p = timeline_at(&tl, T0 + 15 * USEC_PER_SEC);
        assert_non_null(p);
        assert_int_equal(p->t, T0 + 15 * USEC_PER_SEC);
        p = timeline_at(&tl, T0 + 14 * USEC_PER_SEC + 300 * USEC_PER_MSEC);
        assert_int_equal(p->t, T0 + 15 * USEC_PER_SEC); /* the point whose span covers it */
        assert_non_null(timeline_at(&tl, T0 + 9 * USEC_PER_SEC + 1));
        assert_null(timeline_at(&tl, T0 + 5 * USEC_PER_SEC));
        assert_non_null(timeline_at(&tl, T0 + 20 * USEC_PER_SEC + 500 * USEC_PER_MSEC));
        assert_null(timeline_at(&tl, T0 + 25 * USEC_PER_SEC));
        timeline_done(&tl);
}

static void test_blob_round_trip(void **state) {
        Timeline tl = {}, back;
        for (uint32_t i = 1; i <= 5000; i++)
                add_sample(&tl, i);
        uint8_t *blob;
        size_t len;
        assert_int_equal(timeline_encode(&tl, &blob, &len), 0);
        assert_int_equal(len, 19 + (size_t) tl.n * 18);
        assert_true(len <= 4627);
        assert_int_equal(timeline_decode(blob, len, &back), 0);
        assert_int_equal(back.n, tl.n);
        assert_int_equal(back.step, tl.step);
        for (uint32_t i = 0; i < tl.n; i++) {
                assert_int_equal(back.points[i].t, tl.points[i].t); /* whole ms: samples were */
                assert_int_equal(back.points[i].cpu_permil, tl.points[i].cpu_permil);
                assert_int_equal(back.points[i].procs, tl.points[i].procs);
                assert_int_equal(back.points[i].mem, tl.points[i].mem);
                assert_int_equal(back.points[i].io, tl.points[i].io);
        }
        timeline_done(&back);

        /* hostile or damaged blobs */
        assert_int_equal(timeline_decode(blob, len - 1, &back), -EBADMSG);
        assert_int_equal(timeline_decode(blob, 3, &back), -EBADMSG);
        uint8_t *bad = malloc(len);
        memcpy(bad, blob, len);
        bad[0] = 9; /* unknown version */
        assert_int_equal(timeline_decode(bad, len, &back), -EBADMSG);
        memcpy(bad, blob, len);
        bad[17] = 0xff; /* more points than it holds */
        bad[18] = 0xff;
        assert_int_equal(timeline_decode(bad, len, &back), -EBADMSG);
        memcpy(bad, blob, len);
        memset(bad + 19 + 18, 0, 4); /* a point before the one it follows */
        assert_int_equal(timeline_decode(bad, len, &back), -EBADMSG);
        assert_int_equal(timeline_decode(NULL, 0, &back), 0);
        assert_int_equal(back.n, 0);
        free(bad);
        free(blob);

        timeline_done(&tl);
        assert_int_equal(timeline_encode(&tl, &blob, &len), 0);
        assert_null(blob);
        assert_int_equal(len, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_point_per_sample),
                cmocka_unit_test(test_bounded_whole_life),
                cmocka_unit_test(test_cpu_averaged_peak_kept),
                cmocka_unit_test(test_at),
                cmocka_unit_test(test_thin),
                cmocka_unit_test(test_blob_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
