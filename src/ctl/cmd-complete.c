/* complete: what shell completions offer for a BUILD argument, from the running daemon. Not
 * in --help: an interface for completions/, which call it with a short --timeout. Silent on
 * every error (no daemon, a slow one): a completion that prints or waits is worse than none. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "basic/log.h"
#include "ctl/commands.h"
#include "ctl/query.h"
#include "shared/json-read.h"

static const char complete_usage[] =
        "Usage: nix-analytics-ctl complete [--active] builds|keys|drvs\n"
        "\n"
        "For shell completions: the names, keys or .drv paths of the builds the daemon\n"
        "knows, one per line, each once (--active: only queued, running, frozen and finishing\n"
        "ones). Prints nothing and exits 0 when no daemon answers.\n";

/* Prints field of each build once, in the daemon's order (keys ascending). */
static void print_field(const cJSON *builds, const char *field) {
        const cJSON *b, *prev;
        cJSON_ArrayForEach(b, builds) {
                bool seen = false;
                char key[32];
                const char *v = json_str(b, field);
                if (strcmp(field, "key") == 0) {
                        snprintf(key, sizeof(key), "%.0f", json_num(b, "key", -1));
                        v = key;
                }
                if (!v || !*v || strchr(v, '\n'))
                        continue;
                /* Names repeat (a rebuild); a few hundred builds make the quadratic look cheap. */
                for (prev = builds->child; prev && prev != b && !seen; prev = prev->next)
                        seen = strcmp(field, "key") != 0 && json_str(prev, field) &&
                               strcmp(json_str(prev, field), v) == 0;
                if (!seen)
                        printf("%s\n", v);
        }
}

int verb_complete(const CtlContext *ctx, int argc, char **argv) {
        enum { ARG_ACTIVE = 0x100 };
        static const struct option options[] = {
                {"active", no_argument, NULL, ARG_ACTIVE},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        bool active = false;
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if (c == 'h') {
                        fputs(complete_usage, stdout);
                        return CTL_EXIT_OK;
                }
                if (c != ARG_ACTIVE)
                        return ctl_usage_hint("complete");
                active = true;
        }
        static const struct {
                const char *what, *field;
        } whats[] = {{"builds", "name"}, {"keys", "key"}, {"drvs", "drv"}};
        const char *field = NULL;
        for (size_t i = 0; argc - optind == 1 && i < ELEMENTSOF(whats); i++)
                if (strcmp(argv[optind], whats[i].what) == 0)
                        field = whats[i].field;
        if (!field) {
                log_error("complete: expected builds, keys or drvs");
                return ctl_usage_hint("complete");
        }

        log_set_max_level(-1);
        _cleanup_client_free_ Client *cl = NULL;
        if (ctl_open(ctx, &cl) != CTL_EXIT_OK)
                return CTL_EXIT_OK;
        cJSON *args = active ? cJSON_CreateObject() : NULL;
        if (args && !ctl_add_item(args, "active", cJSON_CreateTrue())) {
                cJSON_Delete(args);
                return CTL_EXIT_OK;
        }
        _cleanup_(client_reply_done) ClientReply reply = {};
        if (ctl_call(ctx, cl, "list-builds", args, &reply) != CTL_EXIT_OK)
                return CTL_EXIT_OK;
        print_field(json_arr(reply.result, "builds"), field);
        return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_PROTOCOL;
}
