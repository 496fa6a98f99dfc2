/* Unit tests for src/shared/cgroup-delegate.c on fake cgroup trees: which root builds get
 * (option, delegated service, default) on pure v2, hybrid and pure v1 hosts, and entering and
 * leaving a delegated service group (the daemon in S/daemon, controllers enabled in S, only
 * what we made removed). */
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

#include "shared/cgroup-delegate.h"
#include "test-helpers.h"

#define SVC "/system.slice/nix-analyticsd.service"

static const char mi_v2[] = "41 31 0:38 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n";
static const char mi_hybrid[] =
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
static const char mi_v1[] =
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n";

static char *root;

static int setup(void **state) {
        root = test_mkdtemp();
        return 0;
}

static int teardown(void **state) {
        test_rm_rf(root);
        free(root);
        return 0;
}

static char *path_of(const char *a, const char *b) {
        char *p;
        assert_true(asprintf(&p, "%s%s", a, b) > 0);
        return p;
}

static bool exists(const char *dir, const char *name) {
        char *p = path_of(dir, name);
        struct stat st;
        bool r = stat(p, &st) == 0;
        free(p);
        return r;
}

/* A fresh fake host: mountinfo, plus a service group S (with cgroup.procs) in the given
 * hierarchies (mount points below /sys/fs/cgroup). */
static void host(const char *mountinfo, const char *const *svc_mounts, CgHost *ret) {
        test_rm_rf(root);
        assert_int_equal(mkdir(root, 0700), 0);
        test_write_file(root, "proc/self/mountinfo", mountinfo, (size_t) -1);
        for (const char *const *m = svc_mounts; *m; m++) {
                char *f = path_of(*m, SVC "/cgroup.procs");
                test_write_file(root, f, "", 0);
                free(f);
        }
        assert_int_equal(cg_host_detect(root, NULL, ret), 0);
}

static void test_option(void **state) {
        const char *path;
        assert_int_equal(cg_root_option_parse("auto", &path), 0);
        assert_null(path);
        assert_int_equal(cg_root_option_parse("/nix-analytics", &path), 0);
        assert_string_equal(path, "/nix-analytics");
        assert_int_equal(cg_root_option_parse("/a/b.c/..d", &path), 0);
        const char *bad[] = {"", "/", "rel", "/a/", "/a//b", "/a/../b", "/..", "/a/.", "/./a"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(cg_root_option_parse(bad[i], &path), -EINVAL);

        /* An explicit path wins, even in a delegated service, in every hierarchy. */
        CgHost h;
        host(mi_hybrid, (const char *const[]){"sys/fs/cgroup/unified/", NULL}, &h);
        CgRoots r;
        const char *why = "x";
        const char self[] = "0::" SVC "\n";
        assert_int_equal(cg_roots_resolve(&h, "/mine", self, sizeof(self) - 1, "id", &r, &why), 0);
        assert_int_equal(r.source, CG_ROOT_SOURCE_OPTION);
        assert_string_equal(cg_root_source_to_string(r.source), "option");
        assert_null(why);
        assert_string_equal(r.root.v2, "/mine");
        assert_string_equal(r.root.v1[CG_MEMORY], "/mine");
        assert_string_equal(r.root.v1[CG_FREEZER], "/mine");
        assert_null(r.root.v1[CG_PIDS]); /* no such hierarchy */
        assert_null(r.service);
        /* Entering is a no-op outside a delegated service. */
        assert_int_equal(cg_roots_enter(&r, &h), 0);
        assert_false(exists(root, "/sys/fs/cgroup/unified" SVC "/daemon"));
        cg_roots_done(&r);
        cg_host_done(&h);
}

static void test_pure_v2_delegated(void **state) {
        CgHost h;
        host(mi_v2, (const char *const[]){"sys/fs/cgroup/", NULL}, &h);
        CgRoots r;
        const char *why = "x";
        const char self[] = "0::" SVC "\n";
        assert_int_equal(cg_roots_resolve(&h, NULL, self, sizeof(self) - 1, "0123abcd", &r, &why), 0);
        assert_null(why);
        assert_int_equal(r.source, CG_ROOT_SOURCE_DELEGATED);
        assert_string_equal(cg_root_source_to_string(r.source), "delegated-service");
        assert_string_equal(r.service, SVC);
        assert_false(r.started_in_daemon);
        assert_string_equal(r.root.v2, SVC "/builds");
        assert_string_equal(cg_roots_primary(&r), SVC "/builds");

        /* Enter: the daemon and the other process of S move to S/daemon; the controllers S
         * offers that builds use are enabled for its children (hugetlb is not ours to want). */
        char *s = path_of(root, "/sys/fs/cgroup" SVC);
        test_write_file(s, "cgroup.procs", "4242\n4243\n", (size_t) -1);
        test_write_file(s, "cgroup.controllers", "cpuset cpu io memory hugetlb pids\n", (size_t) -1);
        test_write_file(s, "cgroup.subtree_control", "memory\n", (size_t) -1);
        test_write_file(s, "daemon/cgroup.procs", "", 0);
        assert_int_equal(cg_roots_enter(&r, &h), 0);
        char *got = test_read_file(s, "/daemon/cgroup.procs");
        assert_string_equal(got, "4243"); /* the fake file keeps the last write */
        free(got);
        got = test_read_file(s, "/cgroup.subtree_control");
        assert_string_equal(got, "+cpu +io +pids"); /* memory was already on: not ours */
        free(got);
        /* Left by an earlier run of ours (we started in S, so systemd did not make it). */
        assert_true(r.daemon_created_v2);

        /* Leave: the builds root goes when empty, the controllers we enabled are taken back,
         * S itself stays. */
        char *b = path_of(s, "/builds");
        assert_int_equal(mkdir(b, 0755), 0);
        cg_roots_leave(&r, &h, 777);
        assert_false(exists(s, "/builds"));
        got = test_read_file(s, "/cgroup.subtree_control");
        assert_string_equal(got, "-cpu -io -pids");
        free(got);
        assert_true(exists(s, "/cgroup.procs"));
        /* Back in S (S/daemon, ours, would go too: the fake one keeps its files). */
        got = test_read_file(s, "/cgroup.procs");
        assert_string_equal(got, "777");
        free(got);
        free(b);
        free(s);
        cg_roots_done(&r);
        cg_host_done(&h);
}

static void test_leave_removes_what_we_made(void **state) {
        CgHost h;
        host(mi_v2, (const char *const[]){"sys/fs/cgroup/", NULL}, &h);
        CgRoots r;
        const char self[] = "0::" SVC "\n";
        assert_int_equal(cg_roots_resolve(&h, NULL, self, sizeof(self) - 1, "id", &r, NULL), 0);
        char *s = path_of(root, "/sys/fs/cgroup" SVC);
        test_write_file(s, "cgroup.controllers", "\n", (size_t) -1);
        /* S/daemon made by enter (a fake one has no cgroup.procs until written). */
        assert_int_equal(cg_roots_enter(&r, &h), 0);
        assert_true(r.daemon_created_v2);
        assert_true(exists(s, "/daemon"));
        /* No controllers offered: nothing enabled, nothing to take back. */
        assert_int_equal(r.enabled, 0);
        /* cgroupfs removes a group's files itself; the fake tree needs them gone first. */
        char *f = path_of(s, "/daemon/cgroup.procs");
        unlink(f);
        free(f);
        cg_roots_leave(&r, &h, 777);
        char *got = test_read_file(s, "/cgroup.procs");
        assert_string_equal(got, "777"); /* back in S */
        free(got);
        assert_false(exists(s, "/daemon"));
        assert_true(exists(s, "")); /* never S itself */
        free(s);
        cg_roots_done(&r);
        cg_host_done(&h);
}

static void test_not_delegated(void **state) {
        CgHost h;
        host(mi_v2, (const char *const[]){"sys/fs/cgroup/", NULL}, &h);
        CgRoots r;
        const char *why;
        /* A login session's scope. */
        const char scope[] = "0::/user.slice/user-0.slice/session-4.scope\n";
        assert_int_equal(cg_roots_resolve(&h, NULL, scope, sizeof(scope) - 1, "id", &r, &why), 0);
        assert_int_equal(r.source, CG_ROOT_SOURCE_DEFAULT);
        assert_string_equal(cg_root_source_to_string(r.source), "default");
        assert_string_equal(r.root.v2, "/nix-analytics");
        assert_non_null(strstr(why, "*.service"));
        cg_roots_done(&r);
        /* A service group, but not started by systemd (no $INVOCATION_ID, no xattr). */
        const char self[] = "0::" SVC "\n";
        assert_int_equal(cg_roots_resolve(&h, NULL, self, sizeof(self) - 1, NULL, &r, &why), 0);
        assert_int_equal(r.source, CG_ROOT_SOURCE_DEFAULT);
        assert_non_null(strstr(why, "INVOCATION_ID"));
        cg_roots_done(&r);
        assert_int_equal(cg_roots_resolve(&h, NULL, self, sizeof(self) - 1, "", &r, &why), 0);
        assert_int_equal(r.source, CG_ROOT_SOURCE_DEFAULT);
        cg_roots_done(&r);
        /* Another service's group, which we cannot write (here: absent from the tree). */
        const char other[] = "0::/system.slice/cron.service\n";
        assert_int_equal(cg_roots_resolve(&h, NULL, other, sizeof(other) - 1, "id", &r, &why), 0);
        assert_int_equal(r.source, CG_ROOT_SOURCE_DEFAULT);
        assert_non_null(strstr(why, "not writable"));
        cg_roots_done(&r);
        /* The root group, garbage, and nothing at all. */
        const char *odd[] = {"0::/\n", "garbage", "1:cpu:/x.service\n", ""};
        for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
                assert_int_equal(cg_roots_resolve(&h, NULL, odd[i], strlen(odd[i]), "id", &r, &why), 0);
                assert_int_equal(r.source, CG_ROOT_SOURCE_DEFAULT);
                assert_non_null(why);
                cg_roots_done(&r);
        }
        assert_int_equal(cg_roots_resolve(&h, NULL, NULL, 0, "id", &r, &why), 0);
        assert_int_equal(r.source, CG_ROOT_SOURCE_DEFAULT);
        cg_roots_done(&r);
        cg_host_done(&h);
}

/* Hybrid (this machine kind): S in v2 and in the memory hierarchy; cpu holds us elsewhere
 * (the root), and systemd never manages the v1 freezer: those keep the default root. */
static void test_hybrid_per_hierarchy(void **state) {
        CgHost h;
        host(mi_hybrid,
             (const char *const[]){"sys/fs/cgroup/unified/", "sys/fs/cgroup/memory/", "sys/fs/cgroup/cpu/",
                                   NULL},
             &h);
        assert_int_equal(h.layout, CG_LAYOUT_HYBRID);
        const char self[] = "9:name=systemd:" SVC "\n"
                            "6:freezer:/\n"
                            "4:memory:" SVC "\n"
                            "1:cpu:/\n"
                            "0::" SVC "\n";
        CgRoots r;
        const char *why;
        assert_int_equal(cg_roots_resolve(&h, NULL, self, sizeof(self) - 1, "id", &r, &why), 0);
        assert_int_equal(r.source, CG_ROOT_SOURCE_DELEGATED);
        assert_string_equal(r.root.v2, SVC "/builds");
        assert_string_equal(r.root.v1[CG_MEMORY], SVC "/builds");
        assert_true(r.delegated_v1[CG_MEMORY]);
        assert_string_equal(r.root.v1[CG_CPU], "/nix-analytics");
        assert_false(r.delegated_v1[CG_CPU]);
        assert_string_equal(r.root.v1[CG_FREEZER], "/nix-analytics");

        /* Enter moves us in v2 and in memory, not in cpu (not ours there). */
        char *sv2 = path_of(root, "/sys/fs/cgroup/unified" SVC);
        char *smem = path_of(root, "/sys/fs/cgroup/memory" SVC);
        char *scpu = path_of(root, "/sys/fs/cgroup/cpu" SVC);
        test_write_file(sv2, "cgroup.procs", "31\n", (size_t) -1);
        test_write_file(smem, "cgroup.procs", "31\n", (size_t) -1);
        test_write_file(sv2, "cgroup.controllers", "hugetlb\n", (size_t) -1);
        /* cgroupfs makes a group's files with it; the fake tree needs them first. */
        test_write_file(sv2, "daemon/cgroup.procs", "", 0);
        test_write_file(smem, "daemon/cgroup.procs", "", 0);
        assert_int_equal(cg_roots_enter(&r, &h), 0);
        char *got = test_read_file(sv2, "/daemon/cgroup.procs");
        assert_string_equal(got, "31");
        free(got);
        got = test_read_file(smem, "/daemon/cgroup.procs");
        assert_string_equal(got, "31");
        free(got);
        assert_false(exists(scpu, "/daemon"));
        assert_int_equal(r.enabled, 0); /* only hugetlb in v2 here */

        /* A build group under those roots lands in each hierarchy's own root. */
        CgGroup g;
        assert_int_equal(cg_group_open_under(&h, &r.root, "build-abc", /* create= */ true, &g), 0);
        char *want = path_of(sv2, "/builds/build-abc");
        assert_string_equal(g.v2, want);
        free(want);
        want = path_of(smem, "/builds/build-abc");
        assert_string_equal(g.v1[CG_MEMORY], want);
        free(want);
        want = path_of(root, "/sys/fs/cgroup/cpu/nix-analytics/build-abc");
        assert_string_equal(g.v1[CG_CPU], want);
        free(want);
        assert_null(g.v1[CG_FREEZER]); /* v2 freezes */
        assert_int_equal(cg_group_remove(&g), 0);
        cg_group_done(&g);
        assert_int_equal(cg_group_open_under(&h, &r.root, "../x", true, &g), -EINVAL);
        assert_int_equal(cg_group_open_under(&h, &r.root, "", true, &g), -EINVAL);

        cg_roots_leave(&r, &h, 778);
        assert_false(exists(sv2, "/builds"));
        assert_false(exists(smem, "/builds"));
        assert_false(exists(root, "/sys/fs/cgroup/cpu/nix-analytics"));
        assert_true(exists(sv2, ""));
        assert_true(exists(smem, ""));
        free(sv2);
        free(smem);
        free(scpu);
        cg_roots_done(&r);
        cg_host_done(&h);
}

/* DelegateSubgroup=daemon (systemd >= 254) starts us in S/daemon already. */
static void test_started_in_daemon_subgroup(void **state) {
        CgHost h;
        host(mi_v2, (const char *const[]){"sys/fs/cgroup/", NULL}, &h);
        CgRoots r;
        const char self[] = "0::" SVC "/daemon\n";
        assert_int_equal(cg_roots_resolve(&h, NULL, self, sizeof(self) - 1, "id", &r, NULL), 0);
        assert_int_equal(r.source, CG_ROOT_SOURCE_DELEGATED);
        assert_string_equal(r.service, SVC);
        assert_true(r.started_in_daemon);
        assert_string_equal(r.root.v2, SVC "/builds");
        /* S/daemon is systemd's: we stay in it at exit and it stays. */
        char *s = path_of(root, "/sys/fs/cgroup" SVC);
        test_write_file(s, "daemon/cgroup.procs", "55\n", (size_t) -1);
        test_write_file(s, "cgroup.controllers", "cpu memory\n", (size_t) -1);
        test_write_file(s, "cgroup.subtree_control", "", 0);
        assert_int_equal(cg_roots_enter(&r, &h), 0);
        assert_false(r.daemon_created_v2);
        char *got = test_read_file(s, "/cgroup.subtree_control");
        assert_string_equal(got, "+cpu +memory");
        free(got);
        cg_roots_leave(&r, &h, 55);
        got = test_read_file(s, "/cgroup.subtree_control");
        assert_string_equal(got, "-cpu -memory");
        free(got);
        got = test_read_file(s, "/cgroup.procs");
        assert_string_equal(got, ""); /* never moved back into S */
        free(got);
        assert_true(exists(s, "/daemon"));
        free(s);
        cg_roots_done(&r);
        /* Any other child of a service, or a "daemon" group elsewhere, is not ours. */
        const char *other[] = {"0::" SVC "/payload\n", "0::/user.slice/daemon\n", "0::/daemon\n"};
        for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
                assert_int_equal(cg_roots_resolve(&h, NULL, other[i], strlen(other[i]), "id", &r, NULL), 0);
                assert_int_equal(r.source, CG_ROOT_SOURCE_DEFAULT);
                cg_roots_done(&r);
        }
        cg_host_done(&h);
}

/* Pure v1: the service is named by systemd's own name=systemd hierarchy. */
static void test_pure_v1(void **state) {
        CgHost h;
        host(mi_v1, (const char *const[]){"sys/fs/cgroup/memory/", "sys/fs/cgroup/pids/", NULL}, &h);
        assert_int_equal(h.layout, CG_LAYOUT_V1);
        const char self[] = "9:name=systemd:" SVC "\n"
                            "5:pids:" SVC "\n"
                            "4:memory:" SVC "\n";
        CgRoots r;
        const char *why;
        assert_int_equal(cg_roots_resolve(&h, NULL, self, sizeof(self) - 1, "id", &r, &why), 0);
        assert_int_equal(r.source, CG_ROOT_SOURCE_DELEGATED);
        assert_null(r.root.v2);
        assert_string_equal(r.root.v1[CG_MEMORY], SVC "/builds");
        assert_string_equal(r.root.v1[CG_PIDS], SVC "/builds");
        assert_string_equal(cg_roots_primary(&r), SVC "/builds");
        cg_roots_done(&r);
        /* Without the name=systemd line there is no telling. */
        const char nosd[] = "4:memory:" SVC "\n";
        assert_int_equal(cg_roots_resolve(&h, NULL, nosd, sizeof(nosd) - 1, "id", &r, &why), 0);
        assert_int_equal(r.source, CG_ROOT_SOURCE_DEFAULT);
        assert_non_null(strstr(why, "name=systemd"));
        cg_roots_done(&r);
        cg_host_done(&h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_option),
                cmocka_unit_test(test_pure_v2_delegated),
                cmocka_unit_test(test_leave_removes_what_we_made),
                cmocka_unit_test(test_not_delegated),
                cmocka_unit_test(test_hybrid_per_hierarchy),
                cmocka_unit_test(test_started_in_daemon_subgroup),
                cmocka_unit_test(test_pure_v1),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
