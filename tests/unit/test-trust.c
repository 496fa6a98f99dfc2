/* Unit tests for src/shared/trust.c: which builders a source may have attached to its builds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shared/trust.h"
#include "test-helpers.h"

typedef struct Fixture {
        char *dir;
        char proc[512];
} Fixture;

/* <proc>/<pid>/stat with its parent and start time. */
static void proc_add(Fixture *f, int pid, int ppid, unsigned long long start) {
        char rel[64], stat[256];
        snprintf(rel, sizeof(rel), "proc/%d/stat", pid);
        snprintf(stat, sizeof(stat), "%d (p%d) S %d %d %d 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 %llu 0 0\n", pid,
                 pid, ppid, pid, pid, start);
        test_write_file(f->dir, rel, stat, (size_t) -1);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        f->dir = test_mkdtemp();
        snprintf(f->proc, sizeof(f->proc), "%s/proc", f->dir);
        /* 1 -> 100 (nix-daemon) -> 200 (worker, root) -> 300 (builder) -> 301
         * 1 -> 500 (mallory's nix) -> 600 (her builder) */
        proc_add(f, 1, 0, 1);
        proc_add(f, 100, 1, 10);
        proc_add(f, 200, 100, 20);
        proc_add(f, 300, 200, 30);
        proc_add(f, 301, 300, 31);
        proc_add(f, 500, 1, 50);
        proc_add(f, 600, 500, 60);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        test_rm_rf(f->dir);
        free(f->dir);
        free(f);
        return 0;
}

static void test_descends(void **state) {
        Fixture *f = *state;
        assert_true(trust_descends_from(f->proc, 300, 200, 20));
        assert_true(trust_descends_from(f->proc, 301, 100, 10));
        assert_true(trust_descends_from(f->proc, 200, 200, 20)); /* itself */
        assert_false(trust_descends_from(f->proc, 300, 500, 50));
        assert_false(trust_descends_from(f->proc, 600, 200, 20));
        assert_false(trust_descends_from(f->proc, 300, 200, 0));  /* start unknown */
        assert_false(trust_descends_from(f->proc, 300, 200, 21)); /* pid reused */
        assert_false(trust_descends_from(f->proc, 999, 200, 20)); /* gone */
        assert_false(trust_descends_from(f->proc, 300, 1, 1));    /* init is nobody's nix */
}

static void test_reused_parent_breaks_chain(void **state) {
        Fixture *f = *state;
        /* 200 died and its pid went to a process younger than its "child" 300 */
        proc_add(f, 200, 500, 40);
        assert_false(trust_descends_from(f->proc, 300, 500, 50));
        assert_false(trust_descends_from(f->proc, 300, 100, 10));
}

static void test_loop_bounded(void **state) {
        Fixture *f = *state;
        proc_add(f, 700, 701, 5);
        proc_add(f, 701, 700, 5);
        assert_false(trust_descends_from(f->proc, 700, 500, 50));
}

static void test_may_attach(void **state) {
        Fixture *f = *state;
        Source root = {.pid = 200, .pid_starttime = 20, .trusted = true};
        Source mallory = {.pid = 500, .pid_starttime = 50, .trusted = false};
        assert_true(trust_may_attach(f->proc, &root, 300));
        assert_true(trust_may_attach(f->proc, &root, 600)); /* trusted: speaks for anyone */
        assert_false(trust_may_attach(f->proc, &mallory, 300));
        assert_false(trust_may_attach(f->proc, &mallory, 200));
        assert_true(trust_may_attach(f->proc, &mallory, 600));
        assert_false(trust_may_attach(f->proc, NULL, 300));
        /* her nix exited and pid 500 went to someone else */
        proc_add(f, 500, 1, 55);
        assert_false(trust_may_attach(f->proc, &mallory, 600));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descends, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reused_parent_breaks_chain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_loop_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_may_attach, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
