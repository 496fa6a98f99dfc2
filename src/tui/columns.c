/* The build list's fields. */
#include "tui/columns.h"

#include <math.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "basic/macro.h"
#include "shared/json-read.h"
#include "shared/units.h"
#include "shared/fmt.h"

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)

static void f_name(const StoreBuild *b, double now, char *buf, size_t n) {
        snprintf(buf, n, "%s", b->name);
}
static int c_name(const StoreBuild *a, const StoreBuild *b, double now) {
        return strcasecmp(a->name, b->name);
}

static void f_phase(const StoreBuild *b, double now, char *buf, size_t n) {
        fmt_phase(buf, n, b->phase);
}
static bool e_phase(const StoreBuild *b, double now) {
        return !b->phase || !*b->phase;
}
static int c_phase(const StoreBuild *a, const StoreBuild *b, double now) {
        return strcmp(a->phase ?: "", b->phase ?: "");
}

void columns_state_words(const StoreBuild *b, char *buf, size_t n) {
        const cJSON *f = json_obj(b->json, "failure");
        fmt_state_why(buf, n, store_state_name(b->state), b->failure_kind,
                      json_has_num(f, "exit_code") ? json_int(f, "exit_code", -255, 255, 0) : FMT_NONE,
                      json_has_num(f, "signal") ? json_int(f, "signal", 0, 255, 0) : FMT_NONE);
}

static void f_state(const StoreBuild *b, double now, char *buf, size_t n) {
        columns_state_words(b, buf, n);
}
static int c_state(const StoreBuild *a, const StoreBuild *b, double now) {
        return CMP(a->state, b->state);
}

void columns_limits_marker(const StoreBuild *b, bool compact, char *buf, size_t n) {
        int o = 0;
        buf[0] = 0;
        if (!build_state_is_active(b->state))
                return;
        if (b->nice != 0)
                o += snprintf(buf + o, n - (size_t) o, "n%d", b->nice);
        if (b->cpu_limit > 0 && o >= 0 && (size_t) o < n)
                o += snprintf(buf + o, n - (size_t) o, "%s%s%g", o ? " " : "", compact ? "c" : "cpu",
                              b->cpu_limit);
        if (b->mem_limit > 0 && o >= 0 && (size_t) o < n) {
                char m[16];
                snprintf(buf + o, n - (size_t) o, "%s%s%s", o ? " " : "", compact ? "m" : "mem",
                         units_format_bytes(m, sizeof(m), b->mem_limit));
        }
}

static double progress_of(const StoreBuild *b, double now) {
        if (b->state == BUILD_SUCCEEDED)
                return 100;
        double e = store_build_elapsed(b, now);
        if (b->eta_expected <= 0 || e < 0 || !build_state_is_active(b->state))
                return -1;
        return MIN(99.0, 100.0 * e / b->eta_expected);
}
static void f_progress(const StoreBuild *b, double now, char *buf, size_t n) {
        double p = progress_of(b, now);
        if (p < 0)
                snprintf(buf, n, "-");
        else
                snprintf(buf, n, "%.0f%%", p);
}
static bool e_progress(const StoreBuild *b, double now) {
        return progress_of(b, now) < 0;
}
static int c_progress(const StoreBuild *a, const StoreBuild *b, double now) {
        return CMP(progress_of(a, now), progress_of(b, now));
}

static void f_requester(const StoreBuild *b, double now, char *buf, size_t n) {
        snprintf(buf, n, "%s", b->user ?: "-");
}
static bool e_requester(const StoreBuild *b, double now) {
        return !b->user;
}
static int c_requester(const StoreBuild *a, const StoreBuild *b, double now) {
        return strcmp(a->user ?: "", b->user ?: "");
}

static void f_machine(const StoreBuild *b, double now, char *buf, size_t n) {
        fmt_machine(buf, n, b->machine);
}
static int c_machine(const StoreBuild *a, const StoreBuild *b, double now) {
        return strcmp(a->machine, b->machine);
}

static void f_elapsed(const StoreBuild *b, double now, char *buf, size_t n) {
        fmt_duration(buf, n, store_build_elapsed(b, now));
}
static bool e_elapsed(const StoreBuild *b, double now) {
        return store_build_elapsed(b, now) < 0;
}
static int c_elapsed(const StoreBuild *a, const StoreBuild *b, double now) {
        return CMP(store_build_elapsed(a, now), store_build_elapsed(b, now));
}

/* Time left of a running (or frozen, finishing) build by its history, or the time it runs
 * over it ("+2m05s"): never a 0 that stands still. A queued build has none: when it ends
 * depends on when it starts (its expected duration is in its details, the invocation's ETA
 * counts it). */
static void f_eta(const StoreBuild *b, double now, char *buf, size_t n) {
        double r = store_build_remaining(b, now);
        if (r < 0) {
                char d[16];
                snprintf(buf, n, "+%s", fmt_duration(d, sizeof(d), -r));
                return;
        }
        if (b->eta_weak && r >= 0) {
                char d[16];
                snprintf(buf, n, "~%s",
                         fmt_duration(d, sizeof(d), r)); /* a guess: few or scattered samples */
                return;
        }
        fmt_duration(buf, n, r);
}
static bool e_eta(const StoreBuild *b, double now) {
        return isnan(store_build_remaining(b, now));
}
static int c_eta(const StoreBuild *a, const StoreBuild *b, double now) {
        /* The most overdue first (unknown ones are empty: last). */
        return CMP(store_build_remaining(a, now), store_build_remaining(b, now));
}

/* A trailing "@": the figure is the remote machine's daemon's (StoreBuild.remote). */
static void mark_remote(const StoreBuild *b, char *buf, size_t n) {
        size_t l = strlen(buf);
        if (b->remote && strcmp(buf, "-") != 0 && l + 1 < n) {
                buf[l] = '@';
                buf[l + 1] = '\0';
        }
}

static void f_cpu(const StoreBuild *b, double now, char *buf, size_t n) {
        fmt_percent(buf, n, build_state_is_active(b->state) ? b->cpu_percent : -1);
        mark_remote(b, buf, n);
}
static double cpu_of(const StoreBuild *b) {
        return build_state_is_active(b->state) ? b->cpu_percent : -1;
}
static bool e_cpu(const StoreBuild *b, double now) {
        return !(cpu_of(b) >= 0);
}
static int c_cpu(const StoreBuild *a, const StoreBuild *b, double now) {
        return CMP(cpu_of(a), cpu_of(b));
}

/* MEM: the memory its processes hold now (the sum of their RSS), while it runs; PEAK: the
 * most that sum reached, whatever its state. One meaning each. */
static void f_mem(const StoreBuild *b, double now, char *buf, size_t n) {
        units_format_bytes(buf, n, build_state_is_active(b->state) ? b->mem_current : -1);
        mark_remote(b, buf, n);
}
static double mem_of(const StoreBuild *b) {
        return build_state_is_active(b->state) ? b->mem_current : -1;
}
static bool e_mem(const StoreBuild *b, double now) {
        return !(mem_of(b) >= 0);
}
static int c_mem(const StoreBuild *a, const StoreBuild *b, double now) {
        return CMP(mem_of(a), mem_of(b));
}
static void f_peak(const StoreBuild *b, double now, char *buf, size_t n) {
        units_format_bytes(buf, n, b->mem_peak > 0 ? b->mem_peak : -1);
        mark_remote(b, buf, n);
}
static bool e_peak(const StoreBuild *b, double now) {
        return !(b->mem_peak > 0);
}
static int c_peak(const StoreBuild *a, const StoreBuild *b, double now) {
        return CMP(a->mem_peak, b->mem_peak);
}

/* Each title fits its column with the sort arrow after it: a title is never cut. */
const Column columns[] = {
        {"NAME", 0, 100, false, false, f_name, c_name, NULL,
         "the derivation's name, under its invocation (#N user: who ran which nix command)"},
        {"PHASE", 9, 3, false, false, f_phase, c_phase, e_phase,
         "the phase it is in (unpack, configure, build, install, ...; - for none)"},
        {"STATE", 11, 99, false, false, f_state, c_state, NULL,
         "its state, or for a failed build why it failed (see the words below)"},
        {"PROG", 5, 4, true, true, f_progress, c_progress, e_progress,
         "progress: % of the time its past builds took (- without history)"},
        {"USER", 8, 6, false, false, f_requester, c_requester, e_requester,
         "the user who asked for the build"},
        {"MACHINE", 9, 2, false, false, f_machine, c_machine, NULL,
         "where it builds: local, or the remote builder's host name"},
        {"ELAPSED", 8, 98, true, true, f_elapsed, c_elapsed, e_elapsed,
         "time since it started (42s, 3m05s, 1h02m, 2d03h)"},
        {"ETA", 6, 5, true, false, f_eta, c_eta, e_eta,
         "time left by its history; ~: a rough guess; +2m05s: over its usual time by that much"},
        {"CPU%", 5, 97, true, true, f_cpu, c_cpu, e_cpu,
         "CPU use now, % of one core (250%: two and a half cores); a trailing @: the remote "
         "machine's daemon measured it"},
        {"MEM", 6, 96, true, true, f_mem, c_mem, e_mem,
         "memory its processes hold now (sum of their RSS; bytes: K, M, G)"},
        {"PEAK", 6, 1, true, true, f_peak, c_peak, e_peak,
         "the most memory its processes held at once (bytes: K, M, G)"},
};
const size_t n_columns = ELEMENTSOF(columns);

/* The name column keeps at least this many cells before other columns are dropped. */
#define NAME_MIN 24

int columns_layout(int width, unsigned idle, bool shown[], size_t n) {
        int used = 0;
        for (size_t i = 0; i < n; i++) {
                /* At 80-100 cells a column with nothing to say on this machine gives its room
                 * to the name. */
                shown[i] = i == COLUMN_NAME || width > COLUMNS_NARROW || !(idle & (1u << i));
                if (i != COLUMN_NAME && shown[i])
                        used += columns[i].width + 1;
        }
        while (width - used < NAME_MIN) {
                /* Drop the shown column of lowest priority. */
                int drop = -1;
                for (size_t i = 0; i < n; i++)
                        if (shown[i] && i != COLUMN_NAME &&
                            (drop < 0 || columns[i].priority < columns[drop].priority))
                                drop = (int) i;
                if (drop < 0)
                        break;
                shown[drop] = false;
                used -= columns[drop].width + 1;
        }
        return MAX(width - used, 1);
}

/* Active work first: what runs (or is frozen, or finishing), then what waits, then what
 * ended. */
static int activity_rank(const StoreBuild *b) {
        return b->state == BUILD_QUEUED ? 1 : build_state_is_active(b->state) ? 0 : 2;
}

int columns_compare(int col, bool descending, const StoreBuild *a, const StoreBuild *b, double now) {
        int r = 0;
        if (col < 0)
                r = CMP(activity_rank(a), activity_rank(b));
        else if ((size_t) col < n_columns) {
                const Column *c = &columns[col];
                bool ea = c->empty && c->empty(a, now), eb = c->empty && c->empty(b, now);
                if (ea || eb)
                        r = ea - eb; /* empty last, either way */
                else {
                        r = c->compare(a, b, now);
                        r = descending ? -r : r;
                }
        }
        if (r == 0)
                r = CMP(a->key, b->key);
        if (r == 0)
                r = CMP(a->host, b->host);
        return r;
}

int columns_find(const char *title) {
        for (size_t i = 0; i < n_columns; i++)
                if (strcasecmp(columns[i].title, title) == 0)
                        return (int) i;
        return -1;
}
