/* Unit tests for src/shared/cgroup.c on fake cgroup trees: pure v2, hybrid (v2 at
 * /sys/fs/cgroup/unified plus v1 controllers), v1 only, and none. */
#include <errno.h>
#include <limits.h>
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

#include "shared/cgroup.h"
#include "test-helpers.h"

static const char mountinfo_hybrid[] =
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
        "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n";

static const char mountinfo_v2[] =
        "25 30 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
        "rw,nsdelegate,memory_recursiveprot\n";

static const char mountinfo_v1_combined[] =
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
        "35 31 0:32 / /sys/fs/cgroup/my\\040memory rw,relatime - cgroup cgroup rw,memory\n";

static const char mountinfo_none[] = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
                                     "garbage line\n"
                                     "1 2 3 - \n";

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

static void test_layouts(void **state) {
        CgHost h;
        assert_int_equal(cg_host_parse_mountinfo(mountinfo_hybrid, strlen(mountinfo_hybrid), &h), 0);
        assert_int_equal(h.layout, CG_LAYOUT_HYBRID);
        assert_string_equal(h.v2, "/sys/fs/cgroup/unified");
        assert_string_equal(h.v1[CG_MEMORY], "/sys/fs/cgroup/memory");
        assert_string_equal(h.v1[CG_CPUACCT], "/sys/fs/cgroup/cpuacct");
        assert_null(h.v1[CG_IO]);
        cg_host_done(&h);

        assert_int_equal(cg_host_parse_mountinfo(mountinfo_v2, strlen(mountinfo_v2), &h), 0);
        assert_int_equal(h.layout, CG_LAYOUT_V2);
        assert_string_equal(h.v2, "/sys/fs/cgroup");
        assert_null(h.v1[CG_MEMORY]);
        cg_host_done(&h);

        assert_int_equal(cg_host_parse_mountinfo(mountinfo_v1_combined, strlen(mountinfo_v1_combined), &h),
                         0);
        assert_int_equal(h.layout, CG_LAYOUT_V1);
        assert_string_equal(h.v1[CG_CPU], "/sys/fs/cgroup/cpu,cpuacct");
        assert_string_equal(h.v1[CG_CPUACCT], "/sys/fs/cgroup/cpu,cpuacct");
        assert_string_equal(h.v1[CG_MEMORY], "/sys/fs/cgroup/my memory"); /* \040 unescaped */
        cg_host_done(&h);

        assert_int_equal(cg_host_parse_mountinfo(mountinfo_none, strlen(mountinfo_none), &h), 0);
        assert_int_equal(h.layout, CG_LAYOUT_NONE);
        cg_host_done(&h);
}

static void test_proc_cgroup(void **state) {
        static const char text[] = "9:name=systemd:/\n8:pids:/\n6:freezer:/\n"
                                   "4:memory:/process_api/9b8a\n2:cpu,cpuacct:/nix-analytics/build-x\n"
                                   "0::/nix-analytics/build-x\nbogus\n";
        CgProcPaths p;
        assert_int_equal(cg_parse_proc_cgroup(text, strlen(text), &p), 0);
        assert_string_equal(p.v2, "/nix-analytics/build-x");
        assert_string_equal(p.v1[CG_MEMORY], "/process_api/9b8a");
        assert_string_equal(p.v1[CG_CPU], "/nix-analytics/build-x");
        assert_string_equal(p.v1[CG_CPUACCT], "/nix-analytics/build-x");
        assert_string_equal(p.v1[CG_PIDS], "/");
        assert_null(p.v1[CG_IO]);
        cg_proc_paths_done(&p);
}

static void test_parsers(void **state) {
        uint64_t v, r, w;
        const char cpu[] = "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n";
        assert_int_equal(cg_parse_keyed(cpu, strlen(cpu), "user_usec", &v), 0);
        assert_int_equal(v, 1000);
        assert_int_equal(cg_parse_keyed(cpu, strlen(cpu), "user", &v), -ENOENT);
        assert_int_equal(cg_parse_keyed("x -1\n", 5, "x", &v), -EBADMSG);
        assert_int_equal(cg_parse_freezer_state("populated 1\nfrozen 1\n", 21), CG_FREEZE_FROZEN);
        assert_int_equal(cg_parse_freezer_state("FROZEN\n", 7), CG_FREEZE_FROZEN);
        assert_int_equal(cg_parse_freezer_state("FREEZING\n", 9), CG_FREEZE_FREEZING);
        assert_int_equal(cg_parse_freezer_state("THAWED\n", 7), CG_FREEZE_THAWED);
        assert_int_equal(cg_parse_freezer_state("??", 2), CG_FREEZE_UNKNOWN);
        const char io[] = "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n";
        assert_int_equal(cg_parse_io_stat(io, strlen(io), &r, &w), 0);
        assert_int_equal(r, 101);
        assert_int_equal(w, 202);
        const char blk[] = "8:0 Read 10\n8:0 Write 20\n8:0 Sync 5\nTotal 30\n";
        assert_int_equal(cg_parse_blkio(blk, strlen(blk), &r, &w), 0);
        assert_int_equal(r, 10);
        assert_int_equal(w, 20);
}

static char *read_back(const char *dir, const char *name) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        static char buf[256];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

static void test_hybrid_group(void **state) {
        CgHost h;
        char *fs;
        test_cg_fake_host(root, "hybrid", mountinfo_hybrid, &h, &fs);
        assert_int_equal(h.layout, CG_LAYOUT_HYBRID);

        CgGroup g;
        assert_int_equal(cg_group_open(&h, "/nix-analytics/build-abc", /* create= */ true, &g), 0);
        assert_true(g.owned);
        char want[4096];
        snprintf(want, sizeof(want), "%s/sys/fs/cgroup/unified/nix-analytics/build-abc", fs);
        assert_string_equal(g.v2, want);
        assert_non_null(g.v1[CG_MEMORY]);
        assert_null(g.v1[CG_FREEZER]); /* v2 freezes */
        struct stat st;
        assert_int_equal(stat(g.v1[CG_MEMORY], &st), 0);

        /* What the kernel would show in the groups. */
        test_write_file(g.v2, "cpu.stat", "usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\n",
                        (size_t) -1);
        test_write_file(g.v2, "cgroup.events", "populated 1\nfrozen 1\n", (size_t) -1);
        test_write_file(g.v2, "cgroup.freeze", "0\n", (size_t) -1);
        test_write_file(g.v2, "cgroup.kill", "", (size_t) -1);
        test_write_file(g.v2, "cgroup.procs", "10\n11\n", (size_t) -1);
        test_write_file(g.v1[CG_MEMORY], "memory.usage_in_bytes", "4096\n", (size_t) -1);
        test_write_file(g.v1[CG_MEMORY], "memory.max_usage_in_bytes", "8192\n", (size_t) -1);
        test_write_file(g.v1[CG_MEMORY], "memory.oom_control",
                        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", (size_t) -1);
        test_write_file(g.v1[CG_MEMORY], "memory.limit_in_bytes", "", (size_t) -1);
        test_write_file(g.v1[CG_CPU], "cpu.cfs_quota_us", "-1\n", (size_t) -1);
        test_write_file(g.v1[CG_CPU], "cpu.cfs_period_us", "100000\n", (size_t) -1);
        test_write_file(g.v1[CG_CPU], "cpu.shares", "1024\n", (size_t) -1);

        CgUsage u;
        assert_int_equal(cg_group_usage(&g, /* full= */ true, &u), 0);
        assert_true(u.has_cpu);
        assert_int_equal(u.cpu_user, 2000);
        assert_int_equal(u.cpu_system, 1000);
        assert_true(u.has_mem);
        assert_int_equal(u.mem_current, 4096);
        assert_int_equal(u.mem_peak, 8192);
        assert_int_equal(u.oom_kills, 2);
        assert_int_equal(u.freeze, CG_FREEZE_FROZEN);

        pid_t *pids;
        assert_int_equal(cg_group_pids(&g, &pids), 2);
        assert_int_equal(pids[0], 10);
        free(pids);

        const char *mech;
        assert_int_equal(cg_group_freeze(&g, true, &mech), 0);
        assert_string_equal(mech, "cgroup-v2 cgroup.freeze");
        assert_string_equal(read_back(g.v2, "cgroup.freeze"), "1");
        assert_int_equal(cg_group_kill(&g, &mech), 0);
        assert_string_equal(read_back(g.v2, "cgroup.kill"), "1");
        /* Limits go to v1: the hybrid v2 has no controllers. */
        assert_int_equal(cg_group_set_cpu_limit(&g, 0.2, &mech), 0);
        assert_string_equal(mech, "cgroup-v1 cpu.cfs_quota_us");
        assert_string_equal(read_back(g.v1[CG_CPU], "cpu.cfs_quota_us"), "20000");
        assert_int_equal(cg_group_set_cpu_limit(&g, 0, &mech), 0);
        assert_string_equal(read_back(g.v1[CG_CPU], "cpu.cfs_quota_us"), "-1");
        assert_int_equal(cg_group_set_mem_limit(&g, 64u << 20, &mech), 0);
        assert_string_equal(mech, "cgroup-v1 memory.limit_in_bytes");
        assert_string_equal(read_back(g.v1[CG_MEMORY], "memory.limit_in_bytes"), "67108864");
        assert_int_equal(cg_group_set_weight(&g, 5, &mech), 0);
        assert_string_equal(read_back(g.v1[CG_CPU], "cpu.shares"), "336"); /* 1024 / 1.25^5 */

        /* Not empty: files inside (a real cgroupfs removes them with the group). */
        assert_int_not_equal(cg_group_remove(&g), 0);
        cg_group_done(&g);

        /* Opening without create finds it again (a daemon restart). */
        assert_int_equal(cg_group_open(&h, "/nix-analytics/build-abc", false, &g), 0);
        assert_false(g.owned);
        cg_group_done(&g);
        assert_int_equal(cg_group_open(&h, "/nix-analytics/build-none", false, &g), -ENOENT);
        assert_int_equal(cg_group_open(&h, "relative", true, &g), -EINVAL);
        assert_int_equal(cg_group_open(&h, "/a/../b", true, &g), -EINVAL);
        cg_host_done(&h);
        free(fs);
}

static void test_v2_group(void **state) {
        CgHost h;
        char *fs;
        test_cg_fake_host(root, "v2", mountinfo_v2, &h, &fs);
        /* Controllers the root offers. */
        char *rootdir;
        assert_true(asprintf(&rootdir, "%s/sys/fs/cgroup", fs) > 0);
        test_write_file(rootdir, "cgroup.controllers", "cpuset cpu io memory pids\n", (size_t) -1);
        cg_host_done(&h);
        assert_int_equal(cg_host_detect(fs, NULL, &h), 0);
        assert_int_equal(h.layout, CG_LAYOUT_V2);
        assert_true(h.v2_controllers & (1u << CG_MEMORY));
        assert_true(h.v2_controllers & (1u << CG_IO));

        /* Our root delegates what its parent gives it. */
        test_write_file(rootdir, "nix-analytics/cgroup.controllers", "cpu io memory pids\n", (size_t) -1);
        test_write_file(rootdir, "nix-analytics/cgroup.subtree_control", "", (size_t) -1);
        CgGroup g;
        assert_int_equal(cg_group_open(&h, "/nix-analytics/build-1", true, &g), 0);
        assert_string_equal(read_back(rootdir, "nix-analytics/cgroup.subtree_control"),
                            "+cpu +memory +io +pids");
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                assert_null(g.v1[c]);
        test_write_file(g.v2, "memory.current", "100\n", (size_t) -1);
        test_write_file(g.v2, "memory.peak", "200\n", (size_t) -1);
        test_write_file(g.v2, "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n", (size_t) -1);
        test_write_file(g.v2, "io.stat", "8:0 rbytes=5 wbytes=6\n", (size_t) -1);
        test_write_file(g.v2, "memory.max", "max\n", (size_t) -1);
        test_write_file(g.v2, "cpu.max", "max 100000\n", (size_t) -1);
        test_write_file(g.v2, "cpu.weight", "100\n", (size_t) -1);
        /* Pressure (PSI): cpu and memory as the kernel writes them, io not (all or none). */
        test_write_file(g.v2, "cpu.pressure",
                        "some avg10=0.00 avg60=0.00 avg300=0.00 total=11\nfull avg10=0.00 avg60=0.00 "
                        "avg300=0.00 total=1\n",
                        (size_t) -1);
        test_write_file(g.v2, "memory.pressure", "some avg10=1.50 avg60=0.00 avg300=0.00 total=22\n",
                        (size_t) -1);
        test_write_file(g.v2, "io.pressure", "some avg10=x total=\n", (size_t) -1);
        CgUsage u;
        assert_int_equal(cg_group_usage(&g, /* full= */ true, &u), 0);
        assert_false(u.has_psi); /* io.pressure is not the kernel's: no figures */
        test_write_file(g.v2, "io.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=33\n",
                        (size_t) -1);
        assert_int_equal(cg_group_usage(&g, /* full= */ true, &u), 0);
        assert_true(u.has_psi);
        assert_int_equal(u.psi_total[PSI_CPU], 11);
        assert_int_equal(u.psi_total[PSI_MEMORY], 22);
        assert_int_equal(u.psi_total[PSI_IO], 33);
        assert_false(u.has_cpu); /* no cpu.stat written */
        assert_int_equal(u.mem_current, 100);
        assert_int_equal(u.mem_peak, 200);
        assert_int_equal(u.oom_kills, 1);
        assert_true(u.has_io);
        assert_int_equal(u.io_read, 5);
        assert_int_equal(u.freeze, CG_FREEZE_UNKNOWN);

        /* Kept open (as the sampler asks): read again from the same descriptor, which sees
         * the new figure; a file gone (its group removed) is opened again, then missing. */
        g.keep_files = true;
        assert_int_equal(cg_group_usage(&g, /* full= */ true, &u), 0);
        assert_true(g.kept[CG_KEPT_MEMORY_CURRENT] > 0 && g.kept[CG_KEPT_IO_STAT] > 0);
        assert_int_equal(g.kept[CG_KEPT_CPU_STAT], 0); /* missing: not kept, not tried again */
        int kept_fd = g.kept[CG_KEPT_MEMORY_CURRENT];
        test_write_file(g.v2, "memory.current", "150\n", (size_t) -1);
        assert_int_equal(cg_group_usage(&g, /* full= */ false, &u), 0);
        assert_int_equal(u.mem_current, 150);
        assert_false(u.has_psi); /* pressure is read only when full */
        assert_int_equal(g.kept[CG_KEPT_MEMORY_CURRENT], kept_fd);
        assert_true(g.kept[CG_KEPT_MEMORY_PRESSURE] > 0);
        test_write_file(g.v2, "memory.pressure", "some avg10=9.00 avg60=0.00 avg300=0.00 total=44\n",
                        (size_t) -1);
        assert_int_equal(cg_group_usage(&g, /* full= */ true, &u), 0);
        assert_true(u.has_psi);
        assert_int_equal(u.psi_total[PSI_MEMORY], 44);
        cg_group_drop_files(&g);
        assert_false(g.keep_files);
        assert_int_equal(g.kept[CG_KEPT_MEMORY_CURRENT], 0);
        assert_int_equal(cg_group_usage(&g, /* full= */ false, &u), 0);
        assert_int_equal(u.mem_current, 150);
        /* A kernel without PSI has none of the files: one missing, none read again. */
        char io_pressure[PATH_MAX];
        snprintf(io_pressure, sizeof(io_pressure), "%s/io.pressure", g.v2);
        assert_int_equal(unlink(io_pressure), 0);
        assert_int_equal(cg_group_usage(&g, /* full= */ true, &u), 0);
        assert_false(u.has_psi);
        test_write_file(g.v2, "io.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=33\n",
                        (size_t) -1);
        assert_int_equal(cg_group_usage(&g, /* full= */ true, &u), 0);
        assert_false(u.has_psi);

        const char *mech;
        assert_int_equal(cg_group_set_mem_limit(&g, 4ull << 30, &mech), 0);
        assert_string_equal(mech, "cgroup-v2 memory.max");
        assert_string_equal(read_back(g.v2, "memory.max"), "4294967296");
        assert_int_equal(cg_group_set_mem_limit(&g, 0, &mech), 0);
        assert_string_equal(read_back(g.v2, "memory.max"), "max");
        assert_int_equal(cg_group_set_cpu_limit(&g, 1.5, &mech), 0);
        assert_string_equal(read_back(g.v2, "cpu.max"), "150000 100000");
        assert_int_equal(cg_group_set_weight(&g, -20, &mech), 0);
        assert_string_equal(read_back(g.v2, "cpu.weight"), "8674");
        /* No cgroup.freeze / cgroup.kill files and no v1 freezer: not supported. */
        assert_int_equal(cg_group_freeze(&g, true, &mech), -EOPNOTSUPP);
        assert_int_equal(cg_group_kill(&g, &mech), -EOPNOTSUPP);
        cg_group_done(&g);
        cg_host_done(&h);
        free(rootdir);
        free(fs);
}

static const char mountinfo_v1_freezer[] =
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n";

/* A v1-only host: freezing goes through freezer.state (the state read back from it), there
 * is no cgroup.kill (the daemon then thaws and signals), limits through v1. */
static void test_v1_group(void **state) {
        CgHost h;
        char *fs;
        test_cg_fake_host(root, "v1", mountinfo_v1_freezer, &h, &fs);
        assert_int_equal(h.layout, CG_LAYOUT_V1);
        CgGroup g;
        assert_int_equal(cg_group_open(&h, "/nix-analytics/build-1", true, &g), 0);
        assert_null(g.v2);
        assert_non_null(g.v1[CG_FREEZER]); /* no v2: the v1 freezer is used */
        assert_string_equal(g.v1[CG_CPU], g.v1[CG_CPUACCT]);
        test_write_file(g.v1[CG_FREEZER], "freezer.state", "THAWED\n", (size_t) -1);
        test_write_file(g.v1[CG_CPUACCT], "cpuacct.usage_user", "3000000\n", (size_t) -1);
        test_write_file(g.v1[CG_CPUACCT], "cpuacct.usage_sys", "1000000\n", (size_t) -1);
        test_write_file(g.v1[CG_MEMORY], "memory.usage_in_bytes", "10\n", (size_t) -1);
        test_write_file(g.v1[CG_MEMORY], "memory.oom_control", "oom_kill 0\n", (size_t) -1);
        const char *mech;
        assert_int_equal(cg_group_freeze(&g, true, &mech), 0);
        assert_string_equal(mech, "cgroup-v1 freezer.state");
        assert_string_equal(read_back(g.v1[CG_FREEZER], "freezer.state"), "FROZEN");
        CgUsage u;
        assert_int_equal(cg_group_usage(&g, /* full= */ true, &u), 0);
        assert_int_equal(u.freeze, CG_FREEZE_FROZEN);
        assert_int_equal(u.cpu_user, 3000); /* ns -> us */
        assert_int_equal(u.cpu_system, 1000);
        assert_int_equal(u.oom_kills, 0);
        assert_int_equal(cg_group_kill(&g, &mech), -EOPNOTSUPP);
        assert_int_equal(cg_group_freeze(&g, false, &mech), 0);
        assert_string_equal(read_back(g.v1[CG_FREEZER], "freezer.state"), "THAWED");
        cg_group_done(&g);
        cg_host_done(&h);
        free(fs);
}

static void test_none(void **state) {
        CgHost h;
        char *fs;
        test_cg_fake_host(root, "none", mountinfo_none, &h, &fs);
        assert_int_equal(h.layout, CG_LAYOUT_NONE);
        CgGroup g;
        assert_int_equal(cg_group_open(&h, "/nix-analytics/build-1", true, &g), 0);
        assert_null(g.v2);
        const char *mech;
        assert_int_equal(cg_group_freeze(&g, true, &mech), -EOPNOTSUPP);
        assert_int_equal(cg_group_set_mem_limit(&g, 1 << 20, &mech), -EOPNOTSUPP);
        assert_int_equal(cg_group_set_cpu_limit(&g, 1, &mech), -EOPNOTSUPP);
        pid_t *pids;
        assert_int_equal(cg_group_pids(&g, &pids), -ENOENT);
        cg_group_done(&g);
        cg_host_done(&h);
        free(fs);
        assert_int_equal(cg_host_detect(root, "/nonexistent/mountinfo", &h), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_layouts),  cmocka_unit_test(test_proc_cgroup),
                cmocka_unit_test(test_parsers),  cmocka_unit_test(test_hybrid_group),
                cmocka_unit_test(test_v2_group), cmocka_unit_test(test_v1_group),
                cmocka_unit_test(test_none),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
