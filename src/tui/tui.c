/* The TUI's context: the daemon connection feeding the store, the frame (header, the main
 * view, the log panel, the status line, the help overlay) and the view table. */
#include "tui/tui.h"

#include <assert.h>
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
#include "shared/fmt.h"
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

/* ---- the daemon connections ---- */

Host *tui_host(Tui *t, unsigned index) {
        return index < t->n_hosts ? t->hosts[index] : t->hosts[0];
}

const char *tui_host_label(const Host *h) {
        return h->name ?: h->hostname;
}

static void notify_store_changed(Tui *t) {
        for (int i = 0; i < _VIEW_MAX; i++)
                if (t->views[i]->store_changed)
                        t->views[i]->store_changed(t, t->views[i]);

        tui_invalidate(t);
}

static void got_invocations(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        Host *h = userdata;
        if (result && store_load_invocations(&h->store, result) < 0)
                tui_status(h->tui, true, "out of memory loading invocations");
        notify_store_changed(h->tui);
}

static void got_builds(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        Host *h = userdata;
        if (!result) {
                if (error)
                        tui_status(h->tui, true, "list-builds: %s", json_str(error, "message") ?: "refused");
                return;
        }
        if (store_load_builds(&h->store, result, tui_now()) < 0)
                tui_status(h->tui, true, "out of memory loading builds");
        h->loaded = true;
        notify_store_changed(h->tui);
}

static void got_subscribed(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        Host *h = userdata;
        if (!result && error)
                tui_status(h->tui, true, "subscribe refused: %s", json_str(error, "message") ?: "?");
}

static void on_connected(Client *c, void *userdata) {
        Host *h = userdata;
        Tui *t = h->tui;
        /* What was shown stays (greyed, if the daemon went away) until the lists come: they
         * replace all of it, as a restarted daemon numbers builds anew. Subscribing first and
         * listing after is enough: a response never overtakes the events before it. */
        h->loaded = false;
        cJSON *args = cJSON_CreateObject();
        if (args) {
                cJSON_AddTrueToObject(args, "builds");
                cJSON_AddTrueToObject(args, "invocations");
                cJSON_AddTrueToObject(args, "processes");
        }
        (void) client_request(c, "subscribe", args, got_subscribed, h);
        (void) client_request(c, "list-invocations", NULL, got_invocations, h);
        (void) client_request(c, "list-builds", NULL, got_builds, h);
        if (t->n_hosts > 1)
                tui_status(t, false, "%s: connected to nix-analyticsd %s", tui_host_label(h),
                           client_daemon_version(c) ?: "");
        else
                tui_status(t, false, "connected to nix-analyticsd %s", client_daemon_version(c) ?: "");
        for (int i = 0; i < _VIEW_MAX; i++)
                if (t->views[i]->connection)
                        t->views[i]->connection(t, t->views[i], true);
        notify_store_changed(t);
}

static void on_disconnected(Client *c, int error, void *userdata) {
        Host *h = userdata;
        Tui *t = h->tui;
        h->loaded = false;
        /* Its builds stay as last seen, greyed with their clocks stopped: nobody vouches for
         * them until a connection reloads them (on_connected). */
        store_mark_stale(&h->store, tui_now());
        tui_status(t, true, "no daemon at %s: %s; retrying every %s", client_path(c), client_error_text(c),
                   h->name ? "5 seconds" : "second");
        for (int i = 0; i < _VIEW_MAX; i++)
                if (t->views[i]->connection)
                        t->views[i]->connection(t, t->views[i], false);
        notify_store_changed(t);
}

static void on_event(Client *c, cJSON *ev, void *userdata) {
        Host *h = userdata;
        int r = store_apply_event(&h->store, ev, tui_now());
        if (r > 0)
                notify_store_changed(h->tui);
}

/* ---- the frame ---- */

static void got_status(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        Host *h = userdata;
        h->status_pending = false;
        recent_parse(&h->recent, result);
        if (!h->name) {
                tui_invalidate(h->tui);
                return;
        }
        const cJSON *host = result ? json_obj(result, "host") : NULL;
        const char *name = host ? json_str(host, "name") : NULL;
        if (name && name[0])
                snprintf(h->hostname, sizeof(h->hostname), "%s", name);
        const cJSON *load = host ? json_arr(host, "load") : NULL;
        for (int i = 0; i < 3; i++) {
                const cJSON *v = load ? cJSON_GetArrayItem(load, i) : NULL;
                h->load[i] = cJSON_IsNumber(v) ? v->valuedouble : -1;
        }
        tui_invalidate(h->tui);
}

/* The host's status (how its last hour's builds ended; a far host's name and load), and
 * this machine's load from /proc. */
static void read_status(Host *h) {
        if (client_is_connected(h->client) && !h->status_pending &&
            client_request(h->client, "status", NULL, got_status, h) >= 0)
                h->status_pending = true;
        if (!h->name && procfs_read_loadavg("/proc", h->load) < 0)
                h->load[0] = h->load[1] = h->load[2] = -1;
}

static void format_load(const Host *h, char *buf, size_t n) {
        if (h->load[0] >= 0)
                snprintf(buf, n, "load %.2f %.2f %.2f", h->load[0], h->load[1], h->load[2]);
        else
                snprintf(buf, n, "load ?");
}

/* Header lines for hosts: one each, within a third of the screen (the last then counts the
 * rest). */
static size_t host_lines(Tui *t) {
        if (t->n_hosts < 2)
                return 0;
        int rows = 0, cols = 0;
        if (t->screen)
                screen_size(t->screen, &rows, &cols);
        return MIN(t->n_hosts, (size_t) MAX(rows / 3, 1));
}

/* What a down host's line says first about the rows it left ("N builds greyed, as last
 * seen; "), or "": first, as the reason after it may be long. */
static const char *stale_note(const Host *h, char *buf, size_t n) {
        unsigned k = HASH_COUNT(h->store.builds);
        if (h->store.stale_since <= 0 || k == 0)
                return "";
        snprintf(buf, n, "%u build%s greyed, as last seen; ", k, k == 1 ? "" : "s");
        return buf;
}

static void draw_header(Tui *t, int w) {
        const Screen *scr = t->screen;
        int attr = screen_attr(scr, COL_HEADER);
        bool rev;
        const char *sort = view_builds_sort(t, &rev);
        char load[64];
        if (t->n_hosts == 1) {
                Host *h = t->hosts[0];
                const unsigned *n = h->store.counts;
                char daemon[160];
                if (client_is_connected(h->client))
                        snprintf(daemon, sizeof(daemon), "daemon up %s",
                                 client_daemon_version(h->client) ?: "");
                else
                        snprintf(daemon, sizeof(daemon), "daemon DOWN (retrying)");
                format_load(h, load, sizeof(load));
                /* Builds whose processes ended, waiting for Nix's word: shown only while there are. */
                char finishing[32] = "", ended[160];
                if (n[BUILD_FINISHING] > 0)
                        snprintf(finishing, sizeof(finishing), " %u finishing", n[BUILD_FINISHING]);
                draw_printf(scr, 0, 0, w, attr,
                            " nix-analytics @ %s | %s | %u running %u queued %u frozen%s | %s | %s%s%s%s",
                            h->hostname, daemon, n[BUILD_RUNNING], n[BUILD_QUEUED], n[BUILD_FROZEN],
                            finishing, recent_format(&h->recent, n, ended, sizeof(ended)), load,
                            t->filter ? " | filter: " : "", t->filter ?: "",
                            strcmp(sort, "activity") ? " | sorted" : "");
                return;
        }
        /* Several hosts: a summary, then a line per host (up or down and why, its counts, its load). */
        unsigned up = 0, sum[STORE_COUNT_SLOTS] = {};
        Recent recent = {};
        for (size_t i = 0; i < t->n_hosts; i++) {
                up += client_is_connected(t->hosts[i]->client);
                for (size_t s = 0; s < STORE_COUNT_SLOTS; s++)
                        sum[s] += t->hosts[i]->store.counts[s];
                recent_add(&recent, &t->hosts[i]->recent);
        }
        char ended[160];
        draw_printf(scr, 0, 0, w, attr,
                    " nix-analytics | %zu hosts, %u up | %u running %u queued %u frozen | %s%s%s%s",
                    t->n_hosts, up, sum[BUILD_RUNNING], sum[BUILD_QUEUED], sum[BUILD_FROZEN],
                    recent_format(&recent, sum, ended, sizeof(ended)), t->filter ? " | filter: " : "",
                    t->filter ?: "", strcmp(sort, "activity") ? " | sorted" : "");
        size_t lines = host_lines(t);
        char note[64];
        for (size_t i = 0; i < lines; i++) {
                Host *h = t->hosts[i];
                const unsigned *n = h->store.counts;
                if (i + 1 == lines && lines < t->n_hosts) {
                        unsigned down = 0;
                        for (size_t j = i; j < t->n_hosts; j++)
                                down += !client_is_connected(t->hosts[j]->client);
                        draw_printf(scr, 1 + (int) i, 0, w, down ? screen_attr(scr, COL_ERROR) : 0,
                                    " ... %zu more hosts, %u of them down (H or host:NAME shows one)",
                                    t->n_hosts - i, down);
                        break;
                }
                format_load(h, load, sizeof(load));
                if (client_is_connected(h->client))
                        draw_printf(scr, 1 + (int) i, 0, w, 0,
                                    " %s (%s): up %s | %u running %u queued | %s | %s", tui_host_label(h),
                                    h->hostname, client_daemon_version(h->client) ?: "", n[BUILD_RUNNING],
                                    n[BUILD_QUEUED], recent_format(&h->recent, n, ended, sizeof(ended)),
                                    load);
                else
                        draw_printf(scr, 1 + (int) i, 0, w, screen_attr(scr, COL_ERROR),
                                    " %s: DOWN (%s%s; retrying)", tui_host_label(h),
                                    stale_note(h, note, sizeof(note)), client_error_text(h->client));
        }
}

const char *tui_host_on(Tui *t, unsigned index, char *buf, size_t n) {
        if (t->n_hosts < 2 || n == 0)
                return "";
        snprintf(buf, n, " on %s", tui_host_label(tui_host(t, index)));
        return buf;
}

int tui_main_y(Tui *t) {
        if (t->n_hosts > 1)
                return 1 + (int) host_lines(t);
        return 1 + (!client_is_connected(t->hosts[0]->client) && !t->hosts[0]->loaded);
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
        int main_y = tui_main_y(t), main_h = rows - 1 - main_y;
        Host *h0 = t->hosts[0];
        if (t->n_hosts == 1 && main_y > 1) {
                char note[64];
                draw_printf(t->screen, 1, 0, cols, screen_attr(t->screen, COL_ERROR),
                            " nix-analyticsd is not running (%sno answer at %s: %s): waiting for it...",
                            stale_note(h0, note, sizeof(note)), client_path(h0->client),
                            client_error_text(h0->client));
        }
        if (main_h >= 2 && t->show_log) {
                /* The log panel follows the selected build (once per frame, not per event). */
                StoreBuild *b = view_builds_current(t);
                view_log_follow(t, b ? (BuildRef){b->host, b->key} : (BuildRef){});
                int log_h = main_h / 2;
                main_h -= log_h;
                View *lv = t->views[VIEW_LOG];
                lv->draw(t, lv, main_y + main_h, 0, log_h, cols);
        }
        View *v = t->views[t->view];
        if (main_h >= 2)
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
        for (size_t i = 0; i < t->n_hosts; i++)
                read_status(t->hosts[i]);
        /* Elapsed times and ETAs move on: one frame a second is all an idle screen costs. */
        tui_invalidate(t);
        int r = sd_event_source_set_time(s, usec + USEC_PER_SEC);
        return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ON);
}

int tui_client_new(Tui *t, Host *h, const char *name, const ClientCallbacks *cb, void *userdata,
                   Client **ret) {
        if (!h->name)
                return client_new(t->event, h->socket_path, name, USEC_PER_SEC, cb, userdata, ret);
        char **argv = ssh_argv_copy(h->ssh_argv);
        if (!argv)
                return -ENOMEM;
        /* ssh takes longer and costs more: a host that is down is tried every 5 s. */
        return client_new_ssh(t->event, argv, h->name, name, 5 * USEC_PER_SEC, cb, userdata, ret);
}

static Host *host_free(Host *h) {
        if (!h)
                return NULL;
        client_free(h->client);
        store_clear(&h->store);
        free(h->socket_path);
        free(h->name);
        ssh_argv_free(h->ssh_argv);
        free(h);
        return NULL;
}

static int host_new(Tui *t, HostSpec *spec, unsigned index, Host **ret) {
        Host *h = calloc(1, sizeof(Host));
        if (!h)
                return -ENOMEM;
        h->tui = t;
        h->index = index;
        store_init(&h->store, index);
        h->ssh_argv = TAKE_PTR(spec->ssh_argv);
        if ((spec->socket_path && !(h->socket_path = strdup(spec->socket_path))) ||
            (spec->name && !(h->name = strdup(spec->name)))) {
                host_free(h);
                return -ENOMEM;
        }
        if (h->name)
                snprintf(h->hostname, sizeof(h->hostname), "%s", h->name); /* its own name once it answers */
        else if (gethostname(h->hostname, sizeof(h->hostname) - 1) < 0)
                snprintf(h->hostname, sizeof(h->hostname), "?");
        h->load[0] = h->load[1] = h->load[2] = -1;
        *ret = h;
        return 0;
}

static int host_start(Host *h) {
        static const ClientCallbacks cb = {
                .connected = on_connected,
                .disconnected = on_disconnected,
                .event = on_event,
        };
        int r = tui_client_new(h->tui, h, "nix-analytics", &cb, h, &h->client);
        if (r >= 0)
                read_status(h);
        return r;
}

int tui_new(sd_event *e, HostSpec *specs, size_t n, const ScreenOptions *so, Tui **ret) {
        assert(n > 0);
        Tui *t = calloc(1, sizeof(Tui));
        if (t)
                t->hosts = calloc(n, sizeof(Host *));
        if (!t || !t->hosts) {
                free(t);
                for (size_t i = 0; i < n; i++)
                        specs[i].ssh_argv = ssh_argv_free(specs[i].ssh_argv);
                return -ENOMEM;
        }
        t->event = sd_event_ref(e);
        int r = 0;
        for (size_t i = 0; i < n; i++)
                if (r >= 0 && (r = host_new(t, &specs[i], (unsigned) i, &t->hosts[i])) >= 0)
                        t->n_hosts++;
                else
                        specs[i].ssh_argv = ssh_argv_free(specs[i].ssh_argv);
        if (r < 0) {
                tui_free(t);
                return r;
        }
        for (size_t i = 0; i < sizeof(view_table) / sizeof(view_table[0]); i++) {
                r = view_table[i].make(t, &t->views[view_table[i].id]);
                if (r < 0) {
                        tui_free(t);
                        return r;
                }
        }
        r = screen_new(e, so, tui_draw, tui_on_key, t, &t->screen);
        if (r < 0) {
                tui_free(t);
                return r;
        }
        for (size_t i = 0; i < t->n_hosts && r >= 0; i++)
                r = host_start(t->hosts[i]);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &t->tick, CLOCK_MONOTONIC, USEC_PER_SEC, 0, tui_on_tick,
                                               t);
        if (r >= 0)
                r = sd_event_source_set_enabled(t->tick, SD_EVENT_ON);
        if (r < 0) {
                tui_free(t);
                return r;
        }
        if (t->n_hosts == 1)
                tui_status(t, false, "connecting to %s...", client_path(t->hosts[0]->client));
        else
                tui_status(t, false, "connecting to %zu hosts...", t->n_hosts);
        screen_draw_now(t->screen);
        *ret = t;
        return 0;
}

Tui *tui_free(Tui *t) {
        if (!t)
                return NULL;
        t->tick = sd_event_source_disable_unref(t->tick);
        actions_free_all(t);
        for (int i = 0; i < _VIEW_MAX; i++)
                if (t->views[i]) {
                        free(t->views[i]->search);
                        if (t->views[i]->free)
                                t->views[i]->free(t->views[i]);
                        free(t->views[i]);
                }
        for (size_t i = 0; i < t->n_hosts; i++)
                host_free(t->hosts[i]);
        free(t->hosts);
        t->screen = screen_free(t->screen);
        prompt_free(t->prompt);
        free(t->filter);
        sd_event_unref(t->event);
        free(t);
        return NULL;
}
