/* Unit tests for src/shared/procfs.c on a fake /proc tree, vanished pids included. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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
                "100 (sh (x) y) S 42 100 100 0 -1 4194560 1 0 0 0 300 100 7 9 25 5 3 0 777 1000 10 0 0\n",
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
        assert_int_equal(st.flags, 4194560); /* PF_*: what the kernel sets, e.g. PF_EXITING */
        assert_int_equal(st.utime, 300 * (1000000 / hz));
        assert_int_equal(st.stime, 100 * (1000000 / hz));
        assert_int_equal(st.cutime, 7 * (1000000 / hz));
        assert_int_equal(st.cstime, 9 * (1000000 / hz));
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

/* comm is whatever the process named itself: blanks, parentheses, a fake rest of the line. */
static void test_parse_stat_hostile_comm(void **state) {
        ProcStat st;
        static const char fake[] =
                "7 (x) Z 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0) S 42 7 7 0 -1 0 0 0 0 0 "
                "5 6 0 0 20 0 2 0 999 0 3\n";
        assert_int_equal(procfs_parse_stat(fake, strlen(fake), &st), 0);
        assert_int_equal(st.pid, 7);
        assert_string_equal(st.comm, "x) Z 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0");
        assert_int_equal(st.state, 'S');
        assert_int_equal(st.ppid, 42);
        assert_int_equal(st.threads, 2);
        assert_int_equal(st.starttime, 999);

        static const char empty[] = "8 () R 1 8 8 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0\n";
        assert_int_equal(procfs_parse_stat(empty, strlen(empty), &st), 0);
        assert_string_equal(st.comm, "");
        assert_int_equal(st.starttime, 5);

        /* A newline and a NUL inside comm are comm's. */
        static const char odd[] = "9 (a\nb\0c) R 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 6 0 0\n";
        assert_int_equal(procfs_parse_stat(odd, sizeof(odd) - 1, &st), 0);
        assert_int_equal(st.state, 'R');
        assert_int_equal(st.starttime, 6);

        /* A comm longer than the kernel's is cut, never overflowing ours. */
        char longer[512];
        char comm[300];
        memset(comm, 'c', sizeof(comm) - 1);
        comm[sizeof(comm) - 1] = '\0';
        snprintf(longer, sizeof(longer), "10 (%s) S 1 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 6 0 0\n", comm);
        assert_int_equal(procfs_parse_stat(longer, strlen(longer), &st), 0);
        assert_int_equal(strlen(st.comm), PROCFS_COMM_MAX);
}

/* Cut anywhere before its last field, a stat line is refused; numbers past 64 bits too. */
static void test_parse_stat_truncated(void **state) {
        static const char line[] =
                "100 (sh (x) y) S 42 100 100 0 -1 4194560 1 0 0 0 300 100 7 9 25 5 3 0 777 1000 10\n";
        size_t last = strlen(line) - strlen("10\n");
        ProcStat st;
        for (size_t n = 0; n <= last; n++)
                assert_int_equal(procfs_parse_stat(line, n, &st), -EBADMSG);
        assert_int_equal(procfs_parse_stat(line, last + 1, &st), 0); /* "... 1000 1" */
        assert_int_equal(procfs_parse_stat(line, strlen(line), &st), 0);
        assert_int_equal(st.starttime, 777);

        static const char huge[] =
                "1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99999999999999999999999 0 0\n";
        assert_int_equal(procfs_parse_stat(huge, strlen(huge), &st), -EBADMSG);
        static const char plus[] = "1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 +5 0 0\n";
        assert_int_equal(procfs_parse_stat(plus, strlen(plus), &st), -EBADMSG);
}

/* Our own stat and status through the real /proc, under a hostile name we gave ourselves. */
static void test_real_self(void **state) {
        ProcStat st;
        assert_int_equal(procfs_read_stat("/proc", getpid(), &st), 0);
        assert_int_equal(st.pid, getpid());
        assert_int_equal(st.ppid, getppid());
        assert_int_equal(st.state, 'R');
        assert_true(st.starttime > 0);
        assert_true(st.threads >= 1);
        uint64_t start = st.starttime;

        char saved[17] = "";
        assert_int_equal(prctl(PR_GET_NAME, saved), 0);
        assert_int_equal(prctl(PR_SET_NAME, "a) Z 1 (b c"), 0);
        int r = procfs_read_stat("/proc", getpid(), &st);
        assert_int_equal(prctl(PR_SET_NAME, saved), 0);
        assert_int_equal(r, 0);
        assert_string_equal(st.comm, "a) Z 1 (b c");
        assert_int_equal(st.state, 'R');
        assert_int_equal(st.ppid, getppid());
        assert_true(st.starttime == start);

        ProcStatus status;
        assert_int_equal(procfs_read_status("/proc", getpid(), &status), 0);
        assert_int_equal(status.ppid, getppid());
        assert_int_equal(status.uid, getuid());
}

static void test_parse_status(void **state) {
        static const char status[] = "Name:\tnix-build\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\n"
                                     "Ngid:\t0\nPid:\t4242\nPPid:\t4200\nTracerPid:\t0\n"
                                     "Uid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\n";
        ProcStatus ps = {};
        assert_int_equal(procfs_parse_status(status, strlen(status), &ps), 0);
        assert_int_equal(ps.ppid, 4200);
        assert_int_equal(ps.uid, 1000);
        /* The last line without its newline, no blank after the colon. */
        static const char tight[] = "PPid:0\nUid:4294967294";
        assert_int_equal(procfs_parse_status(tight, strlen(tight), &ps), 0);
        assert_int_equal(ps.ppid, 0);
        assert_int_equal(ps.uid, 4294967294u);

        static const char *const bad[] = {
                "Name:\tx\nPPid:\t1\n",          /* no Uid */
                "PPid:\tabc\nUid:\t-\n",         /* not numbers */
                "PPid:\t1\nUid:\t4294967295\n",  /* (uid_t) -1 */
                "PPid:\t2147483648\nUid:\t0\n",  /* past a pid */
                "PPid:\t1\nUid:\t-1\t0\t0\t0\n", /* negative */
                "PPid:\t1\nUid:\t10x\n",         /* trailing garbage */
                "PPid:\t1\nUi",                  /* truncated */
                "PPid:\t1\nUid:",                /* truncated after the colon */
                "PPid:\t1\nXUid:\t0\n",          /* another key */
                "PPid:\t1\nUid :\t0\n",          /* not "Uid:" */
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(procfs_parse_status(bad[i], strlen(bad[i]), &ps), -EBADMSG);
        /* Bounded by len: a Uid line past it does not count. */
        assert_int_equal(
                procfs_parse_status(
                        status,
                        strlen(status) - strlen("Uid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\n"),
                        &ps),
                -EBADMSG);
}

static void test_field(void **state) {
        static const char io[] = "read_bytes: 1\nwrite_bytes: 2\ncancelled_write_bytes: 3\nflags:\t0100001";
        size_t n;
        const char *v = procfs_field(io, strlen(io), "write_bytes", &n);
        assert_non_null(v);
        assert_int_equal(n, 1);
        assert_int_equal(*v, '2');
        v = procfs_field(io, strlen(io), "flags", &n);
        assert_non_null(v);
        assert_int_equal(n, 7);
        assert_memory_equal(v, "0100001", 7);
        assert_null(procfs_field(io, strlen(io), "bytes", &n));
        assert_null(procfs_field(io, strlen(io), "read_bytes: 1", &n));
        assert_null(procfs_field(io, 4, "read_bytes", &n));
        assert_null(procfs_field("", 0, "x", &n));
}

static void test_io(void **state) {
        ProcIo io;
        assert_int_equal(procfs_read_io(root, 100, &io), 0);
        assert_int_equal(io.read_bytes, 4096);
        assert_int_equal(io.write_bytes, 8192);
        assert_int_equal(procfs_read_io(root, 999, &io), -ESRCH);
        assert_int_equal(procfs_parse_io("read_bytes: 1\n", 14, &io), -EBADMSG);
        static const char *const bad[] = {"read_bytes: -1\nwrite_bytes: 2\n",
                                          "read_bytes: 1x\nwrite_bytes: 2\n",
                                          "read_bytes: 1\nwrite_bytes: 99999999999999999999\n",
                                          "read_bytes: 1\ncancelled_write_bytes: 2\n"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(procfs_parse_io(bad[i], strlen(bad[i]), &io), -EBADMSG);
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
                cmocka_unit_test(test_stat),
                cmocka_unit_test(test_parse_stat_garbage),
                cmocka_unit_test(test_io),
                cmocka_unit_test(test_environ),
                cmocka_unit_test(test_list),
                cmocka_unit_test(test_fds_real),
                cmocka_unit_test(test_parse_stat_hostile_comm),
                cmocka_unit_test(test_parse_stat_truncated),
                cmocka_unit_test(test_real_self),
                cmocka_unit_test(test_parse_status),
                cmocka_unit_test(test_field),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
