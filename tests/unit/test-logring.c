/* Unit tests for src/shared/logring.c: lines in one arena per ring (wraparound, lines that do
 * not fit where the ring ends, lines bigger than the ring, empty lines, UTF-8), and the
 * budget that takes memory from the largest rings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "shared/logring.h"

/* The lines of ring, oldest first, must be want[0..n). */
static void assert_lines(const LogRing *ring, const char *const *want, uint32_t n) {
        assert_int_equal(ring->count, n);
        uint64_t bytes = 0;
        for (uint32_t i = 0; i < n; i++) {
                assert_string_equal(log_ring_line(ring, i), want[i]);
                bytes += strlen(want[i]);
        }
        assert_null(log_ring_line(ring, n));
        assert_int_equal(ring->bytes, bytes);
}

static void test_push_in_order(void **state) {
        LogRing r = {};
        assert_null(log_ring_line(&r, 0));
        assert_int_equal(log_ring_memory(&r), 0);
        assert_int_equal(log_ring_push(&r, NULL, 3, "one"), 0);
        assert_int_equal(log_ring_push(&r, NULL, 3, ""), 0);
        assert_int_equal(log_ring_push(&r, NULL, 3, "three"), 0);
        assert_lines(&r, (const char *[]){"one", "", "three"}, 3);
        assert_int_equal(log_ring_push(&r, NULL, 3, "four"), 0);
        assert_lines(&r, (const char *[]){"", "three", "four"}, 3);
        assert_int_equal(r.total, 4);
        assert_true(log_ring_memory(&r) > 0);
        log_ring_done(&r);
        assert_int_equal(r.count, 0);
        assert_int_equal(r.total, 0);
        assert_null(r.mem);
}

/* Against a plain array of copies: lines of every length from 0 to a few hundred bytes, so
 * that lines meet the arena's end at every offset and wrap, and the arena grows. */
static void test_wraparound_against_copies(void **state) {
        enum { CAP = 37, N = 5000 };
        LogRing r = {};
        char *want[CAP] = {};
        uint32_t n = 0;
        srand(7);
        for (int i = 0; i < N; i++) {
                size_t len = (size_t) (rand() % (i < N / 2 ? 40 : 400));
                char *line = malloc(len + 1);
                assert_non_null(line);
                for (size_t k = 0; k < len; k++)
                        line[k] = (char) ('a' + (i + (int) k) % 26);
                line[len] = 0;
                assert_int_equal(log_ring_push(&r, NULL, CAP, line), 0);
                if (n == CAP) {
                        free(want[0]);
                        memmove(want, want + 1, (CAP - 1) * sizeof(char *));
                        n--;
                }
                want[n++] = line;
                assert_lines(&r, (const char *const *) want, n);
        }
        assert_int_equal(r.total, N);
        /* No more memory than twice the lines' need (the arena doubles, a quarter spare). */
        assert_true(log_ring_memory(&r) <= 4 * (r.bytes + r.count) + CAP * 2 * sizeof(uint32_t) + 256);
        for (uint32_t i = 0; i < n; i++)
                free(want[i]);
        log_ring_done(&r);
}

/* A line longer than the room left before the arena's end goes to its start; one longer
 * than the whole arena makes it grow, and the older lines stay. */
static void test_line_longer_than_room(void **state) {
        LogRing r = {};
        char big[300], huge[2000];
        memset(big, 'b', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        memset(huge, 'h', sizeof(huge) - 1);
        huge[sizeof(huge) - 1] = 0;

        assert_int_equal(log_ring_push(&r, NULL, 4, "x"), 0);
        uint32_t size = r.size;
        assert_true(size >= 256 && size < 2000);
        /* Fill the arena until the next line must wrap. */
        for (int i = 0; i < 30; i++)
                assert_int_equal(log_ring_push(&r, NULL, 4, "0123456789"), 0);
        assert_int_equal(log_ring_push(&r, NULL, 4, big), 0);
        assert_lines(&r, (const char *[]){"0123456789", "0123456789", "0123456789", big}, 4);
        assert_int_equal(log_ring_push(&r, NULL, 4, huge), 0);
        assert_lines(&r, (const char *[]){"0123456789", "0123456789", big, huge}, 4);
        assert_true(r.size >= sizeof(huge));
        assert_int_equal(log_ring_push(&r, NULL, 4, "tail"), 0);
        assert_lines(&r, (const char *[]){"0123456789", big, huge, "tail"}, 4);
        log_ring_done(&r);
}

/* A line past LOG_LINE_MAX keeps its first bytes, cut before a UTF-8 character, then the
 * mark; other bytes, invalid UTF-8 included, are kept as they came. */
static void test_truncation_and_utf8(void **state) {
        LogRing r = {};
        char *line = malloc(LOG_LINE_MAX + 100);
        assert_non_null(line);
        memset(line, 'a', LOG_LINE_MAX - 1);
        memcpy(line + LOG_LINE_MAX - 1, "\xc3\xa9", 2); /* é across the limit */
        memset(line + LOG_LINE_MAX + 1, 'z', 98);
        line[LOG_LINE_MAX + 99] = 0;
        assert_int_equal(log_ring_push(&r, NULL, 10, line), 0);
        const char *kept = log_ring_line(&r, 0);
        assert_int_equal(strlen(kept), LOG_LINE_MAX - 1 + strlen(LOG_LINE_TRUNCATED));
        assert_memory_equal(kept, line, LOG_LINE_MAX - 1);
        assert_string_equal(kept + LOG_LINE_MAX - 1, LOG_LINE_TRUNCATED);

        /* exactly LOG_LINE_MAX: kept whole */
        line[LOG_LINE_MAX] = 0;
        assert_int_equal(log_ring_push(&r, NULL, 10, line), 0);
        assert_string_equal(log_ring_line(&r, 1), line);

        /* a whole character ending at the limit stays; a 4-byte one cut after 3 goes */
        memcpy(line + LOG_LINE_MAX - 2, "\xc3\xa9", 2);
        line[LOG_LINE_MAX] = 'z';
        assert_int_equal(log_ring_push(&r, NULL, 10, line), 0);
        kept = log_ring_line(&r, 2);
        assert_memory_equal(kept, line, LOG_LINE_MAX);
        assert_string_equal(kept + LOG_LINE_MAX, LOG_LINE_TRUNCATED);
        memcpy(line + LOG_LINE_MAX - 3, "\xf0\x9f\x90\xa7", 4);
        assert_int_equal(log_ring_push(&r, NULL, 10, line), 0);
        kept = log_ring_line(&r, 3);
        assert_int_equal(strlen(kept), LOG_LINE_MAX - 3 + strlen(LOG_LINE_TRUNCATED));
        assert_memory_equal(kept, line, LOG_LINE_MAX - 3);

        /* not UTF-8 at all (continuation bytes only): cut at the limit, not emptied */
        memset(line, 0x80, LOG_LINE_MAX + 10);
        line[LOG_LINE_MAX + 10] = 0;
        assert_int_equal(log_ring_push(&r, NULL, 10, line), 0);
        kept = log_ring_line(&r, 4);
        assert_int_equal(strlen(kept), LOG_LINE_MAX + strlen(LOG_LINE_TRUNCATED));
        assert_memory_equal(kept, line, LOG_LINE_MAX);

        static const char utf8[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7 \xff\xfe bad";
        assert_int_equal(log_ring_push(&r, NULL, 10, utf8), 0);
        assert_string_equal(log_ring_line(&r, 5), utf8);
        free(line);
        log_ring_done(&r);
}

static void test_shrink(void **state) {
        LogRing r = {};
        char line[64];
        for (int i = 0; i < 100; i++) {
                snprintf(line, sizeof(line), "line %d", i);
                assert_int_equal(log_ring_push(&r, NULL, 1000, line), 0);
        }
        uint64_t before = log_ring_memory(&r);
        log_ring_shrink(&r, 3);
        assert_lines(&r, (const char *[]){"line 97", "line 98", "line 99"}, 3);
        assert_int_equal(r.total, 100);
        assert_true(log_ring_memory(&r) < before);
        assert_int_equal(log_ring_memory(&r), 3 * 2 * sizeof(uint32_t) + strlen("line 97") * 3 + 3);
        /* still usable, and grows again */
        assert_int_equal(log_ring_push(&r, NULL, 5, "after"), 0);
        assert_lines(&r, (const char *[]){"line 97", "line 98", "line 99", "after"}, 4);
        log_ring_shrink(&r, 0);
        assert_int_equal(r.count, 0);
        assert_int_equal(log_ring_memory(&r), 0);
        log_ring_done(&r);
}

typedef struct Trimmed {
        LogRing *ring;
        int64_t delta;
        unsigned calls;
} Trimmed;

static void on_trimmed(void *userdata, LogRing *ring, int64_t bytes_delta) {
        Trimmed *t = userdata;
        t->ring = ring;
        t->delta += bytes_delta;
        t->calls++;
}

static uint64_t sum_memory(LogRing *rings, size_t n) {
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++)
                sum += log_ring_memory(&rings[i]);
        return sum;
}

/* A new ring's lines take their room from the largest ring; the budget holds after every
 * line; every ring keeps its newest lines in order. */
static void test_budget_takes_from_largest(void **state) {
        Trimmed t = {};
        LogBudget b = {.limit = 16384, .trimmed = on_trimmed, .userdata = &t};
        LogRing rings[3] = {};
        char line[128];

        /* ring 0 alone takes all the budget */
        for (int i = 0; i < 1000; i++) {
                snprintf(line, sizeof(line), "zero %04d %s", i,
                         "................................................");
                assert_int_equal(log_ring_push(&rings[0], &b, 1000, line), 0);
                assert_true(b.used <= b.limit);
                assert_int_equal(b.used, sum_memory(rings, 3));
        }
        assert_int_equal(t.calls, 0); /* it only recycled its own lines */
        assert_true(rings[0].count > 100 && rings[0].count < 1000);
        assert_int_equal(rings[0].total, 1000);
        assert_string_equal(log_ring_line(&rings[0], rings[0].count - 1), line);
        uint64_t dropped = b.dropped;
        assert_int_equal(dropped, rings[0].total - rings[0].count);

        /* ring 1 and 2 grow: ring 0 gives */
        for (int i = 0; i < 1000; i++)
                for (int k = 1; k < 3; k++) {
                        snprintf(line, sizeof(line), "ring %d line %04d %s", k, i, "....................");
                        assert_int_equal(log_ring_push(&rings[k], &b, 1000, line), 0);
                        assert_true(b.used <= b.limit);
                        assert_int_equal(b.used, sum_memory(rings, 3));
                        assert_string_equal(log_ring_line(&rings[k], rings[k].count - 1), line);
                }
        assert_int_equal(b.n_rings, 3);
        for (int k = 0; k < 3; k++)
                print_message("ring %d: %u lines, %llu bytes of memory\n", k, rings[k].count,
                              (unsigned long long) log_ring_memory(&rings[k]));
        assert_true(t.calls > 0);
        assert_true(t.delta < 0);
        /* Shared about evenly: no ring holds more than twice another's memory. */
        for (int k = 0; k < 3; k++)
                for (int j = 0; j < 3; j++)
                        assert_true(log_ring_memory(&rings[k]) <= 2 * log_ring_memory(&rings[j]) + 1024);
        uint64_t dropped_all = 0;
        for (int k = 0; k < 3; k++) {
                dropped_all += rings[k].total - rings[k].count;
                /* the newest lines, in order */
                for (uint32_t i = 1; i < rings[k].count; i++)
                        assert_true(strcmp(log_ring_line(&rings[k], i - 1), log_ring_line(&rings[k], i)) <
                                    0);
        }
        assert_int_equal(b.dropped, dropped_all);

        log_ring_done(&rings[0]);
        assert_int_equal(b.used, sum_memory(rings, 3));
        assert_int_equal(b.n_rings, 2);
        log_ring_shrink(&rings[1], 2);
        assert_int_equal(b.used, sum_memory(rings, 3));
        log_ring_done(&rings[1]);
        log_ring_done(&rings[2]);
        assert_int_equal(b.used, 0);
        assert_int_equal(b.n_rings, 0);
        assert_null(b.heap);
}

/* A budget smaller than one line: each ring still keeps its newest line. */
static void test_budget_smaller_than_a_line(void **state) {
        LogBudget b = {.limit = 16};
        LogRing rings[2] = {};
        char line[200];
        memset(line, 'l', sizeof(line) - 1);
        line[sizeof(line) - 1] = 0;
        for (int i = 0; i < 10; i++) {
                line[0] = (char) ('0' + i);
                assert_int_equal(log_ring_push(&rings[i % 2], &b, 100, line), 0);
                assert_int_equal(rings[i % 2].count, 1);
                assert_string_equal(log_ring_line(&rings[i % 2], 0), line);
        }
        assert_int_equal(b.used, sum_memory(rings, 2));
        assert_true(b.used <= 2 * (2 * sizeof(uint32_t) + sizeof(line)));
        log_ring_done(&rings[0]);
        log_ring_done(&rings[1]);
        assert_int_equal(b.used, 0);
}

/* Many rings under one budget (the daemon's case): memory stays within it. */
static void test_budget_many_rings(void **state) {
        enum { RINGS = 200, LINES = 300 };
        LogBudget b = {.limit = 256 << 10};
        LogRing *rings = calloc(RINGS, sizeof(LogRing));
        assert_non_null(rings);
        char line[160];
        for (int i = 0; i < LINES; i++)
                for (int k = 0; k < RINGS; k++) {
                        snprintf(line, sizeof(line), "build %d line %d %.*s", k, i, (i * 7 + k) % 100,
                                 "...................................................................."
                                 "................................");
                        assert_int_equal(log_ring_push(&rings[k], &b, 1000, line), 0);
                }
        assert_true(b.used <= b.limit);
        assert_int_equal(b.used, sum_memory(rings, RINGS));
        for (int k = 0; k < RINGS; k++) {
                assert_true(rings[k].count >= 1);
                snprintf(line, sizeof(line), "build %d line %d %.*s", k, LINES - 1,
                         (LINES * 7 - 7 + k) % 100,
                         "...................................................................."
                         "................................");
                assert_string_equal(log_ring_line(&rings[k], rings[k].count - 1), line);
        }
        for (int k = 0; k < RINGS; k++)
                log_ring_done(&rings[k]);
        assert_int_equal(b.used, 0);
        free(rings);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_push_in_order),
                cmocka_unit_test(test_wraparound_against_copies),
                cmocka_unit_test(test_line_longer_than_room),
                cmocka_unit_test(test_truncation_and_utf8),
                cmocka_unit_test(test_shrink),
                cmocka_unit_test(test_budget_takes_from_largest),
                cmocka_unit_test(test_budget_smaller_than_a_line),
                cmocka_unit_test(test_budget_many_rings),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
