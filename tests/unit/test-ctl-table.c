/* Unit tests for src/ctl/table.c and report.c: the CLI's tables, their alignment when the
 * name is cut to the terminal's width, columns left out, colours, and the build list's units. */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ctl/report.h"
#include "ctl/table.h"
#include "shared/fmt.h"

static const TableColumn cols[] = {
        {.title = "KEY", .right = true},  {.title = "NAME", .shrink = true}, {.title = "STATE"},
        {.title = "PHASE", .empty = "-"}, {.title = "CPU%", .right = true},
};

/* The table as written with width and colour; the caller frees. */
static char *render(const Table *t, size_t width, bool color) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_non_null(f);
        assert_int_equal(table_write(t, f, width, color), 0);
        assert_int_equal(fclose(f), 0);
        return buf;
}

static Table *sample(void) {
        Table *t;
        assert_int_equal(table_new(cols, ELEMENTSOF(cols), &t), 0);
        const char *a[] = {"1", "hello-2.12", "running", "-", "98%"};
        const char *b[] = {"12", "a-very-long-derivation-name-that-goes-on-1.0", "failed", "-", "-"};
        const char *c[] = {"3",
                           "gr\xc3\xbc\xc3\x9f"
                           "e-\xe6\xbc\xa2\xe5\xad\x97-1",
                           "queued", NULL, "1.5%"};
        assert_int_equal(table_add_row(t, TABLE_RUNNING, a), 0);
        assert_int_equal(table_add_row(t, TABLE_FAILED, b), 0);
        assert_int_equal(table_add_row(t, TABLE_QUEUED, c), 0);
        assert_int_equal(table_n_rows(t), 3);
        return t;
}

/* Every line of s has the same display width, and none ends in a space. */
static void assert_aligned(const char *s, size_t want_width) {
        char *copy = strdup(s), *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                size_t w = fmt_width(line);
                if (w > want_width || line[strlen(line) - 1] == ' ')
                        fail_msg("line '%s' is %zu cells wide (want at most %zu) or ends in a space", line,
                                 w, want_width);
        }
        free(copy);
}

static void test_natural(void **state) {
        Table *t = sample();
        char *s = render(t, 0, false);
        /* PHASE carries nothing in any row: left out. Figures right-aligned. */
        assert_string_equal(s, "KEY  NAME                                          STATE    CPU%\n"
                               "  1  hello-2.12                                    running   98%\n"
                               " 12  a-very-long-derivation-name-that-goes-on-1.0  failed      -\n"
                               "  3  gr\xc3\xbc\xc3\x9f"
                               "e-\xe6\xbc\xa2\xe5\xad\x97-1"
                               "                                  queued   1.5%\n");
        free(s);
        table_free(t);
}

static void test_cut_to_width(void **state) {
        Table *t = sample();
        char *s = render(t, 40, false);
        assert_aligned(s, 40);
        /* The name column gives up what is too much (3 + 2 + 44 + 2 + 7 + 2 + 4 = 64: 24). */
        assert_non_null(strstr(s, "KEY  NAME                  STATE    CPU%\n"));
        assert_non_null(strstr(s, "  1  hello-2.12            running   98%\n"));
        assert_non_null(strstr(s, " 12  a-very-long-derivat\xe2\x80\xa6  failed      -\n"));
        /* A wide character is never cut in half: the cut counts cells. */
        assert_non_null(strstr(s, "  3  gr\xc3\xbc\xc3\x9f"
                                  "e-\xe6\xbc\xa2\xe5\xad\x97-1"));
        free(s);

        /* Narrower than the other columns: the name keeps its title's width, the rest stay
         * aligned (the terminal wraps, the columns do not move). */
        s = render(t, 10, false);
        assert_non_null(strstr(s, "KEY  NAME  STATE    CPU%\n"));
        assert_non_null(strstr(s, " 12  a-v\xe2\x80\xa6  failed      -\n"));
        assert_non_null(strstr(s, "  3  gr\xc3\xbc\xe2\x80\xa6  queued   1.5%\n"));
        free(s);
        table_free(t);
}

static void test_color(void **state) {
        Table *t = sample();
        char *s = render(t, 0, true);
        assert_non_null(strstr(s, "\033[1mKEY"));
        assert_non_null(strstr(s, "\033[1;32m  1  hello"));
        assert_non_null(strstr(s, "\033[1;31m 12  a-very"));
        assert_non_null(strstr(s, "98%\033[0m\n"));
        free(s);
        s = render(t, 0, false);
        assert_null(strchr(s, '\033'));
        free(s);
        table_free(t);
}

static void test_hostile_cells(void **state) {
        Table *t;
        assert_int_equal(table_new(cols, ELEMENTSOF(cols), &t), 0);
        const char *a[] = {"1", "evil\n\033[2Jname", "running", "x", "1%"};
        assert_int_equal(table_add_row(t, TABLE_NORMAL, a), 0);
        char *s = render(t, 0, false);
        /* One line per row, no escape reaches the terminal. */
        assert_string_equal(s, "KEY  NAME           STATE    PHASE  CPU%\n"
                               "  1  evil  [2Jname  running  x        1%\n");
        free(s);
        table_free(t);
}

static void test_state_colors(void **state) {
        assert_int_equal(table_state_color("running"), TABLE_RUNNING);
        assert_int_equal(table_state_color("lost"), TABLE_FAILED);
        assert_int_equal(table_state_color("bogus"), TABLE_NORMAL);
        assert_int_equal(table_state_color(NULL), TABLE_NORMAL);
}

static char *report(ReportFn fn, const char *json, size_t width) {
        cJSON *v = cJSON_Parse(json);
        assert_non_null(v);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        ReportOptions o = {.width = width, .now = 1732460010};
        assert_int_equal(fn(f, v, &o), 0);
        assert_int_equal(fclose(f), 0);
        cJSON_Delete(v);
        return buf;
}

static void test_report_builds(void **state) {
        char *s = report(
                report_builds,
                "{\"builds\":[{\"key\":12,\"name\":\"hello-2.12\",\"state\":\"running\",\"machine\":\"\","
                "\"phase\":\"buildPhase\",\"requester\":{\"user\":\"alice\"},\"duration\":185,"
                "\"eta\":{\"expected\":200,\"confidence\":\"high\"},"
                "\"usage\":{\"cpu_percent\":98.7,\"mem_current\":104857600,\"mem_peak\":209715200}},"
                "{\"key\":13,\"name\":\"dep-1\",\"state\":\"failed\",\"machine\":\"ssh-ng://root@b1?x\","
                "\"failure\":{\"kind\":\"not-started\"},\"duration\":null,\"usage\":null,\"eta\":null},"
                "{\"key\":14,\"name\":\"slow\",\"state\":\"frozen\",\"machine\":\"\",\"duration\":4000,"
                "\"eta\":{\"expected\":3600,\"confidence\":\"low\"},\"usage\":{\"cpu_percent\":0}}]}",
                0);
        assert_string_equal(s, "KEY  NAME        STATE        PHASE  PROG  USER   MACHINE  ELAPSED     ETA  "
                               "CPU%   MEM  PEAK\n"
                               " 12  hello-2.12  running      build   92%  alice  local      3m05s     15s  "
                               " 99%  100M  200M\n"
                               " 13  dep-1       not started  -         -  -      b1             -       -  "
                               "   -     -     -\n"
                               " 14  slow        FROZEN       -       99%  -      local      1h06m  +6m40s  "
                               "0.0%     -     -\n");
        free(s);
        s = report(report_builds, "{\"builds\":[]}", 0);
        assert_string_equal(s, "no builds\n");
        free(s);
        s = report(report_builds, "{\"nonsense\":1}", 0);
        assert_string_equal(s, "no builds\n");
        free(s);
}

static void test_report_history(void **state) {
        setenv("TZ", "UTC", 1);
        tzset();
        char *s =
                report(report_history,
                       "{\"builds\":[{\"name\":\"hello-2.12\",\"state\":\"succeeded\",\"machine\":\"ssh://"
                       "root@b1\","
                       "\"finished\":1732460004,\"duration\":4.2,\"approximate\":true,\"requester\":{"
                       "\"user\":\"alice\"},"
                       "\"usage\":{\"cpu_user\":3.1,\"cpu_system\":0.4,\"mem_peak\":104857600}},"
                       "{\"name\":\"broken\",\"state\":\"failed\",\"machine\":\"\",\"finished\":1732300000,"
                       "\"duration\":3725,\"usage\":null}],\"total\":7}",
                       0);
        /* Today's finish as a clock, an older one with its date; "~" approximate. */
        assert_string_equal(s, "FINISHED     STATE       TIME  CPU  MEMPEAK  USER   MACHINE  NAME\n"
                               "14:53:24     succeeded    ~4s   4s     100M  alice  b1       hello-2.12\n"
                               "11-22 18:26  failed     1h02m    -        -  -      local    broken\n"
                               "2 of 7\n");
        free(s);
}

/* Whatever the daemon (or a peer posing as one over -H) sends, every report prints something
 * and neither crashes nor lets a control character through. */
static void test_report_garbage(void **state) {
        static const ReportFn fns[] = {report_builds, report_history, report_invocations, report_machines,
                                       report_stats,  report_status,  report_processes};
        static const char *const inputs[] = {
                "null",
                "{}",
                "[]",
                "{\"builds\":7,\"invocations\":\"x\",\"machines\":{},\"processes\":null}",
                "{\"builds\":[1,\"a\",null,[],{}],\"invocations\":[{}],\"machines\":[{\"poll\":{\"load\":[1]"
                "}}]}",
                "{\"builds\":[{\"key\":1e300,\"name\":\"x\\u001b[2J\\ny\",\"state\":\"running\","
                "\"duration\":-5,"
                "\"eta\":{\"expected\":1e308},\"usage\":{\"cpu_percent\":1e300,\"mem_current\":-1}}],"
                "\"processes\":[{\"pid\":1,\"ppid\":1},{\"pid\":2,\"ppid\":3},{\"pid\":3,\"ppid\":2}],"
                "\"totals\":[],\"slowest\":[{\"pname\":5}],\"by_day\":[null],\"host\":{\"load\":\"x\"},"
                "\"machines\":[{\"running\":[{\"name\":null},{}],\"poll\":{\"state\":\"down\",\"error\":"
                "\"e\\r\"}}]}",
        };
        for (size_t i = 0; i < ELEMENTSOF(inputs); i++)
                for (size_t j = 0; j < ELEMENTSOF(fns); j++) {
                        char *s = report(fns[j], inputs[i], 20);
                        assert_true(strlen(s) > 0);
                        for (const char *p = s; *p; p++)
                                if ((unsigned char) *p < ' ' && *p != '\n')
                                        fail_msg("report %zu of input %zu printed control character %#x", j,
                                                 i, (unsigned) *p);
                        free(s);
                }
}

int main(void) {
        setlocale(LC_CTYPE, "C.UTF-8");
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_natural),        cmocka_unit_test(test_cut_to_width),
                cmocka_unit_test(test_color),          cmocka_unit_test(test_hostile_cells),
                cmocka_unit_test(test_state_colors),   cmocka_unit_test(test_report_builds),
                cmocka_unit_test(test_report_garbage), cmocka_unit_test(test_report_history),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
