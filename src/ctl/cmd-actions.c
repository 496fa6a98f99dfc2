/* ps and the action verbs: kill, freeze, thaw, nice, cpu-limit, mem-limit. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "ctl/commands.h"
#include "ctl/query.h"
#include "shared/json-read.h"
#include "shared/units.h"

enum { ARG_HELP = 'h', ARG_JSON = 0x100 };

/* The process fields this file prints: a missing one reads as 0 or "". */
static double num(const cJSON *o, const char *key) {
        return json_num(o, key, 0);
}

static const char *str(const cJSON *o, const char *key) {
        return json_str(o, key) ?: "";
}

static void print_row(const cJSON *p, int depth) {
        char rss[32], user[64];
        units_format_bytes(rss, sizeof(rss), num(p, "rss"));
        struct passwd *pw = getpwuid((uid_t) num(p, "uid"));
        snprintf(user, sizeof(user), "%s", pw ? pw->pw_name : "?");
        /* One line per process: control characters of the command line become spaces. */
        _cleanup_free_ char *cmd = strdup(str(p, "cmdline")[0] ? str(p, "cmdline") : str(p, "comm"));
        if (!cmd)
                return;
        for (char *c = cmd; *c; c++)
                if ((unsigned char) *c < ' ' || *c == 0x7f)
                        *c = ' ';
        printf("%7.0f %7.0f %-9.9s %-2s %3.0f %5.1f %7s %8.2f %*s%s\n", num(p, "pid"), num(p, "ppid"), user,
               str(p, "state"), num(p, "nice"), num(p, "cpu_percent"), rss,
               num(p, "cpu_user") + num(p, "cpu_system"), depth * 2, "", cmd);
}

/* Prints the processes as a tree: children under their parent, indented. budget bounds
 * the walk (a pid loop in bad data cannot recurse forever). */
static void print_subtree(const cJSON *procs, double parent, int depth, int *budget) {
        const cJSON *p;
        cJSON_ArrayForEach(p, procs) {
                if (num(p, "ppid") != parent || num(p, "pid") == parent || (*budget)-- <= 0)
                        continue;
                print_row(p, depth);
                print_subtree(procs, num(p, "pid"), depth + 1, budget);
        }
}

static int print_ps(const cJSON *r) {
        const cJSON *procs = cJSON_GetObjectItemCaseSensitive(r, "processes");
        const cJSON *cg = cJSON_GetObjectItemCaseSensitive(r, "cgroup");
        printf("build %.0f: %s, control by %s", num(r, "build"), str(r, "state"), str(r, "control"));
        if (cJSON_IsObject(cg) && cJSON_GetObjectItemCaseSensitive(cg, "v2"))
                printf(", cgroup %s", str(cg, "v2"));
        /* A remote build: what runs here is the build hook serving it and its ssh. */
        if (num(r, "hook") > 0)
                printf(", build hook %.0f here (the build runs on a remote machine)", num(r, "hook"));
        if (str(r, "hook_error")[0])
                printf("\n%s", str(r, "hook_error"));
        printf("\n%7s %7s %-9s %-2s %3s %5s %7s %8s %s\n", "PID", "PPID", "USER", "S", "NI", "CPU%", "RSS",
               "TIME", "COMMAND");
        /* Roots are processes whose parent is not in the list (the builder). */
        int budget = cJSON_GetArraySize(procs);
        const cJSON *p, *q;
        cJSON_ArrayForEach(p, procs) {
                bool has_parent = false;
                cJSON_ArrayForEach(q, procs) {
                        if (q != p && num(q, "pid") == num(p, "ppid"))
                                has_parent = true;
                }
                if (has_parent || budget-- <= 0)
                        continue;
                print_row(p, 0);
                print_subtree(procs, num(p, "pid"), 1, &budget);
        }
        return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_PROTOCOL;
}

static const char ps_usage[] =
        "Usage: nix-analytics-ctl ps [--json] BUILD\n"
        "\n"
        "The processes of a running build as a tree: pid, parent, user, state, niceness, CPU %\n"
        "over the last sample, resident memory, CPU time and command line. --json prints the\n"
        "daemon's get-processes result instead.\n";

int verb_ps(const CtlContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                {"help", no_argument, NULL, ARG_HELP},
                {"json", no_argument, NULL, ARG_JSON},
                {},
        };
        bool json = false;
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if (c == ARG_JSON)
                        json = true;
                else if (c == ARG_HELP) {
                        fputs(ps_usage, stdout);
                        return CTL_EXIT_OK;
                } else
                        return ctl_usage_hint("ps");
        }
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
        return ctl_run_query_with(ctx, "get-processes", args, json, print_ps);
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
        return ctl_run_query_with(ctx, v->name, args, true, NULL);
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
