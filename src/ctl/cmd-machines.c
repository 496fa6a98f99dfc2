/* list-machines: the remote builders the daemon knows, what runs there, their polled state. */
#include <getopt.h>
#include <stdio.h>

#include "basic/log.h"
#include "ctl/commands.h"

int verb_list_machines(const CtlContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if (c != 'h')
                        return ctl_usage_hint("list-machines");
                fputs("Usage: nix-analytics-ctl list-machines\n"
                      "\n"
                      "Prints {\"machines\":[...],\"waiting\":[...],\"config\":{...}}: each remote builder "
                      "of\n"
                      "the builders setting (and those seen only in events), its slots in use out of\n"
                      "maxJobs, the builds running there and waiting for it, copies to and from it, and\n"
                      "its state as last polled over ssh (up or down and why, latency, load, CPUs,\n"
                      "memory, the remote daemon's running builds); then every build waiting for a\n"
                      "machine, and where the configuration was read.\n",
                      stdout);
                return CTL_EXIT_OK;
        }
        if (optind < argc) {
                log_error("list-machines: unexpected argument '%s'", argv[optind]);
                return ctl_usage_hint("list-machines");
        }
        _cleanup_client_free_ Client *cl = NULL;
        int r = ctl_open(ctx, &cl);
        if (r != CTL_EXIT_OK)
                return r;
        _cleanup_(client_reply_done) ClientReply reply = {};
        r = ctl_call(ctx, cl, "list-machines", NULL, &reply);
        if (r != CTL_EXIT_OK)
                return r;
        return ctl_print_json(ctx, reply.result);
}
