/* Short renderings of figures and words for fixed-width columns, shared by the TUI and the
 * CLI's tables: durations, percentages, times, phases, states, machines (sizes:
 * units_format_bytes() in shared/units.h).
 * Every function writes at most n bytes (NUL included) and returns buf. */
#pragma once

#include <cjson/cJSON.h>

#include <stddef.h>
#include <stdint.h>

/* 42s, 3m05s, 1h02m, 2d03h, "-" when negative. */
char *fmt_duration(char *buf, size_t n, double seconds);
/* 98%, 1.5% (below 10), 250% (several cores), "-" when negative. */
char *fmt_percent(char *buf, size_t n, double percent);
/* Local time of a unix time as "HH:MM:SS" today, else "MM-DD HH:MM"; "-" when <= 0. */
char *fmt_time(char *buf, size_t n, double unix_time, double now);

/* A phase short: "buildPhase" says no more than "build" in a narrow column; "-" for none. */
char *fmt_phase(char *buf, size_t n, const char *phase);
/* A build's state as the build list shows it: "FROZEN" unmistakable even without colours,
 * "not started" for a failure of kind not-started, "oom-killed" for one of kind oom-killed,
 * else the state. */
char *fmt_state(char *buf, size_t n, const char *state, const char *failure_kind);
/* "Not given" for the figures below. */
#define FMT_NONE (-1000)
/* The same, and for a failed build why in a few words, from its failure's kind (and exit
 * status or signal, FMT_NONE when not given): "exit 3", "signal 9", "oom-killed", "dep failed",
 * "not started", "no outputs", "timeout", ...; "failed" for a kind without words of its own. */
char *fmt_state_why(char *buf, size_t n, const char *state, const char *failure_kind, int exit_code,
                    int signal);
/* An OOM kill (a get-oom-history row) in a line: "03:12:04 OOM kill: pid 4242 (cc1plus) of
 * chromium-131" or "... of no build". */
char *fmt_oom_kill(char *buf, size_t n, const cJSON *kill, double now);
/* The builds that stalled most for memory (an `at` answer's or status.host's "pressure_top")
 * in a line: "stalled for memory: hello 24%, world 3.1%"; "" when none did. */
char *fmt_pressure_top(char *buf, size_t n, const cJSON *top);
/* The i-th failure word of fmt_state_why() ("exit N", "oom", ...) and what it means: 1, or 0
 * past the last. */
int fmt_failure_word(size_t i, const char **ret_words, const char **ret_meaning);
/* A machine as a short name: "" is "local", "ssh-ng://root@host?x" is "host". */
char *fmt_machine(char *buf, size_t n, const char *uri);

/* Display width of a UTF-8 string in terminal cells (wide characters count 2, invalid
 * bytes 1). */
size_t fmt_width(const char *s);
/* Copies at most `cells` terminal cells of s into buf (n bytes), cutting on a character
 * boundary and ending with "…" (or "~" with ascii) when it had to cut. */
char *fmt_fit(char *buf, size_t n, const char *s, size_t cells, int ascii);
/* The same for a derivation name: when it has to be cut, its middle goes and its version
 * stays ("python3.12-som…-1.2.3"; the version: from the first "-" not followed by a
 * letter, as Nix splits names). Names without a version, or whose version leaves no room,
 * are cut at the end as fmt_fit() does. */
char *fmt_fit_name(char *buf, size_t n, const char *s, size_t cells, int ascii);
