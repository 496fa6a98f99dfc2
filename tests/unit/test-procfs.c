/* Unit tests for src/shared/procfs.c on a fake /proc tree, vanished pids included. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "shared/procfs.h"
#include "test-helpers.h"

static char *root;

static int setup(void **state) {
        root = test_mkdtemp();
        /* utime 300 ticks, stime 100, nice 5, 3 threads, starttime 777, rss 10 pages */
        test_write_file(
                root, "100/stat",
                "100 (sh (x) y) S 42 100 100 0 -1 4194560 1 0 0 0 300 100 0 0 25 5 3 0 777 1000 10 0 0\n",
                (size_t) -1);
        test_write_file(root, "101/stat", "101 (short) S 1 2\n", (size_t) -1);
        test_write_file(root, "100/io",
                        "rchar: 10\nwchar: 20\nsyscr: 1\nsyscw: 1\nread_bytes: 4096\nwrite_bytes: 8192\n"
                        "cancelled_write_bytes: 0\n",
                        (size_t) -1);
        test_write_file(root, "100/environ", "PATH=/bin\0out=/nix/store/abc-x\0empty=\0", 38);
        test_write_file(root, "self/stat", "x", (size_t) -1); /* not a pid: skipped */
        return 0;
}

static int teardown(void **state) {
        test_rm_rf(root);
        free(root);
        return 0;
}

static void test_stat(void **state) {
        ProcStat st;
        long hz = sysconf(_SC_CLK_TCK);
        assert_int_equal(procfs_read_stat(root, 100, &st), 0);
        assert_int_equal(st.pid, 100);
        assert_string_equal(st.comm, "sh (x) y");
        assert_int_equal(st.state, 'S');
        assert_int_equal(st.ppid, 42);
        assert_int_equal(st.pgid, 100);
        assert_int_equal(st.sid, 100);
        assert_int_equal(st.utime, 300 * (1000000 / hz));
        assert_int_equal(st.stime, 100 * (1000000 / hz));
        assert_int_equal(st.nice, 5);
        assert_int_equal(st.threads, 3);
        assert_int_equal(st.starttime, 777);
        assert_int_equal(st.rss, 10 * sysconf(_SC_PAGESIZE));
        assert_int_equal(procfs_read_stat(root, 101, &st), -EBADMSG); /* truncated */
        assert_int_equal(procfs_read_stat(root, 999, &st), -ESRCH);   /* vanished */
}

static void test_parse_stat_garbage(void **state) {
        ProcStat st;
        const char *bad[] = {"", "1", "1 (x", "x (y) S 1", "1 (y) S a b c", "1 (y)S 1 2 3"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(procfs_parse_stat(bad[i], strlen(bad[i]), &st), -EBADMSG);
}

static void test_io(void **state) {
        ProcIo io;
        assert_int_equal(procfs_read_io(root, 100, &io), 0);
        assert_int_equal(io.read_bytes, 4096);
        assert_int_equal(io.write_bytes, 8192);
        assert_int_equal(procfs_read_io(root, 999, &io), -ESRCH);
        assert_int_equal(procfs_parse_io("read_bytes: 1\n", 14, &io), -EBADMSG);
}

static void test_environ(void **state) {
        char *buf;
        size_t len, vl;
        assert_int_equal(procfs_read(root, 100, "environ", 1 << 20, &buf, &len), 0);
        const char *v = procfs_environ_get(buf, len, "out", &vl);
        assert_non_null(v);
        assert_int_equal(vl, strlen("/nix/store/abc-x"));
        assert_memory_equal(v, "/nix/store/abc-x", vl);
        v = procfs_environ_get(buf, len, "empty", &vl);
        assert_non_null(v);
        assert_int_equal(vl, 0);
        assert_null(procfs_environ_get(buf, len, "ou", &vl));
        assert_null(procfs_environ_get(buf, len, "missing", &vl));
        free(buf);
        assert_int_equal(procfs_read(root, 998, "environ", 100, &buf, &len), -ESRCH);
}

static void test_list(void **state) {
        pid_t *pids;
        int n = procfs_list_pids(root, &pids);
        assert_int_equal(n, 2);
        assert_true((pids[0] == 100 && pids[1] == 101) || (pids[0] == 101 && pids[1] == 100));
        free(pids);
}

static int count_cb(const char *target, void *userdata) {
        (*(int *) userdata)++;
        return 0;
}

static void test_fds_real(void **state) {
        /* Our own fds, through the real /proc: stdin etc. exist, a prefix filters them. */
        int n = 0;
        assert_int_equal(procfs_foreach_fd("/proc", getpid(), "/", count_cb, &n), 0);
        assert_true(n >= 0);
        n = 0;
        assert_int_equal(procfs_foreach_fd("/proc", getpid(), "/no/such/prefix/", count_cb, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(procfs_foreach_fd(root, 12345, "/", count_cb, &n), -ESRCH);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stat), cmocka_unit_test(test_parse_stat_garbage),
                cmocka_unit_test(test_io),   cmocka_unit_test(test_environ),
                cmocka_unit_test(test_list), cmocka_unit_test(test_fds_real),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
