/* Tables for people, JSON for scripts: the output options every query verb takes (and the
 * global ones before the verb), and what they resolve to for the terminal at hand. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ctl/ctl.h"

enum {
        CTL_ARG_JSON = 0x1000,
        CTL_ARG_TABLE,
        CTL_ARG_COLOR,
};

/* clang-format off */
#define CTL_OUTPUT_OPTIONS \
        {"json", no_argument, NULL, CTL_ARG_JSON}, \
        {"table", no_argument, NULL, CTL_ARG_TABLE}, \
        {"color", optional_argument, NULL, CTL_ARG_COLOR}
/* clang-format on */

#define CTL_OUTPUT_HELP                                                                         \
        "      --json                 the daemon's JSON (the default when stdout is not a\n"    \
        "                             terminal)\n"                                              \
        "      --table                a table for people, also through a pipe (the default\n"   \
        "                             on a terminal)\n"                                         \
        "      --color[=WHEN]         colour the table: auto (on a terminal, unless NO_COLOR\n" \
        "                             is set), always, never\n"

/* Applies output option c (with its argument) to ctx. Returns 1 when c is one, 0 when it is
 * not, -EINVAL (logged) for a bad --color value. */
int ctl_output_option(CtlContext *ctx, int c, const char *arg);

/* Parses the options of a verb whose only options are --help and, when outputs is set, the
 * output options (applied to ctx); optind is left at the first operand. Returns CTL_EXIT_OK,
 * with *ret_done set when --help was shown (nothing is left to do), or the usage error's exit
 * code. */
int ctl_parse_simple_options(CtlContext *ctx, const char *verb, const char *usage, bool outputs, int argc,
                             char **argv, bool *ret_done);

/* Whether results are shown as a table (else as JSON). */
bool ctl_output_table(const CtlContext *ctx);
/* Whether the table is coloured. */
bool ctl_output_color(const CtlContext *ctx);
/* The width rows are fitted to: the terminal's (TIOCGWINSZ on stdout), else $COLUMNS,
 * else 0 (no limit). */
size_t ctl_output_width(void);
