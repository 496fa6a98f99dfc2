/* Unit tests for src/shared/psi.c: the "some" line of the kernel's pressure files as the
 * machine's and a cgroup's have it, hostile or damaged contents refused, and the share of a
 * span stalled between two totals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "shared/hostinfo.h"
#include "shared/psi.h"

static int parse(const char *s, PsiSome *ret) {
        return psi_parse_some(s, strlen(s), ret);
}

static void test_kernel_files(void **state) {
        PsiSome p;
        /* a cgroup's memory.pressure */
        assert_int_equal(parse("some avg10=1.87 avg60=0.38 avg300=0.08 total=290654\n"
                               "full avg10=1.20 avg60=0.30 avg300=0.05 total=200000\n",
                               &p),
                         0);
        assert_true(p.avg10 > 1.86 && p.avg10 < 1.88);
        assert_int_equal(p.total, 290654);
        /* "full" first (not the kernel's order, but a line is found by its key) */
        assert_int_equal(parse("full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n"
                               "some avg10=100.00 avg60=0.00 avg300=0.00 total=18446744073709551615",
                               &p),
                         0);
        assert_int_equal(p.total, UINT64_MAX);
        assert_true(p.avg10 == 100);
        /* cpu.pressure of an old kernel: only "some" */
        assert_int_equal(parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", &p), 0);
        assert_int_equal(p.total, 0);
        /* the machine's file through hostinfo: the same parser */
        double avg;
        const char *host = "some avg10=12.50 avg60=0.00 avg300=0.00 total=5\n";
        assert_int_equal(hostinfo_parse_psi(host, strlen(host), &avg), 0);
        assert_true(avg == 12.5);
}

static void test_hostile(void **state) {
        PsiSome p = {.avg10 = -7, .total = 7};
        const char *bad[] = {
                "",
                "\n\n",
                "full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n",                    /* no some */
                "some avg10=0.00 avg60=0.00 avg300=0.00\n",                            /* no total */
                "some avg60=0.00 avg300=0.00 total=1\n",                               /* no avg10 */
                "some avg10=-1.00 avg60=0.00 avg300=0.00 total=1\n",                   /* negative */
                "some avg10=100.01 avg60=0.00 avg300=0.00 total=1\n",                  /* past 100 % */
                "some avg10=nan avg60=0.00 avg300=0.00 total=1\n",                     /* not a number */
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=-1\n",                   /* negative total */
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551616\n", /* overflow */
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=12x\n",                  /* trailing bytes */
                "some avg10=1.0x avg60=0.00 avg300=0.00 total=1\n",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=\n",
                "xsome avg10=0.00 avg60=0.00 avg300=0.00 total=1\n", /* not the line's start */
                "some avg10=0.00 avg60=0.00 avg300=0.00 xtotal=1\n", /* not the field */
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (parse(bad[i], &p) != -EBADMSG)
                        fail_msg("accepted: %s", bad[i]);
                assert_int_equal(p.total, 7); /* not written on failure */
        }
        /* a NUL inside the line, and a line longer than any the kernel writes */
        const char nul[] = "some avg10=0.00\0avg60=0.00 avg300=0.00 total=1\n";
        assert_int_equal(psi_parse_some(nul, sizeof(nul) - 1, &p), -EBADMSG);
        char longl[600];
        memset(longl, ' ', sizeof(longl));
        memcpy(longl, "some avg10=0.00", 15);
        memcpy(longl + sizeof(longl) - 8, "total=1\n", 8);
        assert_int_equal(psi_parse_some(longl, sizeof(longl), &p), -EBADMSG);
        /* not NUL-terminated: the parser reads len bytes only */
        const char cut[] = "some avg10=0.00 avg60=0.00 avg300=0.00 total=123456";
        assert_int_equal(psi_parse_some(cut, sizeof(cut) - 4, &p), 0);
        assert_int_equal(p.total, 123);
}

static void test_percent(void **state) {
        assert_true(psi_percent(1000, 251000, 1000000) == 25);
        assert_true(psi_percent(0, 5000000, 1000000) == 100); /* never past the span */
        assert_true(psi_percent(5000, 1000, 1000000) == 0);   /* a total that went back */
        assert_true(psi_percent(0, 1000, 0) == 0);            /* no span */
        assert_string_equal(psi_resource_to_string(PSI_MEMORY), "memory");
        assert_null(psi_resource_to_string(_PSI_RESOURCE_MAX));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kernel_files),
                cmocka_unit_test(test_hostile),
                cmocka_unit_test(test_percent),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
