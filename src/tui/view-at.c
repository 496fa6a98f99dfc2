/* The screen as it was at a past instant (see view-at.h). */
#include "tui/view-at.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "shared/fmt.h"
#include "shared/json-read.h"
#include "shared/units.h"
#include "tui/draw.h"
#include "tui/poll.h"
#include "tui/view-detail.h"

/* The past does not change, but the builds still running then may end meanwhile. */
#define AT_REFRESH (10 * USEC_PER_SEC)

typedef struct AtView {
        Tui *tui;
        Poll poll;
        usec_t at;
        unsigned host;
        char text[1024];
} AtView;

static const cJSON *av_rows(AtView *av) {
        return json_arr(av->poll.result, "builds");
}

static void av_got(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        View *v = userdata;
        AtView *av = v->data;
        if (poll_take(&av->poll, result, error))
                listnav_set_count(&v->nav, (size_t) cJSON_GetArraySize(av_rows(av)));
        tui_invalidate(av->tui);
}

static void av_fetch(Tui *t, View *v, Poll *p) {
        AtView *av = v->data;
        cJSON *args = cJSON_CreateObject();
        if (!args || !cJSON_AddNumberToObject(args, "time", usec_to_sec(av->at)) ||
            client_request(tui_host(t, av->host)->client, "at", args, av_got, v) < 0) {
                if (args && !cJSON_GetObjectItem(args, "time"))
                        cJSON_Delete(args);
                poll_done(&av->poll);
        }
}

static void av_open(Tui *t, View *v) {
        AtView *av = v->data;
        if (!av->at)
                av->at = now_realtime() - 60 * USEC_PER_SEC;
        poll_start(&av->poll, t, av->host, v, AT_REFRESH, av_fetch);
}

static void av_close(Tui *t, View *v) {
        poll_stop(&((AtView *) v->data)->poll);
}

static size_t av_count(Tui *t, View *v) {
        return (size_t) cJSON_GetArraySize(av_rows(v->data));
}

static void av_line(const cJSON *b, char *buf, size_t n) {
        char started[32], state[32], cpu[16] = "-", mem[16] = "-", procs[16] = "-";
        const cJSON *then = json_obj(b, "then"), *f = json_obj(b, "failure");
        fmt_time(started, sizeof(started), json_num(b, "started", -1), tui_now());
        fmt_state_why(state, sizeof(state), json_str(b, "state"), json_str(f, "kind"),
                      (int) json_num(f, "exit_code", FMT_NONE), (int) json_num(f, "signal", FMT_NONE));
        if (then) {
                fmt_percent(cpu, sizeof(cpu), json_num(then, "cpu_percent", -1));
                units_format_bytes(mem, sizeof(mem), json_num(then, "mem", -1));
                snprintf(procs, sizeof(procs), "%.0f", json_num(then, "procs", 0));
        }
        snprintf(buf, n, "%-11s %-12s %6s %7s %5s %-8.8s %s", started, state, cpu, mem, procs,
                 json_str(json_obj(b, "requester"), "user") ?: "-", json_str(b, "name") ?: "?");
}

static const char *av_row_text(Tui *t, View *v, size_t i) {
        AtView *av = v->data;
        const cJSON *b = cJSON_GetArrayItem(av_rows(av), (int) i);
        if (!b)
                return "";
        av_line(b, av->text, sizeof(av->text));
        return av->text;
}

/* "machine: CPU 97%, load 7.81, memory 29.1G of 31.3G, swap 2.0G, memory pressure 12.4%" */
static void machine_line(const cJSON *m, char *buf, size_t n) {
        if (!m) {
                snprintf(buf, n,
                         "machine: no sample of that time (the daemon was not running, or history "
                         "no longer has it)");
                return;
        }
        char cpu[16], used[16], total[16], swap[16], psi[48] = "";
        double pm = json_num(json_obj(m, "pressure"), "memory", -1);
        if (pm >= 0)
                snprintf(psi, sizeof(psi), ", memory pressure %.1f%%", pm);
        snprintf(buf, n, "machine: CPU %s, load %.2f, memory %s of %s, swap %s%s, %.0f builds running",
                 fmt_percent(cpu, sizeof(cpu), json_num(m, "cpu_percent", -1)), json_num(m, "load1", 0),
                 units_format_bytes(used, sizeof(used), json_num(m, "mem_used", -1)),
                 units_format_bytes(total, sizeof(total), json_num(m, "mem_total", -1)),
                 units_format_bytes(swap, sizeof(swap), json_num(m, "swap_used", -1)), psi,
                 json_num(m, "builds", 0));
}

static void av_draw(Tui *t, View *v, int y, int x, int h, int w) {
        AtView *av = v->data;
        const Screen *scr = t->screen;
        char when[32], ago[16], on[300], line[1024];
        double at = usec_to_sec(av->at), now = tui_now();
        fmt_time(when, sizeof(when), at, now);
        draw_printf(scr, y, x, w, screen_attr(scr, COL_HEADER),
                    "at %s (%s ago)%s  [ ]: -/+1 min  { }: -/+10 min  @: a time  Enter: details  Esc back",
                    when, fmt_duration(ago, sizeof(ago), now - at),
                    tui_host_on(t, av->host, on, sizeof(on)));
        if (--h <= 0)
                return;
        y++;
        if (av->poll.error) {
                draw_text(scr, y, x, w, screen_attr(scr, COL_ERROR), av->poll.error, false, false);
                return;
        }
        if (!av->poll.result) {
                draw_text(scr, y, x + 1, w - 1, screen_attr(scr, COL_DIM), "(asking the daemon...)", false,
                          false);
                return;
        }
        machine_line(json_obj(av->poll.result, "machine"), line, sizeof(line));
        draw_text(scr, y, x, w, screen_attr(scr, COL_NORMAL), line, false, false);
        if (--h <= 0)
                return;
        y++;
        if (*fmt_pressure_top(line, sizeof(line), json_arr(av->poll.result, "pressure_top"))) {
                draw_text(scr, y, x, w, screen_attr(scr, COL_NORMAL), line, false, false);
                if (--h <= 0)
                        return;
                y++;
        }
        const char *herr = json_str(av->poll.result, "history");
        if (herr) {
                snprintf(line, sizeof(line), "history: %s (only the builds the daemon holds)", herr);
                draw_text(scr, y, x, w, screen_attr(scr, COL_ERROR), line, false, false);
                if (--h <= 0)
                        return;
                y++;
        }
        const cJSON *kill;
        cJSON_ArrayForEach(kill, json_arr(av->poll.result, "oom")) {
                draw_text(scr, y, x, w, screen_attr(scr, COL_FAILED),
                          fmt_oom_kill(line, sizeof(line), kill, tui_now()), false, false);
                if (--h <= 0)
                        return;
                y++;
        }
        draw_printf(scr, y, x, w, screen_attr(scr, COL_TITLE), "%-11s %-12s %6s %7s %5s %-8s %s", "STARTED",
                    "STATE", "CPU%", "MEM", "PROCS", "USER", "NAME");
        if (--h <= 0)
                return;
        y++;
        size_t n = av_count(t, v);
        if (n == 0) {
                draw_text(scr, y, x + 1, w - 1, screen_attr(scr, COL_DIM), "(no builds were running)", false,
                          false);
                return;
        }
        listnav_scroll(&v->nav, (size_t) h);
        for (int i = 0; i < h && v->nav.top + (size_t) i < n; i++) {
                size_t ri = v->nav.top + (size_t) i;
                const cJSON *b = cJSON_GetArrayItem(av_rows(av), (int) ri);
                av_line(b, line, sizeof(line));
                const char *st = json_str(b, "state") ?: "";
                Colour c = strcmp(st, "failed") == 0 || strcmp(st, "killed") == 0 || strcmp(st, "lost") == 0
                                   ? COL_FAILED
                           : strcmp(st, "running") == 0 ? COL_RUNNING
                                                        : COL_NORMAL;
                bool sel = ri == v->nav.cur && !t->log_focused;
                draw_highlight(scr, y + i, x, w, sel ? screen_attr(scr, COL_SELECTED) : screen_attr(scr, c),
                               screen_attr(scr, COL_MATCH), line, v->search);
        }
}

static bool av_key(Tui *t, View *v, Cmd cmd) {
        AtView *av = v->data;
        if (cmd != CMD_ENTER)
                return false;
        const cJSON *b = cJSON_GetArrayItem(av_rows(av), (int) v->nav.cur);
        /* A history row (it has an "id"): with its timeline once get-history answers. */
        if (b && json_num(b, "id", 0) >= 1)
                view_detail_history(t, av->host, b);
        else if (b)
                tui_show_detail(t, json_str(b, "name") ?: "build", b);
        return true;
}

/* Opened before the daemon answered (--at): ask as soon as it does. */
static void av_connection(Tui *t, View *v, bool up) {
        if (up && t->view == VIEW_AT)
                poll_now(&((AtView *) v->data)->poll);
}

static void av_free(View *v) {
        AtView *av = v->data;
        poll_free(&av->poll);
        free(av);
}

int view_at_new(Tui *t, View **ret) {
        static const View proto = {
                .title = "at",
                .open = av_open,
                .close = av_close,
                .count = av_count,
                .row_text = av_row_text,
                .draw = av_draw,
                .key = av_key,
                .connection = av_connection,
                .free = av_free,
        };
        int r = view_alloc(&proto, sizeof(AtView), ret);
        if (r < 0)
                return r;
        ((AtView *) (*ret)->data)->tui = t;
        return 0;
}

void view_at_show(Tui *t, unsigned host, usec_t at) {
        View *v = t->views[VIEW_AT];
        AtView *av = v->data;
        if (t->view == VIEW_AT)
                av_close(t, v);
        av->host = host;
        av->at = MIN(at, now_realtime());
        listnav_set_count(&v->nav, 0);
        poll_set_error(&av->poll, NULL);
        if (t->view == VIEW_AT)
                av_open(t, v);
        else
                tui_show_view(t, VIEW_AT);
        tui_invalidate(t);
}

void view_at_move(Tui *t, int64_t delta_sec) {
        AtView *av = t->views[VIEW_AT]->data;
        int64_t at = (int64_t) av->at + delta_sec * (int64_t) USEC_PER_SEC;
        view_at_show(t, av->host, (usec_t) MAX(at, (int64_t) 0));
}
