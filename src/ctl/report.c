/* The daemon's results for people: tables with the TUI's columns and units (shared/fmt.h),
 * short reports for status and stats. Bad or missing fields read as unknown ("-"). */
#include "ctl/report.h"

#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "ctl/table.h"
#include "shared/fmt.h"
#include "shared/json-read.h"
#include "shared/model.h"
#include "shared/recent.h"
#include "shared/units.h"

/* Room for one formatted figure or short word. */
#define CELL 64

static int table_done(FILE *f, Table *t, const ReportOptions *o, const char *empty) {
        if (table_n_rows(t) == 0) {
                fprintf(f, "%s\n", o->empty ?: empty);
                return ferror(f) ? -EIO : 0;
        }
        return table_write(t, f, o->width, o->color);
}

/* Adds one row for an item of a list. */
typedef int (*RowFn)(Table *t, const cJSON *item, const ReportOptions *o);

/* A table of the columns with one row per item of list (NULL or not an array: none). */
static int table_of(const cJSON *list, const TableColumn *cols, size_t n_cols, RowFn row,
                    const ReportOptions *o, Table **ret) {
        _cleanup_table_free_ Table *t = NULL;
        if (table_new(cols, n_cols, &t) < 0)
                return -ENOMEM;
        const cJSON *item;
        cJSON_ArrayForEach(item, list) {
                int r = row(t, item, o);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(t);
        return 0;
}

/* STATE as the TUI words it: for a failed build why, in a few words ("exit 3", "oom-killed"). */
static void state_words(char *buf, size_t n, const char *state, const cJSON *failure) {
        fmt_state_why(buf, n, state, json_str(failure, "kind"),
                      (int) json_num(failure, "exit_code", FMT_NONE),
                      (int) json_num(failure, "signal", FMT_NONE));
}

/* ---- builds: the TUI's build list (src/tui/columns.c), with the key to act on ---- */

static const TableColumn build_columns[] = {
        {.title = "KEY", .right = true},
        {.title = "NAME", .shrink = true},
        {.title = "STATE"},
        {.title = "PHASE", .empty = "-"},
        {.title = "PROG", .right = true, .empty = "-"},
        {.title = "USER", .empty = "-"},
        {.title = "MACHINE", .empty = "local"},
        {.title = "ELAPSED", .right = true},
        {.title = "ETA", .right = true, .empty = "-"},
        {.title = "CPU%", .right = true, .empty = "-"},
        {.title = "MEM", .right = true, .empty = "-"},
        {.title = "PEAK", .right = true, .empty = "-"},
};

/* The state of a build object; invalid when it has none. */
static BuildState state_of(const cJSON *b) {
        const char *s = json_str(b, "state");
        return s ? build_state_from_string(s) : _BUILD_STATE_INVALID;
}

/* A trailing "@": the figure is the remote machine's daemon's, as in the TUI. */
static void mark_remote(char *buf, bool remote) {
        size_t l = strlen(buf);
        if (remote && strcmp(buf, "-") != 0 && l + 1 < CELL) {
                buf[l] = '@';
                buf[l + 1] = '\0';
        }
}

static void build_eta(char *buf, const cJSON *b, bool active) {
        const cJSON *eta = json_obj(b, "eta");
        double expected = json_num(eta, "expected", -1);
        double elapsed = json_num(b, "duration", -1);
        BuildState s = state_of(b);
        char d[CELL];
        if (!active || s == BUILD_QUEUED || expected < 0 || elapsed < 0) {
                snprintf(buf, CELL, "-");
                return;
        }
        double r = expected - elapsed;
        /* Over its expected time: by how much, never a 0 that stands still. "~": a guess. */
        if (r < 0)
                snprintf(buf, CELL, "+%s", fmt_duration(d, sizeof(d), -r));
        else if (strcmp(json_str(eta, "confidence") ?: "low", "low") == 0)
                snprintf(buf, CELL, "~%s", fmt_duration(d, sizeof(d), r));
        else
                fmt_duration(buf, CELL, r);
}

static void build_progress(char *buf, const cJSON *b, bool active) {
        const char *state = json_str(b, "state") ?: "";
        double expected = json_num(json_obj(b, "eta"), "expected", -1);
        double elapsed = json_num(b, "duration", -1);
        if (strcmp(state, "succeeded") == 0)
                snprintf(buf, CELL, "100%%");
        else if (active && expected > 0 && elapsed >= 0)
                snprintf(buf, CELL, "%.0f%%", MIN(99.0, 100.0 * elapsed / expected));
        else
                snprintf(buf, CELL, "-");
}

static int build_row(Table *t, const cJSON *b, const ReportOptions *o) {
        char key[CELL], state[CELL], phase[CELL], prog[CELL], machine[CELL], elapsed[CELL], eta[CELL],
                cpu[CELL], mem[CELL], peak[CELL];
        const char *st = json_str(b, "state");
        bool active = build_state_is_active(state_of(b));
        /* A remote build's usage is its remote daemon's, when it has one. */
        const cJSON *usage = json_obj(b, "usage"), *remote = json_obj(b, "remote");
        bool from_remote = !usage && remote;
        const cJSON *u = from_remote ? remote : usage;

        snprintf(key, sizeof(key), "%.0f", json_num(b, "key", -1));
        state_words(state, sizeof(state), st, json_obj(b, "failure"));
        fmt_phase(phase, sizeof(phase), json_str(from_remote ? remote : b, "phase") ?: json_str(b, "phase"));
        build_progress(prog, b, active);
        fmt_machine(machine, sizeof(machine), json_str(b, "machine"));
        fmt_duration(elapsed, sizeof(elapsed), json_num(b, "duration", -1));
        build_eta(eta, b, active);
        fmt_percent(cpu, sizeof(cpu), active ? json_num(u, "cpu_percent", -1) : -1);
        units_format_bytes(mem, sizeof(mem), active ? json_num(u, "mem_current", -1) : -1);
        double p = json_num(u, "mem_peak", -1);
        units_format_bytes(peak, sizeof(peak), p > 0 ? p : -1);
        mark_remote(cpu, from_remote);
        mark_remote(mem, from_remote);
        mark_remote(peak, from_remote);

        const char *cells[] = {
                key,     json_str(b, "name"),
                state,   phase,
                prog,    json_str(json_obj(b, "requester"), "user"),
                machine, elapsed,
                eta,     cpu,
                mem,     peak,
        };
        return table_add_row(t, table_state_color(st), cells);
}

int report_builds(FILE *f, const cJSON *result, const ReportOptions *o) {
        _cleanup_table_free_ Table *t = NULL;
        int r = table_of(json_arr(result, "builds"), build_columns, ELEMENTSOF(build_columns), build_row, o,
                         &t);
        return r < 0 ? r : table_done(f, t, o, "no builds");
}

/* ---- history: the TUI's history view (src/tui/view-history.c) ---- */

static const TableColumn history_columns[] = {
        {.title = "FINISHED"},
        {.title = "STATE"},
        {.title = "TIME", .right = true},
        {.title = "CPU", .right = true, .empty = "-"},
        {.title = "MEMPEAK", .right = true, .empty = "-"},
        {.title = "USER", .empty = "-"},
        {.title = "MACHINE", .empty = "local"},
        {.title = "NAME", .shrink = true},
};

static int history_row(Table *t, const cJSON *h, const ReportOptions *o) {
        char fin[CELL], state[CELL], dur[CELL], time[CELL], cpu[CELL], mem[CELL], machine[CELL];
        const cJSON *u = json_obj(h, "usage");
        double cpu_s = u ? json_num(u, "cpu_user", 0) + json_num(u, "cpu_system", 0) : -1;
        const char *st = json_str(h, "state");
        fmt_time(fin, sizeof(fin), json_num(h, "finished", -1), o->now);
        state_words(state, sizeof(state), st, json_obj(h, "failure"));
        /* "~": an approximate duration (a build that ended while the daemon was down). */
        snprintf(time, sizeof(time), "%s%s", json_bool(h, "approximate") ? "~" : "",
                 fmt_duration(dur, sizeof(dur), json_num(h, "duration", -1)));
        fmt_duration(cpu, sizeof(cpu), cpu_s);
        units_format_bytes(mem, sizeof(mem), json_num(u, "mem_peak", -1));
        fmt_machine(machine, sizeof(machine), json_str(h, "machine"));
        const char *cells[] = {fin,     state,
                               time,    cpu,
                               mem,     json_str(json_obj(h, "requester"), "user"),
                               machine, json_str(h, "name")};
        return table_add_row(t, st && strcmp(st, "succeeded") == 0 ? TABLE_NORMAL : TABLE_FAILED, cells);
}

int report_history(FILE *f, const cJSON *result, const ReportOptions *o) {
        _cleanup_table_free_ Table *t = NULL;
        int r = table_of(json_arr(result, "builds"), history_columns, ELEMENTSOF(history_columns),
                         history_row, o, &t);
        if (r < 0)
                return r;
        r = table_done(f, t, o, "no finished builds in the history");
        double total = json_num(result, "total", -1);
        if (r >= 0 && total >= 0 && table_n_rows(t) > 0)
                fprintf(f, "%zu of %.0f\n", table_n_rows(t), total);
        return r < 0 ? r : ferror(f) ? -EIO : 0;
}

/* ---- at an instant ---- */

static const TableColumn at_columns[] = {
        {.title = "STARTED"},
        {.title = "STATE"},
        {.title = "CPU%", .right = true, .empty = "-"},
        {.title = "MEM", .right = true, .empty = "-"},
        {.title = "PROCS", .right = true, .empty = "-"},
        {.title = "MEM PSI", .right = true, .empty = "-"}, /* stalled for memory: share of the span */
        {.title = "USER", .empty = "-"},
        {.title = "MACHINE", .empty = "local"},
        {.title = "NAME", .shrink = true},
};

/* A build running at the instant: what it held and did then ("then"), and how it ended. */
static int at_row(Table *t, const cJSON *b, const ReportOptions *o) {
        char started[CELL], state[CELL], cpu[CELL] = "-", mem[CELL] = "-", procs[CELL] = "-",
                                         psi[CELL] = "-", machine[CELL];
        const cJSON *then = json_obj(b, "then");
        const char *st = json_str(b, "state");
        fmt_time(started, sizeof(started), json_num(b, "started", -1), o->now);
        state_words(state, sizeof(state), st, json_obj(b, "failure"));
        if (then) {
                fmt_percent(cpu, sizeof(cpu), json_num(then, "cpu_percent", -1));
                units_format_bytes(mem, sizeof(mem), json_num(then, "mem", -1));
                snprintf(procs, sizeof(procs), "%.0f", json_num(then, "procs", 0));
                if (json_num(then, "mem_pressure", -1) >= 0)
                        fmt_percent(psi, sizeof(psi), json_num(then, "mem_pressure", -1));
        }
        fmt_machine(machine, sizeof(machine), json_str(b, "machine"));
        const char *cells[] = {started,
                               state,
                               cpu,
                               mem,
                               procs,
                               psi,
                               json_str(json_obj(b, "requester"), "user"),
                               machine,
                               json_str(b, "name")};
        bool failed =
                st && (strcmp(st, "failed") == 0 || strcmp(st, "killed") == 0 || strcmp(st, "lost") == 0);
        return table_add_row(t, failed ? TABLE_FAILED : TABLE_NORMAL, cells);
}

int report_at(FILE *f, const cJSON *result, const ReportOptions *o) {
        char when[CELL], cpu[CELL], used[CELL], total[CELL], swap[CELL];
        fmt_time(when, sizeof(when), json_num(result, "at", -1), o->now);
        fprintf(f, "at %s\n", when);
        const cJSON *m = json_obj(result, "machine");
        if (m) {
                fmt_percent(cpu, sizeof(cpu), json_num(m, "cpu_percent", -1));
                units_format_bytes(used, sizeof(used), json_num(m, "mem_used", -1));
                units_format_bytes(total, sizeof(total), json_num(m, "mem_total", -1));
                units_format_bytes(swap, sizeof(swap), json_num(m, "swap_used", -1));
                fprintf(f, "machine: CPU %s, load %.2f, memory %s of %s, swap %s", cpu,
                        json_num(m, "load1", 0), used, total, swap);
                const cJSON *p = json_obj(m, "pressure");
                double pm = json_num(p, "memory", -1);
                if (pm >= 0)
                        fprintf(f, ", memory pressure %.1f%%", pm);
                fputc('\n', f);
        } else
                fputs("machine: no sample of that time\n", f);
        /* The builds that stalled most for memory then (each build's own pressure). */
        char stalled[512];
        if (*fmt_pressure_top(stalled, sizeof(stalled), json_arr(result, "pressure_top")))
                fprintf(f, "%s\n", stalled);
        const char *herr = json_str(result, "history");
        if (herr)
                fprintf(f, "history: %s (only the builds the daemon holds)\n", herr);
        const cJSON *kill;
        cJSON_ArrayForEach(kill, json_arr(result, "oom")) {
                char line[512];
                fprintf(f, "%s\n", fmt_oom_kill(line, sizeof(line), kill, o->now));
        }
        _cleanup_table_free_ Table *t = NULL;
        int r = table_of(json_arr(result, "builds"), at_columns, ELEMENTSOF(at_columns), at_row, o, &t);
        if (r < 0)
                return r;
        r = table_done(f, t, o, "no builds were running");
        return r < 0 ? r : ferror(f) ? -EIO : 0;
}

/* ---- invocations ---- */

static const TableColumn invocation_columns[] = {
        {.title = "ID", .right = true},
        {.title = "STATE"},
        {.title = "DONE", .right = true},
        {.title = "RUN", .right = true},
        {.title = "FAILED", .right = true},
        {.title = "ETA", .right = true, .empty = "-"},
        {.title = "STARTED"},
        {.title = "ELAPSED", .right = true},
        {.title = "USER", .empty = "-"},
        {.title = "COMMAND", .shrink = true},
};

/* The counts that say a build of the invocation failed (protocol.md, invocation "counts"). */
static double failed_count(const cJSON *counts) {
        static const char *const keys[] = {"failed", "dependency", "not_started", "killed", "lost"};
        double n = 0;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                n += json_num(counts, keys[i], 0);
        return n;
}

/* What is left of a running invocation by its builds' history; "-" when none of its builds
 * left has any, "~" when some have none or the samples scatter. */
static void invocation_eta(char *buf, const cJSON *inv, const char *state) {
        const cJSON *eta = json_obj(inv, "eta");
        double left = json_num(eta, "left", 0), unknown = json_num(eta, "unknown", 0);
        char d[CELL];
        if (strcmp(state, "running") != 0 || !eta || (left > 0 && unknown >= left))
                snprintf(buf, CELL, "-");
        else if (strcmp(json_str(eta, "confidence") ?: "low", "low") == 0)
                snprintf(buf, CELL, "~%s", fmt_duration(d, sizeof(d), json_num(eta, "remaining", -1)));
        else
                fmt_duration(buf, CELL, json_num(eta, "remaining", -1));
}

static int invocation_row(Table *t, const cJSON *inv, const ReportOptions *o) {
        char id[CELL], done[CELL], run[CELL], failed[CELL], eta[CELL], started[CELL], elapsed[CELL];
        const cJSON *counts = json_obj(inv, "counts"), *req = json_obj(inv, "requester");
        const char *st = json_str(inv, "state") ?: "?";
        double start = json_num(inv, "started", -1), end = json_num(inv, "finished", -1);
        snprintf(id, sizeof(id), "%.0f", json_num(inv, "id", -1));
        snprintf(done, sizeof(done), "%.0f/%.0f", json_num(counts, "done", 0),
                 json_num(counts, "builds", 0));
        snprintf(run, sizeof(run), "%.0f", json_num(counts, "running", 0));
        double nf = failed_count(counts);
        snprintf(failed, sizeof(failed), "%.0f", nf);
        invocation_eta(eta, inv, st);
        fmt_time(started, sizeof(started), start, o->now);
        fmt_duration(elapsed, sizeof(elapsed), start > 0 ? (end > 0 ? end : o->now) - start : -1);
        const char *error = json_str(inv, "error");
        const char *cells[] = {id,
                               st,
                               done,
                               run,
                               failed,
                               eta,
                               started,
                               elapsed,
                               json_str(req, "user"),
                               error ?: json_str(req, "cmdline")};
        TableColor c = strcmp(st, "running") == 0 ? TABLE_RUNNING
                       : error || nf > 0          ? TABLE_FAILED
                                                  : TABLE_NORMAL;
        return table_add_row(t, c, cells);
}

int report_invocations(FILE *f, const cJSON *result, const ReportOptions *o) {
        _cleanup_table_free_ Table *t = NULL;
        int r = table_of(json_arr(result, "invocations"), invocation_columns, ELEMENTSOF(invocation_columns),
                         invocation_row, o, &t);
        if (r < 0)
                return r;
        return table_done(f, t, o, "no invocations");
}

static double arr_num(const cJSON *a, int i) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* ---- machines: the TUI's machines view (src/tui/view-machines.c) ---- */

static const TableColumn machine_columns[] = {
        {.title = "MACHINE"},
        {.title = "STATE"},
        {.title = "SLOTS", .right = true},
        {.title = "LOAD", .empty = "-"},
        {.title = "BUILDS", .shrink = true},
};

static int machine_row(Table *t, const cJSON *m, const ReportOptions *o) {
        const cJSON *poll = json_obj(m, "poll"), *slots = json_obj(m, "slots");
        const cJSON *load = json_arr(poll, "load");
        char l[CELL] = "-", s[CELL];
        if (cJSON_GetArraySize(load) >= 3)
                snprintf(l, sizeof(l), "%.2f %.2f %.2f", arr_num(load, 0), arr_num(load, 1),
                         arr_num(load, 2));
        snprintf(s, sizeof(s), "%.0f/%.0f", json_num(slots, "used", 0), json_num(slots, "total", 0));
        /* The names of the builds there, or why the machine is down. */
        _cleanup_free_ char *builds = NULL;
        size_t len = 0;
        FILE *bf = open_memstream(&builds, &len);
        if (!bf)
                return -ENOMEM;
        const cJSON *b;
        cJSON_ArrayForEach(b, json_arr(m, "running")) {
                fprintf(bf, "%s%s", ftell(bf) > 0 ? ", " : "", json_str(b, "name") ?: "?");
        }
        if (json_str(poll, "error"))
                fprintf(bf, "%s%s", ftell(bf) > 0 ? "; " : "", json_str(poll, "error"));
        if (fclose(bf) != 0)
                return -ENOMEM;
        const char *state =
                json_bool(m, "configured") ? json_str(poll, "state") ?: "unknown" : "unconfigured";
        const char *cells[] = {json_str(m, "key") ?: json_str(m, "uri"), state, s, l,
                               builds && *builds ? builds : "-"};
        TableColor c = strcmp(state, "up") == 0     ? TABLE_RUNNING
                       : strcmp(state, "down") == 0 ? TABLE_FAILED
                                                    : TABLE_NORMAL;
        return table_add_row(t, c, cells);
}

int report_machines(FILE *f, const cJSON *result, const ReportOptions *o) {
        _cleanup_table_free_ Table *t = NULL;
        int r = table_of(json_arr(result, "machines"), machine_columns, ELEMENTSOF(machine_columns),
                         machine_row, o, &t);
        if (r < 0)
                return r;
        r = table_done(f, t, o, "no remote machines (the builders setting is empty)");
        int waiting = cJSON_GetArraySize(json_arr(result, "waiting"));
        if (r >= 0 && waiting > 0)
                fprintf(f, "%d build%s waiting for a machine\n", waiting, waiting == 1 ? "" : "s");
        return r < 0 ? r : ferror(f) ? -EIO : 0;
}

/* ---- stats: totals, then one small table per list ---- */

static const TableColumn slowest_columns[] = {
        {.title = "SLOWEST", .shrink = true}, {.title = "BUILDS", .right = true},
        {.title = "MEAN", .right = true},     {.title = "MAX", .right = true},
        {.title = "TOTAL", .right = true},
};
static const TableColumn failing_columns[] = {
        {.title = "FAILING", .shrink = true},
        {.title = "FAILED", .right = true},
        {.title = "BUILDS", .right = true},
        {.title = "LAST FAILURE"},
};
static const TableColumn requester_columns[] = {
        {.title = "USER", .shrink = true},  {.title = "BUILDS", .right = true},
        {.title = "FAILED", .right = true}, {.title = "TIME", .right = true},
        {.title = "CPU", .right = true},
};
static const TableColumn day_columns[] = {
        {.title = "DAY"},
        {.title = "BUILDS", .right = true},
        {.title = "OK", .right = true},
        {.title = "FAILED", .right = true},
        {.title = "TIME", .right = true},
};

static const TableColumn memory_columns[] = {
        {.title = "MOST MEMORY", .shrink = true}, {.title = "BUILDS", .right = true},
        {.title = "PEAK", .right = true},         {.title = "MEAN PEAK", .right = true},
        {.title = "MEDIAN TIME", .right = true},
};
static const TableColumn cpu_columns[] = {
        {.title = "MOST CPU", .shrink = true}, {.title = "BUILDS", .right = true},
        {.title = "CPU MEAN", .right = true},  {.title = "CPU MAX", .right = true},
        {.title = "PEAK", .right = true},      {.title = "MEDIAN TIME", .right = true},
};

/* One stats list as a table under a blank line; nothing when the list is empty. */
static int stats_section(FILE *f, const cJSON *list, const TableColumn *cols, size_t n_cols,
                         const ReportOptions *o, RowFn row) {
        if (cJSON_GetArraySize(list) == 0)
                return 0;
        _cleanup_table_free_ Table *t = NULL;
        int r = table_of(list, cols, n_cols, row, o, &t);
        if (r < 0)
                return r;
        fputc('\n', f);
        return table_write(t, f, o->width, o->color);
}

static int slowest_row(Table *t, const cJSON *e, const ReportOptions *o) {
        char n[CELL], mean[CELL], max[CELL], total[CELL];
        snprintf(n, sizeof(n), "%.0f", json_num(e, "builds", 0));
        const char *cells[] = {json_str(e, "pname"), n,
                               fmt_duration(mean, sizeof(mean), json_num(e, "mean", -1)),
                               fmt_duration(max, sizeof(max), json_num(e, "max", -1)),
                               fmt_duration(total, sizeof(total), json_num(e, "total", -1))};
        return table_add_row(t, TABLE_NORMAL, cells);
}

static int memory_row(Table *t, const cJSON *e, const ReportOptions *o) {
        char n[CELL], peak[CELL], mean[CELL], median[CELL];
        snprintf(n, sizeof(n), "%.0f", json_num(e, "builds", 0));
        const char *cells[] = {json_str(e, "pname"), n,
                               units_format_bytes(peak, sizeof(peak), json_num(e, "mem_peak", -1)),
                               units_format_bytes(mean, sizeof(mean), json_num(e, "mem_peak_mean", -1)),
                               fmt_duration(median, sizeof(median), json_num(e, "median_duration", -1))};
        return table_add_row(t, TABLE_NORMAL, cells);
}

static int cpu_row(Table *t, const cJSON *e, const ReportOptions *o) {
        char n[CELL], mean[CELL], max[CELL], peak[CELL], median[CELL];
        snprintf(n, sizeof(n), "%.0f", json_num(e, "builds", 0));
        const char *cells[] = {json_str(e, "pname"),
                               n,
                               fmt_duration(mean, sizeof(mean), json_num(e, "cpu_mean", -1)),
                               fmt_duration(max, sizeof(max), json_num(e, "cpu_max", -1)),
                               units_format_bytes(peak, sizeof(peak), json_num(e, "mem_peak", -1)),
                               fmt_duration(median, sizeof(median), json_num(e, "median_duration", -1))};
        return table_add_row(t, TABLE_NORMAL, cells);
}

static int failing_row(Table *t, const cJSON *e, const ReportOptions *o) {
        char n[CELL], b[CELL], last[CELL];
        snprintf(n, sizeof(n), "%.0f", json_num(e, "failures", 0));
        snprintf(b, sizeof(b), "%.0f", json_num(e, "builds", 0));
        const char *cells[] = {json_str(e, "pname"), n, b,
                               fmt_time(last, sizeof(last), json_num(e, "last_failure", -1), o->now)};
        return table_add_row(t, TABLE_FAILED, cells);
}

static int requester_row(Table *t, const cJSON *e, const ReportOptions *o) {
        char user[CELL], n[CELL], failed[CELL], time[CELL], cpu[CELL];
        if (json_str(e, "user"))
                snprintf(user, sizeof(user), "%s", json_str(e, "user"));
        else
                snprintf(user, sizeof(user), "uid %.0f", json_num(e, "uid", -1));
        snprintf(n, sizeof(n), "%.0f", json_num(e, "builds", 0));
        snprintf(failed, sizeof(failed), "%.0f", json_num(e, "failures", 0));
        const char *cells[] = {user, n, failed,
                               fmt_duration(time, sizeof(time), json_num(e, "build_time", -1)),
                               fmt_duration(cpu, sizeof(cpu), json_num(e, "cpu_time", -1))};
        return table_add_row(t, TABLE_NORMAL, cells);
}

static int day_row(Table *t, const cJSON *e, const ReportOptions *o) {
        char n[CELL], ok[CELL], failed[CELL], time[CELL];
        snprintf(n, sizeof(n), "%.0f", json_num(e, "builds", 0));
        snprintf(ok, sizeof(ok), "%.0f", json_num(e, "succeeded", 0));
        snprintf(failed, sizeof(failed), "%.0f", json_num(e, "failed", 0));
        const char *cells[] = {json_str(e, "day"), n, ok, failed,
                               fmt_duration(time, sizeof(time), json_num(e, "build_time", -1))};
        return table_add_row(t, json_num(e, "failed", 0) > 0 ? TABLE_FAILED : TABLE_NORMAL, cells);
}

int report_stats(FILE *f, const cJSON *result, const ReportOptions *o) {
        const cJSON *tot = json_obj(result, "totals");
        char since[CELL], until[CELL] = "", time[CELL], cpu[CELL];
        fmt_time(since, sizeof(since), json_num(result, "since", -1), o->now);
        double end = json_num(result, "until", -1);
        if (end > 0) {
                char t[CELL];
                snprintf(until, sizeof(until), " until %s", fmt_time(t, sizeof(t), end, o->now));
        }
        fprintf(f,
                "%.0f builds since %s%s: %.0f succeeded, %.0f failed, %.0f killed, %.0f lost; build time "
                "%s, CPU %s\n",
                json_num(tot, "builds", 0), since, until, json_num(tot, "succeeded", 0),
                json_num(tot, "failed", 0), json_num(tot, "killed", 0), json_num(tot, "lost", 0),
                fmt_duration(time, sizeof(time), json_num(tot, "build_time", -1)),
                fmt_duration(cpu, sizeof(cpu), json_num(tot, "cpu_time", -1)));
        int r = stats_section(f, json_arr(result, "slowest"), slowest_columns, ELEMENTSOF(slowest_columns),
                              o, slowest_row);
        if (r >= 0)
                r = stats_section(f, json_arr(result, "failing"), failing_columns,
                                  ELEMENTSOF(failing_columns), o, failing_row);
        if (r >= 0)
                r = stats_section(f, json_arr(result, "memory"), memory_columns, ELEMENTSOF(memory_columns),
                                  o, memory_row);
        if (r >= 0)
                r = stats_section(f, json_arr(result, "cpu"), cpu_columns, ELEMENTSOF(cpu_columns), o,
                                  cpu_row);
        if (r >= 0)
                r = stats_section(f, json_arr(result, "requesters"), requester_columns,
                                  ELEMENTSOF(requester_columns), o, requester_row);
        if (r >= 0)
                r = stats_section(f, json_arr(result, "by_day"), day_columns, ELEMENTSOF(day_columns), o,
                                  day_row);
        return r < 0 ? r : ferror(f) ? -EIO : 0;
}

/* ---- status: a short report, one labelled line per part ---- */

static void status_line(FILE *f, const ReportOptions *o, const char *label, const char *format, ...)
        _printf_(4, 5);
static void status_line(FILE *f, const ReportOptions *o, const char *label, const char *format, ...) {
        va_list ap;
        fprintf(f, "%s%-9s%s ", o->color ? "\033[1m" : "", label, o->color ? TABLE_COLOR_OFF : "");
        va_start(ap, format);
        vfprintf(f, format, ap);
        va_end(ap);
        fputc('\n', f);
}

int report_status(FILE *f, const cJSON *s, const ReportOptions *o) {
        char up[CELL], held[CELL], budget[CELL], recent[256];
        const cJSON *host = json_obj(s, "host"), *load = json_arr(host, "load");
        status_line(f, o, "daemon", "nix-analyticsd %s, pid %.0f, up %s, on %s (load %.2f %.2f %.2f)",
                    json_str(s, "version") ?: "?", json_num(s, "pid", -1),
                    fmt_duration(up, sizeof(up), json_num(s, "uptime", -1)), json_str(host, "name") ?: "?",
                    arr_num(load, 0), arr_num(load, 1), arr_num(load, 2));
        status_line(f, o, "sockets", "%s", json_str(s, "socket_dir") ?: "?");

        const cJSON *b = json_obj(s, "builds");
        status_line(f, o, "builds",
                    "%.0f running, %.0f queued, %.0f frozen, %.0f succeeded, %.0f failed, %.0f killed, %.0f "
                    "lost",
                    json_num(b, "running", 0), json_num(b, "queued", 0), json_num(b, "frozen", 0),
                    json_num(b, "succeeded", 0), json_num(b, "failed", 0), json_num(b, "killed", 0),
                    json_num(b, "lost", 0));
        Recent rc;
        recent_parse(&rc, s);
        if (rc.known) {
                unsigned none[_BUILD_STATE_MAX] = {};
                recent_format(&rc, none, recent, sizeof(recent));
                status_line(f, o, "ended", "%s", recent);
        }

        const cJSON *src = json_obj(s, "sources"), *ev = json_obj(s, "events"),
                    *ctl = json_obj(s, "control");
        status_line(f, o, "sources", "%.0f connected, %.0f in all, %.0f refused",
                    json_num(src, "connected", 0), json_num(src, "total", 0), json_num(src, "refused", 0));
        status_line(f, o, "events", "%.0f, %.0f bad, %.0f oversized, %.0f dropped by senders",
                    json_num(ev, "total", 0), json_num(ev, "bad", 0), json_num(ev, "oversized", 0),
                    json_num(ev, "dropped_by_senders", 0));
        status_line(f, o, "clients", "%.0f, %.0f dropped as slow, %.0f refused", json_num(ctl, "clients", 0),
                    json_num(ctl, "dropped_slow", 0), json_num(ctl, "refused", 0));
        const cJSON *logs = json_obj(s, "logs");
        status_line(f, o, "logs", "%s held of %s, %.0f rings, %.0f lines dropped",
                    units_format_bytes(held, sizeof(held), json_num(logs, "memory", -1)),
                    units_format_bytes(budget, sizeof(budget), json_num(logs, "budget", -1)),
                    json_num(logs, "rings", 0), json_num(logs, "dropped", 0));

        const cJSON *h = json_obj(s, "history");
        const char *hs = json_str(h, "state") ?: "off";
        if (json_str(h, "error"))
                status_line(f, o, "history", "%s: %s (%s)", hs, json_str(h, "error"),
                            json_str(h, "path") ?: "?");
        else if (h)
                status_line(f, o, "history", "%s, %.0f rows, %.0f written, %.0f dropped, in %s", hs,
                            json_num(h, "rows", 0), json_num(h, "written", 0), json_num(h, "dropped", 0),
                            json_str(h, "path") ?: "?");
        else
                status_line(f, o, "history", "off");

        /* OOM kills outside builds are seen only in the kernel log: say when it is not read. */
        const cJSON *oom = json_obj(s, "oom");
        const char *kmsg = json_str(oom, "kmsg");
        if (oom)
                status_line(f, o, "oom kills", "%.0f seen; kernel log %s%s%s", json_num(oom, "events", 0),
                            kmsg && strcmp(kmsg, "reading") == 0 ? "read" : kmsg ?: "?",
                            json_str(oom, "kmsg_error") ? ": " : "", json_str(oom, "kmsg_error") ?: "");
        return ferror(f) ? -EIO : 0;
}

/* ---- processes: a build's process tree ---- */

static const TableColumn process_columns[] = {
        {.title = "PID", .right = true},
        {.title = "PPID", .right = true},
        {.title = "USER"},
        {.title = "S"},
        {.title = "NI", .right = true},
        {.title = "CPU%", .right = true},
        {.title = "RSS", .right = true},
        {.title = "TIME", .right = true},
        {.title = "COMMAND", .shrink = true},
};

static int process_row(Table *t, const cJSON *p, int depth) {
        char pid[CELL], ppid[CELL], user[CELL], ni[CELL], cpu[CELL], rss[CELL], time[CELL];
        snprintf(pid, sizeof(pid), "%.0f", json_num(p, "pid", 0));
        snprintf(ppid, sizeof(ppid), "%.0f", json_num(p, "ppid", 0));
        struct passwd *pw = getpwuid((uid_t) json_num(p, "uid", 0));
        snprintf(user, sizeof(user), "%s", pw ? pw->pw_name : "?");
        snprintf(ni, sizeof(ni), "%.0f", json_num(p, "nice", 0));
        fmt_percent(cpu, sizeof(cpu), json_num(p, "cpu_percent", -1));
        units_format_bytes(rss, sizeof(rss), json_num(p, "rss", -1));
        fmt_duration(time, sizeof(time), json_num(p, "cpu_user", 0) + json_num(p, "cpu_system", 0));
        const char *cmd = json_str(p, "cmdline");
        if (!cmd || !*cmd)
                cmd = json_str(p, "comm") ?: "?";
        _cleanup_free_ char *indented = NULL;
        if (asprintf(&indented, "%*s%s", depth * 2, "", cmd) < 0)
                return -ENOMEM;
        const char *cells[] = {pid, ppid, user, json_str(p, "state"), ni, cpu, rss, time, indented};
        return table_add_row(t, TABLE_NORMAL, cells);
}

/* Adds the processes under parent, indented. budget bounds the walk (a pid loop in bad data
 * cannot recurse forever). */
static int process_subtree(Table *t, const cJSON *procs, double parent, int depth, int *budget) {
        const cJSON *p;
        cJSON_ArrayForEach(p, procs) {
                double pid = json_num(p, "pid", 0);
                if (json_num(p, "ppid", 0) != parent || pid == parent || (*budget)-- <= 0)
                        continue;
                int r = process_row(t, p, depth);
                if (r >= 0)
                        r = process_subtree(t, procs, pid, depth + 1, budget);
                if (r < 0)
                        return r;
        }
        return 0;
}

int report_processes(FILE *f, const cJSON *r, const ReportOptions *o) {
        const cJSON *procs = json_arr(r, "processes"), *cg = json_obj(r, "cgroup");
        fprintf(f, "build %.0f: %s, control by %s", json_num(r, "build", 0), json_str(r, "state") ?: "?",
                json_str(r, "control") ?: "?");
        if (json_str(cg, "v2"))
                fprintf(f, ", cgroup %s", json_str(cg, "v2"));
        /* A remote build: what runs here is the build hook serving it and its ssh. */
        if (json_num(r, "hook", 0) > 0)
                fprintf(f, ", build hook %.0f here (the build runs on a remote machine)",
                        json_num(r, "hook", 0));
        if (json_str(r, "hook_error"))
                fprintf(f, "\n%s", json_str(r, "hook_error"));
        fputc('\n', f);

        _cleanup_table_free_ Table *t = NULL;
        if (table_new(process_columns, ELEMENTSOF(process_columns), &t) < 0)
                return -ENOMEM;
        /* Roots are processes whose parent is not in the list (the builder). */
        int budget = cJSON_GetArraySize(procs);
        const cJSON *p, *q;
        cJSON_ArrayForEach(p, procs) {
                bool has_parent = false;
                cJSON_ArrayForEach(q, procs) {
                        if (q != p && json_num(q, "pid", 0) == json_num(p, "ppid", 0))
                                has_parent = true;
                }
                if (has_parent || budget-- <= 0)
                        continue;
                int k = process_row(t, p, 0);
                if (k >= 0)
                        k = process_subtree(t, procs, json_num(p, "pid", 0), 1, &budget);
                if (k < 0)
                        return k;
        }
        return table_done(f, t, o, "no processes");
}

/* ---- OOM kills (list-oom) ---- */

static const TableColumn oom_columns[] = {
        {.title = "TIME"},
        {.title = "PID", .right = true},
        {.title = "HOST PID", .right = true, .empty = "-"},
        {.title = "COMMAND", .empty = "-"},
        {.title = "BUILD"},
        {.title = "LIMIT", .right = true},
        {.title = "PEAK", .right = true},
        {.title = "HELD THE MOST MEMORY", .shrink = true, .empty = "-"},
};

static int oom_row(Table *t, const cJSON *e, const ReportOptions *o) {
        const cJSON *v = json_obj(e, "victim"), *b = json_obj(e, "build");
        char when[CELL], pid[CELL] = "?", host_pid[CELL] = "-", limit[CELL] = "-", peak[CELL] = "-";
        fmt_time(when, sizeof(when), json_num(e, "time", -1), o->now);
        double p = json_num(v, "pid", 0), hp = json_num(v, "host_pid", 0);
        if (p > 0)
                snprintf(pid, sizeof(pid), "%.0f", p);
        /* The kernel's pid where it is not ours (a daemon in a container): the column is left
         * out when every victim's is its own. */
        if (hp > 0 && hp != p)
                snprintf(host_pid, sizeof(host_pid), "%.0f", hp);
        if (b) {
                units_format_bytes(limit, sizeof(limit), json_num(b, "mem_limit", -1));
                units_format_bytes(peak, sizeof(peak), json_num(b, "mem_peak", -1));
        }
        /* Not a build's: the builds that held the most memory then. */
        _cleanup_free_ char *top = NULL;
        size_t len = 0;
        FILE *tf = open_memstream(&top, &len);
        if (!tf)
                return -ENOMEM;
        const cJSON *x;
        cJSON_ArrayForEach(x, json_arr(e, "top")) {
                char mem[CELL];
                units_format_bytes(mem, sizeof(mem), json_num(x, "mem", -1));
                fprintf(tf, "%s%s %s", ftell(tf) > 0 ? ", " : "", json_str(x, "name") ?: "?", mem);
        }
        if (fclose(tf) != 0)
                return -ENOMEM;
        const char *cells[] = {when,
                               pid,
                               host_pid,
                               json_str(v, "command"),
                               b ? json_str(b, "name") ?: "?" : "not a build",
                               limit,
                               peak,
                               top && *top ? top : NULL};
        return table_add_row(t, b ? TABLE_FAILED : TABLE_NORMAL, cells);
}

int report_oom(FILE *f, const cJSON *result, const ReportOptions *o) {
        _cleanup_table_free_ Table *t = NULL;
        int r = table_of(json_arr(result, "events"), oom_columns, ELEMENTSOF(oom_columns), oom_row, o, &t);
        if (r < 0)
                return r;
        r = table_done(f, t, o, "no OOM kills");
        const cJSON *s = json_obj(result, "status");
        const char *kmsg = json_str(s, "kmsg");
        if (r >= 0 && kmsg && strcmp(kmsg, "reading") != 0)
                fprintf(f, "kernel log not read (%s%s%s): OOM kills outside builds are not seen\n", kmsg,
                        json_str(s, "kmsg_error") ? ": " : "", json_str(s, "kmsg_error") ?: "");
        const char *ns = json_str(s, "pid_namespace");
        if (r >= 0 && ns && strcmp(ns, "child") == 0)
                fprintf(f, "the daemon runs in a child pid namespace: PID is the victim's there (\"?\": not "
                           "told), HOST PID the kernel's\n");
        return r < 0 ? r : ferror(f) ? -EIO : 0;
}
