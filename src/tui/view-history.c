/* get-history rows, asked for again every few seconds while shown. */
#include "tui/view-history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/time-util.h"
#include "shared/json-read.h"
#include "shared/units.h"
#include "tui/draw.h"
#include "shared/fmt.h"
#include "tui/poll.h"
#include "tui/view-detail.h"

/* Four screens of rows: each row costs the daemon about 10 us to read and encode, and the
 * page is asked for again every 3 s while shown (500 rows took 5-8 ms of its CPU at 1 M). */
#define HISTORY_ROWS 200

static const char *const orders[] = {"finished", "started", "duration", "name"};

typedef struct HistoryView {
        Tui *tui;
        Poll poll;
        unsigned order;
        bool ascending;
        char text[1024];
        unsigned host; /* the host whose history: the current one when opened */
} HistoryView;

static const cJSON *hv_rows(HistoryView *hv) {
        return json_arr(hv->poll.result, "builds");
}

static void hv_got(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        View *v = userdata;
        HistoryView *hv = v->data;
        if (!poll_take(&hv->poll, result, error)) {
                tui_invalidate(hv->tui);
                return;
        }
        listnav_set_count(&v->nav, (size_t) cJSON_GetArraySize(hv_rows(hv)));
        tui_invalidate(hv->tui);
}

static void hv_fetch(Tui *t, View *v, Poll *p) {
        HistoryView *hv = v->data;
        cJSON *args = cJSON_CreateObject();
        if (!args) {
                poll_done(&hv->poll);
                return;
        }
        cJSON_AddNumberToObject(args, "limit", HISTORY_ROWS);
        cJSON_AddStringToObject(args, "order", orders[hv->order]);
        cJSON_AddBoolToObject(args, "ascending", hv->ascending);
        if (client_request(tui_host(t, hv->host)->client, "get-history", args, hv_got, v) < 0)
                poll_done(&hv->poll);
}

static void hv_open(Tui *t, View *v) {
        ((HistoryView *) v->data)->host = tui_current_host(t)->index;
        poll_start(&((HistoryView *) v->data)->poll, t, ((HistoryView *) v->data)->host, v, 3 * USEC_PER_SEC,
                   hv_fetch);
}

static void hv_close(Tui *t, View *v) {
        poll_stop(&((HistoryView *) v->data)->poll);
}

static size_t hv_count(Tui *t, View *v) {
        return (size_t) cJSON_GetArraySize(hv_rows(v->data));
}

static void hv_line(HistoryView *hv, const cJSON *r, char *buf, size_t n) {
        char fin[32], dur[16], shown[20], cpu[16], mem[16];
        const cJSON *u = json_obj(r, "usage");
        double cpu_s = u ? json_num(u, "cpu_user", 0) + json_num(u, "cpu_system", 0) : -1;
        const cJSON *req = json_obj(r, "requester");
        const char *m = json_str(r, "machine");
        /* "~": an approximate duration (a build that ended while the daemon was down). */
        snprintf(shown, sizeof(shown), "%s%s", json_bool(r, "approximate") ? "~" : "",
                 fmt_duration(dur, sizeof(dur), json_num(r, "duration", -1)));
        snprintf(buf, n, "%-11s %-9s %7s %7s %7s %-8.8s %-9.9s %s",
                 fmt_time(fin, sizeof(fin), json_num(r, "finished", -1), tui_now()),
                 json_str(r, "state") ?: "?", shown, fmt_duration(cpu, sizeof(cpu), cpu_s),
                 units_format_bytes(mem, sizeof(mem), json_num(u, "mem_peak", -1)),
                 json_str(req, "user") ?: "?", m && *m ? m : "local", json_str(r, "name") ?: "?");
}

static const char *hv_row_text(Tui *t, View *v, size_t i) {
        HistoryView *hv = v->data;
        const cJSON *r = cJSON_GetArrayItem(hv_rows(hv), (int) i);
        if (!r)
                return "";
        hv_line(hv, r, hv->text, sizeof(hv->text));
        return hv->text;
}

static void hv_draw(Tui *t, View *v, int y, int x, int h, int w) {
        HistoryView *hv = v->data;
        const Screen *scr = t->screen;
        /* A full page may have more behind it: how many is not asked for, as counting every row
         * would cost more than the page itself on each refresh (issue 22). */
        size_t shown = hv_count(t, v);
        char on[300];
        draw_printf(scr, y, x, w, screen_attr(scr, COL_HEADER),
                    "history%s: %zu%s rows, by %s %s  (s: order, S: reverse, Enter: details, @: what ran "
                    "then, h/Esc back)",
                    tui_host_on(t, hv->host, on, sizeof(on)), shown, shown >= HISTORY_ROWS ? "+" : "",
                    orders[hv->order], hv->ascending ? "ascending" : "descending");
        if (--h <= 0)
                return;
        y++;
        draw_printf(scr, y, x, w, screen_attr(scr, COL_TITLE), "%-11s %-9s %7s %7s %7s %-8s %-9s %s",
                    "FINISHED", "STATE", "TIME", "CPU", "MEMPEAK", "USER", "MACHINE", "NAME");
        if (--h <= 0)
                return;
        y++;
        if (hv->poll.error) {
                draw_text(scr, y, x, w, screen_attr(scr, COL_ERROR), hv->poll.error, false, false);
                return;
        }
        size_t n = hv_count(t, v);
        if (n == 0) {
                draw_text(scr, y, x + 1, w - 1, screen_attr(scr, COL_DIM),
                          hv->poll.result ? "(no finished build in the history yet)"
                                          : "(asking the daemon...)",
                          false, false);
                return;
        }
        listnav_scroll(&v->nav, (size_t) h);
        for (int i = 0; i < h && v->nav.top + (size_t) i < n; i++) {
                size_t ri = v->nav.top + (size_t) i;
                const cJSON *r = cJSON_GetArrayItem(hv_rows(hv), (int) ri);
                char line[1024];
                hv_line(hv, r, line, sizeof(line));
                const char *st = json_str(r, "state") ?: "";
                Colour c = strcmp(st, "succeeded") == 0 ? COL_NORMAL : COL_FAILED;
                bool sel = ri == v->nav.cur && !t->log_focused;
                draw_highlight(scr, y + i, x, w, sel ? screen_attr(scr, COL_SELECTED) : screen_attr(scr, c),
                               screen_attr(scr, COL_MATCH), line, v->search);
        }
}

static bool hv_key(Tui *t, View *v, Cmd cmd) {
        HistoryView *hv = v->data;
        switch (cmd) {
        case CMD_SORT:
                hv->order = (hv->order + 1) % ELEMENTSOF(orders);
                break;
        case CMD_SORT_REVERSE:
                hv->ascending = !hv->ascending;
                break;
        case CMD_ENTER: {
                const cJSON *r = cJSON_GetArrayItem(hv_rows(hv), (int) v->nav.cur);
                if (r)
                        view_detail_history(t, hv->host, r);
                return true;
        }
        default:
                return false;
        }
        tui_status(t, false, "history by %s, %s", orders[hv->order],
                   hv->ascending ? "ascending" : "descending");
        hv_close(t, v);
        hv_open(t, v);
        return true;
}

static void hv_free(View *v) {
        HistoryView *hv = v->data;
        poll_free(&hv->poll);
        free(hv);
}

int view_history_new(Tui *t, View **ret) {
        static const View proto = {
                .title = "history",
                .open = hv_open,
                .close = hv_close,
                .count = hv_count,
                .row_text = hv_row_text,
                .draw = hv_draw,
                .key = hv_key,
                .free = hv_free,
        };
        int r = view_alloc(&proto, sizeof(HistoryView), ret);
        if (r < 0)
                return r;
        HistoryView *hv = (*ret)->data;
        hv->tui = t;
        return 0;
}

const cJSON *view_history_selected(Tui *t) {
        View *v = t->views[VIEW_HISTORY];
        return cJSON_GetArrayItem(hv_rows(v->data), (int) v->nav.cur);
}

unsigned view_history_host(Tui *t) {
        return ((HistoryView *) t->views[VIEW_HISTORY]->data)->host;
}
