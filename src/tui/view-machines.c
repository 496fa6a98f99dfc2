/* list-machines, asked for again every two seconds while shown. */
#include "tui/view-machines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/time-util.h"
#include "shared/json-read.h"
#include "tui/draw.h"
#include "tui/poll.h"

typedef struct MachinesView {
        Tui *tui;
        Poll poll;
        char text[2048];
        unsigned host; /* the host whose machines: the current one when opened */
} MachinesView;

static const cJSON *mv_rows(MachinesView *mv) {
        return json_arr(mv->poll.result, "machines");
}

static void mv_got(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        View *v = userdata;
        MachinesView *mv = v->data;
        if (!poll_take(&mv->poll, result, error)) {
                tui_invalidate(mv->tui);
                return;
        }
        listnav_set_count(&v->nav, (size_t) cJSON_GetArraySize(mv_rows(mv)));
        tui_invalidate(mv->tui);
}

static void mv_fetch(Tui *t, View *v, Poll *p) {
        if (client_request(tui_host(t, ((MachinesView *) v->data)->host)->client, "list-machines", NULL,
                           mv_got, v) < 0)
                poll_done(&((MachinesView *) v->data)->poll);
}

static void mv_open(Tui *t, View *v) {
        ((MachinesView *) v->data)->host = tui_current_host(t)->index;
        poll_start(&((MachinesView *) v->data)->poll, t, ((MachinesView *) v->data)->host, v,
                   2 * USEC_PER_SEC, mv_fetch);
}

static void mv_close(Tui *t, View *v) {
        poll_stop(&((MachinesView *) v->data)->poll);
}

static size_t mv_count(Tui *t, View *v) {
        return (size_t) cJSON_GetArraySize(mv_rows(v->data));
}

static double arr_num(const cJSON *a, int i) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void mv_line(const cJSON *m, char *buf, size_t n) {
        const cJSON *poll = json_obj(m, "poll"), *slots = json_obj(m, "slots");
        const cJSON *load = json_arr(poll, "load");
        char l[48] = "-";
        if (cJSON_GetArraySize(load) >= 3)
                snprintf(l, sizeof(l), "%.2f %.2f %.2f", arr_num(load, 0), arr_num(load, 1),
                         arr_num(load, 2));
        char builds[1024] = "";
        const cJSON *b;
        cJSON_ArrayForEach(b, json_arr(m, "running")) {
                const char *name = json_str(b, "name");
                if (name && strlen(builds) + strlen(name) + 3 < sizeof(builds)) {
                        if (*builds)
                                strcat(builds, ", ");
                        strcat(builds, name);
                }
        }
        const char *state = json_str(poll, "state") ?: "unknown";
        snprintf(buf, n, "%-28.28s %-10s %3.0f/%-3.0f %-16s %s%s", json_str(m, "key") ?: json_str(m, "uri") ?: "?",
                 json_bool(m, "configured") ? state : "unconfigured", json_num(slots, "used", 0), json_num(slots, "total", 0),
                 l, builds, json_str(poll, "error") ? json_str(poll, "error") : "");
}

static const char *mv_row_text(Tui *t, View *v, size_t i) {
        MachinesView *mv = v->data;
        const cJSON *m = cJSON_GetArrayItem(mv_rows(mv), (int) i);
        if (!m)
                return "";
        mv_line(m, mv->text, sizeof(mv->text));
        return mv->text;
}

static void mv_draw(Tui *t, View *v, int y, int x, int h, int w) {
        MachinesView *mv = v->data;
        const Screen *scr = t->screen;
        char on[300];
        draw_printf(scr, y, x, w, screen_attr(scr, COL_HEADER),
                    "remote machines%s: %zu, %d builds waiting for a machine  (Enter: details, r/Esc back)",
                    tui_host_on(t, mv->host, on, sizeof(on)), mv_count(t, v),
                    cJSON_GetArraySize(json_arr(mv->poll.result, "waiting")));
        if (--h <= 0)
                return;
        y++;
        draw_printf(scr, y, x, w, screen_attr(scr, COL_TITLE), "%-28s %-10s %7s %-16s %s", "MACHINE",
                    "STATE", "SLOTS", "LOAD", "BUILDS");
        if (--h <= 0)
                return;
        y++;
        if (mv->poll.error) {
                draw_text(scr, y, x, w, screen_attr(scr, COL_ERROR), mv->poll.error, false, false);
                return;
        }
        size_t n = mv_count(t, v);
        if (n == 0) {
                draw_text(scr, y, x + 1, w - 1, screen_attr(scr, COL_DIM),
                          mv->poll.result
                                  ? "(no remote machine configured or seen: the builders setting is empty)"
                                  : "(asking the daemon...)",
                          false, false);
                return;
        }
        listnav_scroll(&v->nav, (size_t) h);
        for (int i = 0; i < h && v->nav.top + (size_t) i < n; i++) {
                size_t ri = v->nav.top + (size_t) i;
                const cJSON *m = cJSON_GetArrayItem(mv_rows(mv), (int) ri);
                char line[2048];
                mv_line(m, line, sizeof(line));
                const char *st = json_str(json_obj(m, "poll"), "state") ?: "";
                Colour c = strcmp(st, "up") == 0     ? COL_RUNNING
                           : strcmp(st, "down") == 0 ? COL_FAILED
                                                     : COL_NORMAL;
                bool sel = ri == v->nav.cur && !t->log_focused;
                draw_highlight(scr, y + i, x, w, sel ? screen_attr(scr, COL_SELECTED) : screen_attr(scr, c),
                               screen_attr(scr, COL_MATCH), line, v->search);
        }
}

static bool mv_key(Tui *t, View *v, Cmd cmd) {
        MachinesView *mv = v->data;
        if (cmd != CMD_ENTER)
                return false;
        const cJSON *m = cJSON_GetArrayItem(mv_rows(mv), (int) v->nav.cur);
        if (m)
                tui_show_detail(t, json_str(m, "key") ?: "machine", m);
        return true;
}

static void mv_free(View *v) {
        MachinesView *mv = v->data;
        poll_free(&mv->poll);
        free(mv);
}

int view_machines_new(Tui *t, View **ret) {
        static const View proto = {
                .title = "machines",
                .open = mv_open,
                .close = mv_close,
                .count = mv_count,
                .row_text = mv_row_text,
                .draw = mv_draw,
                .key = mv_key,
                .free = mv_free,
        };
        int r = view_alloc(&proto, sizeof(MachinesView), ret);
        if (r < 0)
                return r;
        MachinesView *mv = (*ret)->data;
        mv->tui = t;
        return 0;
}
