/* Unit tests for src/daemon/discover.c on a fake /proc and store: which process builds which
 * derivation (outputs in the environment, structured attrs), rediscovery from the build log
 * a nix process holds open, builds of a process serving a remote client, and processes that
 * vanish. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/discover.h"
#include "daemon/tracker.h"
#include "test-helpers.h"

#define HD "0123456789abcdfghijklmnpqrsvwxyz"
#define HO "zyxwvsrqpnmlkjihgfdcba9876543210"

static char *root;
static char *proc, *store, *drv;

/* The sampler owns the table in the daemon; here a plain one. */
ProcEntry *proc_table_get(ProcTable *t, pid_t pid) {
        ProcEntry *e = NULL;
        HASH_FIND(hh, t->by_pid, &pid, sizeof(pid_t), e);
        return e;
}

static void add_proc(ProcTable *t, pid_t pid, pid_t ppid, pid_t sid, const char *comm) {
        ProcEntry *e = &t->entries[t->n++];
        *e = (ProcEntry){
                .st = {.pid = pid, .ppid = ppid, .pgid = sid, .sid = sid, .state = 'S', .starttime = 100}};
        snprintf(e->st.comm, sizeof(e->st.comm), "%s", comm);
        HASH_ADD(hh, t->by_pid, st.pid, sizeof(pid_t), e);
}

/* <pid>/stat with the start time the table says (100), or another one: the pid reused. */
static void write_stat(pid_t pid, uint64_t starttime) {
        char name[64], line[256];
        snprintf(name, sizeof(name), "proc/%d/stat", (int) pid);
        snprintf(line, sizeof(line), "%d (bash) S 100 %d %d 0 -1 0 0 0 0 0 100 50 0 0 20 0 1 0 %llu 0 0\n",
                 (int) pid, (int) pid, (int) pid, (unsigned long long) starttime);
        test_write_file(root, name, line, (size_t) -1);
}

static int setup(void **state) {
        root = test_mkdtemp();
        assert_true(asprintf(&proc, "%s/proc", root) > 0);
        assert_true(asprintf(&store, "%s/store", root) > 0);
        assert_true(asprintf(&drv, "%s/" HD "-x.drv", store) > 0);
        char text[8192], env[8192];
        snprintf(text, sizeof(text),
                 "Derive([(\"dev\",\"%s/" HO "-x-dev\",\"\",\"\"),(\"out\",\"%s/" HO
                 "-x\",\"\",\"\")],[],[],"
                 "\"x86_64-linux\",\"/bin/sh\",[],[])",
                 store, store);
        test_write_file(root, "store/" HD "-x.drv", text, (size_t) -1);
        /* 200: a builder with both outputs in its environment (and an input path) */
        int n = snprintf(env, sizeof(env),
                         "src=%s/aaaa-src%cout=%s/" HO "-x%cdev=%s/" HO "-x-dev%cPATH=/bin", store, 0, store,
                         0, store, 0);
        test_write_file(root, "proc/200/environ", env, (size_t) n + 1);
        /* 300: a builder of something else (only one output matches) */
        n = snprintf(env, sizeof(env), "out=%s/" HO "-x%cdev=%s/other", store, 0, store);
        test_write_file(root, "proc/300/environ", env, (size_t) n + 1);
        /* 400: structured attrs, outputs in the JSON file inside its root */
        test_write_file(root, "proc/400/environ", "NIX_ATTRS_JSON_FILE=/build/.attrs.json", 39);
        char json[8192];
        snprintf(json, sizeof(json), "{\"outputs\":{\"out\":\"%s/" HO "-x\",\"dev\":\"%s/" HO "-x-dev\"}}",
                 store, store);
        test_write_file(root, "proc/400/root/build/.attrs.json", json, (size_t) -1);
        write_stat(400, 100);
        /* 100: the nix process holds the build log open */
        char *link;
        test_write_file(root, "proc/100/fd/.keep", "", 0);
        assert_true(asprintf(&link, "%s/100/fd/13", proc) > 0);
        assert_int_equal(symlink("/nix/var/log/nix/drvs/01/23456789abcdfghijklmnpqrsvwxyz-x.drv.bz2", link),
                         0);
        free(link);
        assert_true(asprintf(&link, "%s/100/fd/1", proc) > 0);
        assert_int_equal(symlink("/dev/null", link), 0);
        free(link);
        return 0;
}

static int teardown(void **state) {
        test_rm_rf(root);
        free(root);
        free(proc);
        free(store);
        free(drv);
        return 0;
}

static void test_find_builder(void **state) {
        ProcEntry entries[8];
        ProcTable t = {.entries = entries};
        add_proc(&t, 100, 1, 50, "nix-build");
        add_proc(&t, 300, 100, 300, "sh");   /* partial match: not it */
        add_proc(&t, 200, 100, 200, "sh");   /* the builder */
        add_proc(&t, 201, 200, 200, "make"); /* its child: not a session leader */
        add_proc(&t, 250, 1, 250, "sh");     /* session leader, parent not nix */
        Discovery *d;
        assert_int_equal(discovery_new(proc, store, NULL, &d), 0);
        pid_t pid = 0;
        assert_int_equal(discovery_find_builder(d, &t, drv, NULL, NULL, &pid), 1);
        assert_int_equal(pid, 200);
        /* A drv that does not exist or does not parse: nothing found, no error. */
        assert_int_equal(discovery_find_builder(d, &t, "/nonexistent.drv", NULL, NULL, &pid), 0);

        /* The builder vanishes: pruned, then not found. */
        HASH_CLEAR(hh, t.by_pid);
        t.n = 0;
        add_proc(&t, 100, 1, 50, "nix-build");
        add_proc(&t, 300, 100, 300, "sh");
        discovery_prune(d, &t);
        assert_int_equal(discovery_find_builder(d, &t, drv, NULL, NULL, &pid), 0);
        HASH_CLEAR(hh, t.by_pid);
        discovery_free(d);
}

/* Nix forks the builder, calls setsid() and prepares it before execve(): until then the child
 * is a copy of nix (same comm, nix's environment). Seen then, it must not be taken for the
 * builder, nor its environment kept: once it has exec'd, it is found. */
static void test_before_exec(void **state) {
        char env[8192];
        test_write_file(root, "proc/500/environ", "HOME=/root\0PATH=/bin", 21);
        ProcEntry entries[4];
        ProcTable t = {.entries = entries};
        add_proc(&t, 100, 1, 50, "nix-build");
        add_proc(&t, 500, 100, 500, "nix-build");
        Discovery *d;
        assert_int_equal(discovery_new(proc, store, NULL, &d), 0);
        pid_t pid = 0;
        assert_int_equal(discovery_find_builder(d, &t, drv, NULL, NULL, &pid), 0);
        /* execve(): the builder's comm and environment */
        int n = snprintf(env, sizeof(env), "out=%s/" HO "-x%cdev=%s/" HO "-x-dev", store, 0, store);
        test_write_file(root, "proc/500/environ", env, (size_t) n + 1);
        snprintf(entries[1].st.comm, sizeof(entries[1].st.comm), "sh");
        assert_int_equal(discovery_find_builder(d, &t, drv, NULL, NULL, &pid), 1);
        assert_int_equal(pid, 500);
        HASH_CLEAR(hh, t.by_pid);
        discovery_free(d);
}

/* Ranks by pid: the sampler's trust check, here a table. */
static int rank_of(void *userdata, pid_t pid) {
        const int *ranks = userdata; /* pairs pid, rank; 0-terminated */
        for (; ranks[0]; ranks += 2)
                if (ranks[0] == pid)
                        return ranks[1];
        return 0;
}

/* Two processes look like builders of the drv (400 a real one under nix-daemon, 200 another
 * user's under a process she named nix-build): the build may refuse either, and prefers its
 * own nix process's descendant whatever the order of the table. */
static void test_rank(void **state) {
        ProcEntry entries[8];
        ProcTable t = {.entries = entries};
        add_proc(&t, 100, 1, 50, "nix-build");
        add_proc(&t, 200, 100, 200, "sh");
        add_proc(&t, 110, 1, 110, "nix-daemon");
        add_proc(&t, 400, 110, 400, "bash");
        Discovery *d;
        assert_int_equal(discovery_new(proc, store, NULL, &d), 0);
        pid_t pid = 0;
        int none[] = {0};
        assert_int_equal(discovery_find_builder(d, &t, drv, rank_of, none, &pid), 0);
        int own_400[] = {200, 1, 400, 2, 0};
        assert_int_equal(discovery_find_builder(d, &t, drv, rank_of, own_400, &pid), 1);
        assert_int_equal(pid, 400);
        int only_400[] = {400, 1, 0};
        assert_int_equal(discovery_find_builder(d, &t, drv, rank_of, only_400, &pid), 1);
        assert_int_equal(pid, 400);
        int any[] = {200, 1, 400, 1, 0};
        assert_int_equal(discovery_find_builder(d, &t, drv, rank_of, any, &pid), 1);
        assert_int_equal(pid, 200); /* equal ranks: the first */
        HASH_CLEAR(hh, t.by_pid);
        discovery_free(d);
}

static void test_structured_attrs(void **state) {
        ProcEntry entries[4];
        ProcTable t = {.entries = entries};
        add_proc(&t, 100, 1, 50, "nix-daemon");
        add_proc(&t, 400, 100, 400, "bash");
        Discovery *d;
        assert_int_equal(discovery_new(proc, store, NULL, &d), 0);
        pid_t pid = 0;
        assert_int_equal(discovery_find_builder(d, &t, drv, NULL, NULL, &pid), 1);
        assert_int_equal(pid, 400);
        HASH_CLEAR(hh, t.by_pid);
        discovery_free(d);
}

/* Runs the loop until find says something other than "not yet" (or 5 s pass). */
static int find_waiting(Discovery *d, sd_event *e, ProcTable *t, pid_t *pid) {
        for (int i = 0; i < 500; i++) {
                int r = discovery_find_builder(d, t, drv, NULL, NULL, pid);
                if (r != 0)
                        return r;
                assert_true(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
        }
        return 0;
}

/* With a work queue, the .drv and the attrs file are read on its thread: the first passes
 * say "not yet", the answer comes through the event loop. */
static void test_off_loop(void **state) {
        ProcEntry entries[4];
        ProcTable t = {.entries = entries};
        add_proc(&t, 100, 1, 50, "nix-daemon");
        add_proc(&t, 400, 100, 400, "bash");
        sd_event *e = NULL;
        assert_int_equal(sd_event_new(&e), 0);
        Discovery *d;
        assert_int_equal(discovery_new(proc, store, e, &d), 0);
        pid_t pid = 0;
        assert_int_equal(discovery_find_builder(d, &t, drv, NULL, NULL, &pid), 0); /* drv queued */
        assert_int_equal(find_waiting(d, e, &t, &pid), 1);
        assert_int_equal(pid, 400);
        WorkQueueStats st;
        discovery_read_stats(d, &st);
        assert_int_equal(st.done, 2); /* the .drv, then the attrs file */
        assert_int_equal(st.waiting, 0);
        assert_int_equal(st.refused, 0);
        discovery_free(d);

        /* The pid is reused while its attrs file is read: nothing is attached to it. */
        assert_int_equal(discovery_new(proc, store, e, &d), 0);
        while (discovery_find_builder(d, &t, drv, NULL, NULL, &pid) == 0) {
                discovery_read_stats(d, &st);
                if (st.done == 1 && st.waiting == 1)
                        break; /* the drv is known, the attrs read queued */
                assert_true(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
        }
        write_stat(400, 999);
        for (int i = 0; i < 100 && st.waiting > 0; i++) {
                assert_true(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
                discovery_read_stats(d, &st);
        }
        assert_int_equal(st.done, 2);
        assert_int_equal(discovery_find_builder(d, &t, drv, NULL, NULL, &pid), 0);
        write_stat(400, 100);
        HASH_CLEAR(hh, t.by_pid);
        discovery_free(d);
        sd_event_unref(e);
}

static int found;
static void on_found(void *userdata, pid_t nix_pid, pid_t builder, const char *d, const DrvOutput *outs,
                     size_t n_outs) {
        assert_int_equal(n_outs, 0); /* the .drv tells them */
        assert_int_equal(nix_pid, 100);
        assert_int_equal(builder, 200);
        assert_string_equal(d, drv);
        found++;
}

static void test_rediscover(void **state) {
        ProcEntry entries[4];
        ProcTable t = {.entries = entries};
        add_proc(&t, 100, 1, 50, "nix-build");
        add_proc(&t, 200, 100, 200, "sh");
        Discovery *d;
        assert_int_equal(discovery_new(proc, store, NULL, &d), 0);
        found = 0;
        assert_int_equal(discovery_rediscover(d, &t, 0, on_found, NULL), 1);
        assert_int_equal(found, 1);
        /* Out of scope: pid 100 is not under pid 7. */
        found = 0;
        assert_int_equal(discovery_rediscover(d, &t, 7, on_found, NULL), 0);
        assert_int_equal(discovery_rediscover(d, &t, 100, on_found, NULL), 1);
        HASH_CLEAR(hh, t.by_pid);
        discovery_free(d);
}

static pid_t served_nix, served_builder;
static char served_drv[PATH_MAX], served_outs[PATH_MAX * 2];
/* Its outputs as "name=path,name=path", in the environment's order. */
static void on_served(void *userdata, pid_t nix_pid, pid_t builder, const char *d, const DrvOutput *outs,
                      size_t n_outs) {
        served_nix = nix_pid;
        served_builder = builder;
        snprintf(served_drv, sizeof(served_drv), "%s", d);
        served_outs[0] = '\0';
        for (size_t i = 0; i < n_outs; i++)
                snprintf(served_outs + strlen(served_outs), sizeof(served_outs) - strlen(served_outs),
                         "%s%s=%s", i ? "," : "", outs[i].name, outs[i].path);
        found++;
}

/* proc/<pid>/fd/<fd> -> target */
static void fd_link(pid_t pid, int fd, const char *target) {
        char *link;
        assert_true(asprintf(&link, "%s/%d/fd/%d", proc, (int) pid, fd) > 0);
        assert_int_equal(symlink(target, link), 0);
        free(link);
}

/* A serving process's builds: `nix-daemon --stdio` (600) holds the logs of two builds, "x"
 * (HD-x.drv, whose outputs builder 200 has) and "y"; builder 700 has outputs of neither. */
static void test_served(void **state) {
        ProcEntry entries[8];
        ProcTable t = {.entries = entries};
        add_proc(&t, 600, 1, 600, "nix-daemon");
        add_proc(&t, 200, 600, 200, "sh");
        add_proc(&t, 700, 600, 700, "sh");
        add_proc(&t, 100, 1, 50, "nix-build"); /* no --stdio: its builds are not looked at */
        add_proc(&t, 300, 100, 300, "sh");
        write_stat(600, 100);
        write_stat(100, 100);
        char status[128];
        snprintf(status, sizeof(status), "Name:\tnix-daemon\nPPid:\t1\nUid:\t%u\t0\t0\t0\n",
                 (unsigned) getuid());
        test_write_file(root, "proc/600/status", status, (size_t) -1);
        test_write_file(root, "proc/100/status", status, (size_t) -1);
        test_write_file(root, "proc/600/cmdline", "nix-daemon\0--option\0x\0y\0--stdio\0",
                        sizeof("nix-daemon\0--option\0x\0y\0--stdio\0") - 1);
        test_write_file(root, "proc/100/cmdline", "nix-build\0--serve-x\0",
                        sizeof("nix-build\0--serve-x\0") - 1);
        test_write_file(root, "proc/700/environ", "out=/elsewhere/" HO "-x\0name=x",
                        sizeof("out=/elsewhere/" HO "-x\0name=x") - 1);
        test_write_file(root, "proc/600/fd/.keep", "", 0);
        fd_link(600, 3, "/nix/var/log/nix/drvs/9z/yxwvsrqpnmlkjihgfdcba876543210-y.drv.bz2");
        fd_link(600, 4, "/nix/var/log/nix/drvs/01/23456789abcdfghijklmnpqrsvwxyz-x.drv.bz2");
        fd_link(600, 5, "/nix/var/log/nix/drvs/01/not-a-log");

        /* Root's serving processes only (its real uid): here the test's user stands for root. */
        Discovery *d;
        assert_int_equal(discovery_new(proc, store, NULL, &d), 0);
        discovery_set_serve_owner(d, getuid() + 1);
        found = 0;
        assert_int_equal(discovery_find_served(d, &t, 0, on_served, NULL), 0);
        assert_int_equal(found, 0);
        discovery_free(d);

        assert_int_equal(discovery_new(proc, store, NULL, &d), 0);
        discovery_set_serve_owner(d, getuid());
        assert_int_equal(discovery_find_served(d, &t, 0, on_served, NULL), 1);
        assert_int_equal(found, 1);
        assert_int_equal(served_nix, 600);
        assert_int_equal(served_builder, 200);
        assert_string_equal(served_drv, drv);
        /* Both of x's outputs, not its input src (the .drv need not be in this store). */
        char want[PATH_MAX * 2];
        snprintf(want, sizeof(want), "out=%s/" HO "-x,dev=%s/" HO "-x-dev", store, store);
        assert_string_equal(served_outs, want);
        /* Once per builder; out of scope (not under pid 7), nothing either. */
        assert_int_equal(discovery_find_served(d, &t, 0, on_served, NULL), 1);
        assert_int_equal(found, 1);
        discovery_free(d);
        assert_int_equal(discovery_new(proc, store, NULL, &d), 0);
        discovery_set_serve_owner(d, getuid());
        assert_int_equal(discovery_find_served(d, &t, 7, on_served, NULL), 0);
        assert_int_equal(found, 1);
        discovery_free(d);

        /* Two logs of builds named "x": which one 200 runs cannot be told, so neither. */
        fd_link(600, 6, "/nix/var/log/nix/drvs/aa/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x.drv");
        assert_int_equal(discovery_new(proc, store, NULL, &d), 0);
        discovery_set_serve_owner(d, getuid());
        found = 0;
        assert_int_equal(discovery_find_served(d, &t, 0, on_served, NULL), 1);
        assert_int_equal(found, 0);
        /* 100 runs another program since (same pid, same start): looked at again. */
        test_write_file(root, "proc/100/cmdline", "nix-store\0--serve\0",
                        sizeof("nix-store\0--serve\0") - 1);
        snprintf(entries[3].st.comm, sizeof(entries[3].st.comm), "nix-store");
        assert_int_equal(discovery_find_served(d, &t, 0, on_served, NULL), 2);
        assert_int_equal(found, 1);
        assert_int_equal(served_nix, 100);
        assert_int_equal(served_builder, 300);
        discovery_free(d);
        HASH_CLEAR(hh, t.by_pid);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_find_builder),
                cmocka_unit_test(test_before_exec),
                cmocka_unit_test(test_structured_attrs),
                cmocka_unit_test(test_off_loop),
                cmocka_unit_test(test_rank),
                cmocka_unit_test(test_rediscover),
                cmocka_unit_test(test_served),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
