/* Figures and words for columns: short, fixed-width friendly, unit-suffixed. */
#include "shared/fmt.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "basic/macro.h"
#include "shared/json-read.h"

char *fmt_duration(char *buf, size_t n, double seconds) {
        /* Negative or NaN: unknown. Beyond a thousand years: not a real duration. */
        if (!(seconds >= 0) || seconds > 3.2e10) {
                snprintf(buf, n, "-");
                return buf;
        }
        unsigned long long s = (unsigned long long) (seconds + 0.5);
        if (s < 60)
                snprintf(buf, n, "%llus", s);
        else if (s < 3600)
                snprintf(buf, n, "%llum%02llus", s / 60, s % 60);
        else if (s < 86400)
                snprintf(buf, n, "%lluh%02llum", s / 3600, (s / 60) % 60);
        else
                snprintf(buf, n, "%llud%02lluh", s / 86400, (s / 3600) % 24);
        return buf;
}

char *fmt_percent(char *buf, size_t n, double percent) {
        if (!(percent >= 0) || percent > 1e9)
                snprintf(buf, n, "-");
        else if (percent < 9.95)
                snprintf(buf, n, "%.1f%%", percent);
        else
                snprintf(buf, n, "%.0f%%", percent);
        return buf;
}

char *fmt_time(char *buf, size_t n, double unix_time, double now) {
        if (!(unix_time > 0 && unix_time < 1e11) || !(now > 0 && now < 1e11)) {
                snprintf(buf, n, "-");
                return buf;
        }
        time_t t = (time_t) unix_time, tn = (time_t) now;
        struct tm tm, tmn;
        if (!localtime_r(&t, &tm) || !localtime_r(&tn, &tmn)) {
                snprintf(buf, n, "-");
                return buf;
        }
        if (tm.tm_year == tmn.tm_year && tm.tm_yday == tmn.tm_yday)
                strftime(buf, n, "%H:%M:%S", &tm);
        else
                strftime(buf, n, "%m-%d %H:%M", &tm);
        return buf;
}

char *fmt_phase(char *buf, size_t n, const char *phase) {
        const char *p = phase ?: "-";
        size_t l = strlen(p);
        if (l > 5 && strcmp(p + l - 5, "Phase") == 0)
                snprintf(buf, n, "%.*s", (int) (l - 5), p);
        else
                snprintf(buf, n, "%s", p);
        return buf;
}

char *fmt_state(char *buf, size_t n, const char *state, const char *failure_kind) {
        /* A build that never ran is not said to have failed at building. */
        if (state && strcmp(state, "failed") == 0 && failure_kind &&
            strcmp(failure_kind, "not-started") == 0)
                snprintf(buf, n, "not started");
        /* Killed at its memory limit: its own word, not one more failure. */
        else if (state && strcmp(state, "failed") == 0 && failure_kind &&
                 strcmp(failure_kind, "oom-killed") == 0)
                snprintf(buf, n, "oom-killed");
        else if (state && strcmp(state, "frozen") == 0)
                snprintf(buf, n, "FROZEN");
        else
                snprintf(buf, n, "%s", state ?: "-");
        return buf;
}

/* A failure kind (docs/protocol.md, "failure") in the few words of a STATE cell (11), and
 * what those words mean (the TUI's help lists them). "exit N" and "signal N" take their
 * figure from the failure; the others are fixed words. */
static const struct {
        const char *kind, *words, *meaning;
} failure_words[] = {
        {"exit-code", "exit N", "the builder exited with status N"},
        {"signal", "signal N", "a signal N ended the builder (9: SIGKILL, 15: SIGTERM)"},
        {"oom-killed", "oom-killed", "the kernel's OOM killer ended one of its processes (memory limit)"},
        {"dependency", "dep failed", "not built: one of its inputs failed"},
        {"no-outputs", "no outputs", "the builder ended but left no valid outputs"},
        {"not-started", "not started", "never ran: its nix process ended on an error of its own"},
        {"cancelled", "cancelled", "Nix stopped before it ended (another build failed, Ctrl-C)"},
        {"hash-mismatch", "bad hash", "a fixed-output derivation's output had another hash"},
        {"timeout", "timeout", "it ran longer than Nix's timeout"},
        {"max-silent-time", "silent", "it printed nothing for longer than max-silent-time"},
        {"log-limit", "log limit", "its log grew past max-build-log-size"},
        {"substitution", "subst fail", "its outputs could not be substituted (no fallback build)"},
};

char *fmt_state_why(char *buf, size_t n, const char *state, const char *failure_kind, int exit_code,
                    int signal) {
        if (!state || strcmp(state, "failed") != 0 || !failure_kind)
                return fmt_state(buf, n, state, failure_kind);
        if (strcmp(failure_kind, "exit-code") == 0 && exit_code != FMT_NONE)
                snprintf(buf, n, "exit %d", exit_code);
        else if (strcmp(failure_kind, "signal") == 0 && signal != FMT_NONE)
                snprintf(buf, n, "signal %d", signal);
        else {
                snprintf(buf, n, "failed"); /* "other", or a kind newer than this program */
                /* The first two need their figure: without it, plain "failed". */
                for (size_t i = 2; i < ELEMENTSOF(failure_words); i++)
                        if (strcmp(failure_kind, failure_words[i].kind) == 0)
                                snprintf(buf, n, "%s", failure_words[i].words);
        }
        return buf;
}

int fmt_failure_word(size_t i, const char **ret_words, const char **ret_meaning) {
        if (i >= ELEMENTSOF(failure_words))
                return 0;
        *ret_words = failure_words[i].words;
        *ret_meaning = failure_words[i].meaning;
        return 1;
}

char *fmt_machine(char *buf, size_t n, const char *uri) {
        if (!uri || !*uri) {
                snprintf(buf, n, "local");
                return buf;
        }
        const char *p = strstr(uri, "://");
        p = p ? p + 3 : uri;
        const char *at = strchr(p, '@');
        if (at)
                p = at + 1;
        size_t l = strcspn(p, "?/:");
        snprintf(buf, n, "%.*s", (int) l, p);
        return buf;
}

/* Decodes one UTF-8 character; returns its length (1 for an invalid byte, *ret = -1). */
static size_t fmt_decode(const char *s, wchar_t *ret) {
        mbstate_t st = {};
        wchar_t wc;
        size_t l = mbrtowc(&wc, s, strlen(s) < 4 ? strlen(s) : 4, &st);
        if (l == 0 || l == (size_t) -1 || l == (size_t) -2) {
                *ret = -1;
                return 1;
        }
        *ret = wc;
        return l;
}

static int fmt_cell_width(wchar_t wc) {
        if (wc < 0)
                return 1;
        int w = wcwidth(wc);
        return w < 0 ? 1 : w;
}

size_t fmt_width(const char *s) {
        size_t w = 0;
        while (*s) {
                wchar_t wc;
                s += fmt_decode(s, &wc);
                w += (size_t) fmt_cell_width(wc);
        }
        return w;
}

char *fmt_fit(char *buf, size_t n, const char *s, size_t cells, int ascii) {
        if (n == 0)
                return buf;
        const char *ell = ascii ? "~" : "\xe2\x80\xa6";
        size_t ell_len = strlen(ell);
        if (fmt_width(s) <= cells) {
                snprintf(buf, n, "%s", s);
                return buf;
        }
        size_t used = 0, out = 0;
        while (*s && cells > 0) {
                wchar_t wc;
                size_t l = fmt_decode(s, &wc);
                size_t w = (size_t) fmt_cell_width(wc);
                if (used + w + 1 > cells || out + l + ell_len + 1 > n)
                        break;
                memcpy(buf + out, s, l);
                out += l;
                used += w;
                s += l;
        }
        if (cells > 0 && out + ell_len + 1 <= n) {
                memcpy(buf + out, ell, ell_len);
                out += ell_len;
        }
        buf[out] = 0;
        return buf;
}

/* Cells of the name kept before the ellipsis at least, or the version is not worth keeping. */
#define NAME_HEAD_MIN 3

char *fmt_fit_name(char *buf, size_t n, const char *s, size_t cells, int ascii) {
        if (n == 0)
                return buf;
        if (fmt_width(s) <= cells)
                return fmt_fit(buf, n, s, cells, ascii);
        const char *v = s;
        while ((v = strchr(v, '-')) && (!v[1] || isalpha((unsigned char) v[1])))
                v++;
        size_t vw = v ? fmt_width(v) : 0;
        if (!v || vw + NAME_HEAD_MIN + 1 > cells)
                return fmt_fit(buf, n, s, cells, ascii);
        /* The name before the version, cut to the cells the version leaves: fmt_fit() ends
         * it with the ellipsis (it does not fit, or the whole would have). */
        size_t vl = strlen(v), head_len = (size_t) (v - s);
        if (n <= vl + 1)
                return fmt_fit(buf, n, s, cells, ascii);
        char head[256];
        snprintf(head, sizeof(head), "%.*s", (int) MIN(head_len, sizeof(head) - 1), s);
        fmt_fit(buf, n - vl, head, cells - vw, ascii);
        memcpy(buf + strlen(buf), v, vl + 1);
        return buf;
}

char *fmt_pressure_top(char *buf, size_t n, const cJSON *top) {
        const cJSON *b;
        size_t at = 0;
        buf[0] = '\0';
        if (!cJSON_IsArray(top))
                return buf;
        cJSON_ArrayForEach(b, top) {
                char pct[16];
                int k = snprintf(buf + at, n - at, "%s%s %s",
                                 at ? ", " : "stalled for memory: ", json_str(b, "name") ?: "?",
                                 fmt_percent(pct, sizeof(pct), json_num(b, "memory", -1)));
                if (k < 0 || (size_t) k >= n - at) {
                        buf[at] = '\0'; /* what fits whole: the most first */
                        break;
                }
                at += (size_t) k;
        }
        return buf;
}

char *fmt_oom_kill(char *buf, size_t n, const cJSON *kill, double now) {
        char when[32], pid[32] = "?", host[48] = "";
        const cJSON *v = json_obj(kill, "victim"), *b = json_obj(kill, "build");
        double p = json_num(v, "pid", -1), hp = json_num(v, "host_pid", -1);
        if (p > 0)
                snprintf(pid, sizeof(pid), "%.0f", p);
        /* The kernel's pid where it is not ours (a daemon in a container). */
        if (hp > 0 && hp != p)
                snprintf(host, sizeof(host), ", host pid %.0f", hp);
        snprintf(buf, n, "%s OOM kill: pid %s%s (%s) of %s",
                 fmt_time(when, sizeof(when), json_num(kill, "time", -1), now), pid, host,
                 json_str(v, "command") ?: "?", b ? json_str(b, "name") ?: "a build" : "no build");
        return buf;
}
