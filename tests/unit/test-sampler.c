/* Unit tests for src/daemon/sampler.c: which processes the sampler gives a build, on real
 * processes this test starts (the test process stands for the nix process). The sampler
 * resolves a build to processes by its builder's process tree and session (resolve_owner,
 * tracked_leads): never by cgroup membership (a cgroup only gives figures) nor by uid, so
 * it runs here with cgroups off. */
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

#include "basic/macro.h"
#include "daemon/sampler.h"
#include "daemon/tracker.h"
#include "shared/procfs.h"
#include "test-daemon-helpers.h"

static bool has_pid(const Tracked *t, pid_t pid) {
        for (uint32_t i = 0; i < t->n_procs; i++)
                if (t->procs[i].st.pid == pid)
                        return true;
        return false;
}

/* The build has exactly the processes of want (n of them), and the figures the model shows
 * are their sums, as read from /proc now (the processes sleep: their figures stand still);
 * the CPU time at least cpu_floor (it never goes back when a process leaves). */
static void assert_build(TestDaemon *f, const Tracked *t, const pid_t *want, size_t n, usec_t cpu_floor) {
        assert_int_equal(t->n_procs, n);
        usec_t cpu = 0;
        uint64_t rss = 0;
        uint32_t threads = 0;
        for (size_t i = 0; i < n; i++) {
                if (!has_pid(t, want[i]))
                        fail_msg("pid %d is not among the build's processes", (int) want[i]);
                ProcStat st;
                assert_int_equal(procfs_read_stat("/proc", want[i], &st), 0);
                cpu += st.utime + st.stime + st.cutime + st.cstime;
                rss += st.rss;
                threads += st.threads;
        }
        const BuildUsage *u = &f->b->usage;
        assert_true(u->sampled);
        assert_int_equal(u->n_procs, n);
        assert_int_equal(u->n_threads, threads);
        assert_int_equal(u->mem_current, rss);
        assert_int_equal(u->cpu_user + u->cpu_system, cpu > cpu_floor ? cpu : cpu_floor);
}

static void assert_not_in(const Tracked *t, pid_t pid) {
        if (has_pid(t, pid))
                fail_msg("pid %d was given to the build", (int) pid);
}

static void reap(pid_t pid) {
        assert_true(WIFSIGNALED(test_wait_exit(pid)));
}

static void test_resolution(void **state) {
        TestDaemon *f = *state;
        pid_t *p = f->pids;

        /* The builder, its child, the subshell and its two children (one in a session of its
         * own), the orphan still in the builder's session; not the nix process, not a
         * session leader under it that builds nothing, nor its other child. */
        Tracked *t = test_daemon_track(f, TEST_BUILD_PROCS);
        assert_int_equal(t->builder, p[TP_BUILDER]);
        assert_false(t->builder_gone);
        const pid_t all[] = {p[TP_BUILDER], p[TP_CHILD],   p[TP_SUB],
                             p[TP_GRAND],   p[TP_SESSION], p[TP_ORPHAN]};
        assert_build(f, t, all, TEST_BUILD_PROCS, 0);
        assert_not_in(t, getpid());
        assert_not_in(t, p[TP_OUTSIDE]);
        assert_not_in(t, p[TP_STRAY]);
        /* The builder's own loop and the child it waited for ran: the CPU is theirs. */
        assert_true(f->b->usage.cpu_user + f->b->usage.cpu_system > 0);
        usec_t cpu_before = f->b->usage.cpu_user + f->b->usage.cpu_system;

        /* A process exits: gone from the build at the next sample; the CPU does not go back. */
        assert_int_equal(kill(p[TP_CHILD], SIGKILL), 0);
        test_wait_state(p[TP_CHILD], "?"); /* the builder reaps it */
        p[TP_CHILD] = 0;
        t = test_daemon_track(f, TEST_BUILD_PROCS - 1);
        const pid_t five[] = {p[TP_BUILDER], p[TP_SUB], p[TP_GRAND], p[TP_SESSION], p[TP_ORPHAN]};
        assert_build(f, t, five, 5, cpu_before);
        cpu_before = f->b->usage.cpu_user + f->b->usage.cpu_system;

        /* The builder exits while Nix still reports the build running: the processes it
         * left in its session stay the build's, and so does the one in its own session below
         * them. */
        pid_t builder = p[TP_BUILDER];
        assert_int_equal(kill(builder, SIGKILL), 0);
        reap(builder);
        p[TP_BUILDER] = 0;
        t = test_daemon_track(f, 4);
        assert_true(t->builder_gone);
        assert_true(f->b->builder_exited > 0);
        assert_int_equal(f->b->state, BUILD_RUNNING);
        const pid_t four[] = {p[TP_SUB], p[TP_GRAND], p[TP_SESSION], p[TP_ORPHAN]};
        assert_build(f, t, four, 4, cpu_before);

        /* The rest of its session ends, which frees its pid (a session or group id is not
         * given out while in use); a new process takes it, leads a session of the same id and
         * starts a child there. Neither is the build's, nor is the process left in its own
         * session, whose ancestors in the build are gone. */
        assert_int_equal(kill(-builder, SIGKILL), 0);
        reap(p[TP_SUB]);
        reap(p[TP_ORPHAN]);
        reap(p[TP_GRAND]); /* came back to us when the subshell died */
        p[TP_SUB] = p[TP_ORPHAN] = p[TP_GRAND] = 0;
        pid_t child;
        pid_t reused = test_spawn_at_pid(builder, &child);
        t = test_daemon_track(f, 0);
        assert_int_equal(f->b->usage.n_procs, 0);
        assert_int_equal(t->builder, reused);
}

/* The builder and its whole session end between two samples and a new process takes the
 * builder's pid at once, leading a session of the same id with a child in it: the sampler
 * never sees the pid free, only a process of another start time. Neither is the build's. */
static void test_reused_builder_pid(void **state) {
        TestDaemon *f = *state;
        pid_t *p = f->pids;
        Tracked *t = test_daemon_track(f, TEST_BUILD_PROCS);
        pid_t builder = p[TP_BUILDER];
        uint64_t start = t->builder_start;

        assert_int_equal(kill(-builder, SIGKILL), 0);
        static const TestProcName order[] = {TP_BUILDER, TP_SUB, TP_CHILD, TP_GRAND, TP_ORPHAN};
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                reap(p[order[i]]);
                p[order[i]] = 0;
        }
        pid_t child, reused = test_spawn_at_pid(builder, &child);
        ProcStat st;
        assert_int_equal(procfs_read_stat("/proc", reused, &st), 0);
        assert_int_not_equal(st.starttime, start);

        t = test_daemon_track(f, 0);
        assert_true(t->builder_gone);
        assert_true(f->b->builder_exited > 0);
        assert_int_equal(f->b->usage.n_procs, 0);
}

static int setup(void **state) {
        TestDaemon *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        test_daemon_init(f);
        test_daemon_spawn(f);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        test_daemon_done(*state);
        free(*state);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_resolution, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reused_builder_pid, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
