/* nix-analytics-ctl: global options, then dispatch to one verb. */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/log.h"
#include "ctl/commands.h"
#include "ctl/ctl.h"
#include "ctl/output.h"

typedef struct Verb {
        const char *name;
        int (*run)(const CtlContext *ctx, int argc, char **argv);
        const char *summary; /* NULL: not listed (an interface for completions/) */
} Verb;

static const Verb verbs[] = {
        {"status", verb_status, "daemon status and counters"},
        {"list-builds", verb_list_builds, "builds the daemon knows, with filters"},
        {"get-build", verb_get_build, "one build, with the tail of its log"},
        {"log", verb_log, "a build's log lines; -f follows them"},
        {"get-history", verb_get_history, "finished builds from the history database, newest first"},
        {"deps", verb_deps, "dependency graph of an invocation or build (--tree, --why)"},
        {"stats", verb_stats, "slowest and most failing derivations, busiest requesters, totals by day"},
        {"at", verb_at, "what ran at a past moment: builds, their CPU and memory then, the machine"},
        {"list-invocations", verb_list_invocations, "what each client asked for"},
        {"snapshot", verb_snapshot, "status, sources, invocations and builds at once"},
        {"watch", verb_watch, "print live events until interrupted"},
        {"list-machines", verb_list_machines, "remote builders: slots, builds there, polled state"},
        {"oom", verb_oom, "the OOM killer's kills: victim, its build, limit and peak"},
        {"oom-history", verb_oom_history, "the OOM kills kept in history, newest first"},
        {"ingest", verb_ingest, "forward 'nix ... --log-format internal-json' output from stdin"},
        {"ps", verb_ps, "a running build's processes as a tree"},
        {"kill", verb_kill, "kill every process of a build"},
        {"freeze", verb_freeze, "stop every process of a build"},
        {"thaw", verb_thaw, "resume a frozen build"},
        {"nice", verb_nice, "set the niceness of a build's processes"},
        {"cpu-limit", verb_cpu_limit, "cap a build's CPU (cores; 'none' lifts)"},
        {"mem-limit", verb_mem_limit, "cap a build's memory (4G, 512M; 'none' lifts)"},
        {"bridge", verb_bridge, "relay stdin and stdout to the control socket (what -H runs over ssh)"},
        {"complete", verb_complete, NULL},
};

static void help(FILE *f) {
        fputs("Usage: nix-analytics-ctl [OPTIONS] COMMAND [ARGS...]\n"
              "\n"
              "Query the nix-analytics daemon and feed it Nix events.\n"
              "\n"
              "Commands:\n",
              f);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (verbs[i].summary)
                        fprintf(f, "  %-18s %s\n", verbs[i].name, verbs[i].summary);
        fputs("\n"
              "Options:\n"
              "  -s, --socket-dir DIR   the daemon's socket directory (default:\n"
              "                         $NIX_ANALYTICS_SOCKET_DIR, else $XDG_RUNTIME_DIR/nix-analytics\n"
              "                         when the socket is there, else /run/nix-analytics)\n"
              "  -H, --host [USER@]HOST talk to the daemon on HOST through ssh (ssh's own keys and\n"
              "                         configuration; $NIX_SSHOPTS as Nix uses it); also\n"
              "                         ssh://[USER@]HOST[:PORT]\n"
              "      --remote-ctl CMD   what runs 'bridge' on HOST (default: nix-analytics-ctl)\n"
              "      --timeout SECONDS  wait at most this long for each answer (default 10, 0: forever)\n"
              "      --json             JSON for scripts (the default when stdout is not a terminal)\n"
              "      --table            tables for people, also through a pipe (the default on a\n"
              "                         terminal)\n"
              "      --color[=WHEN]     colour tables: auto (on a terminal, unless NO_COLOR is set),\n"
              "                         always, never\n"
              "  -h, --help             show this help\n"
              "      --version          show the version\n"
              "\n"
              "BUILD is a build key, a .drv path, a derivation name or a glob over names.\n"
              "On a terminal, status, list-builds, get-history, stats, list-invocations,\n"
              "list-machines and ps print tables and short reports, with the TUI's columns and\n"
              "units; through a pipe, or with --json, the daemon's JSON on one line (other\n"
              "queries: JSON, indented on a terminal).\n"
              "'nix-analytics-ctl COMMAND --help' describes a command.\n"
              "\n"
              "Exit status:\n"
              "  0  success\n"
              "  1  the daemon answered with an error\n"
              "  2  usage error\n"
              "  3  the daemon is not reachable (or went away during watch or log --follow)\n"
              "  4  protocol or I/O error with the daemon\n",
              f);
}

static int parse_timeout(const char *s, usec_t *ret) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0 || v > 1e9) {
                log_error("--timeout: expected seconds (0 for none), got '%s'", s);
                return -EINVAL;
        }
        *ret = v == 0 ? CLIENT_NO_TIMEOUT : (usec_t) (v * (double) USEC_PER_SEC);
        return 0;
}

static const Verb *find_verb(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(verbs[i].name, name) == 0)
                        return &verbs[i];
        return NULL;
}

int main(int argc, char **argv) {
        enum { ARG_VERSION = 0x100, ARG_TIMEOUT, ARG_REMOTE_CTL };
        /* The output options (ctl/output.h) are taken before the verb too. */
        static const struct option options[] = {
                {"socket-dir", required_argument, NULL, 's'},
                {"host", required_argument, NULL, 'H'},
                {"remote-ctl", required_argument, NULL, ARG_REMOTE_CTL},
                {"timeout", required_argument, NULL, ARG_TIMEOUT},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                CTL_OUTPUT_OPTIONS,
                {},
        };

        /* Names are cut and aligned by terminal cells: wide characters need the locale. */
        setlocale(LC_CTYPE, "");
        log_set_prefix("nix-analytics-ctl");
        CtlContext ctx = {
                .timeout = 10 * USEC_PER_SEC,
                .stdout_is_tty = isatty(STDOUT_FILENO) == 1,
                .remote_ctl = "nix-analytics-ctl",
        };

        int c;
        /* "+": stop at the verb, whose options are its own. */
        while ((c = getopt_long(argc, argv, "+hs:H:", options, NULL)) >= 0) {
                switch (c) {
                case 's':
                        if (!*optarg) {
                                log_error("--socket-dir: empty directory");
                                return ctl_usage_hint(NULL);
                        }
                        ctx.socket_dir = optarg;
                        break;
                case 'H':
                        if (ctx.host) {
                                log_error("-H: one host at a time (the TUI shows several)");
                                return ctl_usage_hint(NULL);
                        }
                        ctx.host = optarg;
                        break;
                case ARG_REMOTE_CTL:
                        if (!*optarg) {
                                log_error("--remote-ctl: empty command");
                                return ctl_usage_hint(NULL);
                        }
                        ctx.remote_ctl = optarg;
                        break;
                case ARG_TIMEOUT:
                        if (parse_timeout(optarg, &ctx.timeout) < 0)
                                return ctl_usage_hint(NULL);
                        break;
                case 'h':
                        help(stdout);
                        return CTL_EXIT_OK;
                case ARG_VERSION:
                        printf("nix-analytics-ctl %s\n", PACKAGE_VERSION);
                        return CTL_EXIT_OK;
                default:
                        if (ctl_output_option(&ctx, c, optarg) <= 0)
                                return ctl_usage_hint(NULL);
                }
        }

        if (optind >= argc) {
                help(stderr);
                return CTL_EXIT_USAGE;
        }

        const Verb *verb = find_verb(argv[optind]);
        if (!verb) {
                log_error("unknown command '%s'", argv[optind]);
                return ctl_usage_hint(NULL);
        }

        /* getopt names argv[0] in its messages: make them read "nix-analytics-ctl log: ...". */
        _cleanup_free_ char *name = NULL;
        if (asprintf(&name, "nix-analytics-ctl %s", verb->name) < 0)
                return ctl_exit_oom();
        char **verb_argv = argv + optind;
        verb_argv[0] = name;
        optind = 0; /* a full re-initialisation of getopt for the verb's options */
        return verb->run(&ctx, argc - (int) (verb_argv - argv), verb_argv);
}
