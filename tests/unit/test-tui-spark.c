/* Unit tests for src/tui/spark.c: values scaled to eight levels, unknown values blank, the
 * ASCII fallback, and a short buffer cut at whole cells. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tui/spark.h"

static void test_levels(void **state) {
        const double v[] = {0, 12.5, 25, 50, 75, 100, 150, -1};
        char buf[64];
        assert_string_equal(spark_render(v, 8, 100, false, buf, sizeof(buf)), "▁▂▃▅▆██ ");
        assert_string_equal(spark_render(v, 8, 100, true, buf, sizeof(buf)), "_.-=+## ");
        /* no maximum known: all blank */
        assert_string_equal(spark_render(v, 3, 0, true, buf, sizeof(buf)), "   ");
}

static void test_short_buffer(void **state) {
        const double v[] = {100, 100, 100};
        char buf[8]; /* two 3-byte cells and the NUL */
        assert_string_equal(spark_render(v, 3, 100, false, buf, sizeof(buf)), "██");
        char none[1];
        assert_string_equal(spark_render(v, 3, 100, false, none, sizeof(none)), "");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_levels),
                cmocka_unit_test(test_short_buffer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
