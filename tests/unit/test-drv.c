/* Unit tests for src/shared/drv.c: outputs of .drv files, and malformed input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

static void test_full_parse(void **state) {
        static const char drv[] =
                "Derive([(\"out\",\"/nix/store/cccc-top\",\"\",\"\")],"
                "[(\"/nix/store/aaaa-a.drv\",[\"out\"]),(\"/nix/store/bbbb-b.drv\",[\"dev\",\"out\"])],"
                "[\"/nix/store/ssss-src\"],\"x86_64-linux\",\"/bin/sh\",[\"-c\",\"echo \\\"x\\\"\\n\"],"
                "[(\"name\",\"top-1.0\"),(\"out\",\"/nix/store/cccc-top\")])\n";
        Drv *d = NULL;
        assert_int_equal(drv_parse(drv, strlen(drv), &d), 0);
        assert_null(d->version);
        assert_int_equal(d->n_outputs, 1);
        assert_string_equal(d->outputs[0].path, "/nix/store/cccc-top");
        assert_int_equal(d->n_inputs, 2);
        assert_string_equal(d->inputs[0].path, "/nix/store/aaaa-a.drv");
        assert_int_equal(d->inputs[0].n_outputs, 1);
        assert_string_equal(d->inputs[1].path, "/nix/store/bbbb-b.drv");
        assert_int_equal(d->inputs[1].n_outputs, 2);
        assert_string_equal(d->inputs[1].outputs[0], "dev");
        assert_int_equal(d->n_srcs, 1);
        assert_string_equal(d->srcs[0], "/nix/store/ssss-src");
        assert_string_equal(d->system, "x86_64-linux");
        assert_string_equal(d->builder, "/bin/sh");
        assert_int_equal(d->n_args, 2);
        assert_string_equal(d->args[1], "echo \"x\"\n");
        assert_int_equal(d->n_env, 2);
        assert_string_equal(d->env[0].name, "name");
        assert_string_equal(d->env[0].value, "top-1.0");
        drv_free(d);
}

static void test_dynamic_inputs(void **state) {
        static const char drv[] = "DrvWithVersion(\"xp-dyn-drv\",[(\"out\",\"\",\"r:sha256\",\"\")],"
                                  "[(\"/nix/store/aaaa-x.drv\",([\"out\"],[(\"out\",([\"lib\"],[]))]))],"
                                  "[],\"s\",\"b\",[],[])";
        Drv *d = NULL;
        assert_int_equal(drv_parse(drv, strlen(drv), &d), 0);
        assert_string_equal(d->version, "xp-dyn-drv");
        assert_int_equal(d->n_inputs, 1);
        assert_int_equal(d->inputs[0].n_outputs, 1);
        assert_string_equal(d->inputs[0].outputs[0], "out");
        drv_free(d);
}

static void test_full_malformed(void **state) {
        static const char *const bad[] = {
                "Derive([(\"out\",\"/p\",\"\",\"\")],[],[],\"s\",\"b\",[],[])junk",
                "Derive([(\"out\",\"/p\",\"\",\"\")],[],[],\"s\",\"b\",[],[]",
                "Derive([(\"out\",\"/p\",\"\",\"\")],[(\"/a.drv\")],[],\"s\",\"b\",[],[])",
                "Derive([(\"out\",\"/p\",\"\",\"\")],[(\"/a.drv\",[\"out\",])],[],\"s\",\"b\",[],[])",
                "Derive([(\"out\",\"/p\",\"\",\"\")],[],[],\"s\",\"b\",[],[(\"a\")])",
                "Derive([(\"out\",\"/p\",\"\",\"\")],[],[],s,\"b\",[],[])",
                "Derive([(\"out\",\"/p\",\"\",\"\")],[],[],\"s\",\"b\",[1],[])",
                "Derive([],[],[],\"s\",\"b\",[],[])",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                Drv *d = NULL;
                if (drv_parse(bad[i], strlen(bad[i]), &d) >= 0)
                        fail_msg("accepted malformed input #%zu: '%s'", i, bad[i]);
                assert_null(d);
        }
        /* an embedded NUL in a string */
        static const char nul[] = "Derive([(\"out\",\"/p\0x\",\"\",\"\")],[],[],\"s\",\"b\",[],[])";
        Drv *d = NULL;
        assert_int_equal(drv_parse(nul, sizeof(nul) - 1, &d), -EBADMSG);
}

static void test_nesting_bounded(void **state) {
        /* 40 levels of dynamic-derivation nesting: rejected, not a deep recursion. */
        char buf[4096];
        size_t n = 0;
        n += (size_t) snprintf(buf + n, sizeof(buf) - n,
                               "DrvWithVersion(\"v\",[(\"out\",\"\",\"\",\"\")],[(\"/p.drv\",");
        for (int i = 0; i < 40; i++)
                n += (size_t) snprintf(buf + n, sizeof(buf) - n, "([],[(\"o\",");
        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "([],[])");
        for (int i = 0; i < 40; i++)
                n += (size_t) snprintf(buf + n, sizeof(buf) - n, ")]))");
        n += (size_t) snprintf(buf + n, sizeof(buf) - n, ")],[],\"s\",\"b\",[],[])");
        Drv *d = NULL;
        assert_int_equal(drv_parse(buf, n, &d), -E2BIG);
}

static void test_many_items(void **state) {
        /* 100,000 env entries parse in linear time (doubling growth). */
        size_t cap = 100000 * 12 + 200, n = 0;
        char *buf = malloc(cap);
        assert_non_null(buf);
        n += (size_t) snprintf(buf + n, cap - n,
                               "Derive([(\"out\",\"/p\",\"\",\"\")],[],[],\"s\",\"b\",[],[");
        for (int i = 0; i < 100000; i++)
                n += (size_t) snprintf(buf + n, cap - n, "%s(\"k\",\"v\")", i ? "," : "");
        n += (size_t) snprintf(buf + n, cap - n, "])");
        Drv *d = NULL;
        assert_int_equal(drv_parse(buf, n, &d), 0);
        assert_int_equal(d->n_env, 100000);
        drv_free(d);
        free(buf);
}

static void test_pname(void **state) {
        static const char *const cases[][2] = {
                {"hello-2.12.1", "hello"},
                {"gtk+-3.24", "gtk+"},
                {"foo-bar-1", "foo-bar"},
                {"e2e-slow-a", "e2e-slow-a"},
                {"python3-3.11.4", "python3"},
                {"x", "x"},
                {"a-", "a-"},
                {"", ""},
                {"hist-sleep-1", "hist-sleep"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *p = drv_name_pname(cases[i][0]);
                assert_non_null(p);
                assert_string_equal(p, cases[i][1]);
                free(p);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_single_output),
                cmocka_unit_test(test_multiple_outputs_and_escapes),
                cmocka_unit_test(test_versioned_form),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_not_nul_terminated),
                cmocka_unit_test(test_full_parse),
                cmocka_unit_test(test_dynamic_inputs),
                cmocka_unit_test(test_full_malformed),
                cmocka_unit_test(test_nesting_bounded),
                cmocka_unit_test(test_many_items),
                cmocka_unit_test(test_pname),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
