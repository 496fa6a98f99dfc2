/* The watch verb: subscribe to the daemon's events and print them as they come, as text
 * (one line per event) or as JSON lines. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* uthash's default (Jenkins) hash falls through switch cases on purpose, which
 * -Wimplicit-fallthrough rejects; FNV-1a is as good for small integer keys. */
#define HASH_FUNCTION(keyptr, keylen, hashv) HASH_FNV(keyptr, keylen, hashv)
#include <uthash.h>

#include "basic/log.h"
#include "ctl/commands.h"
#include "ctl/format.h"
#include "shared/json-read.h"

static const char usage[] =
        "Usage: nix-analytics-ctl watch [OPTIONS]\n"
        "\n"
        "Subscribes to the daemon and prints build and invocation events as they happen, one\n"
        "line each: time, event, kind, key, then for builds name, state, phase, requester,\n"
        "duration, machine and failure message. Runs until interrupted (exit 0) or until the\n"
        "daemon goes away (exit 3).\n"
        "\n"
        "Options:\n"
        "      --json      print each event as the daemon sent it, one JSON object per line\n"
        "      --logs      also print the log lines of every build\n"
        "      --sources   also print event sources connecting and disconnecting\n"
        "  -h, --help      show this help\n";

/* Build names by key, so log lines (whose events carry only the key) can name their build.
 * Bounded: past MAX_NAMES the oldest entry goes. */
#define MAX_NAMES 65536

typedef struct BuildName {
        int64_t key;
        char *name;
        UT_hash_handle hh;
} BuildName;

typedef struct Names {
        BuildName *by_key; /* uthash keeps insertion order: the head is the oldest */
} Names;

static void build_name_free(Names *names, BuildName *b) {
        HASH_DEL(names->by_key, b);
        free(b->name);
        free(b);
}

static void names_done(Names *names) {
        BuildName *b, *tmp;
        HASH_ITER(hh, names->by_key, b, tmp)
                build_name_free(names, b);
}

static void names_remember(Names *names, const cJSON *build) {
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(build, "key");
        const char *name = json_str(build, "name");
        if (!cJSON_IsNumber(key) || !name)
                return;

        int64_t k = (int64_t) key->valuedouble;
        BuildName *b;
        HASH_FIND(hh, names->by_key, &k, sizeof(k), b);
        if (b) {
                if (strcmp(b->name, name) == 0)
                        return;
                build_name_free(names, b);
        }

        /* Allocation failures only cost a label on log lines. */
        b = calloc(1, sizeof(BuildName));
        if (!b)
                return;
        b->key = k;
        b->name = strdup(name);
        if (!b->name) {
                free(b);
                return;
        }
        HASH_ADD(hh, names->by_key, key, sizeof(b->key), b);
        if (HASH_COUNT(names->by_key) > MAX_NAMES)
                build_name_free(names, names->by_key);
}

static const char *names_lookup(void *userdata, double key) {
        Names *names = userdata;
        int64_t k = (int64_t) key;
        BuildName *b;
        HASH_FIND(hh, names->by_key, &k, sizeof(k), b);
        return b ? b->name : NULL;
}

/* Learns the names of the builds already running, whose log lines may come first. */
static int seed_names(const CtlContext *ctx, Client *c, Names *names) {
        cJSON *args = cJSON_CreateObject();
        if (!args || !cJSON_AddTrueToObject(args, "active")) {
                cJSON_Delete(args);
                return ctl_exit_oom();
        }
        _cleanup_(client_reply_done) ClientReply reply = {};
        int r = ctl_call(ctx, c, "list-builds", args, &reply);
        if (r != CTL_EXIT_OK)
                return r;
        const cJSON *b;
        cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(reply.result, "builds"))
                names_remember(names, b);
        return CTL_EXIT_OK;
}

int verb_watch(const CtlContext *ctx, int argc, char **argv) {
        enum { ARG_JSON = 0x100, ARG_LOGS, ARG_SOURCES };
        static const struct option options[] = {
                {"json", no_argument, NULL, ARG_JSON},
                {"logs", no_argument, NULL, ARG_LOGS},
                {"sources", no_argument, NULL, ARG_SOURCES},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        /* A global --json asks for JSON here too. */
        bool json = ctx->format == CTL_FORMAT_JSON, logs = false, sources = false;

        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_JSON:
                        json = true;
                        break;
                case ARG_LOGS:
                        logs = true;
                        break;
                case ARG_SOURCES:
                        sources = true;
                        break;
                case 'h':
                        fputs(usage, stdout);
                        return CTL_EXIT_OK;
                default:
                        return ctl_usage_hint("watch");
                }
        }
        if (optind < argc) {
                log_error("watch: unexpected argument '%s'", argv[optind]);
                return ctl_usage_hint("watch");
        }

        /* Whoever reads us (a terminal, a pipe into grep) sees each event when it happens. */
        setvbuf(stdout, NULL, _IOLBF, 0);

        _cleanup_close_ int stop_fd = -EBADF;
        if (ctl_stop_signal_fd(&stop_fd) < 0)
                return CTL_EXIT_PROTOCOL;

        _cleanup_client_free_ Client *client = NULL;
        int r = ctl_open(ctx, &client);
        if (r != CTL_EXIT_OK)
                return r;

        cJSON *args = cJSON_CreateObject();
        if (!args || !cJSON_AddTrueToObject(args, "builds") || !cJSON_AddTrueToObject(args, "invocations") ||
            !cJSON_AddBoolToObject(args, "sources", sources) ||
            (logs && !cJSON_AddStringToObject(args, "logs", "all"))) {
                cJSON_Delete(args);
                return ctl_exit_oom();
        }
        _cleanup_(client_reply_done) ClientReply reply = {};
        r = ctl_call(ctx, client, "subscribe", args, &reply);
        if (r != CTL_EXIT_OK)
                return r;

        _cleanup_(names_done) Names names = {};
        if (logs && !json) {
                r = seed_names(ctx, client, &names);
                if (r != CTL_EXIT_OK)
                        return r;
        }

        for (;;) {
                _cleanup_(cJSON_Deletep) cJSON *ev = NULL;
                r = client_next_event(client, stop_fd, CLIENT_NO_TIMEOUT, &ev);
                if (r == 0)
                        return CTL_EXIT_OK;
                if (r == -ECONNRESET) {
                        log_error("%s: the daemon went away", client_path(client));
                        return CTL_EXIT_UNREACHABLE;
                }
                if (r < 0)
                        return ctl_transport_failure(client, r);

                if (json) {
                        r = ctl_print_json_line(ev);
                } else {
                        const char *event = json_str(ev, "event");
                        if (strcmp(event, "build") == 0)
                                names_remember(&names, cJSON_GetObjectItemCaseSensitive(ev, "build"));
                        r = format_event(stdout, ev, time(NULL), names_lookup, &names);
                        if (r < 0)
                                log_error_errno(r, "cannot write to standard output: %m");
                }
                if (r < 0)
                        return CTL_EXIT_PROTOCOL;
        }
}
