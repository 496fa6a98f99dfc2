/* The log verb: a build's log lines from the daemon's ring, and with --follow the lines still
 * to come until the build ends. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "basic/log.h"
#include "ctl/commands.h"
#include "shared/json-read.h"

static const char usage[] =
        "Usage: nix-analytics-ctl log [OPTIONS] BUILD\n"
        "\n"
        "Prints the log lines of BUILD the daemon keeps, one per line, as the builder wrote\n"
        "them. The daemon keeps the last lines of a running build and the last 20 of a\n"
        "finished one; 'nix log DRV' has the full log of a finished build.\n"
        "\n"
        "Options:\n"
        "  -n, --tail N    only the last N lines\n"
        "  -f, --follow    then print new lines as they come, until the build ends\n"
        "                  (a finished build is printed and not followed)\n"
        "      --json      JSON lines: the get-log result {build,lines,total,truncated}, then\n"
        "                  with --follow each 'log' and the final 'log-end' event\n"
        "  -h, --help      show this help\n";

typedef struct LogOptions {
        const char *target;
        long long tail; /* -1: all the daemon has */
        bool follow;
        bool json;
} LogOptions;

/* Returns -1 to go on, else an exit code. */
static int parse_options(int argc, char **argv, LogOptions *o) {
        enum { ARG_JSON = 0x100 };
        static const struct option options[] = {
                {"tail", required_argument, NULL, 'n'},
                {"follow", no_argument, NULL, 'f'},
                {"json", no_argument, NULL, ARG_JSON},
                {"help", no_argument, NULL, 'h'},
                {},
        };

        int c;
        while ((c = getopt_long(argc, argv, "n:fh", options, NULL)) >= 0) {
                switch (c) {
                case 'n':
                        if (ctl_parse_uint("--tail", optarg, &o->tail) < 0)
                                return ctl_usage_hint("log");
                        break;
                case 'f':
                        o->follow = true;
                        break;
                case ARG_JSON:
                        o->json = true;
                        break;
                case 'h':
                        fputs(usage, stdout);
                        return CTL_EXIT_OK;
                default:
                        return ctl_usage_hint("log");
                }
        }
        if (argc - optind != 1) {
                log_error("log: expected one BUILD");
                return ctl_usage_hint("log");
        }
        o->target = argv[optind];
        return -1;
}

static bool state_is_final(const char *state) {
        static const char *const final[] = {"succeeded", "failed", "killed", "lost"};
        if (!state)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(final); i++)
                if (strcmp(state, final[i]) == 0)
                        return true;
        return false;
}

static int print_lines(const cJSON *lines) {
        const cJSON *l;
        cJSON_ArrayForEach(l, lines) {
                if (!cJSON_IsString(l))
                        continue;
                if (fputs(l->valuestring, stdout) == EOF || putchar('\n') == EOF)
                        break;
        }
        if (fflush(stdout) == EOF || ferror(stdout))
                return log_error_errno(errno, "cannot write to standard output: %m");
        return 0;
}

static bool event_is_for(const cJSON *ev, double key) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(ev, "build");
        return cJSON_IsNumber(b) && b->valuedouble == key;
}

/* Prints the events of build key until its log-end, a stop signal or a failure. */
static int follow(Client *c, int stop_fd, double key, bool json) {
        for (;;) {
                _cleanup_(cJSON_Deletep) cJSON *ev = NULL;
                int r = client_next_event(c, stop_fd, CLIENT_NO_TIMEOUT, &ev);
                if (r == 0)
                        return CTL_EXIT_OK;
                if (r == -ECONNRESET) {
                        log_error("%s: the daemon went away", client_path(c));
                        return CTL_EXIT_UNREACHABLE;
                }
                if (r < 0)
                        return ctl_transport_failure(c, r);

                const char *name = json_str(ev, "event");
                bool is_log = strcmp(name, "log") == 0, is_end = strcmp(name, "log-end") == 0;
                if (!(is_log || is_end) || !event_is_for(ev, key))
                        continue;

                if (json)
                        r = ctl_print_json_line(ev);
                else if (is_log) {
                        /* Lines the daemon's ring lost before they could be sent to us. */
                        const cJSON *skipped = cJSON_GetObjectItemCaseSensitive(ev, "skipped");
                        if (cJSON_IsNumber(skipped) && skipped->valuedouble > 0)
                                log_notice("(%.0f lines skipped)", skipped->valuedouble);
                        r = print_lines(cJSON_GetObjectItemCaseSensitive(ev, "lines"));
                }
                if (r < 0)
                        return CTL_EXIT_PROTOCOL;
                if (is_end)
                        return CTL_EXIT_OK;
        }
}

int verb_log(const CtlContext *ctx, int argc, char **argv) {
        /* A global --json asks for JSON lines here too. */
        LogOptions o = {.tail = -1, .json = ctx->format == CTL_FORMAT_JSON};
        int r = parse_options(argc, argv, &o);
        if (r >= 0)
                return r;

        _cleanup_close_ int stop_fd = -EBADF;
        if (o.follow && ctl_stop_signal_fd(&stop_fd) < 0)
                return CTL_EXIT_PROTOCOL;

        _cleanup_client_free_ Client *c = NULL;
        r = ctl_open(ctx, &c);
        if (r != CTL_EXIT_OK)
                return r;

        /* get-build first: it resolves the target once (the log requests then name the key),
         * and tells whether the build has already ended and there is nothing to follow. */
        cJSON *args = cJSON_CreateObject();
        if (!args || !cJSON_AddItemToObject(args, "build", ctl_int_or_string(o.target))) {
                cJSON_Delete(args);
                return ctl_exit_oom();
        }
        _cleanup_(client_reply_done) ClientReply build_reply = {};
        r = ctl_call(ctx, c, "get-build", args, &build_reply);
        if (r != CTL_EXIT_OK)
                return r;
        const cJSON *build = cJSON_GetObjectItemCaseSensitive(build_reply.result, "build");
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(build, "key");
        if (!cJSON_IsNumber(key))
                return ctl_transport_failure(c, -EPROTO);
        const char *state = json_str(build, "state");
        const char *drv = json_str(build, "drv");
        bool follow_now = o.follow && !state_is_final(state);

        args = cJSON_CreateObject();
        if (!args || !cJSON_AddNumberToObject(args, "build", key->valuedouble) ||
            (o.tail >= 0 && !cJSON_AddNumberToObject(args, "tail", (double) o.tail)) ||
            (follow_now && !cJSON_AddTrueToObject(args, "follow"))) {
                cJSON_Delete(args);
                return ctl_exit_oom();
        }
        _cleanup_(client_reply_done) ClientReply log_reply = {};
        r = ctl_call(ctx, c, "get-log", args, &log_reply);
        if (r != CTL_EXIT_OK)
                return r;

        if (o.json)
                r = ctl_print_json_line(log_reply.result);
        else
                r = print_lines(cJSON_GetObjectItemCaseSensitive(log_reply.result, "lines"));
        if (r < 0)
                return CTL_EXIT_PROTOCOL;

        const cJSON *truncated = cJSON_GetObjectItemCaseSensitive(log_reply.result, "truncated");
        if (!o.json && o.tail < 0 && cJSON_IsNumber(truncated) && truncated->valuedouble > 0)
                log_notice("(%.0f earlier lines are no longer kept by the daemon; once the build has "
                           "ended, 'nix log %s' shows them all)",
                           truncated->valuedouble, drv ?: "DRV");

        /* The build may have ended between the two requests: then the daemon does not follow
         * it and no log-end comes. Its get-log result says the state it saw (an extension of
         * protocol.md; without it, the get-build state decides). */
        const char *state_now = json_str(log_reply.result, "state");
        if (!follow_now || state_is_final(state_now))
                return CTL_EXIT_OK;
        return follow(c, stop_fd, key->valuedouble, o.json);
}
