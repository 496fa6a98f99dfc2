/* list-machines: the remote builders the daemon knows, what runs there, their polled state. */
#include <getopt.h>
#include <stdio.h>

#include "basic/log.h"
#include "ctl/commands.h"
#include "ctl/output.h"
#include "ctl/query.h"

int verb_list_machines(const CtlContext *ctx, int argc, char **argv) {
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
                                return ctl_usage_hint("list-machines");
                        continue;
                }
                fputs("Usage: nix-analytics-ctl list-machines [--json|--table] [--color=WHEN]\n"
                      "\n"
                      "Each remote builder of the builders setting (and those seen only in events):\n"
                      "its state as last polled over ssh (up or down and why), slots in use out of\n"
                      "maxJobs, load, and the builds running there; then how many builds wait for a\n"
                      "machine. --json (or a pipe) prints {\"machines\":[...],\"waiting\":[...],\n"
                      "\"config\":{...}}, with copies to and from each machine, latency, CPUs, memory,\n"
                      "the remote daemon's running builds, and where the configuration was read.\n"
                      "\n"
                      "Options:\n" CTL_OUTPUT_HELP "  -h, --help                 show this help\n",
                      stdout);
                return CTL_EXIT_OK;
        }
        if (optind < argc) {
                log_error("list-machines: unexpected argument '%s'", argv[optind]);
                return ctl_usage_hint("list-machines");
        }
        return ctl_run_query_with(&local, "list-machines", NULL, report_machines, NULL);
}
