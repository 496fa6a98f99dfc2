/* Helpers for unit tests of the daemon's process side (they link libdaemon): a daemon with a
 * model, an event loop and a real sampler on the real /proc, one running build in the model,
 * and a real builder process tree for it. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "daemon/daemon.h"
#include "daemon/sampler.h"
#include "daemon/tracker.h"

/* The processes of the standard build tree (TEST_BUILD_SCRIPT), as its builder reports them. */
typedef enum TestProcName {
        TP_BUILDER, /* sh, leads its own session: the builder Nix would start */
        TP_CHILD,   /* sleep, its child */
        TP_SUB,     /* sh, a subshell (child) waiting for its own children */
        TP_GRAND,   /* sleep, a child of the subshell */
        TP_SESSION, /* sleep, a child of the subshell in a session of its own (setsid) */
        TP_ORPHAN,  /* sleep, whose parent exited: reparented, still in the builder's session */
        TP_OUTSIDE, /* sleep, not of the build: a session leader under the same nix process */
        TP_STRAY,   /* sleep, not of the build: a plain child of the nix process */
        _TP_MAX,
} TestProcName;
#define TEST_BUILD_PROCS 6 /* TP_BUILDER..TP_ORPHAN */

typedef struct TestDaemon {
        char *dir;
        char store[256], drv[512], out[512];
        Daemon d;
        Source *src;
        Build *b;
        pid_t pids[_TP_MAX];
} TestDaemon;

/* The daemon's context without its listeners and modules: a model whose store is store, the
 * quota of untrusted sources, an event loop. */
void test_daemon_base(Daemon *d, const char *store);
/* Frees what test_daemon_base made and the control connections. */
void test_daemon_base_done(Daemon *d);
/* A control socket listening at dir/control.sock, non-blocking as the daemon's: its fd, its
 * path in ret_path. */
int test_control_listen(const char *dir, char *ret_path, size_t size);
/* A client connected to the unix socket at path. */
int test_connect(const char *path);

/* The test process stands for the nix process (its comm starts with "nix") and is the
 * subreaper of everything it starts, so that it can wait for every process of the tree. Sets
 * up f, with the build started in the model and its processes not yet running. */
void test_daemon_init(TestDaemon *f);
/* Kills and reaps what is left of the tree, frees the rest. */
void test_daemon_done(TestDaemon *f);
/* Starts the tree: the builder (its environment names the build's output, as Nix's does),
 * its descendants, and the two processes outside it. The builder has burnt some CPU itself
 * and in a child it reaped before this returns. */
void test_daemon_spawn(TestDaemon *f);
/* Runs sampler passes (and the event loop between them, which brings the .drv read off the
 * loop back) until the build is tracked with n processes; fails the test after 20 s. */
Tracked *test_daemon_track(TestDaemon *f, uint32_t n);
/* Forks a process with the given pid (clone3 set_tid: the pid must be free), which leads a
 * new session, starts a sleep in it and then sleeps itself; *ret_child: that sleep. */
pid_t test_spawn_at_pid(pid_t pid, pid_t *ret_child);
/* The process's state letter from its stat ('?' when it is gone). */
char test_proc_state(pid_t pid);
/* Waits up to 10 s for pid (a child of ours) to end and reaps it; its wait status. Fails the
 * test when it is still running then. */
int test_wait_exit(pid_t pid);
/* Waits up to 10 s for pid's state to be one of states; fails the test otherwise. */
void test_wait_state(pid_t pid, const char *states);
