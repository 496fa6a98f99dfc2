/* Action requests and their reports. */
#include "tui/actions.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "shared/json-read.h"
#include "shared/units.h"
#include "shared/fmt.h"
#include "tui/columns.h"

typedef struct ActionBatch {
        Tui *tui;
        char cmd[32];
        size_t n, answered, ok;
        char *name;      /* the build's name when there is one build */
        char *mechanism; /* of the first success */
        char *value;     /* what the first success set: "nice 10", "limit 0.5 cores", ... */
        char *error;     /* the first refusal, with the build's name */
        size_t refused;
        struct ActionBatch *prev, *next;
} ActionBatch;

/* Batches are kept on a list in the Tui (through this one pointer-sized hook). */
static ActionBatch **batches(Tui *t) {
        static_assert(sizeof(t->action_batches) == sizeof(ActionBatch *), "hook size");
        return (ActionBatch **) &t->action_batches;
}

static void batch_free(Tui *t, ActionBatch *b) {
        if (b->prev)
                b->prev->next = b->next;
        else
                *batches(t) = b->next;
        if (b->next)
                b->next->prev = b->prev;
        free(b->name);
        free(b->mechanism);
        free(b->value);
        free(b->error);
        free(b);
}

static void batch_report(ActionBatch *b) {
        Tui *t = b->tui;
        if (b->n == 1) {
                if (b->ok)
                        tui_status(t, false, "%s %s: done%s%s (by %s)", b->cmd, b->name ?: "build",
                                   b->value ? ", " : "", b->value ?: "", b->mechanism ?: "?");
                else
                        tui_status(t, true, "%s %s", b->cmd, b->error ?: "failed: no answer (daemon gone)");
                return;
        }
        if (b->refused == 0 && b->ok == b->n)
                tui_status(t, false, "%s %zu builds: all done%s%s (by %s)", b->cmd, b->n,
                           b->value ? ", " : "", b->value ?: "", b->mechanism ?: "?");
        else
                tui_status(t, true, "%s %zu builds: %zu done%s%s, %zu refused: %s", b->cmd, b->n, b->ok,
                           b->mechanism ? " by " : "", b->mechanism ?: "", b->n - b->ok,
                           b->error ?: "no answer (daemon gone)");
}

/* The value an answer says was set, for the status line, or NULL. */
static char *action_value(const cJSON *result) {
        char buf[64];
        const cJSON *v;
        if (json_has_num(result, "nice"))
                snprintf(buf, sizeof(buf), "nice %.0f", json_num(result, "nice", 0));
        else if ((v = cJSON_GetObjectItemCaseSensitive(result, "cores")))
                snprintf(buf, sizeof(buf), cJSON_IsNumber(v) ? "limit %g cores" : "limit lifted",
                         cJSON_IsNumber(v) ? v->valuedouble : 0);
        else if ((v = cJSON_GetObjectItemCaseSensitive(result, "bytes"))) {
                char b[16];
                if (cJSON_IsNumber(v))
                        snprintf(buf, sizeof(buf), "limit %s",
                                 units_format_bytes(b, sizeof(b), v->valuedouble));
                else
                        snprintf(buf, sizeof(buf), "limit lifted");
        } else
                return NULL;
        return strdup(buf);
}

static void action_reply(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        ActionBatch *b = userdata;
        b->answered++;
        if (result) {
                b->ok++;
                if (!b->mechanism && json_str(result, "mechanism"))
                        b->mechanism = strdup(json_str(result, "mechanism"));
                if (!b->value)
                        b->value = action_value(result);
        } else {
                b->refused++;
                if (!b->error) {
                        const char *msg = error ? json_str(error, "message") : NULL;
                        const char *code = error ? json_str(error, "code") : NULL;
                        /* The code first: the message may be long for a narrow terminal. */
                        if (asprintf(&b->error, "%s refused [%s]: %s", b->name ?: "build",
                                     code ?: "no answer", msg ?: "connection lost") < 0)
                                b->error = NULL;
                }
        }
        if (b->answered == b->n) {
                batch_report(b);
                tui_invalidate(b->tui);
                batch_free(b->tui, b);
        }
}

/* A greyed row is what a daemon said before it went away: nothing is sent for it, as the
 * build may have ended or another now have its key (a restarted daemon numbers anew). */
static Host *ref_down(Tui *t, const BuildRef *ref) {
        Host *h = tui_host(t, ref->host);
        StoreBuild *b = store_build(&h->store, ref->key);
        return !client_is_connected(h->client) || (b && b->stale_since > 0) ? h : NULL;
}

static void batch_refuse_down(ActionBatch *b, const Host *h) {
        if (!b->error &&
            asprintf(&b->error, "%s refused [down]: %s is down (its rows are greyed, as last seen)",
                     b->name ?: "build", tui_host_label(h)) < 0)
                b->error = NULL;
        action_reply(NULL, NULL, NULL, b);
}

int actions_run(Tui *t, const char *cmd, const cJSON *args, const BuildRef *keys, size_t n) {
        if (n == 0) {
                tui_status(t, true, "%s: no build selected", cmd);
                return -ENOENT;
        }
        size_t down = 0;
        Host *first_down = NULL;
        for (size_t i = 0; i < n; i++) {
                Host *h = ref_down(t, &keys[i]);
                down += h != NULL;
                first_down = first_down ?: h;
        }
        if (down == n) {
                tui_status(t, true, "%s refused: %s is down: %s greyed, as last seen (nothing sent)", cmd,
                           tui_host_label(first_down), n == 1 ? "this build is" : "these builds are");
                return -ENOTCONN;
        }
        ActionBatch *b = calloc(1, sizeof(ActionBatch));
        if (!b)
                return -ENOMEM;
        b->tui = t;
        snprintf(b->cmd, sizeof(b->cmd), "%s", cmd);
        b->n = n;
        StoreBuild *sb = store_build(&tui_host(t, keys[0].host)->store, keys[0].key);
        if (n == 1 && sb)
                b->name = strdup(sb->name);
        b->next = *batches(t);
        if (b->next)
                b->next->prev = b;
        *batches(t) = b;
        tui_status(t, false, "%s: asking the daemon...", cmd);
        /* Each build's request goes to its own host's daemon, which authorises it as the ssh
         * login there; one that is down refuses its builds (-ENOTCONN) without delaying the rest. */
        for (size_t i = 0; i < n; i++) {
                Host *h = ref_down(t, &keys[i]);
                if (h) {
                        batch_refuse_down(b, h);
                        continue;
                }
                Client *c = tui_host(t, keys[i].host)->client;
                cJSON *a = args ? cJSON_Duplicate(args, true) : cJSON_CreateObject();
                if (!a)
                        return -ENOMEM;
                cJSON_AddNumberToObject(a, "build", (double) keys[i].key);
                int r = client_request(c, cmd, a, action_reply, b);
                if (r < 0)
                        action_reply(c, NULL, NULL, b); /* counted as refused */
        }
        return 0;
}

/* Which states an action applies to, and the rule in words for a refusal. */
static bool action_applies(const char *action, BuildState s, const char **ret_rule) {
        if (strcmp(action, "freeze") == 0) {
                *ret_rule = "only running builds can be frozen";
                return s == BUILD_RUNNING;
        }
        if (strcmp(action, "thaw") == 0) {
                *ret_rule = "only frozen builds can be unfrozen";
                return s == BUILD_FROZEN;
        }
        *ret_rule = strcmp(action, "kill") == 0 ? "only running or frozen builds can be killed"
                                                : "only running or frozen builds take it";
        return s == BUILD_RUNNING || s == BUILD_FROZEN;
}

size_t actions_applicable(Tui *t, const char *action, BuildRef *keys, size_t n) {
        size_t kept = 0;
        const char *rule = "";
        const StoreBuild *first = NULL;
        for (size_t i = 0; i < n; i++) {
                const StoreBuild *b = store_build(&tui_host(t, keys[i].host)->store, keys[i].key);
                if (b && action_applies(action, b->state, &rule))
                        keys[kept++] = keys[i];
                else
                        first = first ?: b;
        }
        if (kept > 0)
                return kept;
        char state[32] = "gone";
        if (first)
                columns_state_words(first, state, sizeof(state));
        if (n == 1)
                tui_status(t, true, "%s: %s is %s: %s (nothing sent)", action,
                           first ? first->name : "the build", state, rule);
        else
                tui_status(t, true, "%s: none of the %zu selected builds: %s (nothing sent)", action, n,
                           rule);
        return 0;
}

const char *actions_names(Tui *t, const BuildRef *keys, size_t n, size_t cells, char *buf, size_t len) {
        size_t o = 0, shown = MIN(n, (size_t) 3);
        /* Each name's share, past the separators and " and N more". */
        size_t each = MAX((cells > 16 ? cells - 16 : 0) / shown, (size_t) 12);
        buf[0] = 0;
        for (size_t i = 0; i < shown && o < len; i++) {
                const StoreBuild *b = store_build(&tui_host(t, keys[i].host)->store, keys[i].key);
                char name[256];
                fmt_fit_name(name, sizeof(name), b ? b->name : "?", each, screen_glyphs(t->screen)->ascii);
                int r = snprintf(buf + o, len - o, "%s%s", i ? ", " : "", name);
                o += r > 0 ? (size_t) r : 0;
        }
        if (n > shown && o < len)
                snprintf(buf + o, len - o, " and %zu more", n - shown);
        return buf;
}

void actions_free_all(Tui *t) {
        while (*batches(t)) {
                for (size_t i = 0; i < t->n_hosts; i++)
                        if (t->hosts[i]->client)
                                client_forget(t->hosts[i]->client, *batches(t));
                batch_free(t, *batches(t));
        }
}
