/* The output options and what they resolve to: table or JSON, colour, width. */
#include "ctl/output.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/string-util.h"

int ctl_output_option(CtlContext *ctx, int c, const char *arg) {
        switch (c) {
        case CTL_ARG_JSON:
                ctx->format = CTL_FORMAT_JSON;
                return 1;
        case CTL_ARG_TABLE:
                ctx->format = CTL_FORMAT_TABLE;
                return 1;
        case CTL_ARG_COLOR:
                /* A bare --color means always, as in ls and grep. */
                if (!arg || strcmp(arg, "always") == 0 || strcmp(arg, "yes") == 0)
                        ctx->color = CTL_COLOR_ALWAYS;
                else if (strcmp(arg, "never") == 0 || strcmp(arg, "no") == 0)
                        ctx->color = CTL_COLOR_NEVER;
                else if (strcmp(arg, "auto") == 0)
                        ctx->color = CTL_COLOR_AUTO;
                else {
                        log_error("--color: expected auto, always or never, got '%s'", arg);
                        return -EINVAL;
                }
                return 1;
        default:
                return 0;
        }
}

int ctl_parse_simple_options(CtlContext *ctx, const char *verb, const char *usage, bool outputs, int argc,
                             char **argv, bool *ret_done) {
        static const struct option with_outputs[] = {
                {"help", no_argument, NULL, 'h'},
                CTL_OUTPUT_OPTIONS,
                {},
        };
        /* Without them getopt itself says which option is not known here. */
        static const struct option help_only[] = {
                {"help", no_argument, NULL, 'h'},
                {},
        };
        *ret_done = false;
        int c;
        while ((c = getopt_long(argc, argv, "h", outputs ? with_outputs : help_only, NULL)) >= 0) {
                if (c == 'h') {
                        fputs(usage, stdout);
                        *ret_done = true;
                        return CTL_EXIT_OK;
                }
                if (!outputs || ctl_output_option(ctx, c, optarg) <= 0)
                        return ctl_usage_hint(verb);
        }
        return CTL_EXIT_OK;
}

bool ctl_output_table(const CtlContext *ctx) {
        if (ctx->format != CTL_FORMAT_AUTO)
                return ctx->format == CTL_FORMAT_TABLE;
        /* Scripts read through pipes and had JSON before tables existed: they keep it. */
        return ctx->stdout_is_tty;
}

bool ctl_output_color(const CtlContext *ctx) {
        if (ctx->color != CTL_COLOR_AUTO)
                return ctx->color == CTL_COLOR_ALWAYS;
        /* no-color.org: any non-empty NO_COLOR turns colour off. */
        const char *no_color = getenv("NO_COLOR");
        const char *term = getenv("TERM");
        return ctx->stdout_is_tty && !(no_color && *no_color) && !(term && strcmp(term, "dumb") == 0);
}

size_t ctl_output_width(void) {
        struct winsize ws = {};
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                return ws.ws_col;
        uint64_t v;
        const char *e = getenv("COLUMNS");
        if (e && safe_atou64(e, &v) == 0 && v > 0 && v < 100000)
                return (size_t) v;
        return 0;
}
