/* Unit tests for src/shared/eta.c: medians, confidence, remaining time. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "shared/eta.h"

static void test_median(void **state) {
        double a[] = {5, 1, 3};
        assert_true(eta_median(a, 3) == 3.0);
        double b[] = {4, 2};
        assert_true(eta_median(b, 2) == 3.0);
        double c[] = {7};
        assert_true(eta_median(c, 1) == 7.0);
}

static void test_estimate(void **state) {
        BuildEta e;
        assert_int_equal(eta_from_durations(NULL, 0, false, &e), -ENODATA);

        double one[] = {12.5};
        assert_int_equal(eta_from_durations(one, 1, false, &e), 0);
        assert_true(e.expected == 12.5);
        assert_int_equal(e.samples, 1);
        assert_string_equal(e.confidence, "low");

        /* five close samples: high; the input is not reordered */
        double five[] = {10, 11, 9, 10, 10.5};
        assert_int_equal(eta_from_durations(five, 5, false, &e), 0);
        assert_true(e.expected == 10.0);
        assert_true(e.low == 9 && e.high == 11); /* the range the samples span */
        assert_string_equal(e.confidence, "high");
        assert_true(five[0] == 10 && five[1] == 11);
        /* the same from other machines: one level lower */
        assert_int_equal(eta_from_durations(five, 5, true, &e), 0);
        assert_string_equal(e.confidence, "medium");
        assert_true(e.other_machines);

        /* an outlier moves the median little; spread decides the confidence */
        double outlier[] = {10, 10, 10, 1000};
        assert_int_equal(eta_from_durations(outlier, 4, false, &e), 0);
        assert_true(e.expected == 10.0);
        assert_string_equal(e.confidence, "medium");

        double wild[] = {1, 10, 100};
        assert_int_equal(eta_from_durations(wild, 3, false, &e), 0);
        assert_true(e.expected == 10.0);
        assert_string_equal(e.confidence, "low");
}

static void test_remaining(void **state) {
        BuildEta e = {.samples = 3, .expected = 10, .confidence = "medium"};
        assert_true(eta_remaining(&e, 4) == 6.0);
        assert_true(eta_overtime(&e, 4) == 0.0);
        assert_true(eta_remaining(&e, 30) == 0.0); /* overrun: by 20 s */
        assert_true(eta_overtime(&e, 30) == 20.0);
        assert_true(eta_remaining(&e, 0) == 10.0); /* not started */
        BuildEta none = {};
        assert_true(eta_remaining(&none, 5) == 0.0);
        assert_true(eta_overtime(&none, 5) == 0.0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_median),
                cmocka_unit_test(test_estimate),
                cmocka_unit_test(test_remaining),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
