/* Unit tests for src/tui/help-text.c: the help page names every column, colour, state and
 * failure word from the tables that own them, and wraps within the width. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "shared/fmt.h"
#include "tui/columns.h"
#include "tui/help-text.h"

/* The line whose text starts (after the indent) with term and a space, or NULL. */
static const HelpLine *find_term(const HelpText *h, const char *term) {
        size_t l = strlen(term);
        for (size_t i = 0; i < h->n; i++)
                if (strncmp(h->lines[i].text, "  ", 2) == 0 && strncmp(h->lines[i].text + 2, term, l) == 0 &&
                    (h->lines[i].text[2 + l] == ' ' || h->lines[i].text[2 + l] == '\0'))
                        return &h->lines[i];
        return NULL;
}

static void test_everything_explained(void **state) {
        HelpText h = {};
        assert_int_equal(help_text_build(&h, 79), 0);
        for (size_t i = 0; i < n_columns; i++) {
                const HelpLine *l = find_term(&h, columns[i].title);
                if (!l)
                        fail_msg("column %s not in the help", columns[i].title);
                /* Its description comes from the column table itself. */
                char start[24];
                snprintf(start, sizeof(start), "%.20s", columns[i].help);
                assert_non_null(strstr(l->text, start));
        }
        const char *words, *meaning;
        size_t n = 0;
        for (size_t i = 0; fmt_failure_word(i, &words, &meaning) > 0; i++, n++)
                if (!find_term(&h, words))
                        fail_msg("failure word %s not in the help", words);
        assert_true(n >= 10);
        static const char *const expected[] = {
                "exit N",     "signal N",   "oom-killed",        "dep failed", "not started",
                "no outputs", "timeout",    "cancelled",         "running",    "queued",
                "FROZEN",     "finishing",  "succeeded",         "killed",     "lost",
                "selection",  "dimmed row", "n10 cpu0.5 mem64M", "match",
        };
        for (size_t i = 0; i < ELEMENTSOF(expected); i++)
                if (!find_term(&h, expected[i]))
                        fail_msg("%s not in the help", expected[i]);
        /* A colour's sample is its term, drawn in that colour. */
        const HelpLine *l = find_term(&h, "running");
        assert_non_null(l);
        assert_int_equal(l->sample_at, 2);
        assert_int_equal(l->sample_len, strlen("running"));
        help_text_done(&h);
}

static void test_wraps_to_width(void **state) {
        static const int widths[] = {40, 79, 139};
        for (size_t w = 0; w < ELEMENTSOF(widths); w++) {
                HelpText h = {};
                assert_int_equal(help_text_build(&h, widths[w]), 0);
                assert_true(h.n > 60);
                for (size_t i = 0; i < h.n; i++)
                        if (strlen(h.lines[i].text) > (size_t) widths[w])
                                fail_msg("line wider than %d: '%s'", widths[w], h.lines[i].text);
                /* The last line says how to leave. */
                assert_non_null(strstr(h.lines[h.n - 1].text, "end of help"));
                help_text_done(&h);
        }
        /* Words are not cut: a description's continuation starts at a word. */
        HelpText h = {};
        assert_int_equal(help_text_build(&h, 79), 0);
        const HelpLine *l = find_term(&h, "CPU%");
        assert_non_null(l);
        const char *next = (l + 1)->text;
        assert_true(strncmp(next, "                  ", 18) == 0 && next[18] != ' ');
        assert_true(l->text[strlen(l->text) - 1] != ' ');
        help_text_done(&h);
}

static void test_failure_words(void **state) {
        char b[32];
        assert_string_equal(fmt_state_why(b, sizeof(b), "failed", "exit-code", 3, FMT_NONE), "exit 3");
        assert_string_equal(fmt_state_why(b, sizeof(b), "failed", "signal", FMT_NONE, 9), "signal 9");
        /* Without its figure, exit-code is not "exit N". */
        assert_string_equal(fmt_state_why(b, sizeof(b), "failed", "exit-code", FMT_NONE, FMT_NONE),
                            "failed");
        assert_string_equal(fmt_state_why(b, sizeof(b), "failed", "oom-killed", FMT_NONE, FMT_NONE),
                            "oom-killed");
        const char *words, *meaning;
        assert_int_equal(fmt_failure_word(0, &words, &meaning), 1);
        assert_string_equal(words, "exit N");
        assert_int_equal(fmt_failure_word(1000, &words, &meaning), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_everything_explained),
                cmocka_unit_test(test_wraps_to_width),
                cmocka_unit_test(test_failure_words),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
