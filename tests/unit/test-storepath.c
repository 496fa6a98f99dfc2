/* Unit tests for src/shared/storepath.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "shared/storepath.h"

#define H "zi6pmhs3z36nnyz4bavgkq2bh4by7r0j"

static void test_valid(void **state) {
        assert_true(store_path_valid("/nix/store", "/nix/store/" H "-f.drv"));
        assert_true(store_path_valid("/nix/store", "/nix/store/" H "-hello-2.12"));
        assert_false(store_path_valid("/nix/store", "/nix/store/" H));
        assert_false(store_path_valid("/nix/store", "/nix/store/" H "-"));
        assert_false(store_path_valid("/nix/store", "/nix/store/" H "-a/b"));
        assert_false(store_path_valid("/nix/store", "/nix/storeX/" H "-a"));
        assert_false(
                store_path_valid("/nix/store", "/nix/store/zi6pmhs3z36nnyz4bavgkq2bh4by7r0e-a")); /* 'e' */
        assert_false(store_path_valid("/nix/store", "/other/" H "-a"));
        assert_true(store_path_valid("/tmp/s", "/tmp/s/" H "-a"));
}

static void test_name(void **state) {
        char *n = NULL;
        assert_int_equal(store_path_name("/nix/store", "/nix/store/" H "-hello-2.12.drv", &n), 0);
        assert_string_equal(n, "hello-2.12");
        free(n);
        assert_int_equal(store_path_name("/nix/store", "/nix/store/" H "-hello", &n), 0);
        assert_string_equal(n, "hello");
        free(n);
        assert_int_equal(store_path_name("/nix/store", "hello", &n), -EINVAL);
}

static void test_find_drv(void **state) {
        char *d = NULL;
        /* Nix 2.8's failure message after ANSI stripping. */
        assert_int_equal(store_path_find_drv("/nix/store",
                                             "builder for '/nix/store/" H "-f.drv' failed with exit code 3",
                                             &d),
                         1);
        assert_string_equal(d, "/nix/store/" H "-f.drv");
        free(d);
        /* An output path first, then the drv. */
        assert_int_equal(store_path_find_drv("/nix/store",
                                             "path '/nix/store/" H "-out' of '/nix/store/" H "-x.drv'", &d),
                         1);
        assert_string_equal(d, "/nix/store/" H "-x.drv");
        free(d);
        assert_int_equal(store_path_find_drv("/nix/store", "no path here /nix/store/", &d), 0);
        assert_int_equal(store_path_find_drv("/nix/store", "/nix/store/" H "-x.drvfoo", &d), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_name),
                cmocka_unit_test(test_find_drv),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
