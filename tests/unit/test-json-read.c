/* Unit tests for src/shared/json-read.c: typed reads fall back to their default on anything
 * missing or mistyped. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "shared/json-read.h"

static void test_reads(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_Parse(
                "{\"s\":\"text\",\"n\":2.5,\"u\":42,\"neg\":-1,\"frac\":1.5,\"huge\":1e30,\"t\":true,"
                "\"f\":false,\"o\":{\"k\":1},\"a\":[1,2],\"null\":null}");
        assert_non_null(o);

        assert_string_equal(json_str(o, "s"), "text");
        assert_null(json_str(o, "n"));
        assert_null(json_str(o, "missing"));

        assert_true(json_num(o, "n", -1) == 2.5);
        assert_true(json_num(o, "s", -1) == -1);
        assert_true(json_has_num(o, "u"));
        assert_false(json_has_num(o, "null"));

        assert_int_equal(json_u64(o, "u", 7), 42);
        assert_int_equal(json_u64(o, "neg", 7), 7);
        assert_int_equal(json_u64(o, "frac", 7), 7);
        assert_int_equal(json_u64(o, "huge", 7), 7);
        assert_int_equal(json_u64(o, "s", 7), 7);
        uint64_t u;
        assert_int_equal(json_to_u64(cJSON_GetObjectItem(o, "u"), &u), 0);
        assert_int_equal(u, 42);
        assert_int_equal(json_to_u64(NULL, &u), -EINVAL);

        assert_int_equal(json_int(o, "u", 0, 100, -5), 42);
        assert_int_equal(json_int(o, "u", 0, 10, -5), -5);
        assert_int_equal(json_int(o, "huge", INT32_MIN, INT32_MAX, -5), -5);

        assert_non_null(json_obj(o, "o"));
        assert_null(json_obj(o, "a"));
        assert_non_null(json_arr(o, "a"));
        assert_null(json_arr(o, "o"));

        assert_true(json_bool(o, "t"));
        assert_false(json_bool(o, "f"));
        assert_false(json_bool(o, "s"));

        /* Not an object, or no value at all: every read gives its default. */
        assert_null(json_str(NULL, "s"));
        assert_null(json_str(json_arr(o, "a"), "s"));
        assert_true(json_num(NULL, "n", 3) == 3);
        assert_int_equal(json_u64(NULL, "u", 3), 3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
