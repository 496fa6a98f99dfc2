/* list-machines: the remote builders the daemon knows, what runs there, their polled state. */
#include "ctl/commands.h"
#include "ctl/output.h"
#include "ctl/query.h"

int verb_list_machines(const CtlContext *ctx, int argc, char **argv) {
        return ctl_run_bare(
                ctx, "list-machines", "list-machines",
                "Usage: nix-analytics-ctl list-machines [--json|--table] [--color=WHEN]\n"
                "\n"
                "Each remote builder of the builders setting (and those seen only in events):\n"
                "its state as last polled over ssh (up or down and why), slots in use out of\n"
                "maxJobs, load, and the builds running there; then how many builds wait for a\n"
                "machine. --json (or a pipe) prints {\"machines\":[...],\"waiting\":[...],\n"
                "\"config\":{...}}, with copies to and from each machine, latency, CPUs, memory,\n"
                "the remote daemon's running builds, and where the configuration was read.\n"
                "\n"
                "Options:\n" CTL_OUTPUT_HELP "  -h, --help                 show this help\n",
                report_machines, argc, argv);
}
