/* Unit tests for src/shared/proc.c on a fake /proc tree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
        /* nix-daemon workers: 200 serves 100 (its argv[1] "--option" overwritten by "100"
         * and NULs), 201 has its argv[1] filled to the last byte (the pid may be cut), 202
         * names a client started after it (a reused pid), 203 is not a worker. */
        const char worker[] = "/usr/bin/nix-daemon\0"
                              "100\0\0\0\0\0"
                              "sandbox\0false\0";
        const char full[] = "nix\0"
                            "100\0"
                            "x\0";
        static const char *const stat_fmt =
                "%d (nix-daemon) S 1 2 2 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 %d 0 0\n";
        char st[128];
        for (int pid = 200; pid <= 203; pid++) {
                char name[32];
                snprintf(st, sizeof(st), stat_fmt, pid, pid == 202 ? 500 : 800);
                snprintf(name, sizeof(name), "%d/stat", pid);
                test_write_file(root, name, st, (size_t) -1);
        }
        test_write_file(root, "200/cmdline", worker, sizeof(worker) - 1);
        test_write_file(root, "201/cmdline", full, sizeof(full) - 1);
        test_write_file(root, "202/cmdline", worker, sizeof(worker) - 1);
        test_write_file(root, "203/cmdline",
                        "nix-build\0"
                        "100\0\0\0",
                        17);
        test_write_file(root, "100/status",
                        "Name:\tnix-build\nUmask:\t0022\nPPid:\t1\nUid:\t1000\t1000\t1000\t1000\n",
                        (size_t) -1);
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
        /* Bounded: the first bytes only. */
        assert_int_equal(proc_cmdline_max(root, 100, 11, &c), 0);
        assert_string_equal(c, "nix-build -");
        free(c);
}

/* Our own process through the real /proc. */
static void test_real_self(void **state) {
        uint64_t st = 0;
        assert_int_equal(proc_starttime("/proc", getpid(), &st), 0);
        assert_true(st > 0);
        assert_true(proc_alive("/proc", getpid(), st));
        assert_false(proc_alive("/proc", getpid(), st + 1));
        char *c = NULL;
        assert_int_equal(proc_cmdline("/proc", getpid(), &c), 0);
        assert_non_null(strstr(c, "test-proc"));
        free(c);
}

static void test_nix_daemon_client(void **state) {
        pid_t pid = 0;
        uid_t uid = 0;
        assert_int_equal(proc_nix_daemon_client(root, 200, &pid, &uid), 0);
        assert_int_equal(pid, 100);
        assert_int_equal(uid, 1000);
        assert_int_equal(proc_nix_daemon_client(root, 201, &pid, &uid), -ENOENT); /* no padding */
        assert_int_equal(proc_nix_daemon_client(root, 202, &pid, &uid), -ENOENT); /* pid reused */
        assert_int_equal(proc_nix_daemon_client(root, 203, &pid, &uid), -ENOENT); /* not nix-daemon */
        assert_int_equal(proc_nix_daemon_client(root, 100, &pid, &uid), -ENOENT); /* nix-build */
        assert_int_equal(proc_nix_daemon_client(root, 999, &pid, &uid), -ESRCH);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_starttime), cmocka_unit_test(test_alive),
                cmocka_unit_test(test_cmdline),   cmocka_unit_test(test_nix_daemon_client),
                cmocka_unit_test(test_real_self),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
