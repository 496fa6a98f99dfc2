/* Unit tests for src/shared/units.c: cores and sizes as people type them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shared/units.h"

static void test_cores(void **state) {
        double v;
        assert_int_equal(units_parse_cores("0.5", &v), 0);
        assert_true(v == 0.5);
        assert_int_equal(units_parse_cores("2", &v), 0);
        assert_true(v == 2);
        assert_int_equal(units_parse_cores("0.01", &v), 0);
        const char *bad[] = {"",    "0",   "-1",   "+1",  " 1",   "1 ",  "0.001",
                             "inf", "nan", "0x10", "1e2", "5000", "abc", "1,5"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(units_parse_cores(bad[i], &v), -EINVAL);
}

static void test_bytes(void **state) {
        uint64_t v;
        assert_int_equal(units_parse_bytes("4G", &v), 0);
        assert_int_equal(v, 4ull << 30);
        assert_int_equal(units_parse_bytes("512M", &v), 0);
        assert_int_equal(v, 512ull << 20);
        assert_int_equal(units_parse_bytes("512MiB", &v), 0);
        assert_int_equal(v, 512ull << 20);
        assert_int_equal(units_parse_bytes("1gb", &v), 0);
        assert_int_equal(v, 1ull << 30);
        assert_int_equal(units_parse_bytes("2097152", &v), 0);
        assert_int_equal(v, 2097152);
        assert_int_equal(units_parse_bytes("1T", &v), 0);
        assert_int_equal(units_parse_bytes("100K", &v), -ERANGE); /* under 1 MiB */
        assert_int_equal(units_parse_bytes("99999999999999999999", &v), -ERANGE);
        assert_int_equal(units_parse_bytes("20000000T", &v), -ERANGE);
        const char *bad[] = {"", "G", "-1G", " 1G", "1.5G", "1X", "1Gx", "1GiBs"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(units_parse_bytes(bad[i], &v), -EINVAL);
}

static void test_format_bytes(void **state) {
        char b[32];
        assert_string_equal(units_format_bytes(b, sizeof(b), 0), "0B");
        assert_string_equal(units_format_bytes(b, sizeof(b), 1023), "1023B");
        assert_string_equal(units_format_bytes(b, sizeof(b), 1536), "1.5K");
        assert_string_equal(units_format_bytes(b, sizeof(b), 12.0 * 1024 * 1024), "12M");
        assert_string_equal(units_format_bytes(b, sizeof(b), 268435456), "256M");
        assert_string_equal(units_format_bytes(b, sizeof(b), 3.5 * 1024 * 1024 * 1024), "3.5G");
        assert_string_equal(units_format_bytes(b, sizeof(b), 1e20), "87E"); /* past the last unit */
        assert_string_equal(units_format_bytes(b, sizeof(b), -1), "-");
        assert_string_equal(units_format_bytes(b, sizeof(b), 1e31), "-");
        /* A short buffer is cut, never overrun. */
        char small[3];
        assert_string_equal(units_format_bytes(small, sizeof(small), 1023), "10");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cores),
                cmocka_unit_test(test_bytes),
                cmocka_unit_test(test_format_bytes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
