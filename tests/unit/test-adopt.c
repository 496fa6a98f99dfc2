/* Unit tests for src/daemon/adopt.c on fake /proc and cgroup trees: Nix's own build group
 * is used as it is and never removed; our group from an earlier run is found again; a new
 * group of ours gets the build's processes (not others'), and goes when the build ends. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/adopt.h"
#include "daemon/sampler.h"
#include "daemon/tracker.h"
#include "test-helpers.h"

static const char mountinfo[] = "32 31 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
                                "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* The sampler, as adopt.c sees it. */
struct Sampler {
        CgHost host;
        SamplerConfig cfg;
        CgRoots roots;
};
const CgHost *sampler_host(Sampler *s) {
        return &s->host;
}
const SamplerConfig *sampler_config(Sampler *s) {
        return &s->cfg;
}
const CgRoots *sampler_roots(Sampler *s) {
        return &s->roots;
}
const char *sampler_proc_root(Sampler *s) {
        return s->cfg.proc_root;
}
ProcEntry *proc_table_get(ProcTable *t, pid_t pid) {
        ProcEntry *e = NULL;
        HASH_FIND(hh, t->by_pid, &pid, sizeof(pid_t), e);
        return e;
}

static char *root, *proc, *v2, *mem;
static Sampler sampler;

static char *path_of(const char *a, const char *b) {
        char *p;
        assert_true(asprintf(&p, "%s%s", a, b) > 0);
        return p;
}

static int setup(void **state) {
        root = test_mkdtemp();
        proc = path_of(root, "/proc");
        v2 = path_of(root, "/sys/fs/cgroup/unified");
        mem = path_of(root, "/sys/fs/cgroup/memory");
        test_write_file(root, "proc/self/mountinfo", mountinfo, (size_t) -1);
        test_write_file(root, "sys/fs/cgroup/unified/.keep", "", 0);
        test_write_file(root, "sys/fs/cgroup/memory/.keep", "", 0);
        assert_int_equal(cg_host_detect(root, NULL, &sampler.host), 0);
        sampler.cfg = (SamplerConfig){.cgroup_root = "/na", .proc_root = proc};
        assert_int_equal(cg_roots_resolve(&sampler.host, "/na", NULL, 0, NULL, &sampler.roots, NULL), 0);
        return 0;
}

static int teardown(void **state) {
        cg_roots_done(&sampler.roots);
        cg_host_done(&sampler.host);
        test_rm_rf(root);
        free(root);
        free(proc);
        free(v2);
        free(mem);
        return 0;
}

/* A process as the scan saw it, started at tick 1000 + pid; its <pid>/stat in the fake tree
 * says the same unless the test changes it (the pid reused since the scan). */
static void write_stat(pid_t pid, pid_t ppid, pid_t sid, uint64_t starttime) {
        char name[64], line[256];
        snprintf(name, sizeof(name), "proc/%d/stat", (int) pid);
        snprintf(line, sizeof(line), "%d (sh) S %d %d %d 0 -1 0 0 0 0 0 100 50 0 0 20 0 1 0 %llu 0 0\n",
                 (int) pid, (int) ppid, (int) sid, (int) sid, (unsigned long long) starttime);
        test_write_file(root, name, line, (size_t) -1);
}

static void add_proc(ProcTable *t, pid_t pid, pid_t ppid, pid_t sid) {
        ProcEntry *e = &t->entries[t->n++];
        *e = (ProcEntry){.st = {.pid = pid,
                                .ppid = ppid,
                                .pgid = sid,
                                .sid = sid,
                                .utime = 1000,
                                .stime = 500,
                                .starttime = 1000 + (uint64_t) pid}};
        HASH_ADD(hh, t->by_pid, st.pid, sizeof(pid_t), e);
        write_stat(pid, ppid, sid, e->st.starttime);
}

static void test_nix_group(void **state) {
        /* A hybrid host: the builder's v1 memory group is its nix-daemon's. */
        test_write_file(root, "proc/500/cgroup", "4:memory:/nix-daemon\n0::/nix-build-uid-30001\n",
                        (size_t) -1);
        test_write_file(root, "sys/fs/cgroup/unified/nix-build-uid-30001/cgroup.procs", "500\n",
                        (size_t) -1);
        ProcEntry entries[4];
        ProcTable t = {.entries = entries};
        add_proc(&t, 500, 100, 500);
        Tracked tr = {.key = 1,
                      .builder = 500,
                      .builder_start = 1500,
                      .drv = (char *) "/nix/store/"
                                      "0123456789abcdfghijklmnpqrsvwxyz-x.drv"};
        assert_int_equal(adopt_build(&sampler, &tr, &t), 0);
        assert_true(tr.has_group);
        assert_true(tr.nix_group);
        char *want = path_of(v2, "/nix-build-uid-30001");
        assert_string_equal(tr.group.v2, want);
        assert_null(tr.group.v1[CG_MEMORY]); /* never limited as the build's */
        /* Never removed by us, even when the build ends. */
        assert_int_equal(adopt_release(&sampler, &tr), 0);
        struct stat st;
        assert_int_equal(stat(want, &st), 0);
        free(want);
        cg_group_done(&tr.group);
        HASH_CLEAR(hh, t.by_pid);
}

static void test_new_group(void **state) {
        /* builder 600 with a child 601 in its session, and 602 (its descendant that made its
         * own session); 700 is someone else's. Their groups: the machine's. */
        test_write_file(root, "proc/600/cgroup", "4:memory:/machine/x\n0::/machine.slice\n", (size_t) -1);
        /* cgroupfs would make these files with the group; the fake tree needs them first. */
        const char *g = "/na/build-0123456789abcdfghijklmnpqrsvwxyz";
        char *dv2 = path_of(v2, g), *dmem = path_of(mem, g);
        char *rel = path_of(g + 1, "/cgroup.procs");
        char *f1 = path_of("sys/fs/cgroup/unified/", rel), *f2 = path_of("sys/fs/cgroup/memory/", rel);
        test_write_file(root, f1, "", 0);
        test_write_file(root, f2, "", 0);
        ProcEntry entries[8];
        ProcTable t = {.entries = entries};
        add_proc(&t, 100, 1, 100);
        add_proc(&t, 600, 100, 600);
        add_proc(&t, 601, 600, 600);
        add_proc(&t, 602, 601, 602);
        add_proc(&t, 700, 100, 700);
        Tracked tr = {.key = 2,
                      .builder = 600,
                      .builder_start = 1600,
                      .drv = (char *) "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-y.drv"};
        assert_int_equal(adopt_build(&sampler, &tr, &t), 0);
        assert_true(tr.has_group);
        assert_false(tr.nix_group);
        assert_string_equal(tr.group.v2, dv2);
        assert_string_equal(tr.group.v1[CG_MEMORY], dmem);
        /* The fake cgroup.procs keeps only the last write: the last member moved. The CPU
         * the three members used before counts (700, not a member, was not moved: it would
         * add its 1500). */
        char *last = test_read_file(dv2, "/cgroup.procs");
        assert_true(strcmp(last, "600") == 0 || strcmp(last, "601") == 0 || strcmp(last, "602") == 0);
        free(last);
        assert_int_equal(tr.cpu_base, 3 * 1500);
        cg_group_done(&tr.group);

        /* A daemon restart: the builder is found in our group, which is used again. */
        char *cg;
        assert_true(asprintf(&cg, "4:memory:%s\n0::%s\n", g, g) > 0);
        test_write_file(root, "proc/600/cgroup", cg, (size_t) -1);
        free(cg);
        Tracked again = {.key = 9,
                         .builder = 600,
                         .builder_start = 1600,
                         .drv = (char *) "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-y.drv"};
        assert_int_equal(adopt_build(&sampler, &again, &t), 0);
        assert_string_equal(again.group.v2, dv2);
        assert_false(again.nix_group);
        /* The build ends: our group goes (cgroupfs removes its files itself; here we do). */
        char *p1 = path_of(dv2, "/cgroup.procs"), *p2 = path_of(dmem, "/cgroup.procs");
        unlink(p1);
        unlink(p2);
        assert_int_equal(adopt_release(&sampler, &again), 0);
        struct stat st;
        assert_int_equal(stat(dv2, &st), -1);
        assert_int_equal(stat(dmem, &st), -1);
        /* Our empty root goes at exit; the machine's groups were never touched. */
        cg_roots_leave(&sampler.roots, &sampler.host, getpid());
        char *r = path_of(v2, "/na");
        assert_int_equal(stat(r, &st), -1);
        free(r);
        cg_group_done(&again.group);
        free(p1);
        free(p2);
        free(f1);
        free(f2);
        free(rel);
        free(dv2);
        free(dmem);
        HASH_CLEAR(hh, t.by_pid);
}

/* In a delegated service: each hierarchy under its own root (v2 under the service group,
 * memory under /na where the service is not ours), and at exit the build's processes go back
 * to its nix process's groups, thawed, before our group is removed. */
static void test_delegated_roots_and_hand_back(void **state) {
        CgRoots saved = sampler.roots;
        sampler.roots = (CgRoots){.source = CG_ROOT_SOURCE_DELEGATED};
        sampler.roots.root.v2 = strdup("/s.service/builds");
        sampler.roots.root.v1[CG_MEMORY] = strdup("/na");
        const char *name = "build-0123456789abcdfghijklmnpqrsvwxyz";
        test_write_file(
                root,
                "sys/fs/cgroup/unified/s.service/builds/build-0123456789abcdfghijklmnpqrsvwxyz/cgroup.procs",
                "", 0);
        test_write_file(root, "sys/fs/cgroup/memory/na/build-0123456789abcdfghijklmnpqrsvwxyz/cgroup.procs",
                        "", 0);
        test_write_file(root, "proc/800/cgroup", "4:memory:/user/x\n0::/user.slice/nix.scope\n",
                        (size_t) -1);
        test_write_file(root, "proc/100/cgroup", "4:memory:/user/x\n0::/user.slice/nix.scope\n",
                        (size_t) -1);
        test_write_file(root, "sys/fs/cgroup/unified/user.slice/nix.scope/cgroup.procs", "", 0);
        test_write_file(root, "sys/fs/cgroup/memory/user/x/cgroup.procs", "", 0);
        ProcEntry entries[4];
        ProcTable t = {.entries = entries};
        add_proc(&t, 100, 1, 100);
        add_proc(&t, 800, 100, 800);
        Tracked tr = {.key = 3,
                      .builder = 800,
                      .builder_start = 1800,
                      .drv = (char *) "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-z.drv"};
        assert_int_equal(adopt_build(&sampler, &tr, &t), 0);
        char *want_v2 = path_of(v2, "/s.service/builds/"), *want_mem = path_of(mem, "/na/");
        char *w2 = path_of(want_v2, name), *wm = path_of(want_mem, name);
        assert_string_equal(tr.group.v2, w2);
        assert_string_equal(tr.group.v1[CG_MEMORY], wm);
        /* Frozen when the daemon stops: thawed, and the members go back to the nix process's
         * groups (the fake cgroup.procs keeps the last pid written). */
        test_write_file(w2, "cgroup.freeze", "1", (size_t) -1);
        test_write_file(w2, "cgroup.procs", "800\n", (size_t) -1);
        TrackedProc procs[1] = {{.st = {.pid = 800, .ppid = 100, .sid = 800}}};
        tr.procs = procs;
        tr.n_procs = 1;
        assert_int_equal(adopt_hand_back(&sampler, &tr), 0);
        char *dir = path_of(v2, "/user.slice/nix.scope");
        char *got = test_read_file(dir, "/cgroup.procs");
        assert_string_equal(got, "800");
        free(got);
        got = test_read_file(w2, "/cgroup.freeze");
        assert_string_equal(got, "0");
        free(got);
        char *mdir = path_of(mem, "/user/x");
        got = test_read_file(mdir, "/cgroup.procs");
        assert_string_equal(got, "800");
        free(got);
        /* Without a known nix process there is nowhere to go back to. */
        tr.n_procs = 0;
        assert_int_equal(adopt_hand_back(&sampler, &tr), -ESRCH);
        tr.procs = NULL;
        cg_group_done(&tr.group);
        free(dir);
        free(mdir);
        free(w2);
        free(wm);
        free(want_v2);
        free(want_mem);
        cg_roots_done(&sampler.roots);
        sampler.roots = saved;
        HASH_CLEAR(hh, t.by_pid);
}

/* PID reuse: a member whose pid was taken by a new process between the scan and the move is
 * not moved; once the builder is gone, its session id no longer makes a process a member
 * unless it was already known as one (a new session may lead under the recycled pid). */
static void test_reused_pid(void **state) {
        test_write_file(root, "proc/900/cgroup", "4:memory:/machine/x\n0::/machine.slice\n", (size_t) -1);
        const char *g = "/na/build-1123456789abcdfghijklmnpqrsvwxyz";
        char *rel = path_of(g + 1, "/cgroup.procs");
        char *f1 = path_of("sys/fs/cgroup/unified/", rel), *f2 = path_of("sys/fs/cgroup/memory/", rel);
        test_write_file(root, f1, "", 0);
        test_write_file(root, f2, "", 0);
        ProcEntry entries[8];
        ProcTable t = {.entries = entries};
        add_proc(&t, 100, 1, 100);
        add_proc(&t, 900, 100, 900);
        add_proc(&t, 901, 900, 900);
        /* 901 exited after the scan and its pid went to someone else's process. */
        write_stat(901, 1, 901, 777777);
        Tracked tr = {.key = 4,
                      .builder = 900,
                      .builder_start = 1900,
                      .drv = (char *) "/nix/store/1123456789abcdfghijklmnpqrsvwxyz-w.drv"};
        assert_int_equal(adopt_build(&sampler, &tr, &t), 0);
        char *dv2 = path_of(v2, g);
        char *last = test_read_file(dv2, "/cgroup.procs");
        assert_string_equal(last, "900");
        free(last);
        assert_int_equal(tr.cpu_base, 1500);

        /* The builder 900 with another start time is not the builder. */
        ProcEntry other = {.st = {.pid = 900, .sid = 900, .starttime = 424242}};
        assert_false(tracked_leads(&tr, &other));
        ProcEntry same = {.st = {.pid = 900, .sid = 900, .starttime = 1900}};
        assert_true(tracked_leads(&tr, &same));
        /* Gone: only known members still match by session. */
        tr.builder_gone = true;
        assert_false(tracked_leads(&tr, &same));
        TrackedProc procs[1] = {{.st = {.pid = 905, .sid = 900, .starttime = 1905}}};
        tr.procs = procs;
        tr.n_procs = 1;
        ProcEntry known = {.st = {.pid = 905, .sid = 900, .starttime = 1905}};
        ProcEntry stranger = {.st = {.pid = 906, .sid = 900, .starttime = 99999}};
        ProcEntry reused = {.st = {.pid = 905, .sid = 900, .starttime = 99998}};
        assert_true(tracked_leads(&tr, &known));
        assert_false(tracked_leads(&tr, &stranger));
        assert_false(tracked_leads(&tr, &reused));
        /* And stragglers are moved only while their start time is still theirs. */
        test_write_file(dv2, "cgroup.procs", "", 0);
        write_stat(905, 900, 900, 99998);
        adopt_stragglers(&sampler, &tr);
        last = test_read_file(dv2, "/cgroup.procs");
        assert_string_equal(last, "");
        free(last);
        write_stat(905, 900, 900, 1905);
        adopt_stragglers(&sampler, &tr);
        last = test_read_file(dv2, "/cgroup.procs");
        assert_string_equal(last, "905");
        free(last);
        tr.procs = NULL;
        tr.n_procs = 0;
        cg_group_done(&tr.group);
        free(dv2);
        free(f1);
        free(f2);
        free(rel);
        HASH_CLEAR(hh, t.by_pid);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_nix_group),
                cmocka_unit_test(test_new_group),
                cmocka_unit_test(test_delegated_roots_and_hand_back),
                cmocka_unit_test(test_reused_pid),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
