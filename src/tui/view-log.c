/* The log panel: a bounded ring of lines, its own daemon connection per followed build. */
#include "tui/view-log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/time-util.h"
#include "shared/json-read.h"
#include "tui/draw.h"
#include "shared/fmt.h"

#define LOG_KEEP 10000 /* lines kept in the panel */
#define LOG_TAIL 2000  /* lines asked for when following starts */

typedef struct LogView {
        Tui *tui;
        Client *conn;
        uint64_t key;
        unsigned host; /* the followed build's */
        char **lines;  /* ring of LOG_KEEP */
        size_t start, n;
        uint64_t total;
        uint64_t dropped; /* older lines the daemon no longer had to send (its log budget) */
        bool stick;       /* the cursor follows the newest line; scrolling up pauses it */
        bool connected;   /* its connection is up: only then is it followed */
        bool ended;
        char state[32];
        char *error;
} LogView;

static LogView *lv_of(Tui *t) {
        return t->views[VIEW_LOG]->data;
}

static void lv_clear(LogView *lv) {
        for (size_t i = 0; i < lv->n; i++)
                free(lv->lines[(lv->start + i) % LOG_KEEP]);
        lv->start = lv->n = 0;
        lv->total = 0;
        lv->dropped = 0;
        lv->ended = false;
        lv->state[0] = 0;
        free(lv->error);
        lv->error = NULL;
}

static void lv_append(LogView *lv, const char *s) {
        char *copy = strdup(s);
        if (!copy)
                return;
        if (lv->n == LOG_KEEP) {
                free(lv->lines[lv->start]);
                lv->lines[lv->start] = copy;
                lv->start = (lv->start + 1) % LOG_KEEP;
        } else
                lv->lines[(lv->start + lv->n++) % LOG_KEEP] = copy;
}

static const char *lv_line(LogView *lv, size_t i) {
        return i < lv->n ? lv->lines[(lv->start + i) % LOG_KEEP] : "";
}

static void lv_sync_nav(Tui *t) {
        View *v = t->views[VIEW_LOG];
        LogView *lv = v->data;
        listnav_set_count(&v->nav, lv->n);
        if (lv->stick && lv->n > 0)
                v->nav.cur = lv->n - 1;
}

static void lv_append_array(LogView *lv, const cJSON *arr) {
        const cJSON *l;
        cJSON_ArrayForEach(l, arr)
                if (cJSON_IsString(l))
                        lv_append(lv, l->valuestring);
}

static void lv_got_log(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        LogView *lv = userdata;
        if (!result) {
                free(lv->error);
                const char *msg = error ? json_str(error, "message") : NULL;
                lv->error = strdup(msg ?: "the daemon went away");
                tui_invalidate(lv->tui);
                return;
        }
        lv_clear(lv);
        lv_append_array(lv, json_arr(result, "lines"));
        lv->total = json_u64(result, "total", 0);
        lv->dropped = json_u64(result, "truncated", 0);
        snprintf(lv->state, sizeof(lv->state), "%s", json_str(result, "state") ?: "");
        /* A build that had already ended is not followed (docs/protocol.md, get-log). */
        BuildState st = build_state_from_string(lv->state);
        if (st >= 0 && !build_state_is_active(st))
                lv->ended = true;
        lv_sync_nav(lv->tui);
        tui_invalidate(lv->tui);
}

static void lv_connected(Client *c, void *userdata) {
        LogView *lv = userdata;
        cJSON *args = cJSON_CreateObject();
        if (!args)
                return;
        cJSON_AddNumberToObject(args, "build", (double) lv->key);
        cJSON_AddNumberToObject(args, "tail", LOG_TAIL);
        cJSON_AddTrueToObject(args, "follow");
        lv->connected = client_request(c, "get-log", args, lv_got_log, lv) >= 0;
}

static void lv_disconnected(Client *c, int error, void *userdata) {
        LogView *lv = userdata;
        lv->connected = false;
        tui_invalidate(lv->tui);
}

static void lv_event(Client *c, cJSON *ev, void *userdata) {
        LogView *lv = userdata;
        const char *name = json_str(ev, "event");
        if (!name || json_u64(ev, "build", 0) != lv->key)
                return;
        if (strcmp(name, "log") == 0) {
                lv_append_array(lv, json_arr(ev, "lines"));
                lv->total +=
                        (uint64_t) cJSON_GetArraySize(json_arr(ev, "lines")) + json_u64(ev, "skipped", 0);
                lv->dropped += json_u64(ev, "skipped", 0);
        } else if (strcmp(name, "log-end") == 0) {
                lv->ended = true;
                snprintf(lv->state, sizeof(lv->state), "%s", json_str(ev, "state") ?: "ended");
        } else
                return;
        lv_sync_nav(lv->tui);
        tui_invalidate(lv->tui);
}

void view_log_follow(Tui *t, BuildRef ref) {
        LogView *lv = lv_of(t);
        uint64_t key = ref.key;
        if (key == lv->key && ref.host == lv->host && (lv->conn || key == 0))
                return;
        lv->conn = client_free(lv->conn);
        lv_clear(lv);
        lv->key = key;
        lv->host = ref.host;
        lv->stick = true;
        lv->connected = false;
        listnav_set_count(&t->views[VIEW_LOG]->nav, 0);
        if (key == 0)
                return;
        static const ClientCallbacks cb = {
                .connected = lv_connected,
                .disconnected = lv_disconnected,
                .event = lv_event,
        };
        int r = tui_client_new(t, tui_host(t, ref.host), "nix-analytics-log", &cb, lv, &lv->conn);
        if (r < 0)
                lv->error = strdup("cannot start a log connection");
}

char *view_log_text(Tui *t, size_t max_bytes) {
        LogView *lv = lv_of(t);
        size_t len = 0, first = lv->n;
        /* The newest lines that fit. */
        while (first > 0 && len + strlen(lv_line(lv, first - 1)) + 1 <= max_bytes) {
                first--;
                len += strlen(lv_line(lv, first)) + 1;
        }
        char *s = malloc(len + 1);
        if (!s)
                return NULL;
        size_t o = 0;
        for (size_t i = first; i < lv->n; i++) {
                size_t l = strlen(lv_line(lv, i));
                memcpy(s + o, lv_line(lv, i), l);
                o += l;
                s[o++] = '\n';
        }
        s[o] = 0;
        return s;
}

static size_t lv_count(Tui *t, View *v) {
        return ((LogView *) v->data)->n;
}

static const char *lv_row_text(Tui *t, View *v, size_t i) {
        return lv_line(v->data, i);
}

static void lv_draw(Tui *t, View *v, int y, int x, int h, int w) {
        LogView *lv = v->data;
        const Screen *scr = t->screen;
        StoreBuild *b = lv->key ? store_build(&tui_host(t, lv->host)->store, lv->key) : NULL;
        char title[800], on[300], mode[64];
        /* "following" only while it does: the newest line in view and the connection up. */
        if (lv->ended)
                snprintf(mode, sizeof(mode), "ended %s", lv->state);
        else if (!lv->connected)
                snprintf(mode, sizeof(mode), "not following: no connection (retrying)");
        else if (!lv->stick)
                snprintf(mode, sizeof(mode), "paused at line %zu (G or F: follow)",
                         t->views[VIEW_LOG]->nav.cur + 1);
        else
                snprintf(mode, sizeof(mode), "following");
        if (!lv->key)
                snprintf(title, sizeof(title), "log: (select a build)");
        else {
                /* The name gives way (its middle) before what the panel says of itself. */
                char rest[400], name[256];
                snprintf(rest, sizeof(rest), "%s  %zu lines  %s%s", tui_host_on(t, lv->host, on, sizeof(on)),
                         lv->n, mode,
                         t->log_focused ? "  [focused: j/k scroll, Tab back]" : "  [Tab: focus]");
                int room = MAX(w - 5 - (int) fmt_width(rest), 12);
                fmt_fit_name(name, sizeof(name), b ? b->name : "?", (size_t) room,
                             screen_glyphs(scr)->ascii);
                snprintf(title, sizeof(title), "log: %s%s", name, rest);
        }
        draw_text(scr, y, x, w, screen_attr(scr, COL_TITLE), title, true, false);
        y++;
        h--;
        if (h <= 0)
                return;
        if (lv->error) {
                draw_printf(scr, y, x, w, screen_attr(scr, COL_ERROR), "log: %s", lv->error);
                return;
        }
        uint64_t older = lv->total > lv->n ? lv->total - lv->n : 0;
        if (older > 0 && h > 2) {
                /* The daemon keeps the newest lines within its memory budget and the panel the
                 * last LOG_KEEP; Nix keeps them all. Two lines: the commands stay whole. */
                if (lv->dropped > 0)
                        draw_printf(scr, y, x, w, screen_attr(scr, COL_TITLE),
                                    "%" PRIu64 " older lines dropped by the daemon; its last %" PRIu64
                                    ": nix-analytics-ctl log %" PRIu64,
                                    older, lv->total - lv->dropped, lv->key);
                else
                        draw_printf(scr, y, x, w, screen_attr(scr, COL_TITLE),
                                    "%" PRIu64 " older lines not kept here; all %" PRIu64
                                    ": nix-analytics-ctl log %" PRIu64,
                                    older, lv->total, lv->key);
                draw_printf(scr, y + 1, x, w, screen_attr(scr, COL_TITLE),
                            "whole log (once ended): nix log %s", b && b->drv && *b->drv ? b->drv : "DRV");
                y += 2;
                h -= 2;
        }
        listnav_scroll(&v->nav, (size_t) h);
        for (int i = 0; i < h && v->nav.top + (size_t) i < lv->n; i++) {
                size_t li = v->nav.top + (size_t) i;
                int attr = t->log_focused && li == v->nav.cur ? screen_attr(scr, COL_SELECTED) : 0;
                draw_highlight(scr, y + i, x, w, attr, screen_attr(scr, COL_MATCH), lv_line(lv, li),
                               v->search);
        }
}

void view_log_resume(Tui *t) {
        View *v = t->views[VIEW_LOG];
        LogView *lv = v->data;
        lv->stick = true;
        lv_sync_nav(t);
        tui_status(t, false, "log: following %s", lv->ended ? "(the build has ended)" : "the newest line");
}

static bool lv_key(Tui *t, View *v, Cmd cmd) {
        LogView *lv = v->data;
        if (!listnav_move(&v->nav, cmd))
                return false;
        lv->stick = lv->n == 0 || v->nav.cur == lv->n - 1;
        return true;
}

static void lv_free(View *v) {
        LogView *lv = v->data;
        client_free(lv->conn);
        lv_clear(lv);
        free(lv->lines);
        free(lv);
}

static void lv_close(Tui *t, View *v) {
        view_log_follow(t, (BuildRef){});
}

int view_log_new(Tui *t, View **ret) {
        static const View proto = {
                .title = "log",
                .count = lv_count,
                .row_text = lv_row_text,
                .draw = lv_draw,
                .key = lv_key,
                .close = lv_close,
                .free = lv_free,
        };
        int r = view_alloc(&proto, sizeof(LogView), ret);
        if (r < 0)
                return r;
        LogView *lv = (*ret)->data;
        lv->lines = calloc(LOG_KEEP, sizeof(char *));
        if (!lv->lines) {
                lv_free(*ret);
                free(*ret);
                *ret = NULL;
                return -ENOMEM;
        }
        lv->stick = true;
        lv->tui = t;
        return 0;
}
