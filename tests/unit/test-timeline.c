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
                                      (uint64_t) i * 1024, i % 3 ? (double) (i % 101) : -1),
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
        assert_int_equal(timeline_add(&tl, T0 + 50 * USEC_PER_SEC, 1, 1, 1, 1, 0), 0);
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
                                              (i == 100 ? 100ull : 10ull) << 20, 1, 0,
                                              i == 200  ? 42.5
                                              : i < 300 ? 0.5
                                                        : -1),
                                 0);
        uint64_t peak = 0;
        uint16_t pressure_peak = 0;
        for (uint32_t i = 0; i < tl.n; i++) {
                peak = MAX(peak, tl.points[i].mem);
                if (tl.points[i].mem_pressure != TIMELINE_PRESSURE_NONE)
                        pressure_peak = MAX(pressure_peak, tl.points[i].mem_pressure);
        }
        assert_int_equal(peak, 100ull << 20); /* merging never loses the peak */
        assert_int_equal(pressure_peak, 425); /* nor the most pressure (permil) */
        /* samples without pressure merged with none: unknown, not 0 */
        assert_int_equal(tl.points[tl.n - 1].mem_pressure, TIMELINE_PRESSURE_NONE);
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
                assert_int_equal(timeline_add(&tl, T0 + i * 100 * USEC_PER_MSEC, 50, 1 << 20, 1, 0, -1), 0);
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
        assert_int_equal(len, 19 + (size_t) tl.n * 20);
        assert_true(len <= 5139);
        assert_int_equal(blob[0], 2);
        assert_int_equal(timeline_decode(blob, len, &back), 0);
        assert_int_equal(back.n, tl.n);
        assert_int_equal(back.step, tl.step);
        for (uint32_t i = 0; i < tl.n; i++) {
                assert_int_equal(back.points[i].t, tl.points[i].t); /* whole ms: samples were */
                assert_int_equal(back.points[i].cpu_permil, tl.points[i].cpu_permil);
                assert_int_equal(back.points[i].procs, tl.points[i].procs);
                assert_int_equal(back.points[i].mem, tl.points[i].mem);
                assert_int_equal(back.points[i].io, tl.points[i].io);
                assert_int_equal(back.points[i].mem_pressure, tl.points[i].mem_pressure);
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
        memset(bad + 19 + 20, 0, 4); /* a point before the one it follows */
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

/* A point of a blob: ms after the first, CPU, processes, KiB of MEM and IO, then (version 2)
 * memory pressure. */
static uint8_t *put_point(uint8_t *p, uint32_t ms, uint32_t cpu, uint16_t procs, uint32_t mem_kib,
                          uint32_t io_kib, int pressure) {
        uint64_t v[5] = {ms, cpu, procs, mem_kib, io_kib};
        unsigned bytes[5] = {4, 4, 2, 4, 4};
        for (unsigned f = 0; f < 5; f++)
                for (unsigned i = 0; i < bytes[f]; i++)
                        *p++ = (uint8_t) (v[f] >> (8 * i));
        if (pressure >= 0) {
                *p++ = (uint8_t) pressure;
                *p++ = (uint8_t) (pressure >> 8);
        }
        return p;
}

static uint8_t *put_header(uint8_t *p, uint8_t version, uint16_t n) {
        *p++ = version;
        for (unsigned i = 0; i < 8; i++)
                *p++ = (uint8_t) ((T0 / 1000 * 1000) >> (8 * i)); /* first time */
        for (unsigned i = 0; i < 8; i++)
                *p++ = (uint8_t) (USEC_PER_SEC >> (8 * i)); /* step */
        *p++ = (uint8_t) n;
        *p++ = (uint8_t) (n >> 8);
        return p;
}

/* Rows written before pressure (blob version 1) still read, their pressure unknown; a
 * version-2 blob's pressure out of range reads as unknown; a length of the other version's
 * points is refused. */
static void test_blob_versions(void **state) {
        uint8_t blob[19 + 2 * 20] = {0}, *p;
        Timeline back;

        p = put_header(blob, 1, 2);
        p = put_point(p, 0, 1500, 3, 2048, 10, -1);
        p = put_point(p, 1000, 500, 2, 4096, 20, -1);
        assert_int_equal(p - blob, 19 + 2 * 18);
        assert_int_equal(timeline_decode(blob, (size_t) (p - blob), &back), 0);
        assert_int_equal(back.n, 2);
        assert_int_equal(back.step, USEC_PER_SEC);
        assert_int_equal(back.points[1].t, T0 / 1000 * 1000 + USEC_PER_SEC);
        assert_int_equal(back.points[0].cpu_permil, 1500);
        assert_int_equal(back.points[1].procs, 2);
        assert_int_equal(back.points[1].mem, 4096 * 1024);
        assert_int_equal(back.points[1].io, 20 * 1024);
        assert_int_equal(back.points[0].mem_pressure, TIMELINE_PRESSURE_NONE);
        assert_int_equal(back.points[1].mem_pressure, TIMELINE_PRESSURE_NONE);
        timeline_done(&back);
        /* version 1's header with version 2's point length, and the other way round */
        uint8_t wrong[19 + 2 * 20];
        memcpy(wrong, blob, sizeof(wrong));
        assert_int_equal(timeline_decode(wrong, 19 + 2 * 20, &back), -EBADMSG);

        p = put_header(blob, 2, 2);
        p = put_point(p, 0, 100, 1, 1, 1, 425);
        p = put_point(p, 1000, 100, 1, 1, 1, 5000);
        assert_int_equal(p - blob, 19 + 2 * 20);
        assert_int_equal(timeline_decode(blob, (size_t) (p - blob), &back), 0);
        assert_int_equal(back.points[0].mem_pressure, 425);
        assert_int_equal(back.points[1].mem_pressure, TIMELINE_PRESSURE_NONE); /* > 100 %: not a figure */
        timeline_done(&back);
        assert_int_equal(timeline_decode(blob, 19 + 2 * 18, &back), -EBADMSG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_point_per_sample),
                cmocka_unit_test(test_bounded_whole_life),
                cmocka_unit_test(test_cpu_averaged_peak_kept),
                cmocka_unit_test(test_at),
                cmocka_unit_test(test_thin),
                cmocka_unit_test(test_blob_round_trip),
                cmocka_unit_test(test_blob_versions),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
