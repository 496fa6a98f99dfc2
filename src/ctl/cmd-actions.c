/* ps and the action verbs: kill, freeze, thaw, nice, cpu-limit, mem-limit. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "ctl/commands.h"
#include "ctl/output.h"
#include "ctl/query.h"
#include "shared/json-read.h"
#include "shared/units.h"

enum { ARG_HELP = 'h' };

static const char ps_usage[] =
        "Usage: nix-analytics-ctl ps [--json|--table] [--color=WHEN] BUILD\n"
        "\n"
        "The processes of a running build as a tree: pid, parent, user, state, niceness, CPU %\n"
        "over the last sample, resident memory, CPU time and command line (cut to fit the\n"
        "terminal). A table also through a pipe, as before tables were the rule; --json\n"
        "prints the daemon's get-processes result instead.\n"
        "\n"
        "Options:\n" CTL_OUTPUT_HELP "  -h, --help                 show this help\n";

int verb_ps(const CtlContext *ctx, int argc, char **argv) {
        CtlContext local = *ctx;
        bool done;
        int r = ctl_parse_simple_options(&local, "ps", ps_usage, true, argc, argv, &done);
        if (r != CTL_EXIT_OK || done)
                return r;
        /* ps printed its table through pipes before the other verbs had tables: it still does. */
        if (local.format == CTL_FORMAT_AUTO)
                local.format = CTL_FORMAT_TABLE;
        if (argc - optind != 1) {
                log_error("ps: expected one BUILD");
                return ctl_usage_hint("ps");
        }
        cJSON *args = cJSON_CreateObject();
        cJSON *t = ctl_int_or_string(argv[optind]);
        if (!args || !t || !cJSON_AddItemToObject(args, "build", t)) {
                cJSON_Delete(args);
                cJSON_Delete(t);
                return ctl_exit_oom();
        }
        return ctl_run_query_with(&local, "get-processes", args, report_processes, NULL);
}

typedef struct ActionVerb {
        const char *name;
        const char *value_name; /* NULL: no value */
        const char *usage;
} ActionVerb;

static const ActionVerb action_verbs[] = {
        {"kill", NULL,
         "Usage: nix-analytics-ctl kill BUILD\n\n"
         "Kills every process of the build (cgroup.kill, else SIGKILL to its process group and\n"
         "stragglers; a frozen build is thawed first where that is needed). Nix then reports it\n"
         "failed by signal 9 and the daemon marks it killed. A build on a remote machine is\n"
         "killed through the build hook serving it here (the hook and its ssh); the remote side\n"
         "then stops too. Freeze, thaw, nice and limits are not possible on remote builds.\n"},
        {"freeze", NULL,
         "Usage: nix-analytics-ctl freeze BUILD\n\n"
         "Stops every process of the build (cgroup freezer, else SIGSTOP). 'thaw' resumes it.\n"},
        {"thaw", NULL, "Usage: nix-analytics-ctl thaw BUILD\n\nResumes a frozen build.\n"},
        {"nice", "NICE",
         "Usage: nix-analytics-ctl nice BUILD NICE\n\n"
         "Sets the niceness (-20..19) of every process of the build, and of new ones as they\n"
         "appear; also its cgroup's CPU weight when it has one.\n"},
        {"cpu-limit", "CORES",
         "Usage: nix-analytics-ctl cpu-limit BUILD CORES|none\n\n"
         "Caps the build's CPU at CORES (e.g. 0.5 or 2) through its cgroup; 'none' lifts the cap.\n"},
        {"mem-limit", "SIZE",
         "Usage: nix-analytics-ctl mem-limit BUILD SIZE|none\n\n"
         "Caps the build's memory at SIZE (bytes, or with K, M, G, T: 512M, 4G) through its\n"
         "cgroup; beyond it the kernel's OOM killer ends a process of that build only. 'none'\n"
         "lifts the cap.\n"},
};

static int run_action(const CtlContext *ctx, const ActionVerb *v, int argc, char **argv) {
        static const struct option options[] = {
                {"help", no_argument, NULL, ARG_HELP},
                {},
        };
        int c;
        /* "-": a negative niceness is a value, not an option. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                if (c != ARG_HELP)
                        return ctl_usage_hint(v->name);
                fputs(v->usage, stdout);
                return CTL_EXIT_OK;
        }
        int want = v->value_name ? 2 : 1;
        if (argc - optind != want) {
                log_error("%s: expected BUILD%s%s", v->name, v->value_name ? " " : "",
                          v->value_name ? v->value_name : "");
                return ctl_usage_hint(v->name);
        }
        cJSON *args = cJSON_CreateObject();
        cJSON *t = ctl_int_or_string(argv[optind]);
        if (!args || !t || !cJSON_AddItemToObject(args, "build", t)) {
                cJSON_Delete(args);
                cJSON_Delete(t);
                return ctl_exit_oom();
        }
        const char *val = want == 2 ? argv[optind + 1] : NULL;
        bool lift = val && (strcmp(val, "none") == 0 || strcmp(val, "max") == 0);
        cJSON *item = NULL;
        const char *key = NULL;
        if (strcmp(v->name, "nice") == 0) {
                int64_t n;
                if (safe_atoi64(val, &n) < 0 || n < -20 || n > 19) {
                        cJSON_Delete(args);
                        log_error("nice: '%s' is not a niceness from -20 to 19", val);
                        return ctl_usage_hint(v->name);
                }
                key = "nice";
                item = cJSON_CreateNumber((double) n);
        } else if (strcmp(v->name, "cpu-limit") == 0) {
                double cores;
                if (!lift && units_parse_cores(val, &cores) < 0) {
                        cJSON_Delete(args);
                        log_error("cpu-limit: '%s' is not a number of cores from 0.01 to 4096 (e.g. 0.5, 2) "
                                  "or 'none'",
                                  val);
                        return ctl_usage_hint(v->name);
                }
                key = "cores";
                item = lift ? cJSON_CreateString("none") : cJSON_CreateNumber(cores);
        } else if (strcmp(v->name, "mem-limit") == 0) {
                uint64_t bytes;
                if (!lift && units_parse_bytes(val, &bytes) < 0) {
                        cJSON_Delete(args);
                        log_error("mem-limit: '%s' is not a size of at least 1M (bytes, or with K, M, G, T: "
                                  "512M, 4G) or 'none'",
                                  val);
                        return ctl_usage_hint(v->name);
                }
                key = "bytes";
                item = lift ? cJSON_CreateString("none") : cJSON_CreateNumber((double) bytes);
        }
        if (key && (!item || !cJSON_AddItemToObject(args, key, item))) {
                cJSON_Delete(item);
                cJSON_Delete(args);
                return ctl_exit_oom();
        }
        return ctl_run_query(ctx, v->name, args);
}

static int run_named(const CtlContext *ctx, const char *name, int argc, char **argv) {
        for (size_t i = 0; i < ELEMENTSOF(action_verbs); i++)
                if (strcmp(action_verbs[i].name, name) == 0)
                        return run_action(ctx, &action_verbs[i], argc, argv);
        return CTL_EXIT_USAGE;
}

int verb_kill(const CtlContext *ctx, int argc, char **argv) {
        return run_named(ctx, "kill", argc, argv);
}
int verb_freeze(const CtlContext *ctx, int argc, char **argv) {
        return run_named(ctx, "freeze", argc, argv);
}
int verb_thaw(const CtlContext *ctx, int argc, char **argv) {
        return run_named(ctx, "thaw", argc, argv);
}
int verb_nice(const CtlContext *ctx, int argc, char **argv) {
        return run_named(ctx, "nice", argc, argv);
}
int verb_cpu_limit(const CtlContext *ctx, int argc, char **argv) {
        return run_named(ctx, "cpu-limit", argc, argv);
}
int verb_mem_limit(const CtlContext *ctx, int argc, char **argv) {
        return run_named(ctx, "mem-limit", argc, argv);
}
