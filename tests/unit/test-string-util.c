/* Unit tests for src/basic/string-util.c: prefixes, ANSI stripping, UTF-8 checks and repair
 * on the inputs that trip such code up. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "basic/string-util.h"

static void test_parse_u64_prefix(void **state) {
        const char *end = NULL;
        uint64_t v = 7;
        static const char digits[] = "4096\n";
        assert_int_equal(parse_u64_prefix(digits, strlen(digits), &end, &v), 0);
        assert_true(v == 4096);
        assert_ptr_equal(end, digits + 4);
        /* Bounded by len, not by a NUL: "12" of "1234". */
        assert_int_equal(parse_u64_prefix("1234", 2, &end, &v), 0);
        assert_true(v == 12);
        assert_int_equal(parse_u64_prefix("18446744073709551615x", 21, &end, &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(*end, 'x');
        v = 7;
        assert_int_equal(parse_u64_prefix("18446744073709551616", 20, &end, &v), -ERANGE);
        assert_int_equal(parse_u64_prefix("99999999999999999999999", 23, &end, &v), -ERANGE);
        /* What strtoull would take: blanks, signs, nothing at all. */
        static const char *const bad[] = {"", " 1", "+1", "-1", "\t1", "x1", "\n"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(parse_u64_prefix(bad[i], strlen(bad[i]), &end, &v), -EINVAL);
        assert_int_equal(parse_u64_prefix("1", 0, &end, &v), -EINVAL);
        assert_true(v == 7); /* untouched on failure */
}

static void test_safe_atou64(void **state) {
        uint64_t v = 7;
        assert_int_equal(safe_atou64("0", &v), 0);
        assert_true(v == 0);
        assert_int_equal(safe_atou64("000123", &v), 0);
        assert_true(v == 123);
        assert_int_equal(safe_atou64("18446744073709551615", &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(safe_atou64("18446744073709551616", &v), -ERANGE);
        static const char *const bad[] = {"",   " ",    "1 ",  " 1",  "+1",  "-0",
                                          "-1", "0x10", "1e3", "1.0", "12\n"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(safe_atou64(bad[i], &v), -EINVAL);
}

static void test_safe_atoi64(void **state) {
        int64_t v = 7;
        assert_int_equal(safe_atoi64("-20", &v), 0);
        assert_true(v == -20);
        assert_int_equal(safe_atoi64("19", &v), 0);
        assert_true(v == 19);
        assert_int_equal(safe_atoi64("-0", &v), 0);
        assert_true(v == 0);
        assert_int_equal(safe_atoi64("9223372036854775807", &v), 0);
        assert_true(v == INT64_MAX);
        assert_int_equal(safe_atoi64("-9223372036854775808", &v), 0);
        assert_true(v == INT64_MIN);
        assert_int_equal(safe_atoi64("9223372036854775808", &v), -ERANGE);
        assert_int_equal(safe_atoi64("-9223372036854775809", &v), -ERANGE);
        assert_int_equal(safe_atoi64("-18446744073709551616", &v), -ERANGE);
        static const char *const bad[] = {"", "-", "--1", "+1", " -1", "- 1", "-1x", "1-"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(safe_atoi64(bad[i], &v), -EINVAL);
}

static void test_parse_pid(void **state) {
        pid_t pid = 7;
        assert_int_equal(parse_pid("1", &pid), 0);
        assert_int_equal(pid, 1);
        assert_int_equal(parse_pid("2147483647", &pid), 0);
        assert_int_equal(pid, 2147483647);
        assert_int_equal(parse_pid("2147483648", &pid), -ERANGE);
        assert_int_equal(parse_pid("4294967297", &pid), -ERANGE); /* not wrapped to 1 */
        static const char *const bad[] = {"", "0", "self", "-1", "12a", " 12", "thread-self"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(parse_pid(bad[i], &pid), -EINVAL);
        assert_int_equal(pid, 2147483647);
}

static void test_record_value(void **state) {
        static const char events[] = "low 0\nhigh 0\nmax 7\noom 2\noom_kill 3\n";
        size_t n = 99;
        const char *v = record_value(events, strlen(events), '\n', "oom_kill", ' ', &n);
        assert_non_null(v);
        assert_int_equal(n, 1);
        assert_int_equal(*v, '3');
        v = record_value(events, strlen(events), '\n', "oom", ' ', &n); /* not oom_kill's */
        assert_non_null(v);
        assert_int_equal(*v, '2');
        assert_null(record_value(events, strlen(events), '\n', "oo", ' ', &n));
        assert_null(record_value(events, strlen(events), '\n', "max 7", ' ', &n));
        /* Bounded by len: "max 7" is cut off. */
        assert_null(record_value(events, strlen("low 0\nhigh 0\nmax"), '\n', "max", ' ', &n));
        v = record_value(events, strlen("low 0\nhigh 0\nmax "), '\n', "max", ' ', &n);
        assert_non_null(v);
        assert_int_equal(n, 0);

        static const char environ[] = "A=1\0out=/nix/store/x\0empty=\0";
        v = record_value(environ, sizeof(environ) - 1, '\0', "out", '=', &n);
        assert_non_null(v);
        assert_int_equal(n, strlen("/nix/store/x"));
        v = record_value(environ, sizeof(environ) - 1, '\0', "empty", '=', &n);
        assert_non_null(v);
        assert_int_equal(n, 0);
        assert_null(record_value("", 0, '\n', "x", ':', &n));
}

static void test_parse_size(void **state) {
        uint64_t v = 1;
        assert_int_equal(parse_size("0", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(parse_size("65536", &v), 0);
        assert_int_equal(v, 65536);
        assert_int_equal(parse_size("64K", &v), 0);
        assert_int_equal(v, 64 << 10);
        assert_int_equal(parse_size("16M", &v), 0);
        assert_int_equal(v, 16 << 20);
        assert_int_equal(parse_size("2G", &v), 0);
        assert_int_equal(v, UINT64_C(2) << 30);
        assert_int_equal(parse_size("18446744073709551615", &v), 0);
        assert_true(v == UINT64_MAX);

        v = 7;
        static const char *const bad[] = {"",
                                          "M",
                                          "-1",
                                          "1.5M",
                                          "16MB",
                                          "16m",
                                          "16 M",
                                          "1T",
                                          "0x10",
                                          "18446744073709551616",
                                          "17179869184G"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(parse_size(bad[i], &v), -EINVAL);
                assert_int_equal(v, 7);
        }
}

/* Strips a copy of s and checks the result and the returned length. */
static void assert_strip(const char *s, const char *expected) {
        char *copy = strdup(s);
        assert_non_null(copy);
        size_t n = ansi_strip(copy);
        assert_string_equal(copy, expected);
        assert_int_equal(n, strlen(expected));
        free(copy);
}

static void assert_sanitize(const char *in, size_t len, const char *expected, size_t expected_len) {
        char *out = NULL;
        size_t n = 0;
        assert_int_equal(utf8_sanitize(in, len, &out, &n), 0);
        assert_int_equal(n, expected_len);
        assert_memory_equal(out, expected, expected_len);
        assert_int_equal(out[n], '\0');
        assert_true(utf8_is_valid(out, n));
        free(out);
}

#define VALID(s)   assert_true(utf8_is_valid(s, sizeof(s) - 1))
#define INVALID(s) assert_false(utf8_is_valid(s, sizeof(s) - 1))

static void test_startswith(void **state) {
        const char *s = "@nix {\"action\":\"stop\"}";

        assert_ptr_equal(startswith(s, "@nix "), s + 5);
        assert_ptr_equal(startswith(s, ""), s);
        assert_null(startswith(s, "@nix  "));
        assert_null(startswith("@ni", "@nix "));
        assert_null(startswith("", "@"));
        assert_string_equal(startswith("/nix/store/abc", "/nix/store/"), "abc");
}

static void test_ansi_strip_plain(void **state) {
        assert_strip("", "");
        assert_strip("plain text", "plain text");
        assert_strip("caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac");
        assert_strip("[31m not an escape without ESC", "[31m not an escape without ESC");
}

static void test_ansi_strip_csi(void **state) {
        /* What Nix writes around "error:" and store paths. */
        assert_strip("\033[31;1merror:\033[0m builder for '\033[35;1m/nix/store/x.drv\033[0m' failed",
                     "error: builder for '/nix/store/x.drv' failed");
        assert_strip("\033[0m", "");
        assert_strip("\033[m", "");
        assert_strip("\033[?25lhidden cursor\033[?25h", "hidden cursor");
        assert_strip("\033[2K\033[1Gprogress", "progress");
        assert_strip("\033[38;2;255;0;0mtruecolor", "truecolor");
        assert_strip("a\033[1mb\033[0mc\033[4md", "abcd");
        /* Non-ASCII bytes among the parameters are part of the sequence. */
        assert_strip("\033[\xc3\xa9mx", "x");
}

static void test_ansi_strip_osc(void **state) {
        assert_strip("\033]0;window title\007after", "after");
        assert_strip("\033]8;;http://example.org\033\\link\033]8;;\033\\", "link");
        assert_strip("x\033]2;t\033\\y", "xy");
}

static void test_ansi_strip_two_byte(void **state) {
        assert_strip("\033=keypad\033>", "keypad");
        assert_strip("\033cxy", "xy");
        assert_strip("\0337saved\0338", "saved");
}

static void test_ansi_strip_intermediates(void **state) {
        /* ESC, intermediate bytes 0x20..0x2f, then a final byte (ECMA-35 "nF" sequences).
         * "ESC ( B" is what `tput sgr0` prints on xterm, so it is common in build output. */
        assert_strip("\033(Bx", "x");
        assert_strip("\033(B\033[mnormal", "normal");
        assert_strip("\033)0\033#8x", "x");
}

static void test_ansi_strip_truncated(void **state) {
        /* Sequences cut off by the end of the string remove what is there and stop. */
        assert_strip("abc\033", "abc");
        assert_strip("abc\033[", "abc");
        assert_strip("abc\033[12;3", "abc");
        assert_strip("abc\033]title", "abc");
        assert_strip("abc\033]title\033", "abc");
        assert_strip("\033", "");
}

static void test_ansi_strip_odd(void **state) {
        char s[] = "\033\033[1mx\033\033";
        ansi_strip(s);
        assert_null(strchr(s, '\033'));

        /* "ESC <UTF-8 lead byte>" is taken as a two-byte sequence: the continuation byte is
         * left alone and the result is not valid UTF-8. Callers that need valid UTF-8 strip
         * first and repair afterwards (as nixlog.c does). */
        char t[] = "\033\xc3\xa9z";
        size_t n = ansi_strip(t);
        assert_string_equal(t, "\xa9z");
        assert_false(utf8_is_valid(t, n));
}

static void test_utf8_valid(void **state) {
        assert_true(utf8_is_valid("", 0));
        VALID("plain ascii\t\r\n");
        VALID("\xc2\x80");         /* U+0080, the first 2-byte */
        VALID("\xc3\xa9");         /* é */
        VALID("\xdf\xbf");         /* U+07FF */
        VALID("\xe0\xa0\x80");     /* U+0800, the first 3-byte */
        VALID("\xe2\x82\xac");     /* € */
        VALID("\xed\x9f\xbf");     /* U+D7FF, just below the surrogates */
        VALID("\xee\x80\x80");     /* U+E000, just above */
        VALID("\xef\xbf\xbd");     /* U+FFFD */
        VALID("\xef\xbf\xbf");     /* U+FFFF */
        VALID("\xf0\x90\x80\x80"); /* U+10000, the first 4-byte */
        VALID("\xf0\x9f\x98\x80"); /* 😀 */
        VALID("\xf4\x8f\xbf\xbf"); /* U+10FFFF, the last code point */
        VALID("a\0b");             /* NUL is a character like any other */
}

static void test_utf8_invalid(void **state) {
        INVALID("\x80"); /* lone continuation bytes */
        INVALID("\xbf");
        INVALID("a\x80z");
        INVALID("\xc0\x80"); /* overlong NUL */
        INVALID("\xc0\xaf"); /* overlong '/' */
        INVALID("\xc1\xbf");
        INVALID("\xe0\x80\x80"); /* overlong 3-byte */
        INVALID("\xe0\x9f\xbf");
        INVALID("\xf0\x80\x80\x80"); /* overlong 4-byte */
        INVALID("\xf0\x8f\xbf\xbf");
        INVALID("\xed\xa0\x80");             /* U+D800, a surrogate */
        INVALID("\xed\xbf\xbf");             /* U+DFFF */
        INVALID("\xed\xa0\xbd\xed\xb8\x80"); /* a CESU-8 surrogate pair */
        INVALID("\xf4\x90\x80\x80");         /* U+110000 */
        INVALID("\xf5\x80\x80\x80");
        INVALID("\xf8\x88\x80\x80\x80"); /* old 5-byte form */
        INVALID("\xfe");
        INVALID("\xff");
        INVALID("\xc3"); /* truncated at the end */
        INVALID("\xe2\x82");
        INVALID("\xf0\x9f\x98");
        INVALID("\xc3\x28"); /* a continuation byte missing in the middle */
        INVALID("\xe2\x28\xa1");
        INVALID("\xe2\x82\x28");
        INVALID("\xf0\x28\x8c\xbc");

        /* The length bounds the check: a sequence cut by len is invalid even if the bytes
         * after len would complete it. */
        assert_false(utf8_is_valid("\xc3\xa9", 1));
        assert_false(utf8_is_valid("\xf0\x9f\x98\x80", 3));
        assert_true(utf8_is_valid("ab\xff", 2));
}

/* ASCII is checked eight bytes at a time: a bad byte or sequence at any offset of a long
 * ASCII run, on either side of a word boundary and in the tail, is still found. */
static void test_utf8_in_ascii_runs(void **state) {
        static const char *const seqs[] = {"\xff", "\x80", "\xc3", "\xed\xa0\x80", "\xf0\x9f\x98"};
        static const char *const good[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
        char buf[64];

        for (size_t len = 0; len <= 40; len++) {
                memset(buf, 'a', len);
                assert_true(utf8_is_valid(buf, len));
                for (size_t at = 0; at < len; at++)
                        for (size_t k = 0; k < ELEMENTSOF(seqs); k++) {
                                size_t n = strlen(seqs[k]);
                                if (at + n > len)
                                        continue;
                                memset(buf, 'a', len);
                                memcpy(buf + at, seqs[k], n);
                                if (utf8_is_valid(buf, len))
                                        fail_msg("'%s' at %zu of %zu taken as valid", seqs[k], at, len);
                        }
                for (size_t at = 0; at < len; at++)
                        for (size_t k = 0; k < ELEMENTSOF(good); k++) {
                                size_t n = strlen(good[k]);
                                if (at + n > len)
                                        continue;
                                memset(buf, 'a', len);
                                memcpy(buf + at, good[k], n);
                                if (!utf8_is_valid(buf, len))
                                        fail_msg("'%s' at %zu of %zu taken as invalid", good[k], at, len);
                        }
        }
}

static void test_utf8_sanitize(void **state) {
        assert_sanitize("", 0, "", 0);
        assert_sanitize("hello", 5, "hello", 5);
        assert_sanitize("caf\xc3\xa9", 5, "caf\xc3\xa9", 5);
        assert_sanitize("\xff", 1, "\xef\xbf\xbd", 3);
        assert_sanitize("caf\xe9!", 5, "caf\xef\xbf\xbd!", 7);
        assert_sanitize("a\xc3", 2, "a\xef\xbf\xbd", 4);
        /* Each byte of an ill-formed sequence becomes one U+FFFD. */
        assert_sanitize("\xe2\x82", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6);
        assert_sanitize("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 9);
        assert_sanitize("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6);
        /* The byte after a broken sequence starts afresh. */
        assert_sanitize("\xc3\x28", 2, "\xef\xbf\xbd(", 4);
        assert_sanitize("\xe2\x28\xa1", 3, "\xef\xbf\xbd(\xef\xbf\xbd", 7);
        /* NUL bytes are kept; only len says where the input ends. */
        assert_sanitize("a\0b", 3, "a\0b", 3);
        assert_sanitize("\xc3\xa9"
                        "xyz",
                        1, "\xef\xbf\xbd", 3);
}

static void test_utf8_sanitize_worst_case(void **state) {
        size_t n = 4096;
        char *in = malloc(n);
        char *out = NULL;
        size_t out_len = 0;

        assert_non_null(in);
        memset(in, 0xff, n);
        assert_int_equal(utf8_sanitize(in, n, &out, &out_len), 0);
        assert_int_equal(out_len, 3 * n);
        for (size_t i = 0; i < n; i++)
                assert_memory_equal(out + 3 * i, "\xef\xbf\xbd", 3);
        assert_int_equal(out[out_len], '\0');
        free(out);

        /* ret_len may be NULL. */
        assert_int_equal(utf8_sanitize("ok", 2, &out, NULL), 0);
        assert_string_equal(out, "ok");
        free(out);
        free(in);
}

static void test_utf8_sanitize_every_byte(void **state) {
        /* Every single byte value, alone and in front of ASCII: the result is always valid, and
         * unchanged exactly when the input was valid. */
        for (unsigned b = 0; b < 256; b++) {
                char in[2] = {(char) b, 'x'};
                char *out = NULL;
                size_t n = 0;

                assert_int_equal(utf8_sanitize(in, 2, &out, &n), 0);
                assert_true(utf8_is_valid(out, n));
                if (utf8_is_valid(in, 2)) {
                        assert_int_equal(n, 2);
                        assert_memory_equal(out, in, 2);
                } else {
                        assert_int_equal(n, 4);
                        assert_memory_equal(out, "\xef\xbf\xbdx", 4);
                }
                free(out);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_startswith),
                cmocka_unit_test(test_ansi_strip_plain),
                cmocka_unit_test(test_ansi_strip_csi),
                cmocka_unit_test(test_ansi_strip_osc),
                cmocka_unit_test(test_ansi_strip_two_byte),
                cmocka_unit_test(test_ansi_strip_intermediates),
                cmocka_unit_test(test_ansi_strip_truncated),
                cmocka_unit_test(test_ansi_strip_odd),
                cmocka_unit_test(test_utf8_valid),
                cmocka_unit_test(test_utf8_invalid),
                cmocka_unit_test(test_utf8_in_ascii_runs),
                cmocka_unit_test(test_parse_size),
                cmocka_unit_test(test_parse_u64_prefix),
                cmocka_unit_test(test_safe_atou64),
                cmocka_unit_test(test_safe_atoi64),
                cmocka_unit_test(test_parse_pid),
                cmocka_unit_test(test_record_value),
                cmocka_unit_test(test_utf8_sanitize),
                cmocka_unit_test(test_utf8_sanitize_worst_case),
                cmocka_unit_test(test_utf8_sanitize_every_byte),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
