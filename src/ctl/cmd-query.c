/* The query verbs: one request each, the daemon's result printed as JSON on stdout. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "basic/log.h"
#include "ctl/commands.h"
#include "ctl/query.h"

enum { ARG_HELP = 'h' };

/* Connects, runs cmd with args (consumed) and prints the result: as JSON, or through print
 * when one is given and json is false. */
int ctl_run_query_with(const CtlContext *ctx, const char *cmd, cJSON *args, bool json,
                       int (*print)(const cJSON *result)) {
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
        if (json || !print)
                return ctl_print_json(ctx, reply.result);
        return print(reply.result);
}

int ctl_run_query(const CtlContext *ctx, const char *cmd, cJSON *args) {
        return ctl_run_query_with(ctx, cmd, args, true, NULL);
}

/* For verbs without options or arguments: handles --help and rejects anything else. */
static int parse_bare(const char *verb, const char *usage, int argc, char **argv) {
        static const struct option options[] = {
                {"help", no_argument, NULL, ARG_HELP},
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if (c != ARG_HELP)
                        return ctl_usage_hint(verb);
                fputs(usage, stdout);
                return 1;
        }
        if (optind < argc) {
                log_error("%s: unexpected argument '%s'", verb, argv[optind]);
                return ctl_usage_hint(verb);
        }
        return 0;
}

/* Runs a verb that takes nothing: 0 from parse_bare means "go", 1 "help shown". */
static int run_bare(const CtlContext *ctx, const char *verb, const char *usage, int argc, char **argv) {
        int r = parse_bare(verb, usage, argc, argv);
        if (r == 1)
                return CTL_EXIT_OK;
        if (r != 0)
                return r;
        return ctl_run_query(ctx, verb, NULL);
}

int verb_status(const CtlContext *ctx, int argc, char **argv) {
        return run_bare(ctx, "status",
                        "Usage: nix-analytics-ctl status\n"
                        "\n"
                        "Prints the daemon's status object: version, uptime, socket directory, event\n"
                        "counters, connected sources, builds per state, control clients, history store.\n",
                        argc, argv);
}

int verb_list_invocations(const CtlContext *ctx, int argc, char **argv) {
        return run_bare(ctx, "list-invocations",
                        "Usage: nix-analytics-ctl list-invocations\n"
                        "\n"
                        "Prints {\"invocations\":[...]}: what each client (one event connection) asked\n"
                        "for, with its progress counters and build keys.\n",
                        argc, argv);
}

int verb_snapshot(const CtlContext *ctx, int argc, char **argv) {
        return run_bare(
                ctx, "snapshot",
                "Usage: nix-analytics-ctl snapshot\n"
                "\n"
                "Prints {\"status\",\"sources\",\"invocations\",\"builds\"}: the daemon's whole live\n"
                "state in one answer.\n",
                argc, argv);
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
        "Prints {\"builds\":[...]}: the builds the daemon knows, ordered by key.\n"
        "\n"
        "Options:\n"
        "      --state S[,S...]       only builds in these states (queued, running, frozen,\n"
        "                             finishing, succeeded, failed, killed, lost)\n"
        "      --name GLOB            only builds whose name matches the shell glob\n"
        "      --requester UID|USER   only builds requested by this user\n"
        "      --invocation ID        only builds of this invocation\n"
        "      --active               only queued, running, frozen and finishing builds\n"
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
                {},
        };
        const char *verb = "list-builds";

        _cleanup_(cJSON_Deletep) cJSON *args = cJSON_CreateObject();
        if (!args)
                return ctl_exit_oom();

        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                bool ok = true;
                long long n;
                switch (c) {
                case ARG_STATE:
                        if (ctl_check_states("--state", optarg) < 0)
                                return ctl_usage_hint(verb);
                        ok = ctl_add_item(args, "state", ctl_state_filter(optarg));
                        break;
                case ARG_NAME:
                        ok = ctl_add_item(args, "name", cJSON_CreateString(optarg));
                        break;
                case ARG_REQUESTER:
                        /* A uid in digits, else a user name: the daemon resolves names. */
                        ok = ctl_add_item(args, "requester", ctl_int_or_string(optarg));
                        break;
                case ARG_INVOCATION:
                        if (ctl_parse_uint("--invocation", optarg, &n) < 0)
                                return ctl_usage_hint(verb);
                        ok = ctl_add_item(args, "invocation", cJSON_CreateNumber((double) n));
                        break;
                case ARG_ACTIVE:
                        ok = ctl_add_item(args, "active", cJSON_CreateTrue());
                        break;
                case ARG_HELP:
                        fputs(list_builds_usage, stdout);
                        return CTL_EXIT_OK;
                default:
                        return ctl_usage_hint(verb);
                }
                if (!ok)
                        return ctl_exit_oom();
        }
        if (optind < argc) {
                log_error("%s: unexpected argument '%s'", verb, argv[optind]);
                return ctl_usage_hint(verb);
        }
        return ctl_run_query(ctx, verb, TAKE_PTR(args));
}

static const char get_build_usage[] =
        "Usage: nix-analytics-ctl get-build BUILD\n"
        "\n"
        "Prints {\"build\":{...}} with log_tail, the last lines of its log.\n"
        "BUILD is a key, a .drv path, a derivation name or a glob over names; several\n"
        "matches are an 'ambiguous' error listing the candidate keys.\n";

int verb_get_build(const CtlContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                {"help", no_argument, NULL, ARG_HELP},
                {},
        };
        const char *verb = "get-build";

        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if (c != ARG_HELP)
                        return ctl_usage_hint(verb);
                fputs(get_build_usage, stdout);
                return CTL_EXIT_OK;
        }
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
