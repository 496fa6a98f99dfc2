/* The detail pane. A build (live or a history row) reads as a page first: what it is and how
 * it is or ended in words, who asked with their whole command line, its times in local time
 * and relative, what it uses and the limits on it, its CPU and memory over its life as
 * sparklines, its last log lines; then every field of the object, flattened, for search and
 * yank. Its stall (silent for how long, waiting for a lock) has a line of its own above. */
#include "tui/view-detail.h"

#include <math.h>
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
#include "tui/spark.h"

typedef struct DetailView {
        Tui *tui;
        uint64_t build; /* the build shown, whose fuller get-build answer is awaited; 0: none */
        unsigned host;  /* the build's */
        char title[256];
        char **lines;
        size_t n, cap;
        double quiet_since; /* a running build's last output (or start), unix time; 0: none */
        bool lock_wait;     /* a queued build waiting for the lock on its output */
        cJSON *obj;         /* what is shown (a copy): the page is made again every second */
        double rendered;    /* when the lines were made, unix time */
        double asked;       /* a live build: when get-build was last asked (again every 2 s) */
        bool asking;
        /* A history row shown, whose timeline is asked for once (get-history "id"); or, for
         * an ended build the daemon no longer holds, its newest row by drv (-1). 0: none. */
        int64_t history;
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

/* "key:      value", value cut into lines of at most width cells (a command line whole). */
static void dv_field(DetailView *dv, const char *key, const char *value, size_t width) {
        char head[32];
        snprintf(head, sizeof(head), "%-10s", key);
        size_t len = strlen(value), cut = MAX(width, (size_t) 20);
        for (size_t at = 0; at < len || at == 0; at += cut) {
                char line[1024];
                snprintf(line, sizeof(line), "%s %.*s", at == 0 ? head : "          ",
                         (int) MIN(cut, len - at), value + at);
                dv_add(dv, 0, NULL, line);
                if (len == 0)
                        break;
        }
}

/* "08:33:38, 2m ago" */
static char *when(char *buf, size_t n, double t, double now) {
        char at[32], ago[32];
        snprintf(buf, n, "%s, %s ago", fmt_time(at, sizeof(at), t, now),
                 fmt_duration(ago, sizeof(ago), now - t));
        return buf;
}

/* A series of the timeline as a sparkline scaled to its own top (CPU: one core at least). */
static void dv_graph(DetailView *dv, const char *key, const cJSON *series, double floor_max, bool bytes,
                     bool ascii) {
        double v[128], max = floor_max;
        size_t n = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, series) {
                if (n == ELEMENTSOF(v))
                        break;
                v[n] = cJSON_IsNumber(e) ? e->valuedouble : -1;
                max = MAX(max, v[n]);
                n++;
        }
        if (n < 2)
                return;
        char spark[ELEMENTSOF(v) * 4 + 1], top[32], line[700];
        if (bytes)
                units_format_bytes(top, sizeof(top), max);
        else
                fmt_percent(top, sizeof(top), max);
        snprintf(line, sizeof(line), "%s  (top %s)", spark_render(v, n, max, ascii, spark, sizeof(spark)),
                 top);
        dv_field(dv, key, line, sizeof(line));
}

/* Its phases with how long each took: a history row's have "start" and "duration", a live
 * build's "time" (each lasts to the next, the last to its end or now). */
static void dv_phases(DetailView *dv, const cJSON *b, size_t width, double now) {
        const cJSON *phases = json_arr(b, "phases"), *p;
        if (cJSON_GetArraySize(phases) == 0)
                return;
        double end = json_num(b, "finished", -1) > 0 ? json_num(b, "finished", -1) : now;
        char line[1024] = "", d[32];
        size_t len = 0;
        cJSON_ArrayForEach(p, phases) {
                const char *name = json_str(p, "name");
                double took = json_num(p, "duration", -1);
                if (took < 0 && json_num(p, "time", -1) > 0)
                        took = (p->next ? json_num(p->next, "time", end) : end) - json_num(p, "time", 0);
                if (!name || len >= sizeof(line))
                        continue;
                int k = snprintf(line + len, sizeof(line) - len, "%s%s %s", len ? ", " : "", name,
                                 fmt_duration(d, sizeof(d), took));
                len += k > 0 ? (size_t) k : 0;
        }
        if (line[0])
                dv_field(dv, "phases", line, width);
}

/* Pressure (PSI, its own cgroup): the share of the last sample its processes stalled, and
 * the most for memory; a history row has only the latter. Nothing when the kernel gave none. */
static void dv_pressure(DetailView *dv, const cJSON *u, size_t width) {
        const cJSON *p = json_obj(u, "pressure");
        char buf[160], m[16], c[16], io[16], peak[16];
        if (p)
                snprintf(buf, sizeof(buf),
                         "memory %s, cpu %s, io %s of the last seconds stalled; most for memory %s",
                         fmt_percent(m, sizeof(m), json_num(p, "memory", -1)),
                         fmt_percent(c, sizeof(c), json_num(p, "cpu", -1)),
                         fmt_percent(io, sizeof(io), json_num(p, "io", -1)),
                         fmt_percent(peak, sizeof(peak), json_num(p, "memory_peak", -1)));
        else if (json_num(u, "mem_pressure_peak", -1) >= 0)
                snprintf(buf, sizeof(buf), "most for memory %s",
                         fmt_percent(peak, sizeof(peak), json_num(u, "mem_pressure_peak", -1)));
        else
                return;
        dv_field(dv, "pressure", buf, width);
}

/* The page of a build object (one with "drv" and "state"); nothing for other objects. */
static void dv_page(DetailView *dv, const cJSON *b, size_t width) {
        const char *st = json_str(b, "state"), *drv = json_str(b, "drv");
        if (!st || !drv)
                return;
        double now = (double) now_realtime() / 1e6;
        const cJSON *f = json_obj(b, "failure"), *req = json_obj(b, "requester"), *u = json_obj(b, "usage");
        char buf[1024], a[64], c[64], d[64];
        fmt_state_why(a, sizeof(a), st, json_str(f, "kind"), (int) json_num(f, "exit_code", FMT_NONE),
                      (int) json_num(f, "signal", FMT_NONE));
        const char *phase = json_str(b, "phase");
        snprintf(buf, sizeof(buf), "%s%s%s", a, phase ? ", in " : "", phase ?: "");
        dv_field(dv, "state", buf, width);
        if (json_str(f, "message"))
                dv_field(dv, "why", json_str(f, "message"), width);
        dv_field(dv, "drv", drv, width);
        const char *m = json_str(b, "machine");
        dv_field(dv, "machine", m && *m ? m : "local (this machine)", width);
        double uid = json_num(req, "uid", -1);
        if (uid >= 0 || json_str(req, "user")) {
                snprintf(buf, sizeof(buf), "%s (uid %.0f)", json_str(req, "user") ?: "?", uid);
                dv_field(dv, "requester", buf, width);
        }
        if (json_str(req, "cmdline"))
                dv_field(dv, "command", json_str(req, "cmdline"), width);
        static const char *const times[] = {"queued", "started", "finished"};
        for (size_t i = 0; i < ELEMENTSOF(times); i++) {
                double t = json_num(b, times[i], -1);
                if (t > 0)
                        dv_field(dv, times[i], when(buf, sizeof(buf), t, now), width);
        }
        double dur = json_num(b, "duration", -1), started = json_num(b, "started", -1),
               finished = json_num(b, "finished", -1);
        if (finished > 0 && dur >= 0)
                dv_field(dv, "took", fmt_duration(a, sizeof(a), dur), width);
        else if (started > 0 && finished <= 0)
                dv_field(dv, "elapsed", fmt_duration(a, sizeof(a), now - started), width);
        if (u) {
                double cpu_s = json_num(u, "cpu_user", 0) + json_num(u, "cpu_system", 0);
                double procs = json_num(u, "procs", -1);
                char peak[32], np[32] = "";
                if (procs >= 0)
                        snprintf(np, sizeof(np), "; processes %.0f", procs);
                snprintf(buf, sizeof(buf), "CPU %s now, %s in all; MEM %s (peak %s)%s",
                         fmt_percent(a, sizeof(a), json_num(u, "cpu_percent", -1)),
                         fmt_duration(c, sizeof(c), cpu_s),
                         units_format_bytes(d, sizeof(d), json_num(u, "mem_current", -1)),
                         units_format_bytes(peak, sizeof(peak), json_num(u, "mem_peak", -1)), np);
                dv_field(dv, "usage", buf, width);
                double nice = json_num(u, "nice", FMT_NONE), cpu_limit = json_num(u, "cpu_limit", 0),
                       mem_limit = json_num(u, "mem_limit", 0);
                buf[0] = '\0';
                if (nice != FMT_NONE && nice != 0) /* 0: the default, nothing applied */
                        snprintf(buf, sizeof(buf), "nice %.0f", nice);
                if (cpu_limit > 0)
                        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%sCPU %.2g cores",
                                 buf[0] ? ", " : "", cpu_limit);
                if (mem_limit > 0)
                        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%smemory %s",
                                 buf[0] ? ", " : "", units_format_bytes(a, sizeof(a), mem_limit));
                dv_field(dv, "limits", buf[0] ? buf : "none", width);
                dv_pressure(dv, u, width);
        }
        dv_phases(dv, b, width, now);
        const cJSON *tl = json_obj(b, "timeline");
        if (tl) {
                bool ascii = screen_glyphs(dv->tui->screen)->ascii;
                dv_graph(dv, "cpu", json_arr(tl, "cpu_percent"), 100, false, ascii);
                dv_graph(dv, "memory", json_arr(tl, "mem"), 1, true, ascii);
        }
        const cJSON *tail = json_arr(b, "log_tail"), *line;
        if (cJSON_GetArraySize(tail) > 0) {
                dv_add(dv, 0, NULL, "log (its last lines):");
                cJSON_ArrayForEach(line, tail) {
                        if (cJSON_IsString(line))
                                dv_add(dv, 1, NULL, line->valuestring);
                }
        }
        dv_add(dv, 0, NULL, "");
        dv_add(dv, 0, NULL, "every field:");
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

/* The lines of dv->obj, made again (relative times move on); the cursor stays. */
static void dv_render(Tui *t, View *v) {
        DetailView *dv = v->data;
        size_t cur = v->nav.cur;
        int rows = 0, cols = 0;
        dv_clear(dv);
        dv->rendered = (double) now_realtime() / 1e6;
        if (!dv->obj)
                return;
        screen_size(t->screen, &rows, &cols);
        dv_outcome(dv, dv->obj);
        dv_page(dv, dv->obj, (size_t) MAX(cols - 12, 20));
        dv_walk(dv, dv->obj, 0, NULL);
        listnav_set_count(&v->nav, dv->n);
        listnav_goto(&v->nav, MIN(cur, dv->n ? dv->n - 1 : 0));
}

/* Shows obj (copied); top of the page when top. */
static void dv_show(Tui *t, View *v, const char *title, const cJSON *obj, bool top) {
        DetailView *dv = v->data;
        snprintf(dv->title, sizeof(dv->title), "%s", title);
        cJSON_Delete(dv->obj);
        dv->obj = cJSON_Duplicate(obj, true);
        /* silent_for is as of the answer: the line counts on from there. */
        const cJSON *silent = cJSON_GetObjectItem(obj, "silent_for");
        dv->quiet_since = cJSON_IsNumber(silent) ? (double) now_realtime() / 1e6 - silent->valuedouble : 0;
        dv->lock_wait = json_bool(obj, "waiting_for_lock");
        if (top)
                listnav_goto(&v->nav, 0);
        dv_render(t, v);
}

void view_detail_set(Tui *t, const char *title, const cJSON *obj) {
        View *v = t->views[VIEW_DETAIL];
        ((DetailView *) v->data)->build = 0;
        ((DetailView *) v->data)->history = 0;
        dv_show(t, v, title, obj, true);
}

/* get-history's row with its timeline: shown in place of what is, if it is the row asked for
 * (by id, or the newest of the ended build's drv queued at the same time). */
static void dv_got_history(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        View *v = userdata;
        DetailView *dv = v->data;
        const cJSON *row = cJSON_GetArrayItem(json_arr(result, "builds"), 0);
        if (!row || !dv->obj || c != tui_host(dv->tui, dv->host)->client)
                return;
        bool same =
                dv->history > 0
                        ? json_num(row, "id", 0) == (double) dv->history
                        : dv->history < 0 && json_str(row, "drv") && json_str(dv->obj, "drv") &&
                                  strcmp(json_str(row, "drv"), json_str(dv->obj, "drv")) == 0 &&
                                  fabs(json_num(row, "queued", 0) - json_num(dv->obj, "queued", -1)) < 1e-3;
        if (!same)
                return;
        dv->history = 0;
        char title[256];
        snprintf(title, sizeof(title), "%s", dv->title);
        dv_show(dv->tui, v, title, row, false);
        tui_invalidate(dv->tui);
}

/* Asks for one history row with its timeline: by id, or the newest row of drv. */
static void dv_ask_history(Tui *t, View *v, int64_t id, const char *drv) {
        DetailView *dv = v->data;
        cJSON *args = cJSON_CreateObject();
        if (!args)
                return;
        if (id > 0)
                cJSON_AddNumberToObject(args, "id", (double) id);
        else
                cJSON_AddStringToObject(args, "drv", drv);
        cJSON_AddBoolToObject(args, "timeline", true);
        cJSON_AddNumberToObject(args, "limit", 1);
        dv->history = id > 0 ? id : -1;
        if (client_request(tui_host(t, dv->host)->client, "get-history", args, dv_got_history, v) < 0)
                dv->history = 0;
}

void view_detail_history(Tui *t, unsigned host, const cJSON *row) {
        View *v = t->views[VIEW_DETAIL];
        DetailView *dv = v->data;
        /* The row at once; its timeline (get-history leaves it out of its pages) when it comes. */
        tui_show_detail(t, json_str(row, "name") ?: "history row", row);
        for (size_t i = 0; i < t->n_hosts; i++)
                client_forget(t->hosts[i]->client, v);
        dv->host = host;
        if (json_num(row, "id", 0) >= 1)
                dv_ask_history(t, v, (int64_t) json_num(row, "id", 0), NULL);
}

static void dv_got_build(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        View *v = userdata;
        DetailView *dv = v->data;
        const cJSON *b = json_obj(result, "build");
        /* Ended, and the daemon holds it no more (it let go of it, or restarted): its
         * history row has its timeline. */
        if (!b && dv->build && dv->obj && strcmp(json_str(error, "code") ?: "", "not-found") == 0 &&
            json_str(dv->obj, "drv") && json_num(dv->obj, "finished", -1) > 0) {
                dv->build = 0;
                dv->asking = false;
                dv_ask_history(dv->tui, v, 0, json_str(dv->obj, "drv"));
                return;
        }
        /* Still showing that build? (The user may have gone elsewhere meanwhile.) */
        if (!b || dv->build == 0 || json_u64(b, "key", 0) != dv->build ||
            c != tui_host(dv->tui, dv->host)->client)
                return;
        dv->asking = false;
        char title[256];
        snprintf(title, sizeof(title), "%s", dv->title);
        /* The build with its processes and timeline (members of the answer beside it). */
        _cleanup_(cJSON_Deletep) cJSON *all = cJSON_Duplicate(b, true);
        const cJSON *procs = json_obj(result, "processes"), *tl = json_obj(result, "timeline");
        if (all && procs)
                cJSON_AddItemToObject(all, "processes", cJSON_Duplicate(procs, true));
        if (all && tl)
                cJSON_AddItemToObject(all, "timeline", cJSON_Duplicate(tl, true));
        dv_show(dv->tui, v, title, all ?: b, false);
        tui_invalidate(dv->tui);
}

/* Asks dv->build's daemon for it (log tail, processes, timeline). */
static void dv_ask(Tui *t, View *v) {
        DetailView *dv = v->data;
        cJSON *args = cJSON_CreateObject();
        if (!args)
                return;
        cJSON_AddNumberToObject(args, "build", (double) dv->build);
        dv->asked = (double) now_realtime() / 1e6;
        dv->asking = client_request(tui_host(t, dv->host)->client, "get-build", args, dv_got_build, v) >= 0;
}

void view_detail_build(Tui *t, const StoreBuild *b) {
        View *v = t->views[VIEW_DETAIL];
        DetailView *dv = v->data;
        /* What the store has at once; the daemon's get-build (log tail, processes, timeline)
         * when it comes, and again every 2 s while shown. */
        tui_show_detail(t, b->name, b->json);
        for (size_t i = 0; i < t->n_hosts; i++)
                client_forget(t->hosts[i]->client, v);
        dv->build = b->key;
        dv->host = b->host;
        dv_ask(t, v);
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
        double now = (double) now_realtime() / 1e6;
        /* Again every 2 s; an answer lost with its connection is given up after 10 s. */
        if (dv->build && now - dv->asked >= (dv->asking ? 10 : 2))
                dv_ask(t, v);
        if (now - dv->rendered >= 1)
                dv_render(t, v);
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
        cJSON_Delete(dv->obj);
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
