/* Unit tests for src/daemon/pressure-top.c: the few builds that stalled most for memory, most
 * first, whatever order they come in; builds that did not stall, or whose figure is not a
 * number, are never named. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "daemon/pressure-top.h"

static void test_most_first(void **state) {
        PressureTop t = {};
        pressure_top_add(&t, "a", "/nix/store/a.drv", 5);
        pressure_top_add(&t, "quiet", "/nix/store/q.drv", 0.01); /* below the floor */
        pressure_top_add(&t, "b", NULL, 40);
        pressure_top_add(&t, "c", "/nix/store/c.drv", 12.34);
        pressure_top_add(&t, "d", "/nix/store/d.drv", 1);  /* the fourth: falls off */
        pressure_top_add(&t, "e", "/nix/store/e.drv", 30); /* pushes a out */
        pressure_top_add(&t, "nan", "/nix/store/n.drv", NAN);
        pressure_top_add(&t, NULL, "/nix/store/x.drv", 99); /* a build without a name */
        assert_int_equal(t.n, PRESSURE_TOP_MAX);

        cJSON *j = pressure_top_json(&t);
        assert_non_null(j);
        char *s = cJSON_PrintUnformatted(j);
        assert_string_equal(s, "[{\"name\":\"b\",\"drv\":null,\"memory\":40},"
                               "{\"name\":\"e\",\"drv\":\"/nix/store/e.drv\",\"memory\":30},"
                               "{\"name\":\"c\",\"drv\":\"/nix/store/c.drv\",\"memory\":12.3}]");
        cJSON_free(s);
        cJSON_Delete(j);
}

static void test_none(void **state) {
        PressureTop t = {};
        pressure_top_add(&t, "quiet", "/nix/store/q.drv", 0);
        cJSON *j = pressure_top_json(&t);
        assert_non_null(j);
        assert_int_equal(cJSON_GetArraySize(j), 0);
        cJSON_Delete(j);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_most_first),
                cmocka_unit_test(test_none),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
