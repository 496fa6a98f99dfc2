/* Unit tests for src/shared/cgroup-nix.c: the names Nix and Lix give build groups, and the
 * group taken from a builder's /proc/<pid>/cgroup (v2 only, cut at Nix's group). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shared/cgroup-nix.h"

static bool named(const char *s) {
        return cg_nix_group_name(s, strlen(s));
}

static void test_names(void **state) {
        assert_true(named("nix-build-uid-30001"));
        assert_true(named("nix-build-uid-872415232")); /* auto-allocate-uids */
        assert_true(named("nix-build-pid-4242-0"));
        assert_true(named("nix-build@0123456789abcdfghijklmnpqrsvwxyz-30001")); /* Lix */
        assert_false(named("nix-daemon"));
        assert_false(named("nix-build-uid-"));
        assert_false(named("nix-build-uid-12x"));
        assert_false(named("nix-build-pid-4242"));
        assert_false(named("nix-build-pid--1"));
        assert_false(named("nix-build@-30001"));
        assert_false(named("nix-build@abc"));
        assert_false(named("nix-build-evil"));
        assert_false(named("build-0123456789abcdfghijklmnpqrsvwxyz"));
        /* Only the given length counts. */
        assert_true(cg_nix_group_name("nix-build-uid-1/sub", 15));
}

static void check(const char *v2_path, const char *want) {
        CgHost h = {.fs_root = (char *) "/r", .v2 = (char *) "/sys/fs/cgroup/unified"};
        h.v1[CG_MEMORY] = (char *) "/sys/fs/cgroup/memory";
        CgProcPaths p = {.v2 = (char *) v2_path};
        p.v1[CG_MEMORY] = (char *) "/system.slice/nix-daemon.service";
        CgGroup g = {};
        int r = cg_nix_build_group(&h, &p, &g);
        if (!want) {
                assert_int_equal(r, 0);
                assert_null(g.v2);
                return;
        }
        assert_int_equal(r, 1);
        assert_string_equal(g.v2, want);
        /* The v1 memory group is nix-daemon's: never the build's. */
        for (int c = 0; c < _CG_CONTROLLER_MAX; c++)
                assert_null(g.v1[c]);
        assert_false(g.owned);
        cg_group_done(&g);
}

static void test_group(void **state) {
        check("/nix-build-uid-30001", "/r/sys/fs/cgroup/unified/nix-build-uid-30001");
        /* 2.25+: a sibling of the daemon's group, under its service. */
        check("/system.slice/nix-daemon.service/nix-build-uid-872415232",
              "/r/sys/fs/cgroup/unified/system.slice/nix-daemon.service/nix-build-uid-872415232");
        /* A group the build made below Nix's: the build is Nix's group. */
        check("/system.slice/nix-daemon.service/nix-build-pid-7-0/nix-build-uid-1/x",
              "/r/sys/fs/cgroup/unified/system.slice/nix-daemon.service/nix-build-pid-7-0");
        check("/system.slice/nix-daemon.service/nix-daemon", NULL);
        check("/", NULL);
        check("/nix-analytics/build-0123", NULL);
        /* No v2 hierarchy: no Nix group (Nix makes them in v2 only). */
        CgHost h = {};
        CgProcPaths p = {.v2 = (char *) "/nix-build-uid-1"};
        CgGroup g = {};
        assert_int_equal(cg_nix_build_group(&h, &p, &g), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_group),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
