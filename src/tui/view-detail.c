/* The detail pane: a JSON object flattened into readable lines; for a build, its stall
 * (silent for how long, waiting for a lock) on a line of its own above them. */
#include "tui/view-detail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/macro.h"
#include "basic/time-util.h"
#include "shared/json-read.h"
#include "tui/draw.h"
#include "shared/fmt.h"
#include "shared/units.h"

typedef struct DetailView {
        Tui *tui;
        uint64_t build; /* the build shown, whose fuller get-build answer is awaited; 0: none */
        unsigned host;  /* the build's */
        char title[256];
        char **lines;
        size_t n, cap;
        double quiet_since; /* a running build's last output (or start), unix time; 0: none */
        bool lock_wait;     /* a queued build waiting for the lock on its output */
} DetailView;

static void dv_clear(DetailView *dv) {
        for (size_t i = 0; i < dv->n; i++)
                free(dv->lines[i]);
        dv->n = 0;
}

static void dv_add(DetailView *dv, int depth, const char *key, const char *value) {
        if (dv->n == dv->cap) {
                size_t cap = MAX(dv->cap * 2, (size_t) 32);
                char **n = realloc(dv->lines, cap * sizeof(char *));
                if (!n)
                        return;
                dv->lines = n;
                dv->cap = cap;
        }
        char *s;
        if (asprintf(&s, "%*s%s%s%s", depth * 2, "", key ?: "", key ? ": " : "", value) >= 0)
                dv->lines[dv->n++] = s;
}

/* Unix times are shown as local times too. */
static bool is_time_key(const char *k) {
        static const char *const keys[] = {"queued",       "started",      "finished",   "time",
                                           "connected",    "disconnected", "checked",    "last_build",
                                           "last_failure", "seen",         "last_output"};
        for (size_t i = 0; k && i < ELEMENTSOF(keys); i++)
                if (strcmp(k, keys[i]) == 0)
                        return true;
        return false;
}

static void dv_walk(DetailView *dv, const cJSON *o, int depth, const char *key) {
        char buf[256];
        if (cJSON_IsObject(o) || cJSON_IsArray(o)) {
                if (cJSON_GetArraySize(o) == 0) {
                        dv_add(dv, depth, key, cJSON_IsArray(o) ? "[]" : "{}");
                        return;
                }
                /* Arrays of plain strings or numbers (log tail, inputs) one per line. */
                if (key)
                        dv_add(dv, depth, key, "");
                const cJSON *c;
                int i = 0;
                cJSON_ArrayForEach(c, o) {
                        char idx[32];
                        snprintf(idx, sizeof(idx), "[%d]", i++);
                        dv_walk(dv, c, depth + (key ? 1 : 0), cJSON_IsArray(o) ? idx : c->string);
                }
                return;
        }
        if (cJSON_IsString(o))
                dv_add(dv, depth, key, o->valuestring);
        else if (cJSON_IsNumber(o)) {
                double v = o->valuedouble;
                if (is_time_key(key) && v > 1e9) {
                        time_t tt = (time_t) v;
                        struct tm tm;
                        char ts[64] = "";
                        if (localtime_r(&tt, &tm))
                                strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
                        /* a remote view's age: how old the poll behind it is */
                        double age = (double) time(NULL) - v;
                        if (strcmp(key, "seen") == 0)
                                snprintf(buf, sizeof(buf), "%s (%.0f s ago)", ts, MAX(age, 0.0));
                        else
                                snprintf(buf, sizeof(buf), "%s (%.3f)", ts, v);
                } else if (v == (double) (long long) v)
                        snprintf(buf, sizeof(buf), "%lld", (long long) v);
                else
                        snprintf(buf, sizeof(buf), "%.3f", v);
                dv_add(dv, depth, key, buf);
        } else if (cJSON_IsBool(o))
                dv_add(dv, depth, key, cJSON_IsTrue(o) ? "true" : "false");
        else
                dv_add(dv, depth, key, "-");
}

/* A build's outcome first, in words, where the fields below say it less plainly. */
static void dv_outcome(DetailView *dv, const cJSON *obj) {
        const cJSON *f = json_obj(obj, "failure");
        const char *kind = json_str(f, "kind");
        char state[32], limit[32], peak[32], line[160];
        if (!kind || strcmp(kind, "oom-killed") != 0)
                return;
        units_format_bytes(limit, sizeof(limit), json_num(f, "mem_limit", -1));
        units_format_bytes(peak, sizeof(peak), json_num(f, "mem_peak", -1));
        snprintf(line, sizeof(line), "%s at its memory limit (limit %s, peak %s)",
                 fmt_state(state, sizeof(state), json_str(obj, "state"), kind), limit, peak);
        dv_add(dv, 0, "outcome", line);
}

void view_detail_set(Tui *t, const char *title, const cJSON *obj) {
        View *v = t->views[VIEW_DETAIL];
        DetailView *dv = v->data;
        dv->build = 0;
        dv_clear(dv);
        snprintf(dv->title, sizeof(dv->title), "%s", title);
        /* silent_for is as of the answer: the line counts on from there. */
        const cJSON *silent = cJSON_GetObjectItem(obj, "silent_for");
        dv->quiet_since = cJSON_IsNumber(silent) ? (double) now_realtime() / 1e6 - silent->valuedouble : 0;
        dv->lock_wait = json_bool(obj, "waiting_for_lock");
        dv_outcome(dv, obj);
        dv_walk(dv, obj, 0, NULL);
        listnav_set_count(&v->nav, dv->n);
        listnav_goto(&v->nav, 0);
}

static void dv_got_build(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        View *v = userdata;
        DetailView *dv = v->data;
        const cJSON *b = json_obj(result, "build");
        /* Still showing that build? (The user may have gone elsewhere meanwhile.) */
        if (!b || dv->build == 0 || json_u64(b, "key", 0) != dv->build ||
            c != tui_host(dv->tui, dv->host)->client)
                return;
        uint64_t key = dv->build;
        size_t cur = v->nav.cur;
        char title[256];
        snprintf(title, sizeof(title), "%s", dv->title);
        /* The build with its processes (a member of the answer beside it). */
        _cleanup_(cJSON_Deletep) cJSON *all = cJSON_Duplicate(b, true);
        const cJSON *procs = json_obj(result, "processes");
        if (all && procs)
                cJSON_AddItemToObject(all, "processes", cJSON_Duplicate(procs, true));
        view_detail_set(dv->tui, title, all ?: b);
        dv->build = key;
        listnav_goto(&v->nav, cur);
        tui_invalidate(dv->tui);
}

void view_detail_build(Tui *t, const StoreBuild *b) {
        View *v = t->views[VIEW_DETAIL];
        DetailView *dv = v->data;
        /* What the store has at once; the daemon's get-build (log tail, processes) when it comes. */
        tui_show_detail(t, b->name, b->json);
        cJSON *args = cJSON_CreateObject();
        if (!args)
                return;
        cJSON_AddNumberToObject(args, "build", (double) b->key);
        for (size_t i = 0; i < t->n_hosts; i++)
                client_forget(t->hosts[i]->client, v);
        if (client_request(tui_host(t, b->host)->client, "get-build", args, dv_got_build, v) >= 0) {
                dv->build = b->key;
                dv->host = b->host;
        }
}

static void dv_close(Tui *t, View *v) {
        ((DetailView *) v->data)->build = 0;
}

static size_t dv_count(Tui *t, View *v) {
        return ((DetailView *) v->data)->n;
}

static const char *dv_row_text(Tui *t, View *v, size_t i) {
        DetailView *dv = v->data;
        return i < dv->n ? dv->lines[i] : "";
}

/* The stall line of a build: what it waits for, or how long it has printed nothing. */
static bool dv_stall(DetailView *dv, char *buf, size_t n) {
        if (dv->lock_wait) {
                snprintf(buf, n, "waiting for a lock: another process builds or fetches its output");
                return true;
        }
        if (dv->quiet_since <= 0)
                return false;
        double now = (double) now_realtime() / 1e6;
        char d[32], at[32];
        snprintf(buf, n, "silent for %s: no output since %s",
                 fmt_duration(d, sizeof(d), now - dv->quiet_since),
                 fmt_time(at, sizeof(at), dv->quiet_since, now));
        return true;
}

static void dv_draw(Tui *t, View *v, int y, int x, int h, int w) {
        DetailView *dv = v->data;
        const Screen *scr = t->screen;
        draw_printf(scr, y, x, w, screen_attr(scr, COL_TITLE),
                    "details: %s  (j/k scroll, / search, Esc back)", dv->title);
        if (--h <= 0)
                return;
        y++;
        char stall[160];
        if (dv_stall(dv, stall, sizeof(stall))) {
                draw_text(scr, y++, x, w, screen_attr(scr, COL_QUEUED), stall, false, false);
                if (--h <= 0)
                        return;
        }
        listnav_scroll(&v->nav, (size_t) h);
        for (int i = 0; i < h && v->nav.top + (size_t) i < dv->n; i++) {
                size_t li = v->nav.top + (size_t) i;
                int attr = li == v->nav.cur && !t->log_focused ? screen_attr(scr, COL_SELECTED) : 0;
                draw_highlight(scr, y + i, x, w, attr, screen_attr(scr, COL_MATCH), dv->lines[li],
                               v->search);
        }
}

static void dv_free(View *v) {
        DetailView *dv = v->data;
        dv_clear(dv);
        free(dv->lines);
        free(dv);
}

int view_detail_new(Tui *t, View **ret) {
        static const View proto = {
                .title = "details",
                .count = dv_count,
                .row_text = dv_row_text,
                .draw = dv_draw,
                .close = dv_close,
                .free = dv_free,
        };
        int r = view_alloc(&proto, sizeof(DetailView), ret);
        if (r < 0)
                return r;
        ((DetailView *) (*ret)->data)->tui = t;
        return 0;
}
