/* Unit tests for src/shared/proc.c on a fake /proc tree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "shared/proc.h"
#include "test-helpers.h"

static char *root;

static int setup(void **state) {
        root = test_mkdtemp();
        /* comm with spaces and a ')' to check that parsing starts after the last ')'. */
        test_write_file(
                root, "100/stat",
                "100 (nix (build) x) S 1 100 100 0 -1 4194560 1 0 0 0 3 1 0 0 20 0 1 0 777 1000 10\n",
                (size_t) -1);
        test_write_file(root, "101/stat",
                        "101 (zombie) Z 1 101 101 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 888 0 0\n", (size_t) -1);
        test_write_file(root, "102/stat", "102 (short) S 1 2\n", (size_t) -1);
        test_write_file(root, "100/cmdline", "nix-build\0-A\0hello\0", 19);
        return 0;
}

static int teardown(void **state) {
        test_rm_rf(root);
        free(root);
        return 0;
}

static void test_starttime(void **state) {
        uint64_t st = 0;
        assert_int_equal(proc_starttime(root, 100, &st), 0);
        assert_int_equal(st, 777);
        assert_int_equal(proc_starttime(root, 101, &st), -ESRCH); /* zombie: gone */
        assert_int_equal(proc_starttime(root, 999, &st), -ESRCH); /* vanished */
        assert_int_equal(proc_starttime(root, 102, &st), -EBADMSG);
}

static void test_alive(void **state) {
        assert_true(proc_alive(root, 100, 0));
        assert_true(proc_alive(root, 100, 777));
        assert_false(proc_alive(root, 100, 778)); /* pid reused by another process */
        assert_false(proc_alive(root, 101, 0));
        assert_false(proc_alive(root, 999, 0));
        assert_false(proc_alive(root, 0, 0));
}

static void test_cmdline(void **state) {
        char *c = NULL;
        assert_int_equal(proc_cmdline(root, 100, &c), 0);
        assert_string_equal(c, "nix-build -A hello");
        free(c);
        assert_int_equal(proc_cmdline(root, 999, &c), -ESRCH);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_starttime),
                cmocka_unit_test(test_alive),
                cmocka_unit_test(test_cmdline),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
