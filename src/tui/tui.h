/* The TUI's context, passed to every module (no globals): the connection, the store, the
 * screen, the views and the modes. Views are small modules behind one interface (View), so a
 * new view is a new file plus one line in view_table (tui.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#include "tui/client.h"
#include "tui/keys.h"
#include "tui/listnav.h"
#include "shared/recent.h"
#include "tui/screen.h"
#include "tui/store.h"

typedef struct Tui Tui;
typedef struct Prompt Prompt;

typedef enum ViewId {
        VIEW_BUILDS,
        VIEW_PROCS,
        VIEW_DEPS,
        VIEW_HISTORY,
        VIEW_MACHINES,
        VIEW_AT, /* the screen as it was at a past instant (view-at.h) */
        VIEW_DETAIL,
        VIEW_LOG, /* the log panel: shown beside the builds view, focusable with Tab */
        _VIEW_MAX,
} ViewId;

typedef struct View {
        const char *title;
        ListNav nav;
        char *search; /* active search pattern in this view, or NULL */
        /* All optional except draw and count. */
        void (*open)(Tui *t, struct View *v);
        void (*close)(Tui *t, struct View *v);
        size_t (*count)(Tui *t, struct View *v);
        /* Text of row i for search (valid until the next call). */
        const char *(*row_text)(Tui *t, struct View *v, size_t i);
        void (*draw)(Tui *t, struct View *v, int y, int x, int h, int w);
        /* Searches more than the rows shown (a tree opens the folds on the path to a
         * match): moves the cursor to the next (dir 1) or previous (-1) match after it (or at
         * it, with inclusive), wrapping; 1 with the match's place (from 1) among all
         * *ret_count, 0 without a match, -errno. Without it, search goes over row_text. */
        int (*search_fn)(Tui *t, struct View *v, const char *pattern, int dir, bool inclusive,
                         size_t *ret_index, size_t *ret_count);
        /* Keys the view gives a meaning of its own (Enter, folds, sort); true when handled. */
        bool (*key)(Tui *t, struct View *v, Cmd cmd);
        /* The daemon (re)connected or went away. */
        void (*connection)(Tui *t, struct View *v, bool up);
        /* The store changed (builds came, went or changed). */
        void (*store_changed)(Tui *t, struct View *v);
        void (*free)(struct View *v);
        void *data;
} View;

#define HOST_GRAPH_POINTS 30 /* five minutes of the daemon's 10 s machine samples */

/* One daemon the TUI shows: its connection and its own copy of builds and invocations. A
 * host never waits for another: each connection is asynchronous and retries on its own. */
typedef struct Host {
        Tui *tui;
        unsigned index; /* in Tui.hosts, and Store.host of its builds */
        Client *client;
        char *socket_path;   /* the local daemon's control socket, or NULL with name */
        char *name;          /* -H: the daemon on this host, through ssh; NULL: local */
        char **ssh_argv;     /* with name: the ssh command every connection runs */
        bool status_pending; /* with name: a status request (its name and load) is out */
        bool loaded;         /* builds loaded since the last connect */
        Store store;
        char hostname[256];
        double load[3];
        Recent recent; /* how its builds of the last hour ended (its daemon's status) */
        /* its machine's CPU and memory use (percent), one per 10 s sample of its daemon since
         * this TUI started, oldest first: the header's graph */
        double cpu_graph[HOST_GRAPH_POINTS], mem_graph[HOST_GRAPH_POINTS];
        unsigned n_graph;
        double graph_t; /* the last sample's time */
} Host;

/* Where the TUI's daemons are: a local socket, or -H hosts with their ssh commands. */
typedef struct HostSpec {
        const char *socket_path; /* NULL with name */
        const char *name;
        char **ssh_argv; /* taken by tui_new() */
} HostSpec;

struct Tui {
        sd_event *event;
        Host **hosts; /* at least one; more with several -H */
        size_t n_hosts;
        Screen *screen;
        KeyState keys;
        Prompt *prompt;
        View *views[_VIEW_MAX];
        ViewId view;          /* the main area's view */
        ViewId detail_return; /* where Esc leaves the detail view for */
        bool show_log;        /* log panel under the builds list */
        bool log_focused;     /* Tab: keys go to the log panel */
        bool show_help;
        size_t help_top; /* the help page's first line shown */
        bool show_all;   /* a: every activity type, finished builds too */
        char *filter;    /* builds filter (f; "host:NAME" for a host's builds), or NULL */
        char status[1024];
        bool status_error;
        uint64_t status_time; /* monotonic usec */
        sd_event_source *tick;
        bool quit;
        void *action_batches; /* actions.c's unanswered requests */
};

/* A new view: a copy of proto with zeroed data of data_size bytes. -ENOMEM. */
int view_alloc(const View *proto, size_t data_size, View **ret);

/* Starts the TUI on the terminal, connecting to each of the n daemons of specs (their
 * ssh_argv taken, also on failure; shared/ssh-command.h). */
int tui_new(sd_event *e, HostSpec *specs, size_t n, const ScreenOptions *so, Tui **ret);
/* A new connection to host h's daemon (local or through ssh), for views that need one of
 * their own (the log panel). */
int tui_client_new(Tui *t, Host *h, const char *name, const ClientCallbacks *cb, void *userdata,
                   Client **ret);
/* The host of a build, or of the row under the cursor (with no row, the host the filter
 * host:NAME names, else the first). */
Host *tui_host(Tui *t, unsigned index);
Host *tui_current_host(Tui *t);
/* The name shown for a host: its -H name, else the daemon's host name. */
const char *tui_host_label(const Host *h);
/* " on NAME" for a view of one host's data among several (in buf); "" with one host. */
const char *tui_host_on(Tui *t, unsigned index, char *buf, size_t n);
/* The first line below the header: the header has one line, plus one per host with more. */
int tui_main_y(Tui *t);
Tui *tui_free(Tui *t);

/* The view that keys and search go to. */
View *tui_focused_view(Tui *t);
/* Switches the main area to view id (opening it; leaving the previous one). */
void tui_show_view(Tui *t, ViewId id);
/* A message in the status line (error: shown as an error). */
void tui_status(Tui *t, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Schedules a redraw. */
void tui_invalidate(Tui *t);
/* Local unix time. */
double tui_now(void);

/* Shows a JSON object as the detail view (a copy is kept). */
void tui_show_detail(Tui *t, const char *title, const cJSON *obj);
