/* Unit tests for src/basic/base64.c: RFC 4648's vectors both ways, and a strict decoder. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/base64.h"
#include "basic/macro.h"

static void test_vectors(void **state) {
        static const char *const vec[][2] = {
                {"", ""},
                {"f", "Zg=="},
                {"fo", "Zm8="},
                {"foo", "Zm9v"},
                {"foob", "Zm9vYg=="},
                {"fooba", "Zm9vYmE="},
                {"foobar", "Zm9vYmFy"},
        };
        for (size_t i = 0; i < ELEMENTSOF(vec); i++) {
                char *text;
                assert_int_equal(base64_encode((const uint8_t *) vec[i][0], strlen(vec[i][0]), &text), 0);
                assert_string_equal(text, vec[i][1]);
                free(text);
                uint8_t *bytes;
                size_t len;
                assert_int_equal(base64_decode(vec[i][1], strlen(vec[i][1]), &bytes, &len), 0);
                assert_int_equal(len, strlen(vec[i][0]));
                assert_memory_equal(bytes ?: (uint8_t *) "", vec[i][0], len);
                free(bytes);
        }
        /* every byte value */
        uint8_t all[256];
        for (size_t i = 0; i < sizeof(all); i++)
                all[i] = (uint8_t) i;
        char *text;
        uint8_t *back;
        size_t len;
        assert_int_equal(base64_encode(all, sizeof(all), &text), 0);
        assert_int_equal(base64_decode(text, strlen(text), &back, &len), 0);
        assert_int_equal(len, sizeof(all));
        assert_memory_equal(back, all, len);
        free(text);
        free(back);
}

static void test_bad(void **state) {
        static const char *const bad[] = {
                "Zg", "Zg=", "Z===", "====", "Zm9v!A==", "Zg=A", "=m9v", "Zm 9v", "Zm9vYg==Zm9v"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                uint8_t *bytes = (uint8_t *) 1;
                size_t len = 7;
                assert_int_equal(base64_decode(bad[i], strlen(bad[i]), &bytes, &len), -EBADMSG);
                assert_null(bytes);
                assert_int_equal(len, 0);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vectors),
                cmocka_unit_test(test_bad),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
