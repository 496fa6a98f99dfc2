/* Unit tests for src/shared/kmsg.c: the OOM killer's records in the kernel log, as real
 * kernels print them and as a hostile or truncated record could look. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shared/kmsg.h"

static int parse(const char *s, KmsgOom *o) {
        memset(o, 0, sizeof(*o));
        return kmsg_parse_oom(s, strlen(s), o);
}

/* Records of a real kill (Linux 6.18, a build's v1 memory cgroup at its limit). */
static void test_memcg_kill(void **state) {
        KmsgOom o;
        assert_int_equal(parse("6,1555,19350757863,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),"
                               "cpuset=/,mems_allowed=0,oom_memcg=/na/build-8rbq,task_memcg=/na/build-8rbq,"
                               "task=awk,pid=17242,uid=797\n SUBSYSTEM=x\n",
                               &o),
                         1);
        assert_int_equal(o.kind, KMSG_OOM_INFO);
        assert_int_equal(o.seq, 1555);
        assert_int_equal(o.boot_usec, 19350757863ULL);
        assert_int_equal(o.pid, 17242);
        assert_string_equal(o.comm, "awk");
        assert_string_equal(o.task_memcg, "/na/build-8rbq");
        assert_string_equal(o.constraint, "CONSTRAINT_MEMCG");
        assert_int_equal(o.uid, 797);
        kmsg_oom_done(&o);

        assert_int_equal(
                parse("3,1556,19350757892,-;Memory cgroup out of memory: Killed process 17242 (awk) "
                      "total-vm:101916kB, anon-rss:65296kB, file-rss:1936kB, shmem-rss:0kB, "
                      "UID:797 pgtables:168kB oom_score_adj:0",
                      &o),
                1);
        assert_int_equal(o.kind, KMSG_OOM_KILLED);
        assert_int_equal(o.pid, 17242);
        assert_string_equal(o.comm, "awk");
        assert_true(o.memcg);
        assert_null(o.task_memcg);
        kmsg_oom_done(&o);
}

static void test_global_kill(void **state) {
        KmsgOom o;
        assert_int_equal(parse("3,9,5,-;Out of memory: Killed process 4242 (tail) total-vm:1kB", &o), 1);
        assert_false(o.memcg);
        assert_int_equal(o.pid, 4242);
        assert_string_equal(o.comm, "tail");
        kmsg_oom_done(&o);
        /* Older kernels: the line alone. */
        assert_int_equal(parse("3,9,5,-;Killed process 7 (x) total-vm:1kB", &o), 1);
        assert_int_equal(o.pid, 7);
        kmsg_oom_done(&o);
        /* No uid (older kernels), no oom_memcg (a global OOM), root cgroup. */
        assert_int_equal(parse("6,10,5,-;oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,"
                               "mems_allowed=0,global_oom,task_memcg=/,task=tail,pid=4242",
                               &o),
                         1);
        assert_int_equal(o.uid, -1);
        assert_string_equal(o.task_memcg, "/");
        assert_string_equal(o.constraint, "CONSTRAINT_NONE");
        kmsg_oom_done(&o);
}

/* Commands and cgroup paths may hold the separators: fields come from the end. */
static void test_odd_names(void **state) {
        KmsgOom o;
        assert_int_equal(parse("6,1,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=/a,task=b/c,"
                               "task=x,pid=1,y,pid=99,uid=0",
                               &o),
                         1);
        assert_int_equal(o.pid, 99);
        assert_string_equal(o.comm, "x,pid=1,y");
        assert_string_equal(o.task_memcg, "/a,task=b/c");
        kmsg_oom_done(&o);
        assert_int_equal(parse("3,1,1,-;Out of memory: Killed process 5 (a) (b\\x0a) total-vm:1kB", &o), 1);
        assert_string_equal(o.comm, "a) (b\\x0a");
        kmsg_oom_done(&o);
        /* Bytes that are not printable ASCII never leave the parser as such. */
        assert_int_equal(parse("3,1,1,-;Out of memory: Killed process 5 (\x1b[2J\xff) total-vm:1kB", &o), 1);
        assert_string_equal(o.comm, "?[2J?");
        kmsg_oom_done(&o);
}

static void test_not_oom(void **state) {
        KmsgOom o;
        assert_int_equal(parse("6,1,1,-;eth0: link up", &o), 0);
        assert_int_equal(parse("4,1482,19350756190,-; oom_kill_process.cold+0x8/0x8a", &o), 0);
        assert_int_equal(parse("4,1557,1,-;awk invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL)", &o), 0);
        assert_int_equal(parse("6,1,1,-;something: Killed process 5 (x)", &o), 0);
        /* A userspace write (facility 1, LOG_USER, or any other) is not the kernel's. */
        assert_int_equal(parse("14,1,1,-;Out of memory: Killed process 1 (init) total-vm:1kB", &o), 0);
        assert_int_equal(parse("11,1,1,-;oom-kill:constraint=CONSTRAINT_NONE,task_memcg=/,task=a,pid=1", &o),
                         0);
}

static void test_hostile(void **state) {
        KmsgOom o;
        const char *bad[] = {
                "",
                ";",
                "6,1,1",
                "6,1,1,-",
                "x,1,1,-;Out of memory: Killed process 5 (a)",
                "6,,1,-;Out of memory: Killed process 5 (a)",
                "6,1,99999999999999999999999,-;Out of memory: Killed process 5 (a)",
                "3,1,1,-;Out of memory: Killed process ",
                "3,1,1,-;Out of memory: Killed process 5",
                "3,1,1,-;Out of memory: Killed process 5 (",
                "3,1,1,-;Out of memory: Killed process 5 (abc",
                "3,1,1,-;Out of memory: Killed process (a) total-vm:1kB",
                "3,1,1,-;Out of memory: Killed process 0 (a) total-vm:1kB",
                "3,1,1,-;Out of memory: Killed process -5 (a) total-vm:1kB",
                "3,1,1,-;Out of memory: Killed process 99999999999 (a) total-vm:1kB",
                ("3,1,1,-;Out of memory: Killed process 5 (0123456789012345678901234567890123456789"
                 "01234567890123456789012345678901234567890123456789) total-vm:1kB"),
                "6,1,1,-;oom-kill:",
                "6,1,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=/a,task=x,pid=",
                "6,1,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=/a,task=x,pid=1x",
                "6,1,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=/a,task=x,pid=1,uid=",
                "6,1,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=/a,task=x,pid=1,uid=99999999999",
                "6,1,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=a,task=x,pid=1",
                "6,1,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=,task=x,pid=1",
                "6,1,1,-;oom-kill:pid=1",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int r = parse(bad[i], &o);
                if (r != -EBADMSG)
                        fail_msg("record %zu \"%s\": %d, expected -EBADMSG", i, bad[i], r);
        }
        /* Cut anywhere, a real record never reads past its length nor crashes. */
        static const char full[] =
                "6,1555,19350757863,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),"
                "cpuset=/,mems_allowed=0,oom_memcg=/na/b,task_memcg=/na/b,task=awk,"
                "pid=17242,uid=797";
        for (size_t n = 0; n <= sizeof(full) - 1; n++) {
                char *copy = malloc(n ? n : 1);
                assert_non_null(copy);
                memcpy(copy, full, n);
                memset(&o, 0, sizeof(o));
                int r = kmsg_parse_oom(copy, n, &o);
                assert_true(r == 1 || r == -EBADMSG || r == 0);
                if (r == 1)
                        kmsg_oom_done(&o);
                free(copy);
        }
        /* A NUL inside the text. */
        static const char nul[] = "3,1,1,-;Out of memory: Killed\0 process 5 (a) total-vm:1kB";
        assert_int_equal(kmsg_parse_oom(nul, sizeof(nul) - 1, &o), -EBADMSG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_memcg_kill), cmocka_unit_test(test_global_kill),
                cmocka_unit_test(test_odd_names),  cmocka_unit_test(test_not_oom),
                cmocka_unit_test(test_hostile),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
