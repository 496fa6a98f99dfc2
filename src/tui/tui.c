/* The TUI's context: the daemon connection feeding the store, the frame (header, the main
 * view, the log panel, the status line, the help overlay) and the view table. */
#include "tui/tui.h"

#include <curses.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/time-util.h"
#include "shared/json-read.h"
#include "shared/procfs.h"
#include "shared/ssh-command.h"
#include "tui/actions.h"
#include "tui/draw.h"
#include "tui/fmt.h"
#include "tui/help.h"
#include "tui/input.h"
#include "tui/prompt.h"
#include "tui/view-builds.h"
#include "tui/view-deps.h"
#include "tui/view-detail.h"
#include "tui/view-history.h"
#include "tui/view-log.h"
#include "tui/view-machines.h"
#include "tui/view-procs.h"

/* A status message stays this long, then the key hints come back. */
#define STATUS_KEEP_USEC (15 * USEC_PER_SEC)

/* The view table: a new view is one line here (and its ViewId). */
static const struct {
        ViewId id;
        int (*make)(Tui *t, View **ret);
} view_table[] = {
        {VIEW_BUILDS, view_builds_new},   {VIEW_PROCS, view_procs_new},       {VIEW_DEPS, view_deps_new},
        {VIEW_HISTORY, view_history_new}, {VIEW_MACHINES, view_machines_new}, {VIEW_DETAIL, view_detail_new},
        {VIEW_LOG, view_log_new},
};

double tui_now(void) {
        return usec_to_sec(now_realtime());
}

void tui_invalidate(Tui *t) {
        if (t->screen)
                screen_invalidate(t->screen);
}

void tui_status(Tui *t, bool error, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->status, sizeof(t->status), fmt, ap);
        va_end(ap);
        t->status_error = error;
        t->status_time = now_monotonic();
        tui_invalidate(t);
}

View *tui_focused_view(Tui *t) {
        if (t->show_log && t->log_focused)
                return t->views[VIEW_LOG];
        return t->views[t->view];
}

void tui_show_view(Tui *t, ViewId id) {
        if (id == t->view)
                return;
        View *old = t->views[t->view], *v = t->views[id];
        if (old->close)
                old->close(t, old);
        t->view = id;
        t->log_focused = false;
        if (v->open)
                v->open(t, v);
        tui_invalidate(t);
}

void tui_show_detail(Tui *t, const char *title, const cJSON *obj) {
        view_detail_set(t, title, obj);
        if (t->view != VIEW_DETAIL)
                t->detail_return = t->view;
        tui_show_view(t, VIEW_DETAIL);
}

int view_alloc(const View *proto, size_t data_size, View **ret) {
        View *v = malloc(sizeof(View));
        void *data = calloc(1, data_size);
        if (!v || !data) {
                free(v);
                free(data);
                return -ENOMEM;
        }
        *v = *proto;
        v->data = data;
        *ret = v;
        return 0;
}

/* ---- the daemon connection ---- */

static void notify_store_changed(Tui *t) {
        for (int i = 0; i < _VIEW_MAX; i++)
                if (t->views[i]->store_changed)
                        t->views[i]->store_changed(t, t->views[i]);

        tui_invalidate(t);
}

static void got_invocations(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        Tui *t = userdata;
        if (result && store_load_invocations(&t->store, result) < 0)
                tui_status(t, true, "out of memory loading invocations");
        notify_store_changed(t);
}

static void got_builds(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        Tui *t = userdata;
        if (!result) {
                if (error)
                        tui_status(t, true, "list-builds: %s", json_str(error, "message") ?: "refused");
                return;
        }
        if (store_load_builds(&t->store, result, tui_now()) < 0)
                tui_status(t, true, "out of memory loading builds");
        t->loaded = true;
        notify_store_changed(t);
}

static void got_subscribed(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        Tui *t = userdata;
        if (!result && error)
                tui_status(t, true, "subscribe refused: %s", json_str(error, "message") ?: "?");
}

static void on_connected(Client *c, void *userdata) {
        Tui *t = userdata;
        /* A restarted daemon numbers builds anew: start from nothing. Subscribing first and
         * listing after is enough: a response never overtakes the events before it. */
        store_clear(&t->store);
        t->loaded = false;
        cJSON *args = cJSON_CreateObject();
        if (args) {
                cJSON_AddTrueToObject(args, "builds");
                cJSON_AddTrueToObject(args, "invocations");
                cJSON_AddTrueToObject(args, "processes");
        }
        (void) client_request(c, "subscribe", args, got_subscribed, t);
        (void) client_request(c, "list-invocations", NULL, got_invocations, t);
        (void) client_request(c, "list-builds", NULL, got_builds, t);
        tui_status(t, false, "connected to nix-analyticsd %s", client_daemon_version(c) ?: "");
        for (int i = 0; i < _VIEW_MAX; i++)
                if (t->views[i]->connection)
                        t->views[i]->connection(t, t->views[i], true);
        tui_invalidate(t);
}

static void on_disconnected(Client *c, int error, void *userdata) {
        Tui *t = userdata;
        t->loaded = false;
        tui_status(t, true, "no daemon at %s: %s; retrying every %s", client_path(c), client_error_text(c),
                   t->host ? "5 seconds" : "second");
        for (int i = 0; i < _VIEW_MAX; i++)
                if (t->views[i]->connection)
                        t->views[i]->connection(t, t->views[i], false);
        tui_invalidate(t);
}

static void on_event(Client *c, const cJSON *ev, void *userdata) {
        Tui *t = userdata;
        int r = store_apply_event(&t->store, ev, tui_now());
        if (r > 0)
                notify_store_changed(t);
}

/* ---- the frame ---- */

static void got_status(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        Tui *t = userdata;
        t->status_pending = false;
        const cJSON *host = result ? json_obj(result, "host") : NULL;
        const char *name = host ? json_str(host, "name") : NULL;
        if (name && name[0])
                snprintf(t->hostname, sizeof(t->hostname), "%s", name);
        const cJSON *load = host ? json_arr(host, "load") : NULL;
        for (int i = 0; i < 3; i++) {
                const cJSON *v = load ? cJSON_GetArrayItem(load, i) : NULL;
                t->load[i] = cJSON_IsNumber(v) ? v->valuedouble : -1;
        }
}

/* The host's load: this machine's from /proc, a far host's from its daemon's status. */
static void read_load(Tui *t) {
        if (t->host) {
                if (client_is_connected(t->client) && !t->status_pending &&
                    client_request(t->client, "status", NULL, got_status, t) >= 0)
                        t->status_pending = true;
                return;
        }
        if (procfs_read_loadavg("/proc", t->load) < 0)
                t->load[0] = t->load[1] = t->load[2] = -1;
}

static void draw_header(Tui *t, int w) {
        const Screen *scr = t->screen;
        int attr = screen_attr(scr, COL_HEADER);
        const unsigned *n = t->store.counts;
        char daemon[160];
        if (client_is_connected(t->client))
                snprintf(daemon, sizeof(daemon), "daemon up %s", client_daemon_version(t->client) ?: "");
        else
                snprintf(daemon, sizeof(daemon), "daemon DOWN (retrying)");
        char load[64];
        if (t->load[0] >= 0)
                snprintf(load, sizeof(load), "load %.2f %.2f %.2f", t->load[0], t->load[1], t->load[2]);
        else
                snprintf(load, sizeof(load), "load ?");
        bool rev;
        const char *sort = view_builds_sort(t, &rev);
        /* Builds whose processes ended, waiting for Nix's word: shown only while there are. */
        char finishing[32] = "";
        if (n[BUILD_FINISHING] > 0)
                snprintf(finishing, sizeof(finishing), "%u finishing ", n[BUILD_FINISHING]);
        draw_printf(scr, 0, 0, w, attr,
                    " nix-analytics @ %s | %s | %u running %u queued %u frozen %s%u failed | %s%s%s%s",
                    t->hostname, daemon, n[BUILD_RUNNING], n[BUILD_QUEUED], n[BUILD_FROZEN], finishing,
                    n[BUILD_FAILED] + n[BUILD_KILLED] + n[BUILD_LOST], load, t->filter ? " | filter: " : "",
                    t->filter ?: "", strcmp(sort, "arrival") ? " | sorted" : "");
}

static void draw_status(Tui *t, int y, int w) {
        const Screen *scr = t->screen;
        int x = 0;
        if (t->prompt) {
                char line[600];
                snprintf(line, sizeof(line), "%s%s", t->prompt->label, t->prompt->text);
                draw_text(scr, y, 0, w, A_BOLD, line, true, false);
                int cx = (int) fmt_width(line);
                if (cx < w)
                        mvaddstr(y, cx, "_");
                return;
        }
        if (view_builds_visual(t)) {
                /* The mode first, as vim shows it; then the line as usual. */
                x = draw_text(scr, y, 0, w, screen_attr(scr, COL_VISUAL), "-- VISUAL --", false, false) + 1;
                w -= x;
                if (w <= 0)
                        return;
        }
        const char *hint = keys_pending_hint(&t->keys);
        if (hint) {
                draw_text(scr, y, x, w, A_BOLD, hint, true, false);
                return;
        }
        if (t->status[0] && now_monotonic() - t->status_time < STATUS_KEEP_USEC) {
                draw_text(scr, y, x, w, t->status_error ? screen_attr(scr, COL_ERROR) : (int) A_BOLD,
                          t->status, true, false);
                return;
        }
        View *fv = tui_focused_view(t);
        if (fv->search) {
                draw_printf(scr, y, x, w, A_BOLD, "search /%s in %s: n next match, N previous, Esc clears",
                            fv->search, fv->title);
                return;
        }
        draw_text(scr, y, x, w, screen_attr(scr, COL_DIM),
                  "? help  q quit  K act  n nice  c cpu  m mem  V visual  y yank  / search  f filter  l log "
                  " p procs"
                  "  d deps  h history  r machines",
                  true, false);
}

static void tui_draw(void *userdata) {
        Tui *t = userdata;
        int rows, cols;
        screen_size(t->screen, &rows, &cols);
        if (rows < 3 || cols < 10)
                return;
        draw_header(t, cols);
        int main_y = 1, main_h = rows - 2;
        if (!client_is_connected(t->client) && !t->loaded) {
                draw_printf(t->screen, 1, 0, cols, screen_attr(t->screen, COL_ERROR),
                            " nix-analyticsd is not running (no answer at %s: %s): waiting for it...",
                            client_path(t->client), client_error_text(t->client));
                main_y++;
                main_h--;
        }
        if (t->show_log) {
                /* The log panel follows the selected build (once per frame, not per event). */
                StoreBuild *b = view_builds_current(t);
                view_log_follow(t, b ? b->key : 0);
                int log_h = main_h / 2;
                main_h -= log_h;
                View *lv = t->views[VIEW_LOG];
                lv->draw(t, lv, main_y + main_h, 0, log_h, cols);
        }
        View *v = t->views[t->view];
        v->draw(t, v, main_y, 0, main_h, cols);
        draw_status(t, rows - 1, cols);
        if (t->show_help)
                help_draw(t, rows, cols);
}

static void tui_on_key(int key, void *userdata) {
        Tui *t = userdata;
        input_key(t, key);
        if (t->quit) {
                sd_event_exit(t->event, 0);
                return;
        }
        screen_draw_now(t->screen);
}

static int tui_on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Tui *t = userdata;
        read_load(t);
        /* Elapsed times and ETAs move on: one frame a second is all an idle screen costs. */
        tui_invalidate(t);
        int r = sd_event_source_set_time(s, usec + USEC_PER_SEC);
        return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ON);
}

int tui_client_new(Tui *t, const char *name, const ClientCallbacks *cb, void *userdata, Client **ret) {
        if (!t->host)
                return client_new(t->event, t->socket_path, name, USEC_PER_SEC, cb, userdata, ret);
        char **argv = ssh_argv_copy(t->ssh_argv);
        if (!argv)
                return -ENOMEM;
        /* ssh takes longer and costs more: a host that is down is tried every 5 s. */
        return client_new_ssh(t->event, argv, t->host, name, 5 * USEC_PER_SEC, cb, userdata, ret);
}

int tui_new(sd_event *e, const char *socket_path, const char *host, char **ssh_argv, const ScreenOptions *so,
            Tui **ret) {
        Tui *t = calloc(1, sizeof(Tui));
        if (!t) {
                ssh_argv_free(ssh_argv);
                return -ENOMEM;
        }
        t->event = sd_event_ref(e);
        store_init(&t->store);
        t->ssh_argv = ssh_argv;
        if ((socket_path && !(t->socket_path = strdup(socket_path))) ||
            (host && !(t->host = strdup(host)))) {
                tui_free(t);
                return -ENOMEM;
        }
        if (host)
                snprintf(t->hostname, sizeof(t->hostname), "%s", host); /* its own name once it answers */
        else if (gethostname(t->hostname, sizeof(t->hostname) - 1) < 0)
                snprintf(t->hostname, sizeof(t->hostname), "?");
        t->load[0] = t->load[1] = t->load[2] = -1;
        read_load(t);
        for (size_t i = 0; i < sizeof(view_table) / sizeof(view_table[0]); i++) {
                int r = view_table[i].make(t, &t->views[view_table[i].id]);
                if (r < 0) {
                        tui_free(t);
                        return r;
                }
        }
        int r = screen_new(e, so, tui_draw, tui_on_key, t, &t->screen);
        if (r < 0) {
                tui_free(t);
                return r;
        }
        static const ClientCallbacks cb = {
                .connected = on_connected,
                .disconnected = on_disconnected,
                .event = on_event,
        };
        r = tui_client_new(t, "nix-analytics", &cb, t, &t->client);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &t->tick, CLOCK_MONOTONIC, USEC_PER_SEC, 0, tui_on_tick,
                                               t);
        if (r >= 0)
                r = sd_event_source_set_enabled(t->tick, SD_EVENT_ON);
        if (r < 0) {
                tui_free(t);
                return r;
        }
        tui_status(t, false, "connecting to %s...", client_path(t->client));
        screen_draw_now(t->screen);
        *ret = t;
        return 0;
}

Tui *tui_free(Tui *t) {
        if (!t)
                return NULL;
        t->tick = sd_event_source_disable_unref(t->tick);
        if (t->client)
                actions_free_all(t);
        for (int i = 0; i < _VIEW_MAX; i++)
                if (t->views[i]) {
                        free(t->views[i]->search);
                        if (t->views[i]->free)
                                t->views[i]->free(t->views[i]);
                        free(t->views[i]);
                }
        client_free(t->client);
        t->screen = screen_free(t->screen);
        prompt_free(t->prompt);
        store_clear(&t->store);
        free(t->filter);
        free(t->socket_path);
        free(t->host);
        ssh_argv_free(t->ssh_argv);
        sd_event_unref(t->event);
        free(t);
        return NULL;
}
