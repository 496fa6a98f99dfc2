/* Dependency tree from the daemon's deps answer: roots down through inputs; a node that is
 * reachable along several paths is expanded where it first appears only. */
#include "tui/view-deps.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tui/hash.h"

#include "basic/macro.h"
#include "basic/time-util.h"
#include "shared/json-read.h"
#include "tui/draw.h"
#include "tui/poll.h"
#include "tui/view-builds.h"

typedef struct Node {
        const char *drv; /* key, points into the answer */
        const cJSON *json;
        bool seen; /* expanded already in this rendering */
        UT_hash_handle hh;
} Node;

typedef struct Fold {
        char *drv;
        UT_hash_handle hh;
} Fold;

typedef struct DepRow {
        Node *node;
        int depth;
        bool has_children, repeated;
} DepRow;

typedef struct DepsView {
        Tui *tui;
        Poll poll;
        uint64_t invocation;
        unsigned host;     /* the invocation's */
        uint64_t history;  /* or this history row's .drv (from the store) */
        bool history_next; /* the next open is for history, not the builds view's selection */
        char *drv;         /* the selected build's, asked for when the invocation's graph is gone */
        char *name;        /* of history's or drv's derivation, for the title */
        bool by_drv;
        Node *nodes;
        Fold *folds;
        DepRow *rows;
        size_t n, cap;
        char *sel_drv; /* keep the cursor on this node across refreshes */
        char text[1024];
} DepsView;

static bool dv_folded(DepsView *dv, const char *drv) {
        Fold *f;
        HASH_FIND_STR(dv->folds, drv, f);
        return f != NULL;
}

static void dv_set_fold(DepsView *dv, const char *drv, bool fold) {
        Fold *f;
        HASH_FIND_STR(dv->folds, drv, f);
        if (fold && !f) {
                f = calloc(1, sizeof(Fold));
                if (!f || !(f->drv = strdup(drv))) {
                        free(f);
                        return;
                }
                HASH_ADD_KEYPTR(hh, dv->folds, f->drv, strlen(f->drv), f);
        } else if (!fold && f) {
                HASH_DEL(dv->folds, f);
                free(f->drv);
                free(f);
        }
}

static void dv_free_nodes(DepsView *dv) {
        Node *n, *tn;
        HASH_ITER(hh, dv->nodes, n, tn) {
                HASH_DEL(dv->nodes, n);
                free(n);
        }
}

static void dv_push(DepsView *dv, Node *n, int depth, bool children, bool repeated) {
        if (dv->n == dv->cap) {
                size_t cap = MAX(dv->cap * 2, (size_t) 64);
                DepRow *r = realloc(dv->rows, cap * sizeof(DepRow));
                if (!r)
                        return;
                dv->rows = r;
                dv->cap = cap;
        }
        dv->rows[dv->n++] =
                (DepRow){.node = n, .depth = depth, .has_children = children, .repeated = repeated};
}

static int node_compare(const void *a, const void *b) {
        const Node *x = *(Node *const *) a, *y = *(Node *const *) b;
        int r = strcmp(json_str(x->json, "name") ?: "", json_str(y->json, "name") ?: "");
        return r ? r : strcmp(x->drv, y->drv);
}

/* The known nodes an array of drv paths names (roots, a node's inputs), by name: the tree
 * reads the same on every refresh and every run, whatever order the daemon lists them in.
 * Returns how many (0 also when out of memory); *ret to free. */
static size_t dv_sorted(DepsView *dv, const cJSON *drvs, Node ***ret) {
        size_t n = 0, cap = (size_t) MAX(cJSON_GetArraySize(drvs), 0);
        Node **v = cap ? calloc(cap, sizeof(Node *)) : NULL;
        const cJSON *in;
        *ret = v;
        if (!v)
                return 0;
        cJSON_ArrayForEach(in, drvs) {
                Node *c;
                if (!cJSON_IsString(in) || n >= cap)
                        continue;
                HASH_FIND_STR(dv->nodes, in->valuestring, c);
                if (c)
                        v[n++] = c;
        }
        qsort(v, n, sizeof(Node *), node_compare);
        return n;
}

static void dv_walk(DepsView *dv, Node *n, int depth) {
        _cleanup_free_ Node **children = NULL;
        size_t k = dv_sorted(dv, json_arr(n->json, "inputs"), &children);
        dv_push(dv, n, depth, k > 0, n->seen);
        if (n->seen || dv_folded(dv, n->drv) || depth > 200)
                return;
        n->seen = true;
        for (size_t i = 0; i < k; i++)
                dv_walk(dv, children[i], depth + 1);
}

static void dv_rebuild(Tui *t, View *v) {
        DepsView *dv = v->data;
        dv_free_nodes(dv);
        dv->n = 0;
        const cJSON *o;
        cJSON_ArrayForEach(o, json_arr(dv->poll.result, "nodes")) {
                const char *drv = json_str(o, "drv");
                Node *n;
                if (!drv)
                        continue;
                HASH_FIND_STR(dv->nodes, drv, n);
                if (n || !(n = calloc(1, sizeof(Node))))
                        continue;
                n->drv = drv;
                n->json = o;
                HASH_ADD_KEYPTR(hh, dv->nodes, n->drv, strlen(n->drv), n);
        }
        _cleanup_free_ Node **roots = NULL;
        size_t k = dv_sorted(dv, json_arr(dv->poll.result, "roots"), &roots);
        for (size_t i = 0; i < k; i++)
                dv_walk(dv, roots[i], 0);
        size_t cur = v->nav.cur;
        for (size_t i = 0; dv->sel_drv && i < dv->n; i++)
                if (strcmp(dv->rows[i].node->drv, dv->sel_drv) == 0) {
                        cur = i;
                        break;
                }
        listnav_set_count(&v->nav, dv->n);
        listnav_goto(&v->nav, cur);
}

static void dv_remember(View *v) {
        DepsView *dv = v->data;
        if (v->nav.cur < dv->n) {
                free(dv->sel_drv);
                dv->sel_drv = strdup(dv->rows[v->nav.cur].node->drv);
        }
}

static void dv_got(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        View *v = userdata;
        DepsView *dv = v->data;
        /* The daemon holds no graph for the invocation (a restart, --graph-keep): the build's
         * .drv, read from the store. */
        const char *code = json_str(error, "code");
        if (code && strcmp(code, "not-found") == 0 && dv->drv && !dv->by_drv && !dv->history) {
                dv->by_drv = true;
                poll_done(&dv->poll);
                poll_now(&dv->poll);
                return;
        }
        if (result) {
                /* The nodes point into the answer about to be replaced. */
                dv_free_nodes(dv);
                dv->n = 0;
        }
        if (poll_take(&dv->poll, result, error))
                dv_rebuild(dv->tui, v);
        else
                listnav_set_count(&v->nav, dv->n);
        tui_invalidate(dv->tui);
}

static void dv_fetch(Tui *t, View *v, Poll *p) {
        DepsView *dv = v->data;
        cJSON *args = cJSON_CreateObject();
        if (!args || !(dv->invocation || dv->history || dv->by_drv)) {
                cJSON_Delete(args);
                poll_done(&dv->poll);
                return;
        }
        if (dv->history)
                cJSON_AddNumberToObject(args, "history", (double) dv->history);
        else if (dv->by_drv)
                cJSON_AddStringToObject(args, "build", dv->drv);
        else
                cJSON_AddNumberToObject(args, "invocation", (double) dv->invocation);
        if (client_request(tui_host(t, dv->host)->client, "deps", args, dv_got, v) < 0)
                poll_done(&dv->poll);
}

static void dv_reset(DepsView *dv, View *v) {
        dv_free_nodes(dv);
        dv->n = 0;
        listnav_set_count(&v->nav, 0);
        poll_set_error(&dv->poll, NULL);
}

static void dv_set_string(char **p, const char *s) {
        free(*p);
        *p = s ? strdup(s) : NULL;
}

static void dv_open(Tui *t, View *v) {
        DepsView *dv = v->data;
        if (dv->history_next) {
                dv->history_next = false;
                poll_start(&dv->poll, t, dv->host, v, 2 * USEC_PER_SEC, dv_fetch);
                return;
        }
        uint64_t inv = view_builds_current_invocation(t);
        unsigned host = tui_current_host(t)->index;
        StoreBuild *b = view_builds_current(t);
        const char *drv = b ? b->drv : NULL;
        bool same = inv == dv->invocation && host == dv->host && !dv->history &&
                    (drv && dv->drv ? strcmp(drv, dv->drv) == 0 : drv == dv->drv);
        if (!same || (!inv && !drv)) {
                dv_reset(dv, v);
                dv->by_drv = !inv && drv;
                if (!inv && !drv)
                        poll_set_error(&dv->poll,
                                       "no invocation selected (select a build or an invocation, then d)");
        }
        dv->history = 0;
        dv_set_string(&dv->drv, drv);
        dv_set_string(&dv->name, b ? b->name : NULL);
        dv->invocation = inv;
        dv->host = host;
        poll_start(&dv->poll, t, dv->host, v, 2 * USEC_PER_SEC, dv_fetch);
}

void view_deps_show_history(Tui *t, unsigned host, uint64_t id, const char *name) {
        View *v = t->views[VIEW_DEPS];
        DepsView *dv = v->data;
        if (dv->history != id || dv->host != host)
                dv_reset(dv, v);
        dv->history = id;
        dv->host = host;
        dv->invocation = 0;
        dv->by_drv = false;
        dv_set_string(&dv->drv, NULL);
        dv_set_string(&dv->name, name);
        dv->history_next = true;
        tui_show_view(t, VIEW_DEPS);
}

static void dv_close(Tui *t, View *v) {
        poll_stop(&((DepsView *) v->data)->poll);
}

static size_t dv_count(Tui *t, View *v) {
        return ((DepsView *) v->data)->n;
}

static const char *dv_row_text(Tui *t, View *v, size_t i) {
        DepsView *dv = v->data;
        if (i >= dv->n)
                return "";
        const cJSON *j = dv->rows[i].node->json;
        snprintf(dv->text, sizeof(dv->text), "%s %s %s", json_str(j, "name") ?: "",
                 json_str(j, "state") ?: "", dv->rows[i].node->drv);
        return dv->text;
}

/* ---- search: over the whole tree, folds ignored ---- */

/* A node where it is expanded in the whole tree (each node once), and the row of its parent
 * there (SIZE_MAX for a root): the path whose folds a match opens. */
typedef struct FullRow {
        Node *node;
        size_t parent;
} FullRow;

typedef struct FullTree {
        FullRow *rows;
        size_t n, cap;
} FullTree;

static int dv_walk_full(DepsView *dv, FullTree *ft, Node *n, size_t parent, int depth) {
        if (n->seen || depth > 200)
                return 0;
        n->seen = true;
        if (ft->n == ft->cap) {
                size_t cap = MAX(ft->cap * 2, (size_t) 64);
                FullRow *r = realloc(ft->rows, cap * sizeof(FullRow));
                if (!r)
                        return -ENOMEM;
                ft->rows = r;
                ft->cap = cap;
        }
        size_t me = ft->n++;
        ft->rows[me] = (FullRow){.node = n, .parent = parent};
        _cleanup_free_ Node **children = NULL;
        size_t k = dv_sorted(dv, json_arr(n->json, "inputs"), &children);
        for (size_t i = 0; i < k; i++) {
                int r = dv_walk_full(dv, ft, children[i], me, depth + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool dv_node_matches(DepsView *dv, const Node *n, const char *pattern) {
        snprintf(dv->text, sizeof(dv->text), "%s %s %s", json_str(n->json, "name") ?: "",
                 json_str(n->json, "state") ?: "", n->drv);
        return strstr(dv->text, pattern) != NULL;
}

static int dv_search(Tui *t, View *v, const char *pattern, int dir, bool inclusive, size_t *ret_index,
                     size_t *ret_count) {
        DepsView *dv = v->data;
        _cleanup_free_ FullRow *rows = NULL;
        FullTree ft = {};
        Node *n, *tn;
        if (dv->n == 0)
                return 0;
        HASH_ITER(hh, dv->nodes, n, tn)
                n->seen = false;
        _cleanup_free_ Node **roots = NULL;
        size_t n_roots = dv_sorted(dv, json_arr(dv->poll.result, "roots"), &roots);
        int r = 0;
        for (size_t i = 0; i < n_roots && r >= 0; i++)
                r = dv_walk_full(dv, &ft, roots[i], SIZE_MAX, 0);
        rows = ft.rows;
        if (r < 0)
                return r;

        /* The cursor's place in the whole tree, and the matches before, at and after it. */
        const Node *cur_node = v->nav.cur < dv->n ? dv->rows[v->nav.cur].node : NULL;
        size_t cur = 0, count = 0, first = SIZE_MAX, last = SIZE_MAX, next = SIZE_MAX, prev = SIZE_MAX;
        for (size_t i = 0; i < ft.n; i++)
                if (rows[i].node == cur_node)
                        cur = i;
        for (size_t i = 0; i < ft.n; i++) {
                if (!dv_node_matches(dv, rows[i].node, pattern))
                        continue;
                count++;
                if (first == SIZE_MAX)
                        first = i;
                last = i;
                if (next == SIZE_MAX && (i > cur || (inclusive && i == cur)))
                        next = i;
                if (i < cur || (inclusive && i == cur))
                        prev = i;
        }
        if (count == 0)
                return 0;
        size_t k = dir > 0 ? (next != SIZE_MAX ? next : first) : (prev != SIZE_MAX ? prev : last);

        /* Open the folds on its path, then put the cursor on it. */
        for (size_t p = rows[k].parent; p != SIZE_MAX; p = rows[p].parent)
                dv_set_fold(dv, rows[p].node->drv, false);
        size_t index = 0;
        for (size_t i = 0; i <= k; i++)
                index += dv_node_matches(dv, rows[i].node, pattern);
        char *drv = strdup(rows[k].node->drv);
        if (!drv)
                return -ENOMEM;
        free(dv->sel_drv);
        dv->sel_drv = drv;
        dv_rebuild(t, v); /* keeps the cursor on sel_drv */
        *ret_index = index;
        *ret_count = count;
        return 1;
}

static Colour node_colour(const char *state) {
        if (!state)
                return COL_NORMAL;
        if (strcmp(state, "building") == 0 || strcmp(state, "substituting") == 0)
                return COL_RUNNING;
        if (strcmp(state, "failed") == 0)
                return COL_FAILED;
        if (strcmp(state, "done") == 0)
                return COL_SUCCEEDED;
        if (strcmp(state, "pending") == 0 || strcmp(state, "missing") == 0)
                return COL_QUEUED;
        return COL_DIM;
}

static void dv_draw(Tui *t, View *v, int y, int x, int h, int w) {
        DepsView *dv = v->data;
        const Screen *scr = t->screen;
        const Glyphs *g = screen_glyphs(scr);
        char on[300];
        char of[300];
        if (dv->history)
                snprintf(of, sizeof(of), "%s (history #%llu, from the store)", dv->name ?: "?",
                         (unsigned long long) dv->history);
        else if (dv->by_drv)
                snprintf(of, sizeof(of), "%s (from the store)", dv->name ?: "?");
        else
                snprintf(of, sizeof(of), "invocation #%llu", (unsigned long long) dv->invocation);
        draw_printf(scr, y, x, w, screen_attr(scr, COL_HEADER),
                    "dependencies of %s%s  %zu nodes%s  (zc/zo/za fold, / search, d/Esc back)", of,
                    tui_host_on(t, dv->host, on, sizeof(on)), (size_t) HASH_COUNT(dv->nodes),
                    json_bool(dv->poll.result, "complete") || !dv->poll.result ? "" : "  (still resolving)");
        if (--h <= 0)
                return;
        y++;
        if (dv->poll.error) {
                draw_text(scr, y, x, w, screen_attr(scr, COL_ERROR), dv->poll.error, false, false);
                return;
        }
        if (dv->n == 0) {
                draw_text(scr, y, x + 1, w - 1, screen_attr(scr, COL_DIM),
                          dv->poll.result ? "(no dependency graph yet)" : "(asking the daemon...)", false,
                          false);
                return;
        }
        listnav_scroll(&v->nav, (size_t) h);
        for (int i = 0; i < h && v->nav.top + (size_t) i < dv->n; i++) {
                size_t ri = v->nav.top + (size_t) i;
                DepRow *r = &dv->rows[ri];
                const cJSON *j = r->node->json;
                const char *state = json_str(j, "state");
                char indent[512] = "";
                for (int d = 0; d < r->depth && d < 60; d++)
                        strcat(indent, "  ");
                const char *mark = !r->has_children                             ? " "
                                   : r->repeated || dv_folded(dv, r->node->drv) ? g->fold_closed
                                                                                : g->fold_open;
                char line[1024];
                snprintf(line, sizeof(line), "%s%s %-9s %s%s%s%s", indent, mark, state ?: "?",
                         json_str(j, "name") ?: "?", json_str(j, "phase") ? "  " : "",
                         json_str(j, "phase") ?: "",
                         r->repeated && r->has_children ? "  (inputs shown above)" : "");
                bool sel = ri == v->nav.cur && !t->log_focused;
                int attr = sel ? screen_attr(scr, COL_SELECTED) : screen_attr(scr, node_colour(state));
                draw_highlight(scr, y + i, x, w, attr, screen_attr(scr, COL_MATCH), line, v->search);
        }
}

static bool dv_key(Tui *t, View *v, Cmd cmd) {
        DepsView *dv = v->data;
        if (v->nav.cur >= dv->n)
                return listnav_move(&v->nav, cmd);
        DepRow *r = &dv->rows[v->nav.cur];
        switch (cmd) {
        case CMD_FOLD_CLOSE:
        case CMD_FOLD_OPEN:
        case CMD_FOLD_TOGGLE: {
                bool folded = dv_folded(dv, r->node->drv);
                dv_set_fold(dv, r->node->drv,
                            cmd == CMD_FOLD_CLOSE  ? true
                            : cmd == CMD_FOLD_OPEN ? false
                                                   : !folded);
                dv_remember(v);
                dv_rebuild(t, v);
                return true;
        }
        case CMD_ENTER:
                tui_show_detail(t, json_str(r->node->json, "name") ?: "node", r->node->json);
                return true;
        default:
                if (listnav_move(&v->nav, cmd) || cmd == CMD_NONE) {
                        dv_remember(v);
                        return true;
                }
                return false;
        }
}

static void dv_store_changed(Tui *t, View *v) {
        /* States change with the builds: the tree is asked for again by the poll; nothing
         * to do per event. */
}

static void dv_free(View *v) {
        DepsView *dv = v->data;
        dv_free_nodes(dv);
        poll_free(&dv->poll);
        Fold *f, *tf;
        HASH_ITER(hh, dv->folds, f, tf) {
                HASH_DEL(dv->folds, f);
                free(f->drv);
                free(f);
        }
        free(dv->rows);
        free(dv->sel_drv);
        free(dv->drv);
        free(dv->name);
        free(dv);
}

int view_deps_new(Tui *t, View **ret) {
        static const View proto = {
                .title = "dependencies",
                .open = dv_open,
                .close = dv_close,
                .count = dv_count,
                .row_text = dv_row_text,
                .search_fn = dv_search,
                .draw = dv_draw,
                .key = dv_key,
                .store_changed = dv_store_changed,
                .free = dv_free,
        };
        int r = view_alloc(&proto, sizeof(DepsView), ret);
        if (r < 0)
                return r;
        DepsView *dv = (*ret)->data;
        dv->tui = t;
        return 0;
}
