/* Unit tests for src/shared/drv.c: outputs of .drv files, and malformed input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "shared/drv.h"

static void test_single_output(void **state) {
        static const char drv[] =
                "Derive([(\"out\",\"/nix/store/8gp0x1zy0kk0fmxyw2v1jyjps2xrygcy-a\",\"\",\"\")],"
                "[],[],\"x86_64-linux\",\"/bin/sh\",[\"-c\",\"echo \\\"hi\\\" > $out\"],"
                "[(\"out\",\"/nix/store/8gp0x1zy0kk0fmxyw2v1jyjps2xrygcy-a\")])";
        DrvOutput *o = NULL;
        int n = drv_parse_outputs(drv, strlen(drv), &o);
        assert_int_equal(n, 1);
        assert_string_equal(o[0].name, "out");
        assert_string_equal(o[0].path, "/nix/store/8gp0x1zy0kk0fmxyw2v1jyjps2xrygcy-a");
        drv_outputs_free(o, (size_t) n);
}

static void test_multiple_outputs_and_escapes(void **state) {
        static const char drv[] =
                "Derive([(\"dev\",\"/nix/store/aaaa-x-dev\",\"\",\"\"),"
                "(\"out\",\"/nix/store/bbbb-x\\\"q\",\"sha256\",\"abc\")],[],[],\"s\",\"b\",[],[])";
        DrvOutput *o = NULL;
        int n = drv_parse_outputs(drv, strlen(drv), &o);
        assert_int_equal(n, 2);
        assert_string_equal(o[0].name, "dev");
        assert_string_equal(o[1].path, "/nix/store/bbbb-x\"q");
        drv_outputs_free(o, (size_t) n);
}

static void test_versioned_form(void **state) {
        static const char drv[] = "DrvWithVersion(\"xp-dyn-drv\",[(\"out\",\"\",\"r:sha256\",\"\")],[],[])";
        DrvOutput *o = NULL;
        int n = drv_parse_outputs(drv, strlen(drv), &o);
        assert_int_equal(n, 1);
        assert_string_equal(o[0].path, "");
        drv_outputs_free(o, (size_t) n);
}

static void test_malformed(void **state) {
        static const char *const bad[] = {
                "",
                "Derive(",
                "Derive([",
                "Derive([])",
                "Derive([],",
                "Derive([(\"out\",\"/p\",\"\")],",
                "Derive([(\"out\",\"/p\",\"\",\"\")]",
                "Derive([(\"out\",\"/p\",\"\",\"\"),],",
                "Derive([(\"out\",\"/p\\",
                "derive([(\"out\",\"/p\",\"\",\"\")],",
                "\x01\x02garbage",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                DrvOutput *o = NULL;
                int n = drv_parse_outputs(bad[i], strlen(bad[i]), &o);
                if (n >= 0)
                        fail_msg("accepted malformed input #%zu: '%s'", i, bad[i]);
                assert_null(o);
        }
}

static void test_not_nul_terminated(void **state) {
        /* The parser must honour len, not look for a NUL. */
        static const char drv[] = "Derive([(\"out\",\"/p\",\"\",\"\")],XXXX";
        DrvOutput *o = NULL;
        assert_true(drv_parse_outputs(drv, strlen("Derive([(\"out\",\"/p\""), &o) < 0);
        int n = drv_parse_outputs(drv, strlen(drv), &o);
        assert_int_equal(n, 1);
        drv_outputs_free(o, (size_t) n);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_single_output),
                cmocka_unit_test(test_multiple_outputs_and_escapes),
                cmocka_unit_test(test_versioned_form),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_not_nul_terminated),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
