/* Unit tests for src/shared/when.c: the instants `at` takes, in a fixed zone (TZ is set, so
 * local forms have one answer), and the forms refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "shared/when.h"

/* 2026-12-07 10:30:00 UTC, 11:30:00 local (UTC+1). */
#define NOW  ((usec_t) 1796639400 * USEC_PER_SEC)
#define S(x) ((usec_t) (x) *USEC_PER_SEC)

static usec_t at(const char *s) {
        usec_t t = 0;
        assert_int_equal(when_parse(s, NOW, &t), 0);
        return t;
}

static void test_forms(void **state) {
        assert_int_equal(at("now"), NOW);
        assert_int_equal(at("@1796639000"), S(1796639000));
        assert_int_equal(at("-2h"), NOW - S(7200));
        assert_int_equal(at("90m ago"), NOW - S(5400));
        assert_int_equal(at("30s"), NOW - S(30));
        assert_int_equal(at("1d"), NOW - S(86400));
        /* local clock times (11:30 now) */
        assert_int_equal(at("11:00"), NOW - S(1800));
        assert_int_equal(at("03:12"), NOW - S(8 * 3600 + 18 * 60));
        assert_int_equal(at("03:12:30"), NOW - S(8 * 3600 + 17 * 60 + 30));
        assert_int_equal(at("23:00"), NOW - S(12 * 3600 + 30 * 60)); /* still to come today: yesterday's */
        assert_int_equal(at("yesterday 14:00"), NOW - S(21 * 3600 + 30 * 60));
        assert_int_equal(at("today 9:30"), NOW - S(2 * 3600));
        /* ISO */
        assert_int_equal(at("2026-12-07T10:00:00Z"), NOW - S(1800));
        assert_int_equal(at("2026-12-07T12:00+02:00"), NOW - S(1800));
        assert_int_equal(at("2026-12-07 11:00"), NOW - S(1800));
        assert_int_equal(at("2026-12-07"), NOW - S(11 * 3600 + 30 * 60));
}

static void test_refused(void **state) {
        static const char *const bad[] = {
                "",
                "soon",
                "25:00",
                "10:61",
                "-2x",
                "2h later",
                "yesterday",
                "@",
                "@-5",
                "2026-13-01",
                "2026-12-07T10:00+2",
                "12:00:00:00",
                "--2h",
                "99999999999d",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                usec_t t;
                if (when_parse(bad[i], NOW, &t) != -EINVAL)
                        fail_msg("'%s' was taken", bad[i]);
        }
}

int main(void) {
        setenv("TZ", "CET-1", 1); /* UTC+1, no daylight saving: a POSIX zone, no tzdata needed */
        tzset();
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_forms),
                cmocka_unit_test(test_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
