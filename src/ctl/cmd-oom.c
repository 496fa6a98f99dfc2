/* oom: the OOM killer's kills the daemon saw, with the build each victim belonged to. */
#include <getopt.h>
#include <stdio.h>

#include "basic/log.h"
#include "ctl/commands.h"
#include "ctl/output.h"
#include "ctl/query.h"

int verb_oom(const CtlContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                CTL_OUTPUT_OPTIONS,
                {},
        };
        CtlContext local = *ctx;
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if (c != 'h') {
                        if (ctl_output_option(&local, c, optarg) <= 0)
                                return ctl_usage_hint("oom");
                        continue;
                }
                fputs("Usage: nix-analytics-ctl oom [--json|--table] [--color=WHEN]\n"
                      "\n"
                      "The kernel's OOM kills since the daemon started (the last 64), oldest first:\n"
                      "the victim's pid and command and the build it belonged to, with that build's\n"
                      "memory limit and peak; a victim outside every build is \"not a build\", with the\n"
                      "builds that held the most memory then. Kills inside builds are seen in their\n"
                      "cgroups; the others only in the kernel log, which only a root daemon reads.\n"
                      "--json (or a pipe) prints {\"events\":[...],\"status\":{...}} (list-oom).\n"
                      "\n"
                      "Options:\n" CTL_OUTPUT_HELP "  -h, --help                 show this help\n",
                      stdout);
                return CTL_EXIT_OK;
        }
        if (optind < argc) {
                log_error("oom: unexpected argument '%s'", argv[optind]);
                return ctl_usage_hint("oom");
        }
        return ctl_run_query_with(&local, "list-oom", NULL, report_oom, NULL);
}
