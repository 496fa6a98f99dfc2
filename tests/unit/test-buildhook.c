/* Unit tests for src/shared/buildhook.c: the parsers (hook command lines, pipes, machine
 * slot locks, build logs), reading a nix process's build hooks from a fake /proc (which took
 * a build, their machine slots, their ssh), and which hook serves which remote build. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "shared/buildhook.h"
#include "test-helpers.h"

#define LOAD    "/nix/var/nix/current-load/"
#define MACHINE "ssh://m?remote-program=/x/remote-nix-store"
#define SLOT    "ssh:__m?remote-program=_x_remote-nix-store"
#define DRV_A   "/nix/store/0gjil62s2ypri3gjsrb3jxlbz7i9jakr-a.drv"
#define DRV_B   "/nix/store/vbx8mnl9lmhwsq50jb3f7hg5krw0jh3a-b.drv"
#define DRV_C   "/nix/store/1c0mc4ln4mkdzgmbvyq2p1s9ffr4ad9w-c.drv"
#define LOG_A   "/nix/var/log/nix/drvs/0g/jil62s2ypri3gjsrb3jxlbz7i9jakr-a.drv.bz2"
#define LOG_B   "/nix/var/log/nix/drvs/vb/x8mnl9lmhwsq50jb3f7hg5krw0jh3a-b.drv.bz2"
#define LOG_C   "/nix/var/log/nix/drvs/1c/0mc4ln4mkdzgmbvyq2p1s9ffr4ad9w-c.drv"

static char *root;

static void test_cmdline(void **state) {
        static const char hook[] = "build-remote\0"
                                   "4";
        static const char full[] = "/usr/libexec/nix/build-remote\0"
                                   "7";
        static const char nix[] = "nix\0__build-remote\0"
                                  "4";
        static const char build[] = "nix-build\0-A\0x";
        static const char other[] = "nix\0build-remote\0"
                                    "4";
        assert_true(buildhook_cmdline_is_hook(hook, sizeof(hook)));
        assert_true(buildhook_cmdline_is_hook(full, sizeof(full)));
        assert_true(buildhook_cmdline_is_hook(nix, sizeof(nix)));
        assert_false(buildhook_cmdline_is_hook(build, sizeof(build)));
        assert_false(buildhook_cmdline_is_hook(other, sizeof(other)));
        assert_false(buildhook_cmdline_is_hook("", 0));
        assert_false(buildhook_cmdline_is_hook("build-remote", 12)); /* no NUL: not trusted */
        assert_false(buildhook_cmdline_is_hook("nix\0__build-remote", 18));
        assert_false(buildhook_cmdline_is_hook("\0build-remote", 14)); /* empty argv[0] */
}

static void test_pipe(void **state) {
        uint64_t ino = 0;
        assert_int_equal(buildhook_parse_pipe("pipe:[4774123]", &ino), 0);
        assert_int_equal(ino, 4774123);
        static const char *const bad[] = {
                "pipe:[]",   "pipe:[12x]", "pipe:[12",  "socket:[12]",
                "pipe:[-1]", "pipe:[1]] ", "/dev/null", "pipe:[99999999999999999999999]"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(buildhook_parse_pipe(bad[i], &ino), -EINVAL);
}

static void test_slot_lock(void **state) {
        char *uri = NULL;
        assert_int_equal(buildhook_parse_slot_lock(LOAD SLOT "-2", &uri), 1);
        assert_string_equal(uri, SLOT);
        free(uri);
        assert_int_equal(buildhook_parse_slot_lock("/state/current-load/ssh-ng:__b1-13", &uri), 1);
        assert_string_equal(uri, "ssh-ng:__b1");
        free(uri);
        static const char *const no[] = {
                LOAD "main-lock", LOAD SLOT ".upload-lock", LOAD SLOT "-", LOAD SLOT "-1b",
                LOAD "-1",        "/nix/store/abc-x-1",     LOAD,          "/nix/var/nix/db/big-lock",
                "pipe:[3]",
        };
        for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
                uri = NULL;
                assert_int_equal(buildhook_parse_slot_lock(no[i], &uri), 0);
                assert_null(uri);
        }
        char *e = buildhook_escape_uri(MACHINE);
        assert_string_equal(e, SLOT);
        free(e);
}

static void test_log(void **state) {
        char *drv = NULL;
        assert_int_equal(buildhook_parse_log(LOG_A, "/nix/store", &drv), 1);
        assert_string_equal(drv, DRV_A);
        free(drv);
        assert_int_equal(buildhook_parse_log(LOG_C, "/nix/store", &drv), 1);
        assert_string_equal(drv, DRV_C);
        free(drv);
        static const char *const no[] = {
                "/nix/var/log/nix/drvs/0g/jil62s2-a.txt",
                "/nix/var/log/nix/drvs/0/jil62s2-a.drv",
                "/nix/var/log/nix/drvs/0g/sub/x.drv",
                "/nix/var/log/nix/drvs/0g/.drv",
                "/nix/store/0gjil62s2ypri3gjsrb3jxlbz7i9jakr-a.drv",
        };
        for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
                drv = NULL;
                assert_int_equal(buildhook_parse_log(no[i], "/nix/store", &drv), 0);
                assert_null(drv);
        }
}

/* ---- a fake /proc: nix-build 100 with four build hooks, a builder and an ssh ---- */

static void proc_stat(pid_t pid, const char *comm, pid_t ppid, pid_t pgid, char state, unsigned starttime) {
        char rel[64], line[512];
        snprintf(rel, sizeof(rel), "%d/stat", (int) pid);
        snprintf(line, sizeof(line),
                 "%d (%s) %c %d %d %d 0 -1 4194560 1 0 0 0 30 10 0 0 20 0 1 0 %u 1000 10 0 0\n", (int) pid,
                 comm, state, (int) ppid, (int) pgid, (int) pgid, starttime);
        test_write_file(root, rel, line, (size_t) -1);
}

static void proc_cmdline(pid_t pid, const char *argv, size_t len) {
        char rel[64];
        snprintf(rel, sizeof(rel), "%d/cmdline", (int) pid);
        test_write_file(root, rel, argv, len);
}

static void proc_fd(pid_t pid, int fd, const char *target) {
        char dir[64], *link;
        snprintf(dir, sizeof(dir), "%d/fd/.keep", (int) pid);
        test_write_file(root, dir, "", 0);
        assert_true(asprintf(&link, "%s/%d/fd/%d", root, (int) pid, fd) > 0);
        assert_int_equal(symlink(target, link), 0);
        free(link);
}

static void hook(pid_t pid, unsigned starttime, const char *stdin_pipe, const char *slot) {
        static const char argv[] = "build-remote\0"
                                   "4";
        proc_stat(pid, "build-remote", 100, pid, 'S', starttime);
        proc_cmdline(pid, argv, sizeof(argv));
        proc_fd(pid, 0, stdin_pipe);
        proc_fd(pid, 2, "pipe:[9000]");
        proc_fd(pid, 7, "/nix/var/nix/db/big-lock");
        if (slot)
                proc_fd(pid, 13, slot);
}

static int setup(void **state) {
        root = test_mkdtemp();
        static const char nixbuild[] = "nix-build\0-A\0a";
        proc_stat(100, "nix-build", 1, 100, 'S', 10);
        proc_cmdline(100, nixbuild, sizeof(nixbuild));
        proc_fd(100, 1, "/dev/null");
        proc_fd(100, 12, "pipe:[501]");
        proc_fd(100, 13, LOG_A);
        proc_fd(100, 15, "pipe:[600]"); /* the writing end of hook 203's stdin: it waits */
        proc_fd(100, 18, LOG_B);
        proc_fd(100, 19, LOG_C);
        proc_fd(100, 20, "/nix/store/abc-a.lock");

        /* started in the order 201, then 199 and 202 in the same tick, then 203 */
        hook(201, 50, "pipe:[701]", LOAD SLOT "-0");
        hook(199, 60, "pipe:[699]", LOAD SLOT "-2");
        hook(202, 60, "pipe:[702]", LOAD SLOT "-1");
        hook(203, 70, "pipe:[600]", NULL);
        /* 201's ssh (in its group) and what that ssh runs (left the group) */
        static const char ssh[] = "ssh\0m\0nix-store\0--serve";
        proc_stat(204, "ssh", 201, 201, 'S', 51);
        proc_cmdline(204, ssh, sizeof(ssh));
        proc_stat(205, "ssh", 204, 205, 'S', 52);
        /* a local builder of nix-build, and a build hook of another nix process */
        static const char sh[] = "sh\0-c\0build";
        proc_stat(300, "sh", 100, 300, 'S', 40);
        proc_cmdline(300, sh, sizeof(sh));
        proc_fd(300, 1, "/dev/null");
        hook(400, 45, "pipe:[800]", LOAD SLOT "-3");
        proc_stat(400, "build-remote", 399, 400, 'S', 45);
        test_write_file(root, "self/stat", "x", (size_t) -1);
        return 0;
}

static int teardown(void **state) {
        test_rm_rf(root);
        free(root);
        root = NULL;
        return 0;
}

static void test_scan(void **state) {
        BuildHookScan s = {};
        assert_int_equal(buildhook_scan(root, "/nix/store", 100, &s), 0);
        assert_int_equal(s.n_hooks, 4);
        static const pid_t order[] = {201, 199, 202, 203};
        for (size_t i = 0; i < 4; i++)
                assert_int_equal(s.hooks[i].pid, order[i]);
        assert_true(s.hooks[0].accepted);
        assert_true(s.hooks[1].accepted);
        assert_true(s.hooks[2].accepted);
        assert_false(s.hooks[3].accepted); /* nix-build still holds its stdin: the next build's */
        assert_string_equal(s.hooks[0].slot_uri, SLOT);
        assert_null(s.hooks[3].slot_uri);
        assert_int_equal(s.hooks[0].pgid, 201);
        assert_int_equal(s.hooks[0].n_procs, 2);
        assert_int_equal(s.hooks[0].procs[0], 204);
        assert_int_equal(s.hooks[0].procs[1], 205);
        assert_int_equal(s.hooks[1].n_procs, 0);
        assert_int_equal(s.n_logs, 3);
        /* in the order of the fd directory: looked for as a set */
        static const char *const want[] = {DRV_A, DRV_B, DRV_C};
        for (size_t i = 0; i < 3; i++) {
                bool found = false;
                for (size_t j = 0; j < s.n_logs; j++)
                        found = found || strcmp(s.logs[j], want[i]) == 0;
                assert_true(found);
        }
        buildhook_scan_done(&s);
        buildhook_scan_done(&s); /* twice is harmless */

        assert_int_equal(buildhook_scan(root, "/nix/store", 999, &s), -ESRCH);
        proc_stat(998, "nix-build", 1, 998, 'Z', 10);
        assert_int_equal(buildhook_scan(root, "/nix/store", 998, &s), -ESRCH);
        /* a nix process without hooks: nothing, no error */
        assert_int_equal(buildhook_scan(root, "/nix/store", 300, &s), 0);
        assert_int_equal(s.n_hooks, 0);
        buildhook_scan_done(&s);
}

static void test_match_on_scan(void **state) {
        BuildHookScan s = {};
        assert_int_equal(buildhook_scan(root, "/nix/store", 100, &s), 0);
        /* dispatched b (5), then c (6), then a (7): hooks 201, 199, 202 in that order */
        RemoteBuildRef builds[] = {
                {.drv = DRV_A, .machine = MACHINE, .dispatch_seq = 7},
                {.drv = DRV_B, .machine = MACHINE, .dispatch_seq = 5},
                {.drv = DRV_C, .machine = MACHINE, .dispatch_seq = 6},
        };
        BuildHookMiss miss;
        assert_int_equal(buildhook_match(&s, builds, 3, 1, &miss), 0); /* b: 201 */
        assert_int_equal(miss, BUILDHOOK_MISS_NONE);
        assert_int_equal(buildhook_match(&s, builds, 3, 2, &miss), 1); /* c: 199 */
        assert_int_equal(buildhook_match(&s, builds, 3, 0, &miss), 2); /* a: 202 */
        assert_int_equal(s.hooks[2].pid, 202);
        assert_int_equal(buildhook_match(&s, builds, 3, 3, &miss), -1);

        /* one of them not known to the model: which is which cannot be told */
        assert_int_equal(buildhook_match(&s, builds, 2, 0, &miss), -1);
        assert_int_equal(miss, BUILDHOOK_MISS_COUNT);
        /* a build on another machine than its hook's slot */
        builds[2].machine = "ssh://other";
        assert_int_equal(buildhook_match(&s, builds, 3, 1, &miss), -1);
        assert_int_equal(miss, BUILDHOOK_MISS_MACHINE);
        buildhook_scan_done(&s);
}

static BuildHook fake_hook(pid_t pid, uint64_t start, bool accepted, char state) {
        return (BuildHook){
                .pid = pid, .pgid = pid, .starttime = start, .state = state, .accepted = accepted};
}

static void test_match_rules(void **state) {
        BuildHook hooks[] = {
                fake_hook(10, 1, true, 'S'),
                fake_hook(11, 2, true, 'Z'), /* exited, not reaped yet: serves nothing */
                fake_hook(12, 3, true, 'S'), fake_hook(13, 4, false, 'S'), /* waits for the next request */
        };
        char drv_a[] = DRV_A, drv_c[] = DRV_C;
        char *logs[] = {drv_a, drv_c};
        BuildHookScan s = {.hooks = hooks, .n_hooks = 4, .logs = logs, .n_logs = 2};
        RemoteBuildRef builds[] = {
                {.drv = DRV_A, .machine = MACHINE, .dispatch_seq = 1},
                {.drv = DRV_B, .machine = MACHINE, .dispatch_seq = 2}, /* log closed: over */
                {.drv = DRV_C, .machine = MACHINE, .dispatch_seq = 3},
        };
        BuildHookMiss miss;
        assert_int_equal(buildhook_match(&s, builds, 3, 0, &miss), 0);
        assert_int_equal(buildhook_match(&s, builds, 3, 2, &miss), 2);
        assert_int_equal(buildhook_match(&s, builds, 3, 1, &miss), -1);
        assert_int_equal(miss, BUILDHOOK_MISS_ENDED);

        /* no log held at all (keep-log off): every build counts, and then they differ */
        s.n_logs = 0;
        assert_int_equal(buildhook_match(&s, builds, 3, 0, &miss), -1);
        assert_int_equal(miss, BUILDHOOK_MISS_COUNT);
        RemoteBuildRef two[] = {builds[2], builds[0]};
        assert_int_equal(buildhook_match(&s, two, 2, 0, &miss), 2); /* c was dispatched last */
        assert_int_equal(buildhook_match(&s, two, 2, 1, &miss), 0);

        /* a hook that has not taken a build, or none at all */
        hooks[0].accepted = hooks[2].accepted = false;
        assert_int_equal(buildhook_match(&s, two, 2, 0, &miss), -1);
        assert_int_equal(miss, BUILDHOOK_MISS_NO_HOOKS);
        s.n_hooks = 0;
        assert_int_equal(buildhook_match(&s, two, 2, 0, &miss), -1);
        assert_int_equal(miss, BUILDHOOK_MISS_NO_HOOKS);
        assert_non_null(buildhook_miss_to_string(BUILDHOOK_MISS_COUNT));
        assert_non_null(buildhook_miss_to_string(BUILDHOOK_MISS_NONE));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cmdline),
                cmocka_unit_test(test_pipe),
                cmocka_unit_test(test_slot_lock),
                cmocka_unit_test(test_log),
                cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
                cmocka_unit_test_setup_teardown(test_match_on_scan, setup, teardown),
                cmocka_unit_test(test_match_rules),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
