/* Process tree of one build from get-processes. */
#include "tui/view-procs.h"

#include <pwd.h>
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
#include "tui/view-builds.h"

typedef struct ProcRow {
        const cJSON *proc;
        int depth;
        bool last;
} ProcRow;

typedef struct ProcsView {
        Tui *tui;
        Poll poll;
        uint64_t key; /* the build shown */
        unsigned host;
        ProcRow *rows;
        size_t n;
        char text[1024];
} ProcsView;

static void pv_add_children(ProcsView *pv, const cJSON *procs, double ppid, int depth, size_t cap) {
        const cJSON *p;
        size_t first = pv->n;
        cJSON_ArrayForEach(p, procs) {
                if (pv->n >= cap)
                        return;
                double pid = json_num(p, "pid", -1);
                if (json_num(p, "ppid", -1) != ppid || pid == ppid)
                        continue;
                pv->rows[pv->n++] = (ProcRow){.proc = p, .depth = depth};
                if (depth < 64)
                        pv_add_children(pv, procs, pid, depth + 1, cap);
        }
        /* The last child at this depth gets the corner glyph. */
        for (size_t i = pv->n; i > first; i--)
                if (pv->rows[i - 1].depth == depth) {
                        pv->rows[i - 1].last = true;
                        break;
                }
}

static bool pv_has_pid(const cJSON *procs, double pid) {
        const cJSON *p;
        cJSON_ArrayForEach(p, procs)
                if (json_num(p, "pid", -2) == pid)
                        return true;
        return false;
}

static void pv_rows(ProcsView *pv) {
        free(pv->rows);
        pv->rows = NULL;
        pv->n = 0;
        const cJSON *procs = json_arr(pv->poll.result, "processes");
        size_t cap = (size_t) cJSON_GetArraySize(procs);
        if (cap == 0 || !(pv->rows = calloc(cap, sizeof(ProcRow))))
                return;
        /* Roots: processes whose parent is not in the list (the builder). */
        const cJSON *p;
        cJSON_ArrayForEach(p, procs) {
                if (pv->n >= cap)
                        break;
                if (pv_has_pid(procs, json_num(p, "ppid", -1)))
                        continue;
                pv->rows[pv->n++] = (ProcRow){.proc = p, .depth = 0, .last = true};
                pv_add_children(pv, procs, json_num(p, "pid", -1), 1, cap);
        }
}

static void pv_got(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        View *v = userdata;
        ProcsView *pv = v->data;
        if (!poll_take(&pv->poll, result, error)) {
                tui_invalidate(pv->tui);
                return;
        }
        pv_rows(pv);
        listnav_set_count(&v->nav, pv->n);
        tui_invalidate(pv->tui);
}

static void pv_fetch(Tui *t, View *v, Poll *p) {
        ProcsView *pv = v->data;
        cJSON *args = cJSON_CreateObject();
        if (!args || !pv->key) {
                cJSON_Delete(args);
                poll_done(&pv->poll);
                return;
        }
        cJSON_AddNumberToObject(args, "build", (double) pv->key);
        if (client_request(tui_host(t, pv->host)->client, "get-processes", args, pv_got, v) < 0)
                poll_done(&pv->poll);
}

static void pv_open(Tui *t, View *v) {
        ProcsView *pv = v->data;
        StoreBuild *b = view_builds_current(t);
        pv->key = b ? b->key : 0;
        pv->host = b ? b->host : 0;
        pv->n = 0; /* the rows point into the answer poll_set_error() drops */
        poll_set_error(&pv->poll, b ? NULL : "no build selected (select one in the build list, then p)");
        listnav_set_count(&v->nav, 0);
        poll_start(&pv->poll, t, pv->host, v, USEC_PER_SEC, pv_fetch);
}

static void pv_close(Tui *t, View *v) {
        poll_stop(&((ProcsView *) v->data)->poll);
}

static const char *user_name(double uid, char *buf, size_t n) {
        struct passwd *pw = getpwuid((uid_t) uid);
        if (pw)
                snprintf(buf, n, "%s", pw->pw_name);
        else
                snprintf(buf, n, "%.0f", uid);
        return buf;
}

static size_t pv_count(Tui *t, View *v) {
        return ((ProcsView *) v->data)->n;
}

static const char *pv_row_text(Tui *t, View *v, size_t i) {
        ProcsView *pv = v->data;
        if (i >= pv->n)
                return "";
        const cJSON *p = pv->rows[i].proc;
        snprintf(pv->text, sizeof(pv->text), "%.0f %s %s", json_num(p, "pid", 0), json_str(p, "comm") ?: "",
                 json_str(p, "cmdline") ?: "");
        return pv->text;
}

static void pv_draw(Tui *t, View *v, int y, int x, int h, int w) {
        ProcsView *pv = v->data;
        const Screen *scr = t->screen;
        const Glyphs *g = screen_glyphs(scr);
        StoreBuild *b = pv->key ? store_build(&tui_host(t, pv->host)->store, pv->key) : NULL;
        const cJSON *u = json_obj(pv->poll.result, "usage");
        /* MEM is the sum of the processes' RSS: the rows below, summed (docs/protocol.md). */
        double rss_sum = pv->n > 0 ? 0 : -1;
        for (size_t i = 0; i < pv->n; i++)
                rss_sum += MAX(json_num(pv->rows[i].proc, "rss", 0), 0.0);
        char cpu[16], mem[16], peak[16], on[300];
        draw_printf(scr, y, x, w, screen_attr(scr, COL_HEADER),
                    "processes of %s%s  [%s, control: %s]  CPU %s  MEM %s (peak %s)  (p/Esc back)",
                    b ? b->name : "?", tui_host_on(t, pv->host, on, sizeof(on)),
                    json_str(pv->poll.result, "state") ?: (b ? store_state_name(b->state) : "?"),
                    json_str(pv->poll.result, "control") ?: "?",
                    fmt_percent(cpu, sizeof(cpu), json_num(u, "cpu_percent", -1)),
                    units_format_bytes(mem, sizeof(mem), rss_sum),
                    units_format_bytes(peak, sizeof(peak), json_num(u, "mem_peak", -1)));
        if (--h <= 0)
                return;
        y++;
        draw_printf(scr, y, x, w, screen_attr(scr, COL_TITLE), "%8s %-9s %1s %6s %7s  %s", "PID", "USER",
                    "S", "CPU%", "RSS", "COMMAND");
        if (--h <= 0)
                return;
        y++;
        if (pv->poll.error) {
                draw_text(scr, y, x, w, screen_attr(scr, COL_ERROR), pv->poll.error, false, false);
                return;
        }
        if (pv->n == 0) {
                draw_text(scr, y, x + 1, w - 1, screen_attr(scr, COL_DIM),
                          pv->poll.result ? "(no process: not started yet, ended, or remote)"
                                          : "(asking the daemon...)",
                          false, false);
                return;
        }
        listnav_scroll(&v->nav, (size_t) h);
        for (int i = 0; i < h && v->nav.top + (size_t) i < pv->n; i++) {
                size_t ri = v->nav.top + (size_t) i;
                const cJSON *p = pv->rows[ri].proc;
                char user[64], c[16], rss[16], tree[256] = "";
                for (int d = 1; d < pv->rows[ri].depth && d < 32; d++)
                        strcat(tree, "  ");
                if (pv->rows[ri].depth > 0)
                        strcat(tree, pv->rows[ri].last ? g->corner : g->tee);
                char line[2048];
                snprintf(line, sizeof(line), "%8.0f %-9.9s %1.1s %6s %7s  %s%s", json_num(p, "pid", 0),
                         user_name(json_num(p, "uid", -1), user, sizeof(user)), json_str(p, "state") ?: "?",
                         fmt_percent(c, sizeof(c), json_num(p, "cpu_percent", -1)),
                         units_format_bytes(rss, sizeof(rss), json_num(p, "rss", -1)), tree,
                         json_str(p, "cmdline") && *json_str(p, "cmdline") ? json_str(p, "cmdline")
                                                                           : json_str(p, "comm") ?: "?");
                int attr = ri == v->nav.cur && !t->log_focused ? screen_attr(scr, COL_SELECTED) : 0;
                draw_highlight(scr, y + i, x, w, attr, screen_attr(scr, COL_MATCH), line, v->search);
        }
}

static bool pv_key(Tui *t, View *v, Cmd cmd) {
        ProcsView *pv = v->data;
        if (cmd == CMD_ENTER && v->nav.cur < pv->n) {
                tui_show_detail(t, "process", pv->rows[v->nav.cur].proc);
                return true;
        }
        return false;
}

static void pv_connection(Tui *t, View *v, bool up) {
        ProcsView *pv = v->data;
        if (up && t->view == VIEW_PROCS) {
                /* Keys changed with a restarted daemon: follow the selection again. */
                pv_close(t, v);
                pv_open(t, v);
        }
        (void) pv;
}

static void pv_free(View *v) {
        ProcsView *pv = v->data;
        poll_free(&pv->poll);
        free(pv->rows);
        free(pv);
}

int view_procs_new(Tui *t, View **ret) {
        static const View proto = {
                .title = "processes",
                .open = pv_open,
                .close = pv_close,
                .count = pv_count,
                .row_text = pv_row_text,
                .draw = pv_draw,
                .key = pv_key,
                .connection = pv_connection,
                .free = pv_free,
        };
        int r = view_alloc(&proto, sizeof(ProcsView), ret);
        if (r < 0)
                return r;
        ProcsView *pv = (*ret)->data;
        pv->tui = t;
        return 0;
}
