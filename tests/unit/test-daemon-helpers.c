/* Helpers for unit tests of the daemon's process side: a daemon around a real sampler, one
 * running build, and a real process tree for it. */
#include "test-daemon-helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "daemon/control-conn.h"
#include "daemon/quota.h"
#include "shared/procfs.h"
#include "test-helpers.h"

#define HD "0123456789abcdfghijklmnpqrsvwxyz"
#define HO "zyxwvsrqpnmlkjihgfdcba9876543210"

/* The builder: reports each process as "name pid" on fd 3 (which none of the sleeps keeps),
 * burns CPU itself and in a child it waits for, then waits for its children. */
static const char build_script[] =
        "r() { echo \"$1 $2\" >&3; }\n"
        "r builder $$\n"
        "sleep 300 3>&- & r child $!\n"
        "( sleep 300 3>&- & r grand $!; setsid sleep 300 3>&- & r session $!; exec 3>&-; wait ) &\n"
        "r sub $!\n"
        "( sleep 300 3>&- & r orphan $! )\n"
        "i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done\n"
        "( i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done )\n"
        "echo ready >&3\n"
        "exec 3>&-\n"
        "wait\n";

static const char *const proc_names[_TP_MAX] = {
        [TP_BUILDER] = "builder", [TP_CHILD] = "child",   [TP_SUB] = "sub",         [TP_GRAND] = "grand",
        [TP_SESSION] = "session", [TP_ORPHAN] = "orphan", [TP_OUTSIDE] = "outside", [TP_STRAY] = "stray",
};

void test_daemon_base(Daemon *d, const char *store) {
        d->events_fd = d->control_fd = -EBADF;
        model_config_defaults(&d->config.model);
        d->config.model.store_dir = store;
        d->config.max_control_conns = 16;
        d->config.control_output_max = 1 << 20;
        quota_limits_defaults(&d->config.quota);
        assert_int_equal(sd_event_new(&d->event), 0);
        assert_int_equal(model_new(&d->config.model, &d->model), 0);
        assert_int_equal(quota_new(&d->config.quota, getuid(), &d->quota), 0);
}

void test_daemon_base_done(Daemon *d) {
        control_conns_free_all(d);
        model_free(d->model);
        quota_free(d->quota);
        sd_event_unref(d->event);
}

int test_control_listen(const char *dir, char *ret_path, size_t size) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", dir);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 8), 0);
        snprintf(ret_path, size, "%s", sa.sun_path);
        return fd;
}

int test_connect(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

void test_daemon_init(TestDaemon *f) {
        *f = (TestDaemon){};
        /* The builder's parent must look like a nix process; orphans come back to us. */
        assert_int_equal(prctl(PR_SET_NAME, "nix-unit"), 0);
        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
        f->dir = test_mkdtemp();
        snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
        snprintf(f->drv, sizeof(f->drv), "%s/" HD "-x.drv", f->store);
        snprintf(f->out, sizeof(f->out), "%s/" HO "-x", f->store);
        char text[2048];
        snprintf(text, sizeof(text),
                 "Derive([(\"out\",\"%s\",\"\",\"\")],[],[],\"x86_64-linux\",\"/bin/sh\",[],[])", f->out);
        test_write_file(f->dir, "store/" HD "-x.drv", text, (size_t) -1);

        Daemon *d = &f->d;
        test_daemon_base(d, f->store);
        SamplerConfig cfg = {
                .interval = USEC_PER_SEC,
                .no_cgroups = true,         /* builds are resolved to processes through /proc alone */
                .discover_scope = getpid(), /* not other builds running on this machine */
                .proc_root = "/proc",
                .store_dir = f->store,
        };
        assert_int_equal(sampler_new(d, &cfg, &d->sampler), 0);

        usec_t now = now_realtime();
        assert_int_equal(model_source_new(d->model, getpid(), getuid(), /* trusted= */ true, now, &f->src),
                         0);
        assert_int_equal(test_feed(d->model, f->src, now,
                                   "{\"action\":\"start\",\"fields\":[\"%s\",\"\",1,1],\"id\":7,\"level\":3,"
                                   "\"text\":\"b\",\"type\":105}",
                                   f->drv),
                         0);
        f->b = model_builds_first(d->model);
        assert_non_null(f->b);
        assert_int_equal(f->b->state, BUILD_RUNNING);
}

/* Kills every process we started, also after a failed assertion: each comes back to us
 * (subreaper) as its parent dies, until we have no child left. */
static void kill_children(void) {
        for (;;) {
                _cleanup_free_ pid_t *pids = NULL;
                int n = procfs_list_pids("/proc", &pids);
                assert_true(n >= 0);
                for (int i = 0; i < n; i++) {
                        ProcStat st;
                        if (procfs_read_stat("/proc", pids[i], &st) == 0 && st.ppid == getpid())
                                (void) kill(pids[i], SIGKILL);
                }
                pid_t r;
                while ((r = waitpid(-1, NULL, WNOHANG)) > 0)
                        ;
                if (r < 0 && errno == ECHILD)
                        return;
                usleep(1000);
        }
}

void test_daemon_done(TestDaemon *f) {
        kill_children();
        sampler_free(f->d.sampler);
        f->d.sampler = NULL;
        test_daemon_base_done(&f->d);
        test_rm_rf(f->dir);
        free(f->dir);
}

/* Forks a process that runs argv with env, fd 3 its output, in a new session if setsid. */
static pid_t spawn(char *const argv[], char *const env[], int fd3, bool new_session) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        assert_true(null >= 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* Nothing of the tree holds the test's output open. */
                if ((new_session && setsid() < 0) || dup2(null, 1) < 0 || dup2(null, 2) < 0)
                        _exit(126);
                if (fd3 >= 0 && (fd3 == 3 ? fcntl(3, F_SETFD, 0) : dup2(fd3, 3)) < 0)
                        _exit(126);
                execve(argv[0], argv, env);
                _exit(127);
        }
        close(null);
        return pid;
}

/* Reads "name pid" lines from fd until every process of the build and "ready" are known. */
static void read_reports(TestDaemon *f, int fd) {
        char buf[1024];
        size_t len = 0;
        bool ready = false;
        usec_t deadline = now_monotonic() + 20 * USEC_PER_SEC;
        for (;;) {
                bool all = ready;
                for (int i = 0; i < TEST_BUILD_PROCS; i++)
                        all = all && f->pids[i] > 0;
                if (all)
                        return;
                assert_true(now_monotonic() < deadline);
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, 100) <= 0)
                        continue;
                ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
                assert_true(n > 0);
                len += (size_t) n;
                buf[len] = '\0';
                char *line = buf, *nl;
                for (; (nl = strchr(line, '\n')); line = nl + 1) {
                        *nl = '\0';
                        char name[32];
                        int pid;
                        if (strcmp(line, "ready") == 0)
                                ready = true;
                        else if (sscanf(line, "%31s %d", name, &pid) == 2) {
                                for (int i = 0; i < TEST_BUILD_PROCS; i++)
                                        if (strcmp(name, proc_names[i]) == 0)
                                                f->pids[i] = pid;
                        }
                }
                len = strlen(line);
                memmove(buf, line, len + 1);
        }
}

void test_daemon_spawn(TestDaemon *f) {
        char out_env[600];
        snprintf(out_env, sizeof(out_env), "out=%s", f->out);
        char *env[] = {out_env, (char *) "PATH=/usr/bin:/bin", NULL};
        char *plain_env[] = {(char *) "PATH=/usr/bin:/bin", NULL};
        char *builder[] = {(char *) "/bin/sh", (char *) "-c", (char *) build_script, NULL};
        char *sleeper[] = {(char *) "/bin/sleep", (char *) "300", NULL};
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        f->pids[TP_BUILDER] = spawn(builder, env, p[1], /* new_session= */ true);
        close(p[1]);
        read_reports(f, p[0]);
        close(p[0]);
        f->pids[TP_OUTSIDE] = spawn(sleeper, plain_env, -1, /* new_session= */ true);
        f->pids[TP_STRAY] = spawn(sleeper, plain_env, -1, /* new_session= */ false);
        /* Every process has exec'd (its comm is no longer ours) and sleeps: its figures stand
         * still from now on. */
        for (int i = 0; i < _TP_MAX; i++) {
                usec_t deadline = now_monotonic() + 10 * USEC_PER_SEC;
                ProcStat st;
                while (procfs_read_stat("/proc", f->pids[i], &st) == 0 &&
                       (strcmp(st.comm, "nix-unit") == 0 || st.state != 'S')) {
                        assert_true(now_monotonic() < deadline);
                        usleep(1000);
                }
        }
}

Tracked *test_daemon_track(TestDaemon *f, uint32_t n) {
        usec_t deadline = now_monotonic() + 20 * USEC_PER_SEC;
        for (;;) {
                sampler_run(f->d.sampler);
                Tracked *t = sampler_find(f->d.sampler, f->b->key);
                if (t && t->n_procs == n)
                        return t;
                if (now_monotonic() >= deadline)
                        fail_msg("build %" PRIu64 ": %s with %u process(es), %u expected", f->b->key,
                                 t ? "tracked" : "not tracked", t ? t->n_procs : 0, n);
                /* Answers of the file-read worker (the .drv) come back through the loop. */
                (void) sd_event_run(f->d.event, 20 * USEC_PER_MSEC);
        }
}

pid_t test_spawn_at_pid(pid_t pid, pid_t *ret_child) {
        static char *const argv[] = {(char *) "/bin/sh", (char *) "-c",
                                     (char *) "sleep 300 3>&- & echo $! >&3; exec 3>&-; exec sleep 300",
                                     NULL};
        static char *const env[] = {(char *) "PATH=/usr/bin:/bin", NULL};
        int p[2], null = open("/dev/null", O_RDWR | O_CLOEXEC);
        assert_true(null >= 0);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid_t want = pid;
        struct clone_args args = {
                .exit_signal = SIGCHLD,
                .set_tid = (uint64_t) (uintptr_t) &want,
                .set_tid_size = 1,
        };
        long r = syscall(SYS_clone3, &args, sizeof(args));
        if (r == 0) {
                if (setsid() < 0 || dup2(p[1], 3) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
                        _exit(126);
                execve(argv[0], argv, env);
                _exit(127);
        }
        if (r < 0)
                fail_msg("clone3 with set_tid %d: %s", (int) pid, strerror(errno));
        assert_int_equal(r, pid);
        close(null);
        close(p[1]);
        char buf[64] = "";
        ssize_t n = 0;
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        if (poll(&pf, 1, 10000) == 1)
                n = read(p[0], buf, sizeof(buf) - 1);
        close(p[0]);
        assert_true(n > 0);
        buf[n] = '\0';
        *ret_child = atoi(buf);
        assert_true(*ret_child > 0);
        return (pid_t) r;
}

char test_proc_state(pid_t pid) {
        ProcStat st;
        return procfs_read_stat("/proc", pid, &st) == 0 ? st.state : '?';
}

void test_wait_state(pid_t pid, const char *states) {
        usec_t deadline = now_monotonic() + 10 * USEC_PER_SEC;
        char s;
        while (!strchr(states, s = test_proc_state(pid))) {
                if (now_monotonic() >= deadline)
                        fail_msg("pid %d: state %c, expected one of %s", (int) pid, s, states);
                usleep(2000);
        }
}

int test_wait_exit(pid_t pid) {
        usec_t deadline = now_monotonic() + 10 * USEC_PER_SEC;
        int status;
        pid_t r;
        while ((r = waitpid(pid, &status, WNOHANG)) == 0) {
                if (now_monotonic() >= deadline)
                        fail_msg("pid %d (state %c) did not end", (int) pid, test_proc_state(pid));
                usleep(2000);
        }
        assert_int_equal(r, pid);
        return status;
}
