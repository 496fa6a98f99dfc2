/* complete: what shell completions offer for a BUILD argument, from the running daemon. Not
 * in --help: an interface for completions/, which call it with a short --timeout. Silent on
 * every error (no daemon, a slow one): a completion that prints or waits is worse than none. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "ctl/commands.h"
#include "ctl/query.h"
#include "shared/json-read.h"

static const char complete_usage[] =
        "Usage: nix-analytics-ctl complete [--active] builds|keys|drvs\n"
        "\n"
        "For shell completions: the names, keys or .drv paths of the builds the daemon\n"
        "knows, one per line, each once (names and paths sorted); --active: only queued,\n"
        "running, frozen and finishing ones. Prints nothing and exits 0 when no daemon\n"
        "answers.\n";

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Prints field of each build once: keys in the daemon's order, names and drvs sorted (a
 * sort, not a scan per build: the daemon may hold thousands). */
static int print_field(const cJSON *builds, const char *field) {
        const cJSON *b;
        if (strcmp(field, "key") == 0) {
                cJSON_ArrayForEach(b, builds) {
                        if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(b, "key")))
                                printf("%.0f\n", json_num(b, "key", -1));
                }
                return 0;
        }
        size_t n = 0;
        _cleanup_free_ const char **v = calloc((size_t) MAX(cJSON_GetArraySize(builds), 1), sizeof(char *));
        if (!v)
                return -ENOMEM;
        cJSON_ArrayForEach(b, builds) {
                const char *s = json_str(b, field);
                /* One word per line: a name with a newline would complete as two. */
                if (s && *s && !strchr(s, '\n'))
                        v[n++] = s;
        }
        qsort(v, n, sizeof(char *), compare_strings);
        for (size_t i = 0; i < n; i++)
                if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
                        printf("%s\n", v[i]);
        return 0;
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
        if (print_field(json_arr(reply.result, "builds"), field) < 0)
                return CTL_EXIT_OK;
        return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_PROTOCOL;
}
