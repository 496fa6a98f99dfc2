/* The history verbs: get-history and stats, with the same filters (docs/ctl.md). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "ctl/commands.h"
#include "ctl/output.h"
#include "ctl/query.h"
#include "shared/when.h"

enum {
        ARG_HELP = 'h',
        ARG_LIMIT = 0x100,
        ARG_OFFSET,
        ARG_NAME,
        ARG_PNAME,
        ARG_STATE,
        ARG_REQUESTER,
        ARG_MACHINE,
        ARG_SINCE,
        ARG_UNTIL,
        ARG_ORDER,
        ARG_ASC,
        ARG_TOP,
        ARG_KIND,
        ARG_COUNT,
        ARG_ID,
        ARG_TIMELINE,
};

/* "1732460000" (unix seconds) or an age: "90s", "30m", "12h", "7d" before now. */
static int parse_when(const char *option, const char *s, double *ret) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        double unit = 0;
        if (errno == 0 && end != s && v >= 0 && isfinite(v)) {
                if (*end == '\0')
                        unit = -1;
                else if (end[1] == '\0')
                        unit = *end == 's'   ? 1
                               : *end == 'm' ? 60
                               : *end == 'h' ? 3600
                               : *end == 'd' ? 86400
                                             : 0;
        }
        if (unit == 0) {
                log_error("%s: expected unix seconds or an age like 90s, 30m, 12h, 7d; got '%s'", option, s);
                return -EINVAL;
        }
        if (unit < 0) {
                *ret = v;
                return 0;
        }
        *ret = (double) now_realtime() / 1e6 - v * unit;
        if (*ret < 0)
                *ret = 0;
        return 0;
}

/* The filter options both verbs share. Returns 1 when handled, 0 when not a filter option,
 * < 0 on a usage error (logged) and -ENOMEM. */
static int filter_option(int c, cJSON *args) {
        double t;
        switch (c) {
        case ARG_NAME:
                return ctl_add_item(args, "name", cJSON_CreateString(optarg)) ? 1 : -ENOMEM;
        case ARG_PNAME:
                return ctl_add_item(args, "pname", cJSON_CreateString(optarg)) ? 1 : -ENOMEM;
        case ARG_KIND:
                if (strcmp(optarg, "build") != 0 && strcmp(optarg, "substitution") != 0) {
                        log_error("--kind: expected build or substitution, got '%s'", optarg);
                        return -EINVAL;
                }
                return ctl_add_item(args, "kind", cJSON_CreateString(optarg)) ? 1 : -ENOMEM;
        case ARG_STATE:
                if (ctl_check_states("--state", optarg) < 0)
                        return -EINVAL;
                return ctl_add_item(args, "state", ctl_state_filter(optarg)) ? 1 : -ENOMEM;
        case ARG_REQUESTER:
                return ctl_add_item(args, "requester", ctl_int_or_string(optarg)) ? 1 : -ENOMEM;
        case ARG_MACHINE:
                /* "local" names the local machine, stored as "". */
                return ctl_add_item(args, "machine",
                                    cJSON_CreateString(strcmp(optarg, "local") == 0 ? "" : optarg))
                               ? 1
                               : -ENOMEM;
        case ARG_SINCE:
        case ARG_UNTIL:
                if (parse_when(c == ARG_SINCE ? "--since" : "--until", optarg, &t) < 0)
                        return -EINVAL;
                return ctl_add_item(args, c == ARG_SINCE ? "since" : "until", cJSON_CreateNumber(t))
                               ? 1
                               : -ENOMEM;
        default:
                return 0;
        }
}

/* clang-format off */
#define FILTER_OPTIONS \
        {"name", required_argument, NULL, ARG_NAME}, \
        {"pname", required_argument, NULL, ARG_PNAME}, \
        {"kind", required_argument, NULL, ARG_KIND}, \
        {"state", required_argument, NULL, ARG_STATE}, \
        {"requester", required_argument, NULL, ARG_REQUESTER}, \
        {"machine", required_argument, NULL, ARG_MACHINE}, \
        {"since", required_argument, NULL, ARG_SINCE}, \
        {"until", required_argument, NULL, ARG_UNTIL}, \
        {"help", no_argument, NULL, ARG_HELP}, \
        CTL_OUTPUT_OPTIONS
/* clang-format on */

#define FILTER_HELP                                                                              \
        "      --name GLOB            derivation names matching the shell glob\n"                \
        "      --pname NAME           this package name (the name without its version)\n"        \
        "      --kind KIND            build or substitution (stats: build unless given)\n"       \
        "      --state S[,S...]       final states (succeeded, failed, killed, lost)\n"          \
        "      --requester UID|USER   requested by this user\n"                                  \
        "      --machine URI|local    built on this machine\n"                                   \
        "      --since WHEN           finished at or after WHEN: unix seconds, or an age such\n" \
        "                             as 90s, 30m, 12h, 7d\n"                                    \
        "      --until WHEN           finished before WHEN\n" CTL_OUTPUT_HELP

static const char get_history_usage[] =
        "Usage: nix-analytics-ctl get-history [OPTIONS]\n"
        "\n"
        "Finished builds from the daemon's history database (kept across daemon\n"
        "restarts), newest first. On a terminal a table with the TUI's history columns:\n"
        "FINISHED, STATE, TIME, CPU, MEMPEAK, USER, MACHINE, NAME. --json (or a pipe)\n"
        "prints {\"builds\":[...],\"total\":N}; \"total\" is null unless --count asks for it.\n"
        "\n"
        "Options:\n" FILTER_HELP "      --limit N              at most N rows (default 100, at most 10000)\n"
        "      --offset N             skip the first N matches (paging)\n"
        "      --order KEY            finished (default), started, duration, name\n"
        "      --asc                  ascending order (default: descending)\n"
        "      --count                also count every match in \"total\" (scans them all)\n"
        "      --id N                 only the row of this id (each row's \"id\")\n"
        "      --timeline             each row with its CPU and memory over its life:\n"
        "                             \"timeline\" as get-build's (at most 100 rows)\n"
        "  -h, --help                 show this help\n";

/* Runs verb as the daemon's command cmd; empty: what no match says (NULL: the report's). */
static int parse_run(const CtlContext *ctx, const char *verb, const char *cmd, const char *empty,
                     const char *usage, int argc, char **argv, const struct option *options,
                     ReportFn report) {
        CtlContext local = *ctx;
        bool filtered = false;
        _cleanup_(cJSON_Deletep) cJSON *args = cJSON_CreateObject();
        if (!args)
                return ctl_exit_oom();

        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                long long n;
                int r = filter_option(c, args);
                if (r == -ENOMEM)
                        return ctl_exit_oom();
                if (r < 0)
                        return ctl_usage_hint(verb);
                if (r > 0) {
                        filtered = true;
                        continue;
                }
                bool ok = true;
                switch (c) {
                case ARG_LIMIT:
                case ARG_OFFSET:
                case ARG_TOP:
                case ARG_ID:
                        if (ctl_parse_uint(c == ARG_LIMIT    ? "--limit"
                                           : c == ARG_OFFSET ? "--offset"
                                           : c == ARG_ID     ? "--id"
                                                             : "--top",
                                           optarg, &n) < 0)
                                return ctl_usage_hint(verb);
                        ok = ctl_add_item(args,
                                          c == ARG_LIMIT    ? "limit"
                                          : c == ARG_OFFSET ? "offset"
                                          : c == ARG_ID     ? "id"
                                                            : "top",
                                          cJSON_CreateNumber((double) n));
                        filtered = filtered || c == ARG_ID;
                        break;
                case ARG_ORDER:
                        if (strcmp(optarg, "finished") && strcmp(optarg, "started") &&
                            strcmp(optarg, "duration") && strcmp(optarg, "name")) {
                                log_error("--order: expected finished, started, duration or name; got '%s'",
                                          optarg);
                                return ctl_usage_hint(verb);
                        }
                        ok = ctl_add_item(args, "order", cJSON_CreateString(optarg));
                        break;
                case ARG_ASC:
                        ok = ctl_add_item(args, "ascending", cJSON_CreateTrue());
                        break;
                case ARG_COUNT:
                case ARG_TIMELINE:
                        ok = ctl_add_item(args, c == ARG_COUNT ? "count" : "timeline", cJSON_CreateTrue());
                        break;
                case ARG_HELP:
                        fputs(usage, stdout);
                        return CTL_EXIT_OK;
                default:
                        if (ctl_output_option(&local, c, optarg) <= 0)
                                return ctl_usage_hint(verb);
                }
                if (!ok)
                        return ctl_exit_oom();
        }
        if (optind < argc) {
                log_error("%s: unexpected argument '%s'", verb, argv[optind]);
                return ctl_usage_hint(verb);
        }
        return ctl_run_query_with(&local, cmd, TAKE_PTR(args), report, filtered ? empty : NULL);
}

int verb_get_history(const CtlContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                FILTER_OPTIONS,
                {"limit", required_argument, NULL, ARG_LIMIT},
                {"offset", required_argument, NULL, ARG_OFFSET},
                {"order", required_argument, NULL, ARG_ORDER},
                {"asc", no_argument, NULL, ARG_ASC},
                {"count", no_argument, NULL, ARG_COUNT},
                {"id", required_argument, NULL, ARG_ID},
                {"timeline", no_argument, NULL, ARG_TIMELINE},
                {},
        };
        return parse_run(ctx, "get-history", "get-history", "no finished builds match", get_history_usage,
                         argc, argv, options, report_history);
}

static const char stats_usage[] =
        "Usage: nix-analytics-ctl stats [OPTIONS]\n"
        "\n"
        "Over the history database: build counts and time, the slowest packages (mean\n"
        "duration of successful builds), the most failing, the busiest requesters, and totals\n"
        "per day, as a short report with one table per list on a terminal. --json (or a\n"
        "pipe) prints {\"totals\",\"slowest\",\"failing\",\"requesters\",\"by_day\",\"since\",\n"
        "\"until\"}. Without --since, the last 30 days.\n"
        "\n"
        "Options:\n" FILTER_HELP "      --top N                entries per list (default 10)\n"
        "  -h, --help                 show this help\n";

int verb_stats(const CtlContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                FILTER_OPTIONS,
                {"top", required_argument, NULL, ARG_TOP},
                {},
        };
        return parse_run(ctx, "stats", "stats", "no finished builds match", stats_usage, argc, argv, options,
                         report_stats);
}

static const char oom_history_usage[] =
        "Usage: nix-analytics-ctl oom-history [OPTIONS]\n"
        "\n"
        "The OOM kills kept in the history database (across daemon restarts), newest first,\n"
        "with the columns of 'oom'. --json (or a pipe) prints {\"events\":[...]}.\n"
        "\n"
        "Options:\n"
        "      --since WHEN           at or after WHEN: unix seconds, or an age such as 90s,\n"
        "                             30m, 12h, 7d\n"
        "      --until WHEN           before WHEN\n"
        "      --limit N              at most N kills (default 100, at most 10000)\n" CTL_OUTPUT_HELP
        "  -h, --help                 show this help\n";

int verb_oom_history(const CtlContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                {"since", required_argument, NULL, ARG_SINCE},
                {"until", required_argument, NULL, ARG_UNTIL},
                {"limit", required_argument, NULL, ARG_LIMIT},
                {"help", no_argument, NULL, ARG_HELP},
                CTL_OUTPUT_OPTIONS,
                {},
        };
        return parse_run(ctx, "oom-history", "get-oom-history", "no OOM kills in that time",
                         oom_history_usage, argc, argv, options, report_oom);
}

static const char at_usage[] =
        "Usage: nix-analytics-ctl at [OPTIONS] TIME\n"
        "\n"
        "What ran at TIME: the builds running then, with the CPU, memory, processes and memory\n"
        "pressure (MEM PSI: the share of the time they stalled for memory) each had then and how\n"
        "each ended, the builds that stalled most for memory, and the machine's CPU, load,\n"
        "memory, swap and pressure. From the builds the daemon holds and from history, so it\n"
        "answers after a daemon restart.\n"
        "TIME: 03:12 (today, or yesterday when that is still to come), 'yesterday 14:00',\n"
        "'today 9:30', -2h, '90m ago', 2026-12-07T03:12 (local time; Z or +01:00 for a zone),\n"
        "@UNIXSECONDS, now. --json (or a pipe) prints {\"at\",\"builds\":[...],\"pressure_top\":[...],\n"
        "\"machine\",\"oom\",\"history\"}; each build has \"then\": {\"t\",\"cpu_percent\",\"mem\",\n"
        "\"procs\",\"io\",\"mem_pressure\"}.\n"
        "\n"
        "Options:\n" CTL_OUTPUT_HELP "  -h, --help                 show this help\n";

int verb_at(const CtlContext *ctx, int argc, char **argv) {
        CtlContext local = *ctx;
        bool done;
        int r = ctl_parse_simple_options(&local, "at", at_usage, true, argc, argv, &done);
        if (r != CTL_EXIT_OK || done)
                return r;
        if (optind >= argc) {
                log_error("at: TIME is missing (e.g. 03:12, -2h, 'yesterday 14:00')");
                return ctl_usage_hint("at");
        }
        /* "yesterday 14:00" may come as two words. */
        char when[256] = "";
        for (int i = optind; i < argc; i++)
                if (strlen(when) + strlen(argv[i]) + 2 > sizeof(when)) {
                        log_error("at: TIME is too long");
                        return ctl_usage_hint("at");
                } else
                        snprintf(when + strlen(when), sizeof(when) - strlen(when), "%s%s",
                                 i > optind ? " " : "", argv[i]);
        usec_t t;
        if (when_parse(when, now_realtime(), &t) < 0) {
                log_error("at: cannot read '%s' as a time: give 03:12, 'yesterday 14:00', -2h, '90m ago', "
                          "2026-12-07T03:12 or @UNIXSECONDS",
                          when);
                return ctl_usage_hint("at");
        }
        if (t > now_realtime()) {
                log_error("at: '%s' is in the future", when);
                return ctl_usage_hint("at");
        }
        _cleanup_(cJSON_Deletep) cJSON *args = cJSON_CreateObject();
        if (!args || !ctl_add_item(args, "time", cJSON_CreateNumber((double) t / 1e6)))
                return ctl_exit_oom();
        return ctl_run_query_with(&local, "at", TAKE_PTR(args), report_at, NULL);
}
