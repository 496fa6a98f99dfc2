/* The query verbs: one request each, the daemon's result on stdout as a table for people
 * or as JSON for scripts (ctl/output.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "ctl/commands.h"
#include "ctl/output.h"
#include "ctl/query.h"

enum { ARG_HELP = 'h' };

static int print_report(const CtlContext *ctx, const cJSON *result, ReportFn report, const char *empty) {
        ReportOptions o = {
                .width = ctl_output_width(),
                .color = ctl_output_color(ctx),
                .now = (double) now_realtime() / (double) USEC_PER_SEC,
                .empty = empty,
        };
        int r = report(stdout, result, &o);
        if (r == -ENOMEM)
                return ctl_exit_oom();
        if (r < 0 || fflush(stdout) == EOF) {
                log_error_errno(r < 0 ? r : errno, "cannot write to standard output: %m");
                return CTL_EXIT_PROTOCOL;
        }
        return CTL_EXIT_OK;
}

int ctl_run_query_with(const CtlContext *ctx, const char *cmd, cJSON *args, ReportFn report,
                       const char *empty) {
        _cleanup_client_free_ Client *c = NULL;
        int r = ctl_open(ctx, &c);
        if (r != CTL_EXIT_OK) {
                cJSON_Delete(args);
                return r;
        }

        _cleanup_(client_reply_done) ClientReply reply = {};
        r = ctl_call(ctx, c, cmd, args, &reply);
        if (r != CTL_EXIT_OK)
                return r;
        if (report && ctl_output_table(ctx))
                return print_report(ctx, reply.result, report, empty);
        return ctl_print_json(ctx, reply.result);
}

int ctl_run_query(const CtlContext *ctx, const char *cmd, cJSON *args) {
        return ctl_run_query_with(ctx, cmd, args, NULL, NULL);
}

int ctl_run_bare(const CtlContext *ctx, const char *verb, const char *cmd, const char *usage,
                 ReportFn report, int argc, char **argv) {
        CtlContext local = *ctx;
        bool done;
        int r = ctl_parse_simple_options(&local, verb, usage, report != NULL, argc, argv, &done);
        if (r != CTL_EXIT_OK || done)
                return r;
        if (optind < argc) {
                log_error("%s: unexpected argument '%s'", verb, argv[optind]);
                return ctl_usage_hint(verb);
        }
        return ctl_run_query_with(&local, cmd, NULL, report, NULL);
}

/* The same where the verb is the command's name. */
static int run_bare(const CtlContext *ctx, const char *verb, const char *usage, ReportFn report, int argc,
                    char **argv) {
        return ctl_run_bare(ctx, verb, verb, usage, report, argc, argv);
}

int verb_status(const CtlContext *ctx, int argc, char **argv) {
        return run_bare(ctx, "status",
                        "Usage: nix-analytics-ctl status [--json|--table] [--color=WHEN]\n"
                        "\n"
                        "The daemon's status: version, uptime, socket directory, builds per state and\n"
                        "how builds ended in the last hour, sources, event counters, control clients,\n"
                        "log memory, history store. On a terminal a short report; --json (or a pipe)\n"
                        "prints the status object.\n"
                        "\n"
                        "Options:\n" CTL_OUTPUT_HELP "  -h, --help                 show this help\n",
                        report_status, argc, argv);
}

int verb_list_invocations(const CtlContext *ctx, int argc, char **argv) {
        return run_bare(ctx, "list-invocations",
                        "Usage: nix-analytics-ctl list-invocations [--json|--table] [--color=WHEN]\n"
                        "\n"
                        "What each client (one event connection) asked for: its state, builds done\n"
                        "out of all, running and failed, ETA, start, elapsed time, user and command.\n"
                        "--json (or a pipe) prints {\"invocations\":[...]} with progress counters and\n"
                        "build keys.\n"
                        "\n"
                        "Options:\n" CTL_OUTPUT_HELP "  -h, --help                 show this help\n",
                        report_invocations, argc, argv);
}

int verb_oom(const CtlContext *ctx, int argc, char **argv) {
        return ctl_run_bare(
                ctx, "oom", "list-oom",
                "Usage: nix-analytics-ctl oom [--json|--table] [--color=WHEN]\n"
                "\n"
                "The kernel's OOM kills since the daemon started (the last 64), oldest first:\n"
                "the victim's pid and command and the build it belonged to, with that build's\n"
                "memory limit and peak; a victim outside every build is \"not a build\", with the\n"
                "builds that held the most memory then. Kills inside builds are seen in their\n"
                "cgroups; the others only in the kernel log, which only a root daemon reads.\n"
                "A daemon in a child pid namespace (a container) adds HOST PID, the kernel's pid\n"
                "of the victim; PID is then the victim's in the daemon's namespace, where known.\n"
                "--json (or a pipe) prints {\"events\":[...],\"status\":{...}} (list-oom).\n"
                "\n"
                "Options:\n" CTL_OUTPUT_HELP "  -h, --help                 show this help\n",
                report_oom, argc, argv);
}

int verb_snapshot(const CtlContext *ctx, int argc, char **argv) {
        return run_bare(
                ctx, "snapshot",
                "Usage: nix-analytics-ctl snapshot\n"
                "\n"
                "Prints {\"status\",\"sources\",\"invocations\",\"builds\"}: the daemon's whole live\n"
                "state in one answer.\n",
                NULL, argc, argv);
}

/* The build states of protocol.md: a typo is a usage error here rather than an empty list. */
static bool state_is_valid(const char *s, size_t len) {
        static const char *const states[] = {"queued",    "running", "frozen", "finishing",
                                             "succeeded", "failed",  "killed", "lost"};
        for (size_t i = 0; i < ELEMENTSOF(states); i++)
                if (strlen(states[i]) == len && memcmp(states[i], s, len) == 0)
                        return true;
        return false;
}

/* Checks every state of a "S[,S...]" option value; logs the first bad one. */
int ctl_check_states(const char *option, const char *s) {
        for (const char *p = s;;) {
                size_t n = strcspn(p, ",");
                if (!state_is_valid(p, n)) {
                        log_error("%s: '%.*s' is not a build state (queued, running, frozen, finishing, "
                                  "succeeded, failed, killed, lost)",
                                  option, (int) n, p);
                        return -EINVAL;
                }
                if (!p[n])
                        return 0;
                p += n + 1;
        }
}

/* "a,b,c" as the protocol's "string or array of strings". */
cJSON *ctl_state_filter(const char *s) {
        if (!strchr(s, ','))
                return cJSON_CreateString(s);

        cJSON *a = cJSON_CreateArray();
        if (!a)
                return NULL;
        for (const char *p = s;;) {
                size_t n = strcspn(p, ",");
                if (n > 0) {
                        _cleanup_free_ char *item = strndup(p, n);
                        cJSON *v = item ? cJSON_CreateString(item) : NULL;
                        if (!v || !cJSON_AddItemToArray(a, v)) {
                                cJSON_Delete(v);
                                cJSON_Delete(a);
                                return NULL;
                        }
                }
                if (!p[n])
                        return a;
                p += n + 1;
        }
}

/* Adds item (taken) under key; false on allocation failure. */
bool ctl_add_item(cJSON *obj, const char *key, cJSON *item) {
        if (!item)
                return false;
        if (!cJSON_AddItemToObject(obj, key, item)) {
                cJSON_Delete(item);
                return false;
        }
        return true;
}

static const char list_builds_usage[] =
        "Usage: nix-analytics-ctl list-builds [OPTIONS]\n"
        "\n"
        "The builds the daemon knows, ordered by key. On a terminal a table with the TUI's\n"
        "columns: KEY, NAME, STATE, PHASE, PROG, USER, MACHINE, ELAPSED, ETA, CPU%, MEM,\n"
        "PEAK (columns no build has a value in are left out; NAME is cut to fit the\n"
        "terminal). --json (or a pipe) prints {\"builds\":[...]}.\n"
        "\n"
        "Options:\n"
        "      --state S[,S...]       only builds in these states (queued, running, frozen,\n"
        "                             finishing, succeeded, failed, killed, lost)\n"
        "      --name GLOB            only builds whose name matches the shell glob\n"
        "      --requester UID|USER   only builds requested by this user\n"
        "      --invocation ID        only builds of this invocation\n"
        "      --active               only queued, running, frozen and finishing builds\n" CTL_OUTPUT_HELP
        "  -h, --help                 show this help\n";

int verb_list_builds(const CtlContext *ctx, int argc, char **argv) {
        enum { ARG_STATE = 0x100, ARG_NAME, ARG_REQUESTER, ARG_INVOCATION, ARG_ACTIVE };
        static const struct option options[] = {
                {"state", required_argument, NULL, ARG_STATE},
                {"name", required_argument, NULL, ARG_NAME},
                {"requester", required_argument, NULL, ARG_REQUESTER},
                {"invocation", required_argument, NULL, ARG_INVOCATION},
                {"active", no_argument, NULL, ARG_ACTIVE},
                {"help", no_argument, NULL, ARG_HELP},
                CTL_OUTPUT_OPTIONS,
                {},
        };
        const char *verb = "list-builds";
        CtlContext local = *ctx;
        /* An empty table says what was asked for in words. */
        _cleanup_free_ char *empty = NULL;
        bool filtered = false;

        _cleanup_(cJSON_Deletep) cJSON *args = cJSON_CreateObject();
        if (!args)
                return ctl_exit_oom();

        int c, r;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                bool ok = true;
                long long n;
                switch (c) {
                case ARG_STATE:
                        if (ctl_check_states("--state", optarg) < 0)
                                return ctl_usage_hint(verb);
                        ok = ctl_add_item(args, "state", ctl_state_filter(optarg));
                        free(empty);
                        empty = NULL;
                        if (strchr(optarg, ','))
                                filtered = true;
                        else if (ok && asprintf(&empty, "no builds %s", optarg) < 0)
                                return ctl_exit_oom();
                        break;
                case ARG_NAME:
                        ok = ctl_add_item(args, "name", cJSON_CreateString(optarg));
                        filtered = true;
                        break;
                case ARG_REQUESTER:
                        filtered = true;
                        /* A uid in digits, else a user name: the daemon resolves names. */
                        ok = ctl_add_item(args, "requester", ctl_int_or_string(optarg));
                        break;
                case ARG_INVOCATION:
                        if (ctl_parse_uint("--invocation", optarg, &n) < 0)
                                return ctl_usage_hint(verb);
                        ok = ctl_add_item(args, "invocation", cJSON_CreateNumber((double) n));
                        filtered = true;
                        break;
                case ARG_ACTIVE:
                        ok = ctl_add_item(args, "active", cJSON_CreateTrue());
                        if (ok && !empty && !(empty = strdup("no builds running or queued")))
                                return ctl_exit_oom();
                        break;
                case ARG_HELP:
                        fputs(list_builds_usage, stdout);
                        return CTL_EXIT_OK;
                default:
                        r = ctl_output_option(&local, c, optarg);
                        if (r <= 0)
                                return ctl_usage_hint(verb);
                }
                if (!ok)
                        return ctl_exit_oom();
        }
        if (optind < argc) {
                log_error("%s: unexpected argument '%s'", verb, argv[optind]);
                return ctl_usage_hint(verb);
        }
        return ctl_run_query_with(&local, verb, TAKE_PTR(args), report_builds,
                                  filtered ? "no builds match" : empty ?: "no builds yet");
}

static const char get_build_usage[] =
        "Usage: nix-analytics-ctl get-build BUILD\n"
        "\n"
        "Prints {\"build\":{...}} with log_tail, the last lines of its log.\n"
        "BUILD is a key, a .drv path, a derivation name or a glob over names; several\n"
        "matches are an 'ambiguous' error listing the candidate keys.\n";

int verb_get_build(const CtlContext *ctx, int argc, char **argv) {
        const char *verb = "get-build";
        CtlContext local = *ctx;
        bool done;
        int r = ctl_parse_simple_options(&local, verb, get_build_usage, false, argc, argv, &done);
        if (r != CTL_EXIT_OK || done)
                return r;
        if (argc - optind != 1) {
                log_error("%s: expected one BUILD", verb);
                return ctl_usage_hint(verb);
        }

        cJSON *args = cJSON_CreateObject();
        if (!ctl_add_item(args, "build", ctl_int_or_string(argv[optind]))) {
                cJSON_Delete(args);
                return ctl_exit_oom();
        }
        return ctl_run_query(ctx, verb, args);
}
