/* Unit tests for the record parser's quick path (src/shared/nixlog-quick.c): which lines
 * take it, which do not, and that whatever the line, parsing it in place gives what the tree
 * parse gives. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "shared/nixlog.h"
#include "test-nixlog-helpers.h"

/* 2^54 + 5: above what a double holds exactly. */
#define BIG_ID     UINT64_C(18014398509481989)
#define BIG_ID_STR "18014398509481989"

static void assert_quick(const char *line, bool expected) {
        NixRecord rec;
        bool quick = !expected;
        int r = parse_both(line, strlen(line), &rec, &quick);
        if (r == 0)
                nix_record_done(&rec);
        if (quick != expected)
                fail_msg("quick path %s: %s", expected ? "not taken" : "taken", line);
}

static void test_quick_path_taken(void **state) {
        NixRecord rec;
        bool quick = false;
        /* The plugin's log line, exactly as src/plugin writes it. */
        const char *line = "{\"action\":\"result\",\"id\":" BIG_ID_STR ",\"type\":101,"
                           "\"fields\":[\"cc -O2 -c main.c \xc3\xa9t\xc3\xa9\"],\"t\":1732480000123456}";
        assert_int_equal(parse_both(line, strlen(line), &rec, &quick), 0);
        assert_true(quick);
        assert_int_equal(rec.action, NIX_ACTION_RESULT);
        assert_int_equal(rec.id, BIG_ID);
        assert_int_equal(rec.type, NIX_RES_BUILD_LOG_LINE);
        assert_field_str(&rec, 0, "cc -O2 -c main.c \xc3\xa9t\xc3\xa9");
        assert_true(rec.has_time);
        assert_int_equal(rec.time_usec, UINT64_C(1732480000123456));
        nix_record_done(&rec);

        /* The same in place: its text is cut out of the line itself. */
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", line);
        assert_int_equal(nix_record_parse_in_place(buf, strlen(line), &rec), 0);
        assert_null(rec.root);
        const char *text;
        assert_int_equal(nix_record_field_str(&rec, 0, &text), 0);
        assert_true(text > buf && text < buf + sizeof(buf));
        nix_record_done(&rec);

        /* Nix's own order and prefix, a stop, progress figures, an empty or full array. */
        assert_quick(
                "@nix {\"action\":\"result\",\"fields\":[\"checking for gcc... gcc\"],\"id\":20444044328965,"
                "\"type\":101}",
                true);
        assert_quick("@nix {\"action\":\"stop\",\"id\":20444044328965}", true);
        assert_quick("{\"action\":\"stop\",\"id\":1,\"t\":2}", true);
        assert_quick("{\"action\":\"result\",\"fields\":[0,1,1,0],\"id\":20444044328962,\"type\":105}",
                     true);
        assert_quick("{\"action\":\"result\",\"fields\":[],\"id\":1,\"type\":101}", true);
        assert_quick("{\"action\":\"result\",\"fields\":[\"\"],\"id\":0,\"type\":101}", true);
        assert_quick("{\"action\":\"result\",\"id\":1,\"type\":104,\"fields\":[\"unpackPhase\"]}", true);
        assert_quick("{\"action\":\"result\",\"id\":18446744073709551614,\"type\":9007199254740991}", true);
}

static void test_quick_path_declines(void **state) {
        /* Each parses as the tree parses it (parse_both), without the quick path. */
        static const char *const lines[] = {
                /* escapes and control bytes, left to cJSON */
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[\"say \\\"hi\\\"\"]}",
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[\"\\u001b[31mred\\u001b[0m\"]}",
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[\"tab\there\"]}",
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[\"bad \xff\xfe utf-8\"]}",
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[\"cut \xc3\"]}",
                /* whitespace anywhere */
                "{\"action\": \"result\",\"id\":1,\"type\":101,\"fields\":[\"x\"]}",
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[\"x\"]} ",
                " {\"action\":\"stop\",\"id\":1}",
                /* other actions, keys, values */
                "{\"action\":\"start\",\"id\":1,\"text\":\"t\",\"type\":105,\"fields\":[\"/d\",1]}",
                "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: x\"}",
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[\"x\"],\"parent\":2}",
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[1,2,3,4,5]}",
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[[\"x\"]]}",
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[true]}",
                "{\"action\":\"result\",\"id\":1,\"type\":105,\"fields\":[-1,0,0,0]}",
                "{\"action\":\"result\",\"id\":1,\"type\":105,\"fields\":[1.5,0,0,0]}",
                "{\"action\":\"result\",\"id\":1,\"type\":105,\"fields\":[9007199254740992,0,0,0]}",
                "{\"action\":\"result\",\"id\":1,\"type\":9007199254740992}",
                "{\"action\":\"result\",\"id\":18446744073709551615,\"type\":101}",
                "{\"action\":\"result\",\"id\":18446744073709551616,\"type\":101}",
                "{\"action\":\"result\",\"id\":1e3,\"type\":101}",
                "{\"action\":\"result\",\"id\":01,\"type\":101}",
                "{\"action\":\"result\",\"id\":-1,\"type\":101}",
                "{\"action\":\"result\",\"id\":null,\"type\":101}",
                "{\"action\":\"result\",\"id\":\"1\",\"type\":101}",
                "{\"action\":\"result\",\"id\":1,\"id\":2,\"type\":101}",
                "{\"action\":\"result\",\"action\":\"stop\",\"id\":1,\"type\":101}",
                "{\"action\":\"result\",\"id\":1}",
                "{\"action\":\"result\",\"type\":101}",
                "{\"id\":1,\"type\":101}",
                "{\"action\":\"Result\",\"id\":1,\"type\":101}",
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[\"x\"]",
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[\"x\"]}}",
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[\"x\"],}",
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[\"x\",]}",
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[\"x]}",
                "{\"action\":\"stop\",\"id\":1,\"t\":-5}",
                "{}",
                "{",
                "",
        };
        for (size_t i = 0; i < ELEMENTSOF(lines); i++)
                assert_quick(lines[i], false);
}

/* Random damage to good lines: whatever the bytes, both ways agree (and AddressSanitizer
 * watches the quick path's reads of an exact-size buffer in parse_both). */
static void test_quick_path_mutations(void **state) {
        static const char *const seeds[] = {
                ("{\"action\":\"result\",\"id\":2251799813685249,\"type\":101,\"fields\":[\"make[2]: ok\"],"
                 "\"t\":1732480000123456}"),
                "@nix {\"action\":\"result\",\"fields\":[0,1,1,0],\"id\":20444044328962,\"type\":105}",
                "{\"action\":\"stop\",\"id\":1,\"t\":2}",
        };
        static const char bytes[] = "\"\\{}[],:0159-.e \x01\x1b\xc3\xa9\xff"
                                    "tanull";
        unsigned seed = 12345;
        char line[256];

        for (unsigned n = 0; n < 30000; n++) {
                const char *from = seeds[n % ELEMENTSOF(seeds)];
                size_t len = strlen(from);
                memcpy(line, from, len);
                for (unsigned k = 1 + rand_r(&seed) % 3; k > 0; k--) {
                        size_t at = (size_t) rand_r(&seed) % len;
                        switch (rand_r(&seed) % 3) {
                        case 0: /* replace a byte */
                                line[at] = bytes[(size_t) rand_r(&seed) % (sizeof(bytes) - 1)];
                                break;
                        case 1: /* delete one */
                                memmove(line + at, line + at + 1, len - at - 1);
                                len--;
                                break;
                        default: /* cut the line short */
                                len = at;
                                break;
                        }
                        if (len == 0)
                                break;
                }
                NixRecord rec;
                if (parse_both(line, len, &rec, NULL) == 0)
                        nix_record_done(&rec);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_quick_path_taken),
                cmocka_unit_test(test_quick_path_declines),
                cmocka_unit_test(test_quick_path_mutations),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
