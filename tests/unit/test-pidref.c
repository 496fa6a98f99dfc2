/* Unit tests for src/shared/pidref.c: a fake /proc tree whose start time changed (the pid was
 * reused) is stale, and real processes that exited are never signalled. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "shared/pidref.h"
#include "shared/procfs.h"
#include "test-helpers.h"

static char *root;

static void write_stat(pid_t pid, char state, uint64_t starttime) {
        char name[64], line[256];
        snprintf(name, sizeof(name), "%d/stat", (int) pid);
        snprintf(line, sizeof(line), "%d (sh) %c 1 %d %d 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 %llu 0 0\n",
                 (int) pid, state, (int) pid, (int) pid, (unsigned long long) starttime);
        test_write_file(root, name, line, (size_t) -1);
}

static int setup(void **state) {
        root = test_mkdtemp();
        return 0;
}

static int teardown(void **state) {
        test_rm_rf(root);
        return 0;
}

/* A fake root uses no pidfd: the start time alone decides. */
static void test_fake_root_start_time(void **state) {
        write_stat(4242, 'S', 5000);
        PidRef p;
        assert_int_equal(pidref_open(root, 4242, 5000, &p), 0);
        assert_int_equal(p.fd, -1);
        assert_int_equal(pidref_verify(&p, root), 0);
        assert_int_equal(pidref_check_pid(root, 4242, 5000), 0);
        /* The process exited and a new one took its pid. */
        write_stat(4242, 'S', 6000);
        assert_int_equal(pidref_verify(&p, root), -ESRCH);
        assert_int_equal(pidref_check_pid(root, 4242, 5000), -ESRCH);
        /* Nothing is sent on a stale pid (a signal would reach whatever pid 4242 is here). */
        assert_int_equal(pidref_kill(&p, root, SIGKILL), -ESRCH);
        assert_int_equal(pidref_set_nice(&p, root, 10), -ESRCH);
        pidref_done(&p);
        assert_int_equal(pidref_open(root, 4242, 5000, &p), -ESRCH);
        assert_int_equal(pidref_kill_pid(root, 4242, 5000, SIGKILL), -ESRCH);
        assert_int_equal(pidref_set_nice_pid(root, 4242, 5000, 10), -ESRCH);
        /* A zombie is gone; a vanished pid is gone; an unknown start time is never trusted. */
        write_stat(4243, 'Z', 5000);
        assert_int_equal(pidref_check_pid(root, 4243, 5000), -ESRCH);
        assert_int_equal(pidref_check_pid(root, 4244, 5000), -ESRCH);
        write_stat(4245, 'S', 5000);
        assert_int_equal(pidref_check_pid(root, 4245, 0), -ESRCH);
}

static uint64_t start_of(pid_t pid) {
        ProcStat st;
        assert_int_equal(procfs_read_stat("/proc", pid, &st), 0);
        return st.starttime;
}

/* The real /proc: a child held by pidfd, then exited (zombie) and reaped. */
static void test_real_child(void **state) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                pause();
                _exit(0);
        }
        uint64_t start = start_of(pid);
        PidRef p;
        assert_int_equal(pidref_open("/proc", pid, start, &p), 0);
        assert_int_equal(pidref_open("/proc", pid, start + 1, &(PidRef){}), -ESRCH);
        assert_int_equal(pidref_verify(&p, "/proc"), 0);
        assert_int_equal(pidref_kill(&p, "/proc", 0), 0);
        assert_int_equal(pidref_set_nice(&p, "/proc", 3), 0);
        assert_int_equal(start_of(pid) == start, 1);
        assert_int_equal(pidref_kill(&p, "/proc", SIGKILL), 0);
        /* A zombie until reaped: gone already. */
        for (int i = 0; i < 200 && pidref_verify(&p, "/proc") == 0; i++)
                usleep(10000);
        assert_int_equal(pidref_verify(&p, "/proc"), -ESRCH);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(pidref_verify(&p, "/proc"), -ESRCH);
        assert_true(pidref_kill(&p, "/proc", SIGTERM) == -ESRCH);
        pidref_done(&p);
        assert_int_equal(pidref_kill_pid("/proc", pid, start, SIGTERM), -ESRCH);
        /* Ourselves, with a wrong start time: stale, nothing sent. */
        assert_int_equal(pidref_kill_pid("/proc", getpid(), start_of(getpid()) + 1, SIGKILL), -ESRCH);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fake_root_start_time),
                cmocka_unit_test(test_real_child),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
