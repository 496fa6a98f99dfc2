/* Unit tests for src/shared/fmt.c, columns.c, yank.c (OSC 52) and prompt.c. */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "tui/columns.h"
#include "shared/fmt.h"
#include "tui/keys.h"
#include "tui/prompt.h"
#include "tui/yank.h"

static void test_units(void **state) {
        char b[32];
        assert_string_equal(fmt_duration(b, sizeof(b), 0), "0s");
        assert_string_equal(fmt_duration(b, sizeof(b), 42.4), "42s");
        assert_string_equal(fmt_duration(b, sizeof(b), 185), "3m05s");
        assert_string_equal(fmt_duration(b, sizeof(b), 3720), "1h02m");
        assert_string_equal(fmt_duration(b, sizeof(b), 2 * 86400 + 3 * 3600), "2d03h");
        assert_string_equal(fmt_duration(b, sizeof(b), -1), "-");
        assert_string_equal(fmt_percent(b, sizeof(b), 1.54), "1.5%");
        assert_string_equal(fmt_percent(b, sizeof(b), 98.7), "99%");
        assert_string_equal(fmt_percent(b, sizeof(b), 250), "250%");
        assert_string_equal(fmt_percent(b, sizeof(b), -1), "-");
        /* Never more than the buffer. */
        char small[4];
        assert_string_equal(fmt_duration(small, sizeof(small), 185), "3m0");
}

static void test_fit(void **state) {
        char b[64];
        assert_int_equal(fmt_width("h\xc3\xa9llo"), 5);
        assert_int_equal(fmt_width("\xe2\x94\x9c\xe2\x94\x80x"), 3);
        assert_string_equal(fmt_fit(b, sizeof(b), "hello", 10, 0), "hello");
        assert_string_equal(fmt_fit(b, sizeof(b), "hello world", 6, 1), "hello~");
        assert_string_equal(fmt_fit(b, sizeof(b), "hello world", 6, 0), "hello\xe2\x80\xa6");
        /* A cut never splits a UTF-8 character. */
        assert_string_equal(fmt_fit(b, sizeof(b), "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 3, 1),
                            "\xc3\xa9\xc3\xa9~");
        /* Wide characters count two cells. */
        assert_int_equal(fmt_width("\xe4\xb8\xad"), 2);
}

static void test_columns(void **state) {
        bool shown[16];
        /* Wide: every column. */
        int name = columns_layout(200, 0, shown, n_columns);
        for (size_t i = 0; i < n_columns; i++)
                assert_true(shown[i]);
        assert_true(name > 24);
        /* 80 columns: the name keeps room, the essential columns stay. */
        name = columns_layout(80, 0, shown, n_columns);
        assert_true(name >= 24);
        assert_true(shown[columns_find("state")]);
        assert_true(shown[columns_find("elapsed")]);
        assert_true(shown[columns_find("cpu%")]);
        assert_true(shown[columns_find("mem")]);
        assert_false(shown[columns_find("machine")]);
        assert_false(shown[columns_find("peak")]); /* the first to go */
        int used = name;
        for (size_t i = 1; i < n_columns; i++)
                if (shown[i])
                        used += columns[i].width + 1;
        assert_true(used <= 80);

        /* Formatters of a build. */
        StoreBuild b = {.name = "hello-2.12",
                        .phase = "buildPhase",
                        .machine = "ssh-ng://root@builder1?x=y",
                        .state = BUILD_FROZEN,
                        .started = 100,
                        .duration = 20,
                        .received = 100,
                        .eta_expected = 40,
                        .cpu_percent = 12.34,
                        .mem_current = 2097152,
                        .mem_peak = 3145728,
                        .user = "alice"};
        char buf[64];
        columns[columns_find("phase")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "build");
        columns[columns_find("state")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "FROZEN");
        columns[columns_find("machine")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "builder1");
        columns[columns_find("prog")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "50%");
        columns[columns_find("eta")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "20s");
        /* A frozen build's clock stands still: frozen time is not building time. */
        columns[columns_find("eta")].format(&b, 150, buf, sizeof(buf));
        assert_string_equal(buf, "20s");
        /* Running past its expected 40 s (at 70 s): the time it runs over, not a 0 standing still. */
        b.state = BUILD_RUNNING;
        columns[columns_find("eta")].format(&b, 150, buf, sizeof(buf));
        assert_string_equal(buf, "+30s");
        b.state = BUILD_FROZEN;
        columns[columns_find("cpu%")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "12%");
        columns[columns_find("mem")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "2.0M");
        /* Figures from the remote machine's daemon are marked. */
        b.remote = true;
        columns[columns_find("cpu%")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "12%@");
        columns[columns_find("mem")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "2.0M@");
        b.remote = false;
        /* MEM is what it holds now, PEAK the most it held: an ended build holds nothing. */
        columns[columns_find("peak")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "3.0M");
        b.state = BUILD_SUCCEEDED;
        columns[columns_find("mem")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "-");
        columns[columns_find("peak")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "3.0M");
        columns[columns_find("eta")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "-");
        /* Queued: no ETA of its own (when it ends depends on when it starts). */
        b.state = BUILD_QUEUED;
        columns[columns_find("eta")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "-");
        b.state = BUILD_FROZEN;
        b.machine = "";
        columns[columns_find("machine")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "local");
        /* A build that never ran is not said to have failed building. */
        b.state = BUILD_FAILED;
        columns[columns_find("state")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "failed");
        b.failure_kind = "not-started";
        columns[columns_find("state")].format(&b, 100, buf, sizeof(buf));
        assert_string_equal(buf, "not started");
        assert_true(columns[columns_find("state")].width >= (int) strlen(buf));
}

/* Names cut in their middle keep their version; failures in a few words; limits marked. */
static void test_glance(void **state) {
        char b[64];
        assert_string_equal(fmt_fit_name(b, sizeof(b), "hello-2.12", 20, 0), "hello-2.12");
        assert_string_equal(fmt_fit_name(b, sizeof(b), "python3.12-requests-toolbelt-1.0.0", 20, 1),
                            "python3.12-re~-1.0.0");
        assert_int_equal(fmt_width(fmt_fit_name(b, sizeof(b), "python3.12-requests-toolbelt-1.0.0", 20, 0)),
                         20);
        assert_string_equal(b, "python3.12-re\xe2\x80\xa6-1.0.0");
        /* No version: cut at the end; a version with no room left: the same. */
        assert_string_equal(fmt_fit_name(b, sizeof(b), "some-very-long-name-without", 10, 1), "some-very~");
        assert_string_equal(fmt_fit_name(b, sizeof(b), "gcc-13.2.0-unwrapped-extra", 10, 1), "gcc-13.2.~");
        assert_string_equal(fmt_fit_name(b, sizeof(b), "tui-fail-unset-nonce-1", 12, 1), "tui-fail-~-1");

        StoreBuild sb = {.name = "f", .state = BUILD_FAILED, .failure_kind = "exit-code"};
        cJSON *j = cJSON_Parse("{\"failure\": {\"kind\": \"exit-code\", \"exit_code\": 3}}");
        sb.json = j;
        columns_state_words(&sb, b, sizeof(b));
        assert_string_equal(b, "exit 3");
        cJSON_Delete(j);
        j = cJSON_Parse("{\"failure\": {\"kind\": \"signal\", \"signal\": 9}}");
        sb.json = j;
        sb.failure_kind = "signal";
        columns_state_words(&sb, b, sizeof(b));
        assert_string_equal(b, "signal 9");
        cJSON_Delete(j);
        sb.json = NULL;
        const char *kinds[][2] = {{"dependency", "dep failed"}, {"not-started", "not started"},
                                  {"no-outputs", "no outputs"}, {"oom-killed", "oom-killed"},
                                  {"timeout", "timeout"},       {"other", "failed"},
                                  {"exit-code", "failed"} /* no exit code given */};
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                sb.failure_kind = kinds[i][0];
                columns_state_words(&sb, b, sizeof(b));
                assert_string_equal(b, kinds[i][1]);
                /* Within the STATE column. */
                assert_true(strlen(b) <= (size_t) columns[COLUMN_STATE].width);
        }
        sb.state = BUILD_KILLED;
        columns_state_words(&sb, b, sizeof(b));
        assert_string_equal(b, "killed");

        sb.state = BUILD_RUNNING;
        sb.nice = 10;
        sb.cpu_limit = 0.5;
        sb.mem_limit = 64.0 * 1024 * 1024;
        columns_limits_marker(&sb, false, b, sizeof(b));
        assert_string_equal(b, "n10 cpu0.5 mem64M");
        columns_limits_marker(&sb, true, b, sizeof(b));
        assert_string_equal(b, "n10 c0.5 m64M");
        sb.nice = 0;
        sb.cpu_limit = -1;
        columns_limits_marker(&sb, false, b, sizeof(b));
        assert_string_equal(b, "mem64M");
        sb.state = BUILD_SUCCEEDED; /* nothing in force once it ended */
        columns_limits_marker(&sb, false, b, sizeof(b));
        assert_string_equal(b, "");

        /* Sorting: CPU highest first, builds without a figure last either way. */
        StoreBuild hi = {.key = 1, .state = BUILD_RUNNING, .cpu_percent = 90},
                   lo = {.key = 2, .state = BUILD_RUNNING, .cpu_percent = 5},
                   none = {.key = 3, .state = BUILD_QUEUED, .cpu_percent = -1};
        int cpu = columns_find("cpu%");
        assert_true(columns[cpu].descending);
        assert_true(columns_compare(cpu, true, &hi, &lo, 0) < 0);
        assert_true(columns_compare(cpu, true, &lo, &none, 0) < 0);
        assert_true(columns_compare(cpu, false, &lo, &hi, 0) < 0);
        assert_true(columns_compare(cpu, false, &hi, &none, 0) < 0);
        /* The default order: running, then queued, then ended, each in arrival order. */
        StoreBuild done = {.key = 0, .state = BUILD_SUCCEEDED};
        assert_true(columns_compare(-1, false, &hi, &none, 0) < 0);
        assert_true(columns_compare(-1, false, &none, &done, 0) < 0);
        assert_true(columns_compare(-1, false, &hi, &lo, 0) < 0);

        /* At 80-100 cells, idle PHASE and MACHINE give their room to the name. */
        bool shown[16];
        int with = columns_layout(100, 0, shown, n_columns);
        int without = columns_layout(100, (1u << COLUMN_PHASE) | (1u << COLUMN_MACHINE), shown, n_columns);
        assert_false(shown[COLUMN_PHASE]);
        assert_false(shown[COLUMN_MACHINE]);
        assert_true(shown[columns_find("peak")]);
        assert_true(without > with);
        columns_layout(140, (1u << COLUMN_PHASE) | (1u << COLUMN_MACHINE), shown, n_columns);
        assert_true(shown[COLUMN_PHASE]); /* wide: the table stays as it is */
        /* Every title fits with the sort arrow after it. */
        for (size_t i = 1; i < n_columns; i++)
                assert_true((int) strlen(columns[i].title) + 1 <= columns[i].width);
}

static void test_osc52(void **state) {
        char *s;
        assert_int_equal(yank_osc52("hello", 5, false, &s), 0);
        assert_string_equal(s, "\033]52;c;aGVsbG8=\a");
        free(s);
        assert_int_equal(yank_osc52("ab", 2, false, &s), 0);
        assert_string_equal(s, "\033]52;c;YWI=\a");
        free(s);
        assert_int_equal(yank_osc52("", 0, false, &s), 0);
        assert_string_equal(s, "\033]52;c;\a");
        free(s);
        /* In tmux: the plain sequence (tmux's own clipboard) and the passthrough one, whose
         * inner ESCs are doubled. */
        assert_int_equal(yank_osc52("/nix/store/x.drv", 16, true, &s), 0);
        assert_string_equal(s, "\033]52;c;L25peC9zdG9yZS94LmRydg==\a"
                               "\033Ptmux;\033\033]52;c;L25peC9zdG9yZS94LmRydg==\a\033\\");
        free(s);
}

static void test_prompt(void **state) {
        struct Prompt *p = prompt_new(PROMPT_NICE, "nice: ", NULL, NULL, 0);
        assert_non_null(p);
        assert_int_equal(prompt_feed(p, '1'), PROMPT_CONTINUE);
        assert_int_equal(prompt_feed(p, '0'), PROMPT_CONTINUE);
        assert_int_equal(prompt_feed(p, 0xe9), PROMPT_CONTINUE); /* é, two bytes */
        assert_string_equal(p->text, "10\xc3\xa9");
        assert_int_equal(prompt_feed(p, KC_BACKSPACE), PROMPT_CONTINUE);
        assert_string_equal(p->text, "10");
        assert_int_equal(prompt_feed(p, KC_UP), PROMPT_CONTINUE); /* ignored */
        assert_string_equal(p->text, "10");
        assert_int_equal(prompt_feed(p, KC_ENTER), PROMPT_SUBMIT);
        prompt_free(p);

        BuildRef *keys = calloc(2, sizeof(BuildRef));
        p = prompt_new(PROMPT_CONFIRM, "kill 2 builds? ", NULL, keys, 2);
        assert_int_equal(prompt_feed(p, 'n'), PROMPT_CANCEL);
        assert_int_equal(prompt_feed(p, 'y'), PROMPT_SUBMIT);
        prompt_free(p);

        p = prompt_new(PROMPT_FILTER, "f: ", "abc", NULL, 0);
        assert_string_equal(p->text, "abc");
        assert_int_equal(prompt_feed(p, KC_ESC), PROMPT_CANCEL);
        prompt_free(p);
}

/* The builds that stalled most for memory, in a line: most first, what fits, nothing for none
 * or for what is not a list. */
static void test_pressure_top(void **state) {
        char b[64];
        cJSON *top = cJSON_Parse("[{\"name\":\"hog\",\"memory\":24.4},{\"name\":\"cc\",\"memory\":3.14},"
                                 "{\"memory\":1}]");
        assert_non_null(top);
        assert_string_equal(fmt_pressure_top(b, sizeof(b), top),
                            "stalled for memory: hog 24%, cc 3.1%, ? 1.0%");
        char small[36];
        assert_string_equal(fmt_pressure_top(small, sizeof(small), top), "stalled for memory: hog 24%");
        cJSON_Delete(top);
        top = cJSON_Parse("[]");
        assert_string_equal(fmt_pressure_top(b, sizeof(b), top), "");
        cJSON_Delete(top);
        top = cJSON_Parse("{\"name\":\"hog\"}");
        assert_string_equal(fmt_pressure_top(b, sizeof(b), top), "");
        cJSON_Delete(top);
        assert_string_equal(fmt_pressure_top(b, sizeof(b), NULL), "");
}

int main(void) {
        setlocale(LC_ALL, "C.UTF-8");
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_units),        cmocka_unit_test(test_fit),
                cmocka_unit_test(test_columns),      cmocka_unit_test(test_osc52),
                cmocka_unit_test(test_prompt),       cmocka_unit_test(test_glance),
                cmocka_unit_test(test_pressure_top),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
