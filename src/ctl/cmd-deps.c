/* deps: an invocation's dependency graph (or what one build needs), as the daemon's JSON or
 * as a tree for people; --why: the chain from a requested root down to a build. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "ctl/commands.h"
#include "ctl/query.h"

#define TREE_MAX_DEPTH 512

static const char deps_usage[] =
        "Usage: nix-analytics-ctl deps [OPTIONS] BUILD\n"
        "       nix-analytics-ctl deps [OPTIONS] --invocation ID\n"
        "       nix-analytics-ctl deps [OPTIONS] --history ID\n"
        "\n"
        "Prints the dependency graph the daemon resolved from the .drv files: of a whole\n"
        "invocation, or of what BUILD needs. Each node has its state (pending, building with\n"
        "its phase, done, failed, cached), its inputs and what it is blocked on. A BUILD given\n"
        "as a .drv path the daemon does not hold (any derivation in the store), or a history\n"
        "row, is read from the store: nodes are then also missing (outputs absent) or unknown,\n"
        "each with its last outcome in history.\n"
        "\n"
        "Options:\n"
        "  -i, --invocation ID   the graph of this invocation (see list-invocations)\n"
        "  -H, --history ID      the graph of this history row's derivation (see get-history)\n"
        "  -t, --tree            a tree for people instead of JSON (shared subtrees once)\n"
        "  -w, --why             why BUILD is built: the chain from what was requested to it\n"
        "  -n, --limit N         list at most N derivations (daemon default 2000, at most 5000)\n"
        "  -h, --help            show this help\n";

typedef struct Tree {
        cJSON *by_drv; /* object drv -> node */
        cJSON *seen;   /* object drv -> true */
} Tree;

static void print_node_line(const cJSON *node, const char *prefix, const char *branch, bool repeated) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(node, "name"));
        const char *state = cJSON_GetStringValue(cJSON_GetObjectItem(node, "state"));
        const char *phase = cJSON_GetStringValue(cJSON_GetObjectItem(node, "phase"));
        printf("%s%s%s [%s%s%s]", prefix, branch, name ? name : "?", state ? state : "?", phase ? " " : "",
               phase ? phase : "");
        /* A graph read from the store has each derivation's last outcome in history. */
        const cJSON *last = cJSON_GetObjectItem(node, "last");
        const char *last_state = cJSON_GetStringValue(cJSON_GetObjectItem(last, "state"));
        const cJSON *took = cJSON_GetObjectItem(last, "duration");
        if (last_state && cJSON_IsNumber(took))
                printf(" (last: %s %.1f s)", last_state, took->valuedouble);
        else if (last_state)
                printf(" (last: %s)", last_state);
        printf("%s\n", repeated ? " (see above)" : "");
}

static void print_subtree(Tree *t, const cJSON *node, char *prefix, size_t depth) {
        const cJSON *inputs = cJSON_GetObjectItem(node, "inputs");
        int n = cJSON_GetArraySize(inputs);
        size_t len = strlen(prefix);
        for (int i = 0; i < n; i++) {
                const char *drv = cJSON_GetStringValue(cJSON_GetArrayItem(inputs, i));
                const cJSON *child = drv ? cJSON_GetObjectItem(t->by_drv, drv) : NULL;
                if (!child)
                        continue;
                bool last = i == n - 1;
                bool repeated = cJSON_GetObjectItem(t->seen, drv) != NULL;
                print_node_line(child, prefix, last ? "└── " : "├── ", repeated);
                if (repeated || depth >= TREE_MAX_DEPTH)
                        continue;
                cJSON_AddTrueToObject(t->seen, drv);
                strcpy(prefix + len, last ? "    " : "│   ");
                print_subtree(t, child, prefix, depth + 1);
                prefix[len] = '\0';
        }
}

static int print_tree(const cJSON *result) {
        Tree t = {cJSON_CreateObject(), cJSON_CreateObject()};
        /* "│   " is 6 bytes in UTF-8: room for the deepest prefix */
        char *prefix = calloc(TREE_MAX_DEPTH + 2, 8);
        if (!t.by_drv || !t.seen || !prefix) {
                cJSON_Delete(t.by_drv);
                cJSON_Delete(t.seen);
                free(prefix);
                return ctl_exit_oom();
        }
        const cJSON *node;
        cJSON_ArrayForEach(node, cJSON_GetObjectItem(result, "nodes")) {
                const char *drv = cJSON_GetStringValue(cJSON_GetObjectItem(node, "drv"));
                if (drv)
                        cJSON_AddItemReferenceToObject(t.by_drv, drv, (cJSON *) node);
        }
        const cJSON *root;
        cJSON_ArrayForEach(root, cJSON_GetObjectItem(result, "roots")) {
                const char *drv = cJSON_GetStringValue(root);
                const cJSON *rn = drv ? cJSON_GetObjectItem(t.by_drv, drv) : NULL;
                if (!rn)
                        continue;
                print_node_line(rn, "", "", false);
                cJSON_AddTrueToObject(t.seen, drv);
                prefix[0] = '\0';
                print_subtree(&t, rn, prefix, 0);
        }
        if (!cJSON_IsTrue(cJSON_GetObjectItem(result, "complete")))
                printf("(still resolving: some inputs are not known yet)\n");
        const cJSON *omitted = cJSON_GetObjectItem(result, "omitted");
        if (cJSON_IsNumber(omitted) && omitted->valuedouble > 0)
                printf("(%.0f more derivations not listed: --limit)\n", omitted->valuedouble);
        cJSON_Delete(t.by_drv);
        cJSON_Delete(t.seen);
        free(prefix);
        return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_PROTOCOL;
}

static int print_chain(const cJSON *result) {
        const cJSON *step;
        int depth = 0;
        cJSON_ArrayForEach(step, cJSON_GetObjectItem(result, "chain")) {
                printf("%*s%s%s\n", depth > 0 ? (depth - 1) * 4 : 0, "", depth > 0 ? "└── " : "",
                       cJSON_GetStringValue(cJSON_GetObjectItem(step, "name")));
                depth++;
        }
        return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_PROTOCOL;
}

int verb_deps(const CtlContext *ctx, int argc, char **argv) {
        static const struct option options[] = {
                {"invocation", required_argument, NULL, 'i'},
                {"history", required_argument, NULL, 'H'},
                {"limit", required_argument, NULL, 'n'},
                {"tree", no_argument, NULL, 't'},
                {"why", no_argument, NULL, 'w'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *verb = "deps";
        bool tree = false, why = false;
        long long inv = -1, hist = -1, limit = -1;
        int c;
        while ((c = getopt_long(argc, argv, "i:H:n:twh", options, NULL)) >= 0) {
                switch (c) {
                case 'n':
                        if (ctl_parse_uint("--limit", optarg, &limit) < 0)
                                return ctl_usage_hint(verb);
                        break;
                case 'i':
                        if (ctl_parse_uint("--invocation", optarg, &inv) < 0)
                                return ctl_usage_hint(verb);
                        break;
                case 'H':
                        if (ctl_parse_uint("--history", optarg, &hist) < 0)
                                return ctl_usage_hint(verb);
                        break;
                case 't':
                        tree = true;
                        break;
                case 'w':
                        why = true;
                        break;
                case 'h':
                        fputs(deps_usage, stdout);
                        return CTL_EXIT_OK;
                default:
                        return ctl_usage_hint(verb);
                }
        }
        if ((inv >= 0) + (hist >= 0) + (argc - optind == 1) != 1 || argc - optind > 1) {
                log_error("%s: expected one BUILD, --invocation ID or --history ID", verb);
                return ctl_usage_hint(verb);
        }
        if (why && (inv >= 0 || hist >= 0)) {
                log_error("%s: --why needs a BUILD", verb);
                return ctl_usage_hint(verb);
        }

        _cleanup_(cJSON_Deletep) cJSON *args = cJSON_CreateObject();
        if (!args ||
            !(inv >= 0    ? ctl_add_item(args, "invocation", cJSON_CreateNumber((double) inv))
              : hist >= 0 ? ctl_add_item(args, "history", cJSON_CreateNumber((double) hist))
                          : ctl_add_item(args, "build", ctl_int_or_string(argv[optind]))) ||
            (why && !ctl_add_item(args, "why", cJSON_CreateTrue())) ||
            (limit >= 0 && !ctl_add_item(args, "limit", cJSON_CreateNumber((double) limit))))
                return ctl_exit_oom();
        if (!tree)
                return ctl_run_query(ctx, verb, TAKE_PTR(args));

        _cleanup_client_free_ Client *client = NULL;
        int r = ctl_open(ctx, &client);
        if (r != CTL_EXIT_OK)
                return r;
        _cleanup_(client_reply_done) ClientReply reply = {};
        r = ctl_call(ctx, client, verb, TAKE_PTR(args), &reply);
        if (r != CTL_EXIT_OK)
                return r;
        return why ? print_chain(reply.result) : print_tree(reply.result);
}
