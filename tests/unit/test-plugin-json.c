/* Unit tests for the plugin's own JSON writer (src/plugin/json.c) and its process
 * classification (src/plugin/ident.c): output is always valid JSON and valid UTF-8, what
 * was valid comes back unchanged, a full buffer says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "plugin/ident.h"
#include "plugin/json.h"

/* Writes s as a JSON string, checks the output is valid UTF-8 and parses back to expected. */
static void assert_str(const char *s, size_t n, const char *expected) {
        char buf[4096];
        JsonOut w;
        json_out_init(&w, buf, sizeof(buf) - 1);
        json_out_str(&w, s, n);
        assert_false(w.overflow);
        buf[w.len] = '\0';
        assert_true(utf8_is_valid(buf, w.len));
        cJSON *j = cJSON_Parse(buf);
        assert_non_null(j);
        assert_true(cJSON_IsString(j));
        assert_string_equal(j->valuestring, expected);
        cJSON_Delete(j);
}

static void test_plain_and_escapes(void **state) {
        assert_str("", 0, "");
        assert_str("building '/nix/store/x.drv'", 27, "building '/nix/store/x.drv'");
        assert_str("a\"b\\c\nd\te\r", 10, "a\"b\\c\nd\te\r");
        assert_str("\x1b[31mred\x1b[0m", 12, "\x1b[31mred\x1b[0m");
        assert_str("\x01\x1f\x7f", 3, "\x01\x1f\x7f");
}

static void test_utf8(void **state) {
        assert_str("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15,
                   "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
        /* invalid: lone continuation, truncated, overlong, surrogate, > U+10FFFF, 0xff */
        assert_str("a\x80z", 3, "a\xef\xbf\xbdz");
        assert_str("a\xe2\x82", 3, "a\xef\xbf\xbd\xef\xbf\xbd");
        assert_str("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd");
        assert_str("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
        assert_str("\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
        assert_str("\xff", 1, "\xef\xbf\xbd");
        /* an embedded NUL is data, escaped */
        assert_str("a\0b", 3, "a");
}

static void test_every_byte(void **state) {
        char in[256];
        char buf[256 * 6 + 2];
        JsonOut w;
        for (int i = 0; i < 256; i++)
                in[i] = (char) i;
        json_out_init(&w, buf, sizeof(buf));
        json_out_str(&w, in, sizeof(in));
        assert_false(w.overflow);
        assert_true(utf8_is_valid(buf, w.len));
        cJSON *j = cJSON_ParseWithLength(buf, w.len);
        assert_non_null(j);
        cJSON_Delete(j);
}

static void test_numbers_and_overflow(void **state) {
        char buf[64];
        JsonOut w;
        json_out_init(&w, buf, sizeof(buf));
        json_out_u64(&w, UINT64_MAX);
        json_out_lit(&w, " ");
        json_out_i64(&w, INT64_MIN);
        json_out_lit(&w, " ");
        json_out_u64(&w, 0);
        assert_false(w.overflow);
        assert_memory_equal(buf, "18446744073709551615 -9223372036854775808 0", w.len);

        json_out_init(&w, buf, 4);
        json_out_str(&w, "abcdef", 6);
        assert_true(w.overflow);
        assert_true(w.len <= 4);
}

/* Strings are scanned 8 bytes at a time: a byte that needs care must be found at every
 * position of a word, in strings of every length around word sizes. */
static void test_word_positions(void **state) {
        static const struct {
                const char *in, *out;
        } special[] = {
                {"\"", "\""},
                {"\\", "\\"},
                {"\n", "\n"},
                {"\x1f", "\x1f"},
                {" ", " "},
                {"\x7f", "\x7f"},
                {"~", "~"},
                {"\x80", "\xef\xbf\xbd"},
                {"\xc3\xa9", "\xc3\xa9"},
                {"\xff", "\xef\xbf\xbd"},
        };
        char in[64], expected[128];

        for (size_t k = 0; k < sizeof(special) / sizeof(special[0]); k++)
                for (size_t n = 1; n <= 40; n++)
                        for (size_t at = 0; at < n; at++) {
                                size_t sl = strlen(special[k].in), ol = strlen(special[k].out);
                                memset(in, 'a', n);
                                memcpy(in + at, special[k].in, sl);
                                size_t len = MAX(n, at + sl);
                                memset(expected, 'a', at);
                                memcpy(expected + at, special[k].out, ol);
                                memset(expected + at + ol, 'a', len - at - sl);
                                expected[at + ol + len - at - sl] = '\0';
                                assert_str(in, len, expected);
                        }
}

static void test_plain_is_copied(void **state) {
        char buf[128];
        JsonOut w;
        const char *s = "bench line 12345: some text of a usual build log line length, like a compiler";
        json_out_init(&w, buf, sizeof(buf));
        json_out_str(&w, s, strlen(s));
        assert_false(w.overflow);
        assert_int_equal(w.len, strlen(s) + 2);
        assert_memory_equal(buf + 1, s, strlen(s));
}

static void test_digits(void **state) {
        char buf[128];
        JsonOut w;
        json_out_init(&w, buf, sizeof(buf));
        json_out_u64_digits(&w, 42, 6);
        json_out_lit(&w, " ");
        json_out_u64_digits(&w, 999999, 6);
        json_out_lit(&w, " ");
        json_out_u64_digits(&w, 7, 1);
        json_out_lit(&w, " ");
        json_out_u64_digits(&w, 5, 5);
        json_out_lit(&w, " ");
        for (uint64_t v = 1; v <= 1000000000000ULL; v *= 10) {
                json_out_u64(&w, v - 1);
                json_out_lit(&w, ",");
        }
        assert_false(w.overflow);
        const char *want = "000042 999999 7 00005 0,9,99,999,9999,99999,999999,9999999,99999999,999999999,"
                           "9999999999,99999999999,999999999999,";
        assert_int_equal(w.len, strlen(want));
        assert_memory_equal(buf, want, w.len);
}

#define KIND(s) ident_kind_from_cmdline(s, sizeof(s) - 1)

static void test_ident_kind(void **state) {
        assert_int_equal(KIND("/usr/libexec/nix/build-remote\0"
                              "4\0"),
                         IDENT_BUILD_HOOK);
        assert_int_equal(KIND("nix\0__build-remote\0"
                              "4\0"),
                         IDENT_BUILD_HOOK);
        assert_int_equal(KIND("/usr/bin/nix-daemon\0--option\0x\0y\0"), IDENT_NIX_DAEMON);
        assert_int_equal(KIND("nix-daemon\0"), IDENT_NIX_DAEMON);
        assert_int_equal(KIND("/bin/nix\0daemon\0"), IDENT_NIX_DAEMON);
        assert_int_equal(KIND("nix-daemon\0--option\0a\0b\0--stdio\0"), IDENT_NIX_DAEMON_STDIO);
        assert_int_equal(KIND("/bin/nix\0daemon\0--stdio\0"), IDENT_NIX_DAEMON_STDIO);
        assert_int_equal(KIND("nix-daemon\0--stdio"), IDENT_NIX_DAEMON_STDIO); /* no final NUL */
        assert_int_equal(KIND("nix-build\0--stdio\0"), IDENT_NIX);
        assert_int_equal(KIND("nix-daemon\0--stdiox\0"), IDENT_NIX_DAEMON);
        assert_int_equal(KIND("nix-build\0a.nix\0"), IDENT_NIX);
        assert_int_equal(KIND("/bin/nix\0build\0"), IDENT_NIX);
        assert_int_equal(KIND("no-nul-at-all"), IDENT_NIX);
        assert_int_equal(ident_kind_from_cmdline("", 0), IDENT_NIX);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plain_and_escapes), cmocka_unit_test(test_utf8),
                cmocka_unit_test(test_every_byte),        cmocka_unit_test(test_numbers_and_overflow),
                cmocka_unit_test(test_ident_kind),        cmocka_unit_test(test_word_positions),
                cmocka_unit_test(test_plain_is_copied),   cmocka_unit_test(test_digits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
