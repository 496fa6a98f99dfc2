/* Unit tests for src/daemon/actions.c (and the cgroup writes of src/shared/cgroup.c it makes):
 * kill, freeze, thaw, nice, CPU and memory limits on a build the real sampler tracks, whose
 * processes are real processes this test starts. The build's cgroup is a fake v2 tree in a
 * temporary directory: what the test asserts is what the kernel would have been written.
 * A fake tree freezes and kills nothing, so what reaches processes is checked through the
 * signal route (no cgroup, or a group without cgroup.kill) and setpriority. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "daemon/actions.h"
#include "daemon/control-conn.h"
#include "daemon/sampler.h"
#include "daemon/tracker.h"
#include "shared/cgroup.h"
#include "shared/proto.h"
#include "test-daemon-helpers.h"
#include "test-helpers.h"

static const char mountinfo_v2[] = "25 30 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - "
                                   "cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";

typedef struct Fixture {
        TestDaemon f;
        Tracked *t;
        CgHost host;
        char *fs; /* the fake host's root */
} Fixture;

static int setup(void **state) {
        Fixture *x = calloc(1, sizeof(*x));
        assert_non_null(x);
        test_daemon_init(&x->f);
        test_daemon_spawn(&x->f);
        x->t = test_daemon_track(&x->f, TEST_BUILD_PROCS);
        test_cg_fake_host(x->f.dir, "cgroupfs", mountinfo_v2, &x->host, &x->fs);
        *state = x;
        return 0;
}

static int teardown(void **state) {
        Fixture *x = *state;
        /* The group is the test's: the sampler must not try to release it. */
        cg_group_done(&x->t->group);
        x->t->has_group = false;
        test_daemon_done(&x->f);
        cg_host_done(&x->host);
        free(x->fs);
        free(x);
        return 0;
}

/* The build's v2 group as the daemon makes it, with the files the kernel puts in one (the
 * cpu and memory controllers enabled), its processes listed in cgroup.procs. */
static void give_group(Fixture *x) {
        Tracked *t = x->t;
        assert_int_equal(cg_group_open(&x->host, "/nix-analytics/build-x", /* create= */ true, &t->group),
                         0);
        const char *g = t->group.v2;
        char procs[256] = "";
        for (int i = 0; i < TEST_BUILD_PROCS; i++)
                snprintf(procs + strlen(procs), sizeof(procs) - strlen(procs), "%d\n", (int) x->f.pids[i]);
        test_write_file(g, "cgroup.procs", procs, (size_t) -1);
        test_write_file(g, "cgroup.freeze", "0\n", (size_t) -1);
        test_write_file(g, "cgroup.events", "populated 1\nfrozen 0\n", (size_t) -1);
        test_write_file(g, "cgroup.kill", "", 0);
        test_write_file(g, "cpu.max", "max 100000\n", (size_t) -1);
        test_write_file(g, "cpu.weight", "100\n", (size_t) -1);
        test_write_file(g, "memory.max", "max\n", (size_t) -1);
        test_write_file(g, "memory.high", "max\n", (size_t) -1);
        t->has_group = true;
}

/* What the group's file holds now. */
static char *file_of(Fixture *x, const char *name) {
        char rel[64];
        snprintf(rel, sizeof(rel), "/%s", name);
        return test_read_file(x->t->group.v2, rel);
}

static void assert_file(Fixture *x, const char *name, const char *want) {
        char *got = file_of(x, name);
        assert_string_equal(got, want);
        free(got);
}

/* Runs an action; returns its result, the outcome in *o (action_outcome_done it). */
static int act(Fixture *x, ActionRequest req, ActionOutcome *o) {
        *o = (ActionOutcome){};
        return action_run(&x->f.d, x->f.d.sampler, x->t, x->f.b, &req, o);
}

/* The action succeeded, saying mechanism. */
static void assert_done(Fixture *x, ActionRequest req, const char *mechanism) {
        ActionOutcome o;
        int r = act(x, req, &o);
        if (r < 0)
                fail_msg("%s: %s (%s)", action_kind_to_string(req.kind), o.error, o.code);
        assert_non_null(o.mechanism);
        assert_string_equal(o.mechanism, mechanism);
        action_outcome_done(&o);
}

/* The action was refused with code, its message containing text. */
static void assert_refused(Fixture *x, ActionRequest req, const char *code, const char *text) {
        ActionOutcome o;
        assert_int_equal(act(x, req, &o), -EINVAL);
        assert_non_null(o.code);
        assert_string_equal(o.code, code);
        assert_non_null(o.error);
        if (!strstr(o.error, text))
                fail_msg("\"%s\" does not say \"%s\"", o.error, text);
        assert_null(o.mechanism);
        action_outcome_done(&o);
}

/* The niceness of a process; the test's own is what every process it starts has at first
 * (it may run under nice). */
static int nice_of(pid_t pid) {
        errno = 0;
        int n = getpriority(PRIO_PROCESS, (id_t) pid);
        assert_int_equal(errno, 0);
        return n;
}

/* Every process of the build was killed by SIGKILL: waited for in the order they come back
 * to us (the builder is our child; the others are reparented as their parents die). */
static void assert_all_killed(Fixture *x) {
        static const TestProcName order[] = {TP_BUILDER, TP_SUB, TP_CHILD, TP_GRAND, TP_SESSION, TP_ORPHAN};
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                pid_t pid = x->f.pids[order[i]];
                int status = test_wait_exit(pid);
                if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
                        fail_msg("pid %d: status 0x%x, not killed by SIGKILL", (int) pid, (unsigned) status);
                x->f.pids[order[i]] = 0;
        }
        /* Nothing outside the build was touched. */
        assert_true(strchr("SR", test_proc_state(x->f.pids[TP_OUTSIDE])));
        assert_true(strchr("SR", test_proc_state(x->f.pids[TP_STRAY])));
}

/* Through the build's v2 group: the exact strings the kernel receives, the model updated. */
static void test_cgroup_v2(void **state) {
        Fixture *x = *state;
        Build *b = x->f.b;
        pid_t *p = x->f.pids;
        give_group(x);

        /* Freeze: "1" to cgroup.freeze; the state shown is what cgroup.events says (here as
         * the kernel would show it once frozen). The processes are left to the kernel. */
        test_write_file(x->t->group.v2, "cgroup.events", "populated 1\nfrozen 1\n", (size_t) -1);
        assert_done(x, (ActionRequest){.kind = ACTION_FREEZE}, "cgroup-v2 cgroup.freeze");
        assert_file(x, "cgroup.freeze", "1");
        assert_int_equal(b->state, BUILD_FROZEN);
        assert_false(x->t->signal_frozen);
        for (int i = 0; i < TEST_BUILD_PROCS; i++)
                assert_true(strchr("SR", test_proc_state(p[i])));
        test_write_file(x->t->group.v2, "cgroup.events", "populated 1\nfrozen 0\n", (size_t) -1);
        assert_done(x, (ActionRequest){.kind = ACTION_THAW}, "cgroup-v2 cgroup.freeze");
        assert_file(x, "cgroup.freeze", "0");
        assert_int_equal(b->state, BUILD_RUNNING);

        /* CPU limit: quota and period in cpu.max; 0 lifts it. */
        assert_done(x, (ActionRequest){.kind = ACTION_CPU_LIMIT, .cores = 0.5}, "cgroup-v2 cpu.max");
        assert_file(x, "cpu.max", "50000 100000");
        assert_true(b->usage.cpu_limit == 0.5);
        assert_done(x, (ActionRequest){.kind = ACTION_CPU_LIMIT, .cores = 2.25}, "cgroup-v2 cpu.max");
        assert_file(x, "cpu.max", "225000 100000");
        assert_true(b->usage.cpu_limit == 2.25);
        assert_done(x, (ActionRequest){.kind = ACTION_CPU_LIMIT, .cores = 0}, "cgroup-v2 cpu.max");
        assert_file(x, "cpu.max", "max 100000");
        assert_true(b->usage.cpu_limit == 0);

        /* Memory limit: bytes in memory.max (memory.high is left alone); 0 lifts it. */
        assert_done(x, (ActionRequest){.kind = ACTION_MEM_LIMIT, .bytes = 512ull << 20},
                    "cgroup-v2 memory.max");
        assert_file(x, "memory.max", "536870912");
        assert_file(x, "memory.high", "max\n");
        assert_int_equal(b->usage.mem_limit, 512ull << 20);
        assert_int_equal(x->t->mem_limit, 512ull << 20);
        assert_done(x, (ActionRequest){.kind = ACTION_MEM_LIMIT, .bytes = 0}, "cgroup-v2 memory.max");
        assert_file(x, "memory.max", "max");
        assert_int_equal(b->usage.mem_limit, 0);

        /* Nice: setpriority on every process, and the group's weight as the scheduler weighs
         * nice 5 (100 / 1.25^5). */
        assert_done(x, (ActionRequest){.kind = ACTION_NICE, .nice = 5},
                    "setpriority on 6 process(es), and on new ones as they appear, cgroup-v2 cpu.weight");
        for (int i = 0; i < TEST_BUILD_PROCS; i++)
                assert_int_equal(nice_of(p[i]), 5);
        assert_int_equal(nice_of(p[TP_OUTSIDE]), nice_of(getpid()));
        assert_int_equal(nice_of(p[TP_STRAY]), nice_of(getpid()));
        assert_file(x, "cpu.weight", "33");
        assert_true(b->usage.has_nice);
        assert_int_equal(b->usage.nice, 5);

        /* Kill: "1" to cgroup.kill; the kernel kills, so no signal is sent besides. */
        assert_done(x, (ActionRequest){.kind = ACTION_KILL}, "cgroup-v2 cgroup.kill");
        assert_file(x, "cgroup.kill", "1");
        assert_true(b->kill_requested);
        for (int i = 0; i < TEST_BUILD_PROCS; i++)
                assert_true(strchr("SR", test_proc_state(p[i])));

        /* A group without cgroup.kill (kernels before 5.14): the processes of cgroup.procs
         * are killed by signals, the builder's group at once and the one in a session of its
         * own by its pid. */
        char path[4096];
        snprintf(path, sizeof(path), "%s/cgroup.kill", x->t->group.v2);
        assert_int_equal(unlink(path), 0);
        char mech[256];
        snprintf(mech, sizeof(mech),
                 "SIGKILL to process group %d and its stragglers (no cgroup.kill in its group)",
                 (int) p[TP_BUILDER]);
        assert_done(x, (ActionRequest){.kind = ACTION_KILL}, mech);
        assert_all_killed(x);
}

/* Refusals: what cannot be done says why, with the protocol's error code, and changes
 * nothing. */
static void test_refusals(void **state) {
        Fixture *x = *state;
        Build *b = x->f.b;
        pid_t *p = x->f.pids;

        /* No cgroup: limits have no controller to go through. */
        assert_refused(x, (ActionRequest){.kind = ACTION_CPU_LIMIT, .cores = 1}, NA_ERR_UNSUPPORTED,
                       "no writable cpu controller: cgroups are disabled");
        assert_refused(x, (ActionRequest){.kind = ACTION_MEM_LIMIT, .bytes = 1 << 30}, NA_ERR_UNSUPPORTED,
                       "no writable memory controller: cgroups are disabled");
        assert_refused(x, (ActionRequest){.kind = _ACTION_MAX}, NA_ERR_BAD_REQUEST, "unknown action");

        /* A group without the controllers: refused (the reason given is the sampler's, which
         * runs without cgroups here), and no cpu.max nor memory.max appears. */
        give_group(x);
        char path[4096];
        snprintf(path, sizeof(path), "%s/cpu.max", x->t->group.v2);
        assert_int_equal(unlink(path), 0);
        snprintf(path, sizeof(path), "%s/memory.max", x->t->group.v2);
        assert_int_equal(unlink(path), 0);
        assert_refused(x, (ActionRequest){.kind = ACTION_CPU_LIMIT, .cores = 1}, NA_ERR_UNSUPPORTED,
                       "no writable cpu controller");
        assert_refused(x, (ActionRequest){.kind = ACTION_MEM_LIMIT, .bytes = 1 << 30}, NA_ERR_UNSUPPORTED,
                       "no writable memory controller");
        struct stat st;
        assert_int_equal(stat(path, &st), -1);

        /* The kernel refuses the write (here cpu.max is /dev/full: ENOSPC; memory.max a
         * directory): failed, and the model keeps what was applied before. */
        snprintf(path, sizeof(path), "%s/cpu.max", x->t->group.v2);
        assert_int_equal(symlink("/dev/full", path), 0);
        assert_refused(x, (ActionRequest){.kind = ACTION_CPU_LIMIT, .cores = 1}, NA_ERR_FAILED,
                       strerror(ENOSPC));
        assert_true(b->usage.cpu_limit == 0);
        assert_true(x->t->cpu_limit == 0);
        snprintf(path, sizeof(path), "%s/memory.max", x->t->group.v2);
        assert_int_equal(mkdir(path, 0755), 0);
        assert_refused(x, (ActionRequest){.kind = ACTION_MEM_LIMIT, .bytes = 1 << 30}, NA_ERR_FAILED,
                       strerror(EISDIR));
        assert_int_equal(b->usage.mem_limit, 0);

        /* A process whose pid may have been reused since the sample (its start time differs)
         * is not reniced; the others are. */
        for (uint32_t i = 0; i < x->t->n_procs; i++)
                if (x->t->procs[i].st.pid == p[TP_CHILD])
                        x->t->procs[i].st.starttime++;
        assert_done(x, (ActionRequest){.kind = ACTION_NICE, .nice = 4},
                    "setpriority on 5 process(es), and on new ones as they appear, cgroup-v2 cpu.weight");
        assert_int_equal(nice_of(p[TP_CHILD]), nice_of(getpid()));
        assert_int_equal(nice_of(p[TP_SUB]), 4);
        assert_int_equal(nice_of(p[TP_SESSION]), 4);

        /* The builder is gone: its pid and group may be someone else's by now. Nothing is
         * acted on, whatever processes still carry its session. */
        assert_int_equal(kill(p[TP_BUILDER], SIGKILL), 0);
        (void) test_wait_exit(p[TP_BUILDER]);
        char text[128];
        snprintf(text, sizeof(text), "its builder (pid %d) is gone; nothing was acted on",
                 (int) p[TP_BUILDER]);
        p[TP_BUILDER] = 0;
        assert_refused(x, (ActionRequest){.kind = ACTION_NICE, .nice = 9}, NA_ERR_NO_PROCESS, text);
        assert_int_equal(nice_of(p[TP_SUB]), 4);
        assert_refused(x, (ActionRequest){.kind = ACTION_KILL}, NA_ERR_NO_PROCESS, "nothing was killed");
        assert_true(strchr("SR", test_proc_state(p[TP_SUB])));
        assert_false(b->kill_requested);
        assert_file(x, "cgroup.kill", "");
}

/* Without a cgroup: SIGSTOP and SIGCONT, SIGKILL, to the real processes. */
static void test_signals(void **state) {
        Fixture *x = *state;
        Build *b = x->f.b;
        pid_t *p = x->f.pids;
        assert_false(x->t->has_group);
        char mech[256];

        snprintf(mech, sizeof(mech), "SIGSTOP to process group %d and its stragglers", (int) p[TP_BUILDER]);
        assert_done(x, (ActionRequest){.kind = ACTION_FREEZE}, mech);
        for (int i = 0; i < TEST_BUILD_PROCS; i++)
                test_wait_state(p[i], "Tt");
        assert_true(x->t->signal_frozen);
        assert_int_equal(b->state, BUILD_FROZEN);
        assert_true(strchr("SR", test_proc_state(p[TP_OUTSIDE])));

        snprintf(mech, sizeof(mech), "SIGCONT to process group %d and its stragglers", (int) p[TP_BUILDER]);
        assert_done(x, (ActionRequest){.kind = ACTION_THAW}, mech);
        for (int i = 0; i < TEST_BUILD_PROCS; i++)
                test_wait_state(p[i], "SR");
        assert_false(x->t->signal_frozen);
        assert_int_equal(b->state, BUILD_RUNNING);

        snprintf(mech, sizeof(mech), "SIGKILL to process group %d and its stragglers", (int) p[TP_BUILDER]);
        assert_done(x, (ActionRequest){.kind = ACTION_KILL}, mech);
        assert_true(b->kill_requested);
        assert_all_killed(x);
}

/* ---- requests over the control socket: the values a client sends ---- */

/* Sends one request line and returns the reply's error code, or NULL for a result. */
static const char *request(Fixture *x, int fd, const char *line) {
        static char code[64];
        char buf[8192];
        size_t len = 0;
        assert_int_equal(send(fd, line, strlen(line), MSG_NOSIGNAL), (ssize_t) strlen(line));
        usec_t deadline = now_monotonic() + 10 * USEC_PER_SEC;
        while (!memchr(buf, '\n', len)) {
                assert_true(now_monotonic() < deadline);
                (void) sd_event_run(x->f.d.event, 20 * USEC_PER_MSEC);
                ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
                if (n > 0)
                        len += (size_t) n;
        }
        buf[len] = '\0';
        cJSON *reply = cJSON_Parse(buf);
        assert_non_null(reply);
        const char *c =
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(reply, "error"), "code"));
        snprintf(code, sizeof(code), "%s", c ? c : "");
        cJSON_Delete(reply);
        return code[0] ? code : NULL;
}

static void test_requests(void **state) {
        Fixture *x = *state;
        Daemon *d = &x->f.d;
        give_group(x);
        char path[4096];
        int lfd = test_control_listen(x->f.dir, path, sizeof(path));
        int fd = test_connect(path);
        assert_int_equal(control_conn_accept(NULL, lfd, EPOLLIN, d), 0);

        static const char *const bad[] = {
                "{\"id\":1,\"cmd\":\"cpu-limit\",\"args\":{\"build\":%llu,\"cores\":-1}}\n",
                "{\"id\":2,\"cmd\":\"cpu-limit\",\"args\":{\"build\":%llu,\"cores\":5000}}\n",
                "{\"id\":3,\"cmd\":\"cpu-limit\",\"args\":{\"build\":%llu,\"cores\":\"lots\"}}\n",
                "{\"id\":4,\"cmd\":\"cpu-limit\",\"args\":{\"build\":%llu}}\n",
                "{\"id\":5,\"cmd\":\"mem-limit\",\"args\":{\"build\":%llu,\"bytes\":1000}}\n",
                "{\"id\":6,\"cmd\":\"mem-limit\",\"args\":{\"build\":%llu,\"bytes\":\"4Q\"}}\n",
                "{\"id\":7,\"cmd\":\"mem-limit\",\"args\":{\"build\":%llu,\"bytes\":-4096}}\n",
                "{\"id\":8,\"cmd\":\"nice\",\"args\":{\"build\":%llu,\"nice\":20}}\n",
                "{\"id\":9,\"cmd\":\"nice\",\"args\":{\"build\":%llu,\"nice\":-21}}\n",
                "{\"id\":10,\"cmd\":\"nice\",\"args\":{\"build\":%llu,\"nice\":1.5}}\n",
        };
        char line[512];
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                snprintf(line, sizeof(line), bad[i], (unsigned long long) x->f.b->key);
                const char *code = request(x, fd, line);
                if (!code || strcmp(code, NA_ERR_BAD_REQUEST) != 0)
                        fail_msg("%s answered %s, not %s", line, code ? code : "a result",
                                 NA_ERR_BAD_REQUEST);
        }
        /* Nothing reached the kernel nor the processes. */
        assert_file(x, "cpu.max", "max 100000\n");
        assert_file(x, "memory.max", "max\n");
        assert_file(x, "cpu.weight", "100\n");
        for (int i = 0; i < TEST_BUILD_PROCS; i++)
                assert_int_equal(nice_of(x->f.pids[i]), nice_of(getpid()));

        /* Good values go through; a build that does not exist is not found. */
        snprintf(line, sizeof(line),
                 "{\"id\":11,\"cmd\":\"cpu-limit\",\"args\":{\"build\":%llu,\"cores\":\"0.5\"}}\n",
                 (unsigned long long) x->f.b->key);
        assert_null(request(x, fd, line));
        assert_file(x, "cpu.max", "50000 100000");
        snprintf(line, sizeof(line),
                 "{\"id\":12,\"cmd\":\"mem-limit\",\"args\":{\"build\":%llu,\"bytes\":\"1G\"}}\n",
                 (unsigned long long) x->f.b->key);
        assert_null(request(x, fd, line));
        assert_file(x, "memory.max", "1073741824");
        assert_string_equal(request(x, fd, "{\"id\":13,\"cmd\":\"kill\",\"args\":{\"build\":999999}}\n"),
                            NA_ERR_NOT_FOUND);
        assert_file(x, "cgroup.kill", "");
        close(fd);
        close(lfd);
}

/* The group of a build is opened under the daemon's root by one path component: one that
 * climbs out of the root is refused, and nothing is made outside it. */
static void test_escape(void **state) {
        Fixture *x = *state;
        CgProcPaths roots = {.v2 = (char *) "/nix-analytics"};
        static const char *const names[] = {"..", "../escaped", "a/../../escaped", ".", "/escaped", ""};
        CgGroup g;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (cg_group_open_under(&x->host, &roots, names[i], /* create= */ true, &g) != -EINVAL)
                        fail_msg("group name \"%s\" was not refused", names[i]);
        assert_int_equal(cg_group_open(&x->host, "/nix-analytics/../escaped", true, &g), -EINVAL);
        /* A "." or ".." as the last component too. */
        assert_int_equal(cg_group_open(&x->host, "/nix-analytics/..", true, &g), -EINVAL);
        assert_int_equal(cg_group_open(&x->host, "/nix-analytics/.", true, &g), -EINVAL);
        assert_int_equal(cg_group_open(&x->host, "/..", true, &g), -EINVAL);
        assert_int_equal(cg_group_open(&x->host, "nix-analytics", true, &g), -EINVAL);
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/sys/fs/cgroup/escaped", x->fs);
        assert_int_equal(stat(path, &st), -1);
        snprintf(path, sizeof(path), "%s/sys/fs/escaped", x->fs);
        assert_int_equal(stat(path, &st), -1);
        /* A proper name is made where it says. */
        assert_int_equal(cg_group_open_under(&x->host, &roots, "build-x", true, &g), 0);
        snprintf(path, sizeof(path), "%s/sys/fs/cgroup/nix-analytics/build-x", x->fs);
        assert_string_equal(g.v2, path);
        cg_group_done(&g);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_cgroup_v2, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_signals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
                cmocka_unit_test_setup_teardown(test_escape, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
