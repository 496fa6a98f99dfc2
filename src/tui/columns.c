/* The build list's fields. */
#include "tui/columns.h"

#include <math.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "basic/macro.h"
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
static int c_phase(const StoreBuild *a, const StoreBuild *b, double now) {
        return strcmp(a->phase ?: "", b->phase ?: "");
}

static void f_state(const StoreBuild *b, double now, char *buf, size_t n) {
        fmt_state(buf, n, store_state_name(b->state), b->failure_kind);
}
static int c_state(const StoreBuild *a, const StoreBuild *b, double now) {
        return CMP(a->state, b->state);
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
static int c_progress(const StoreBuild *a, const StoreBuild *b, double now) {
        return CMP(progress_of(a, now), progress_of(b, now));
}

static void f_requester(const StoreBuild *b, double now, char *buf, size_t n) {
        snprintf(buf, n, "%s", b->user ?: "-");
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
static int c_eta(const StoreBuild *a, const StoreBuild *b, double now) {
        /* Unknown last; the most overdue first among the rest. */
        double ra = store_build_remaining(a, now), rb = store_build_remaining(b, now);
        if (isnan(ra) || isnan(rb))
                return isnan(ra) - isnan(rb);
        return CMP(ra, rb);
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
static int c_cpu(const StoreBuild *a, const StoreBuild *b, double now) {
        return CMP(a->cpu_percent, b->cpu_percent);
}

/* MEM: the memory its processes hold now (the sum of their RSS), while it runs; PEAK: the
 * most that sum reached, whatever its state. One meaning each. */
static void f_mem(const StoreBuild *b, double now, char *buf, size_t n) {
        units_format_bytes(buf, n, build_state_is_active(b->state) ? b->mem_current : -1);
        mark_remote(b, buf, n);
}
static int c_mem(const StoreBuild *a, const StoreBuild *b, double now) {
        return CMP(build_state_is_active(a->state) ? a->mem_current : -1,
                   build_state_is_active(b->state) ? b->mem_current : -1);
}
static void f_peak(const StoreBuild *b, double now, char *buf, size_t n) {
        units_format_bytes(buf, n, b->mem_peak > 0 ? b->mem_peak : -1);
        mark_remote(b, buf, n);
}
static int c_peak(const StoreBuild *a, const StoreBuild *b, double now) {
        return CMP(a->mem_peak, b->mem_peak);
}

const Column columns[] = {
        {"NAME", 0, 100, false, f_name, c_name},
        {"PHASE", 9, 3, false, f_phase, c_phase},
        {"STATE", 11, 99, false, f_state, c_state},
        {"PROG", 4, 4, true, f_progress, c_progress},
        {"USER", 8, 6, false, f_requester, c_requester},
        {"MACHINE", 9, 2, false, f_machine, c_machine},
        {"ELAPSED", 7, 98, true, f_elapsed, c_elapsed},
        {"ETA", 6, 5, true, f_eta, c_eta},
        {"CPU%", 5, 97, true, f_cpu, c_cpu},
        {"MEM", 6, 96, true, f_mem, c_mem},
        {"PEAK", 6, 1, true, f_peak, c_peak},
};
const size_t n_columns = ELEMENTSOF(columns);

/* The name column keeps at least this many cells before other columns are dropped. */
#define NAME_MIN 24

int columns_layout(int width, bool shown[], size_t n) {
        int used = 0;
        for (size_t i = 0; i < n; i++) {
                shown[i] = true;
                if (i != COLUMN_NAME)
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

int columns_find(const char *title) {
        for (size_t i = 0; i < n_columns; i++)
                if (strcasecmp(columns[i].title, title) == 0)
                        return (int) i;
        return -1;
}
