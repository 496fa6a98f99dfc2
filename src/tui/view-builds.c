/* The build list: rows rebuilt from the store only when it changed in a way that may move
 * them (bv_generation), the selection kept on the same build across rebuilds. */
#include "tui/view-builds.h"

#include <curses.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "shared/json-read.h"
#include "tui/columns.h"
#include "tui/draw.h"
#include "shared/fmt.h"
#include "tui/poll.h"
#include "tui/prompt.h"
#include "tui/view-detail.h"

/* Done invocations stay in the tree this long (a: all of them). */
#define DONE_KEEP_SEC 600.0

typedef struct Row {
        uint64_t key;  /* build key, invocation id, or index in the activities answer */
        unsigned host; /* whose build, invocation or activity */
        bool invocation;
        bool activity; /* a substitution, download, copy or hook (a) */
        bool last;     /* last build of its invocation (tree glyph) */
        bool folded;   /* an invocation whose builds are not listed */
} Row;

/* A fold the user made or undid: it belongs to that invocation, not to its number (a
 * restarted daemon numbers anew), so the key holds when it started too. Without one, an
 * invocation that ended with nothing of its own still running is folded. */
typedef struct Folded {
        struct FoldKey {
                uint64_t host, id, started; /* no padding: the key is hashed as bytes */
        } k;
        bool folded;
        UT_hash_handle hh;
} Folded;

typedef struct BuildsView {
        Tui *tui;
        Poll *activities; /* list-activities while a is on: one per host */
        size_t n_activities;
        Row *rows;
        size_t n_rows, cap;
        StoreBuild **all; /* bv_rebuild()'s scratch: the builds to list, kept for the next */
        size_t all_cap;
        uint64_t generation; /* of the stores the rows were made from (bv_generation) */
        bool built;
        char *filter; /* the filter the rows were made with */
        bool show_all;
        bool flat;
        int sort; /* column index, -1: active work first (columns_compare) */
        bool descending;
        Folded *folded;
        bool visual;
        size_t anchor;
        /* The selection, kept across rebuilds. */
        uint64_t sel_key;
        unsigned sel_host;
        bool sel_invocation;
        char text[1024];
} BuildsView;

static BuildsView *bv_of(Tui *t) {
        return t->views[VIEW_BUILDS]->data;
}

static struct FoldKey fold_key(unsigned host, const StoreInvocation *inv) {
        struct FoldKey k = {.host = host, .id = inv->id};
        memcpy(&k.started, &inv->started, sizeof(k.started));
        return k;
}

/* Whether an invocation's builds are hidden: as the user last said, else when it ended and
 * none of its builds is active. */
static bool bv_folded(BuildsView *bv, unsigned host, const StoreInvocation *inv, bool active) {
        struct FoldKey k = fold_key(host, inv);
        Folded *f;
        HASH_FIND(hh, bv->folded, &k, sizeof(k), f);
        return f ? f->folded : inv->done && !active;
}

static void bv_set_folded(BuildsView *bv, unsigned host, const StoreInvocation *inv, bool fold) {
        struct FoldKey k = fold_key(host, inv);
        Folded *f;
        HASH_FIND(hh, bv->folded, &k, sizeof(k), f);
        if (!f) {
                f = calloc(1, sizeof(Folded));
                if (!f)
                        return;
                f->k = k;
                HASH_ADD(hh, bv->folded, k, sizeof(f->k), f);
        }
        f->folded = fold;
}

static Store *row_store(Tui *t, const Row *r) {
        return &tui_host(t, r->host)->store;
}

/* Whether the row is what its daemon said before it went away (Store.stale_since). */
static bool row_stale(Tui *t, const Row *r) {
        Store *s = row_store(t, r);
        if (r->activity || r->invocation)
                return s->stale_since > 0;
        StoreBuild *b = store_build(s, r->key);
        return b && b->stale_since > 0;
}

static bool bv_push(BuildsView *bv, unsigned host, uint64_t key, bool invocation) {
        if (bv->n_rows == bv->cap) {
                size_t cap = MAX(bv->cap * 2, (size_t) 64);
                Row *n = realloc(bv->rows, cap * sizeof(Row));
                if (!n)
                        return false;
                bv->rows = n;
                bv->cap = cap;
        }
        bv->rows[bv->n_rows++] = (Row){.key = key, .host = host, .invocation = invocation};
        return true;
}

static bool text_match(const char *pattern, size_t len, const char *text) {
        char p[PROMPT_MAX + 1];
        snprintf(p, sizeof(p), "%.*s", (int) MIN(len, (size_t) PROMPT_MAX), pattern);
        return strpbrk(p, "*?[") ? fnmatch(p, text, 0) == 0 : strstr(text, p) != NULL;
}

/* Whether host h is one the filter "host:NAME ..." names. */
static bool host_match(const char *filter, const Host *h) {
        const char *name = filter + 5, *end = strchrnul(name, ' ');
        return text_match(name, (size_t) (end - name), h->name ?: "") ||
               text_match(name, (size_t) (end - name), h->hostname);
}

/* The filter: "host:NAME" (a word of its own, NAME a glob or a part of the -H name or the
 * daemon's host name) keeps one host's builds; the rest matches name, user, state, machine
 * or derivation. */
static bool filter_match(Tui *t, const char *filter, const StoreBuild *b) {
        if (!filter || !*filter)
                return true;
        const char *rest = filter;
        size_t rest_len = strlen(filter);
        if (strncmp(filter, "host:", 5) == 0) {
                const char *end = strchrnul(filter + 5, ' ');
                if (!host_match(filter, tui_host(t, b->host)))
                        return false;
                rest = *end ? end + 1 : end;
                rest_len = strlen(rest);
                if (rest_len == 0)
                        return true;
        }
        const char *fields[] = {b->name, b->user ?: "", store_state_name(b->state), b->machine, b->drv};
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (text_match(rest, rest_len, fields[i]))
                        return true;
        return false;
}

/* qsort has no context argument: the sort parameters travel in a thread-local. */
static _Thread_local struct {
        int col;
        bool descending;
        bool by_invocation; /* the tree: grouped by invocation first */
        double now;
} sort_ctx;

static int cmp_builds(const void *x, const void *y) {
        const StoreBuild *a = *(StoreBuild *const *) x, *b = *(StoreBuild *const *) y;
        if (sort_ctx.by_invocation && a->host != b->host)
                return a->host < b->host ? -1 : 1;
        if (sort_ctx.by_invocation && a->invocation != b->invocation)
                return a->invocation < b->invocation ? -1 : 1;
        return columns_compare(sort_ctx.col, sort_ctx.descending, a, b, sort_ctx.now);
}

/* An invocation of the tree with its builds (all[from..to)): those with running builds
 * first, then those with builds waiting, then the rest, each in arrival order. */
typedef struct TreeNode {
        StoreInvocation *inv;
        size_t from, to;
        int rank;
} TreeNode;

static int cmp_nodes(const void *x, const void *y) {
        const TreeNode *a = x, *b = y;
        if (a->rank != b->rank)
                return a->rank < b->rank ? -1 : 1;
        return a->inv->id < b->inv->id ? -1 : a->inv->id > b->inv->id;
}

static const cJSON *bv_activities(BuildsView *bv, unsigned host) {
        return host < bv->n_activities ? json_arr(bv->activities[host].result, "activities") : NULL;
}

static bool bv_has_activities(BuildsView *bv, unsigned host, uint64_t invocation) {
        const cJSON *a;
        cJSON_ArrayForEach(a, bv_activities(bv, host))
                if (json_u64(a, "invocation", 0) == invocation)
                        return true;
        return false;
}

/* The activities of one invocation (or all, with invocation UINT64_MAX) as rows. */
static void bv_push_activities(BuildsView *bv, unsigned host, uint64_t invocation) {
        const cJSON *a;
        uint64_t i = 0;
        cJSON_ArrayForEach(a, bv_activities(bv, host)) {
                if (invocation == UINT64_MAX || json_u64(a, "invocation", 0) == invocation)
                        if (bv_push(bv, host, i, false))
                                bv->rows[bv->n_rows - 1].activity = true;
                i++;
        }
}

static void activity_text(const cJSON *a, char *buf, size_t n) {
        const char *what = json_str(a, "name") ?: json_str(a, "path") ?: "";
        const char *uri = json_str(a, "uri"), *machine = json_str(a, "machine");
        char d[16] = "";
        if (json_has_num(a, "duration"))
                fmt_duration(d, sizeof(d), json_num(a, "duration", -1));
        snprintf(buf, n, "[%s] %s%s%s%s%s%s  %s", json_str(a, "kind") ?: "?", what, uri ? " from " : "",
                 uri ?: "",
                 machine ? (strcmp(json_str(a, "direction") ?: "", "to") == 0 ? " to " : " from ") : "",
                 machine ?: "", "", d);
}

static void bv_got_activities(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        View *v = userdata;
        BuildsView *bv = v->data;
        /* Rows point at the answer by index: they are made again from the new one. */
        for (size_t i = 0; i < bv->n_activities; i++)
                if (bv->tui->hosts[i]->client == c)
                        poll_take(&bv->activities[i], result, error);
        bv->built = false;
        tui_invalidate(bv->tui);
}

static void bv_fetch_activities(Tui *t, View *v, Poll *p) {
        if (client_request(tui_host(t, p->host)->client, "list-activities", NULL, bv_got_activities, v) < 0)
                poll_done(p);
}

/* What the rows depend on: in arrival order only what may add, remove or move a row
 * (Store.layout: phase and usage changes are drawn from the store without a rebuild); sorted
 * by a column, any change. */
static uint64_t bv_generation(Tui *t, const BuildsView *bv) {
        uint64_t g = 0;
        for (size_t i = 0; i < t->n_hosts; i++)
                g += bv->sort < 0 ? t->hosts[i]->store.layout : t->hosts[i]->store.generation;
        return g;
}

/* One host's invocations, each followed by its builds (all[from..k), sorted by invocation). */
static void bv_push_tree(Tui *t, BuildsView *bv, Host *h, StoreBuild **all, size_t k, double now) {
        Store *s = &h->store;
        size_t ni = HASH_COUNT(s->invocations);
        TreeNode *nodes = calloc(ni + 1, sizeof(TreeNode));
        if (!nodes)
                return;
        size_t m = 0;
        StoreInvocation *inv, *ti;
        /* Kept in id order by the daemon's numbering, mostly: sorted below with their ranks. */
        HASH_ITER(hh, s->invocations, inv, ti)
                nodes[m++].inv = inv;
        qsort(nodes, m, sizeof(TreeNode), cmp_nodes);
        /* Builds and invocations are both in invocation order: one merge walk. The builds it
         * steps over have no invocation (not listed yet): they go to the end. */
        size_t j = 0, kept = 0;
        for (size_t i = 0; i < m; i++) {
                inv = nodes[i].inv;
                while (j < k && all[j]->invocation < inv->id)
                        j++;
                size_t from = j;
                bool running = false, waiting = false;
                for (; j < k && all[j]->invocation == inv->id; j++) {
                        running |= build_state_is_active(all[j]->state) && all[j]->state != BUILD_QUEUED;
                        waiting |= all[j]->state == BUILD_QUEUED;
                }
                bool acts = t->show_all && bv_has_activities(bv, h->index, inv->id);
                if (from == j && !acts)
                        continue;
                /* Old finished invocations leave the tree unless a is on. */
                double fin = json_num(inv->json, "finished", -1);
                if (!t->show_all && inv->done && !running && !waiting && !acts && fin > 0 &&
                    now - fin > DONE_KEEP_SEC)
                        continue;
                nodes[kept++] = (TreeNode){inv, from, j, running ? 0 : waiting || !inv->done ? 1 : 2};
        }
        /* Active work first. */
        qsort(nodes, kept, sizeof(TreeNode), cmp_nodes);
        for (size_t i = 0; i < kept; i++) {
                TreeNode *nd = &nodes[i];
                inv = nd->inv;
                size_t first = bv->n_rows;
                bool folded = bv_folded(bv, h->index, inv, nd->rank < 2);
                if (!bv_push(bv, h->index, inv->id, true))
                        break;
                bv->rows[first].folded = folded;
                if (folded)
                        continue;
                for (size_t b2 = nd->from; b2 < nd->to; b2++)
                        bv_push(bv, h->index, all[b2]->key, false);
                if (t->show_all && bv_has_activities(bv, h->index, inv->id))
                        bv_push_activities(bv, h->index, inv->id);
                if (bv->n_rows > first + 1)
                        bv->rows[bv->n_rows - 1].last = true;
        }
        for (size_t b2 = 0; b2 < k; b2++)
                if (!store_invocation(s, all[b2]->invocation))
                        bv_push(bv, h->index, all[b2]->key, false);
        free(nodes);
}

static void bv_rebuild(Tui *t, View *v) {
        BuildsView *bv = v->data;
        double now = tui_now();
        bv->n_rows = 0;
        size_t n = 0;
        for (size_t i = 0; i < t->n_hosts; i++)
                n += HASH_COUNT(t->hosts[i]->store.builds);
        if (n + 1 > bv->all_cap) {
                StoreBuild **a = realloc(bv->all, (n + 1) * sizeof(StoreBuild *));
                if (!a)
                        return;
                bv->all = a;
                bv->all_cap = n + 1;
        }
        StoreBuild **all = bv->all;
        size_t k = 0;
        for (size_t i = 0; i < t->n_hosts; i++) {
                StoreBuild *b, *tb;
                HASH_ITER(hh, t->hosts[i]->store.builds, b, tb) {
                        if (!filter_match(t, t->filter, b))
                                continue;
                        if (bv->flat && !t->show_all && !build_state_is_active(b->state))
                                continue;
                        all[k++] = b;
                }
        }
        sort_ctx.col = bv->sort;
        sort_ctx.descending = bv->descending;
        sort_ctx.by_invocation = !bv->flat;
        sort_ctx.now = now;
        /* Builds come from the stores mostly in arrival order already: a look costs k
         * comparisons, a sort k log k. */
        bool sorted = true;
        for (size_t i = 1; i < k && sorted; i++)
                sorted = cmp_builds(&all[i - 1], &all[i]) <= 0;
        if (!sorted)
                qsort(all, k, sizeof(StoreBuild *), cmp_builds);

        if (bv->flat) {
                for (size_t i = 0; i < k; i++)
                        bv_push(bv, all[i]->host, all[i]->key, false);
                if (t->show_all)
                        for (size_t i = 0; i < t->n_hosts; i++)
                                bv_push_activities(bv, (unsigned) i, UINT64_MAX);
        } else
                /* Host by host (the sort put each host's builds together, in host order). */
                for (size_t i = 0, from = 0; i < t->n_hosts; i++) {
                        size_t to = from;
                        while (to < k && all[to]->host == i)
                                to++;
                        bv_push_tree(t, bv, t->hosts[i], all + from, to - from, now);
                        from = to;
                }
        bv->generation = bv_generation(t, bv);
        bv->built = true;
        bv->show_all = t->show_all;
        free(bv->filter);
        bv->filter = t->filter ? strdup(t->filter) : NULL;

        /* Keep the cursor on the same row's object. */
        size_t cur = v->nav.cur;
        for (size_t i = 0; i < bv->n_rows; i++)
                if (bv->rows[i].key == bv->sel_key && bv->rows[i].host == bv->sel_host &&
                    bv->rows[i].invocation == bv->sel_invocation && !bv->rows[i].activity) {
                        cur = i;
                        break;
                }
        listnav_set_count(&v->nav, bv->n_rows);
        listnav_goto(&v->nav, cur);
}

static bool bv_stale(Tui *t, BuildsView *bv) {
        bool filter_changed = (t->filter == NULL) != (bv->filter == NULL) ||
                              (t->filter && bv->filter && strcmp(t->filter, bv->filter) != 0);
        return !bv->built || bv->generation != bv_generation(t, bv) || bv->show_all != t->show_all ||
               filter_changed;
}

static void bv_ensure(Tui *t, View *v) {
        BuildsView *bv = v->data;
        if (bv_stale(t, bv))
                bv_rebuild(t, v);
}

static void bv_remember(View *v) {
        BuildsView *bv = v->data;
        if (v->nav.cur < bv->n_rows) {
                bv->sel_key = bv->rows[v->nav.cur].key;
                bv->sel_host = bv->rows[v->nav.cur].host;
                bv->sel_invocation = bv->rows[v->nav.cur].invocation;
        }
}

static size_t bv_count(Tui *t, View *v) {
        bv_ensure(t, v);
        return ((BuildsView *) v->data)->n_rows;
}

static void invocation_text(const StoreInvocation *inv, char *buf, size_t n) {
        /* Progress before the command line, which is long and cut first. */
        char eta[48] = "";
        const cJSON *e = json_obj(inv->json, "eta");
        if (!inv->done && json_has_num(e, "remaining")) {
                /* "+": builds without history come on top; nothing known is said so, and a
                 * time used up is overdue, never a 0 standing still. */
                double left = json_num(e, "remaining", 0);
                bool unknown = json_num(e, "unknown", 0) > 0;
                char d[16];
                if (left > 0.5)
                        snprintf(eta, sizeof(eta), ", ETA %s%s", fmt_duration(d, sizeof(d), left),
                                 unknown ? "+" : "");
                else
                        snprintf(eta, sizeof(eta), ", ETA %s", unknown ? "unknown" : "overdue");
        }
        /* The daemon's counts of the builds it saw and Nix announced (one definition each,
         * docs/protocol.md); Nix's own progress from a daemon that has none. */
        char counts[160];
        if (inv->has_counts) {
                int o = snprintf(counts, sizeof(counts), "%.0f/%.0f done, %.0f running", inv->n_done,
                                 inv->n_builds, inv->n_running);
                const struct {
                        double n;
                        const char *what;
                } parts[] = {
                        {inv->n_queued, "queued"},       {inv->n_frozen, "frozen"},
                        {inv->n_failed, "failed"},       {inv->n_dependency, "dependency failed"},
                        {inv->n_cancelled, "cancelled"}, {inv->n_not_started, "not started"},
                        {inv->n_killed, "killed"},       {inv->n_lost, "lost"},
                };
                for (size_t i = 0; i < ELEMENTSOF(parts) && o > 0 && (size_t) o < sizeof(counts); i++)
                        if (parts[i].n > 0)
                                o += snprintf(counts + o, sizeof(counts) - (size_t) o, ", %.0f %s",
                                              parts[i].n, parts[i].what);
        } else
                snprintf(counts, sizeof(counts), "%.0f/%.0f done, %.0f running, %.0f failed",
                         inv->progress_done, inv->progress_expected, inv->progress_running,
                         inv->progress_failed);
        /* Nix's own error for it says why it ended, before the command line too. */
        snprintf(buf, n, "#%llu %s [%s%s%s%s]: %s", (unsigned long long) inv->id, inv->user ?: "?", counts,
                 eta,
                 inv->error  ? (inv->done ? ", failed: " : ", error: ")
                 : inv->done ? ", ended"
                             : "",
                 inv->error ?: "", inv->cmdline ?: "(unknown command)");
}

static const char *bv_row_text(Tui *t, View *v, size_t i) {
        BuildsView *bv = v->data;
        bv_ensure(t, v);
        if (i >= bv->n_rows)
                return "";
        Row *r = &bv->rows[i];
        if (r->activity)
                activity_text(cJSON_GetArrayItem(bv_activities(bv, r->host), (int) r->key), bv->text,
                              sizeof(bv->text));
        else if (r->invocation) {
                StoreInvocation *inv = store_invocation(row_store(t, r), r->key);
                if (!inv)
                        return "";
                invocation_text(inv, bv->text, sizeof(bv->text));
        } else {
                StoreBuild *b = store_build(row_store(t, r), r->key);
                if (!b)
                        return "";
                snprintf(bv->text, sizeof(bv->text), "%s %s %s %s", b->name, store_state_name(b->state),
                         b->user ?: "", b->drv);
        }
        return bv->text;
}

static Colour state_colour(BuildState s) {
        switch (s) {
        case BUILD_RUNNING:
                return COL_RUNNING;
        case BUILD_QUEUED:
                return COL_QUEUED;
        case BUILD_FROZEN:
                return COL_FROZEN;
        case BUILD_FINISHING:
                return COL_FINISHING;
        case BUILD_SUCCEEDED:
                return COL_SUCCEEDED;
        case BUILD_FAILED:
        case BUILD_KILLED:
        case BUILD_LOST:
                return COL_FAILED;
        default:
                return COL_NORMAL;
        }
}

static bool bv_in_visual(BuildsView *bv, const View *v, size_t i) {
        if (!bv->visual)
                return false;
        size_t lo = MIN(bv->anchor, v->nav.cur), hi = MAX(bv->anchor, v->nav.cur);
        return i >= lo && i <= hi;
}

/* The HOST column's width: only with several hosts, as wide as the longest name (capped). */
static int bv_host_width(Tui *t, int w) {
        if (t->n_hosts < 2)
                return 0;
        size_t hw = 4;
        for (size_t i = 0; i < t->n_hosts; i++)
                hw = MAX(hw, fmt_width(tui_host_label(t->hosts[i])));
        return (int) MIN(hw, (size_t) MAX(w / 5, 4));
}

/* Columns with nothing to say on any host so far: PHASE before any phase was seen, MACHINE
 * without remote builds (a bit per column index, columns_layout()). */
static unsigned bv_idle_columns(Tui *t) {
        bool phase = false, machine = false;
        for (size_t i = 0; i < t->n_hosts; i++) {
                phase |= t->hosts[i]->store.seen_phase;
                machine |= t->hosts[i]->store.seen_machine;
        }
        return (phase ? 0 : 1u << COLUMN_PHASE) | (machine ? 0 : 1u << COLUMN_MACHINE);
}

/* Cells of the name kept before the limits marker gets the rest. */
#define NAME_KEEP 12

/* The NAME cell: the tree glyph, the name cut in its middle when it must be (its version
 * kept), and the limits in force ("n10 cpu0.5 mem64M"), dim, at its right end: compact and
 * cut when narrow, the name keeping NAME_KEEP cells. */
static void bv_draw_name(Tui *t, const StoreBuild *b, const char *glyph, int y, int x, int w, int attr,
                         const char *search) {
        const Screen *scr = t->screen;
        char marker[64], name[512], line[600];
        int gw = (int) fmt_width(glyph), nw = (int) fmt_width(b->name);
        columns_limits_marker(b, false, marker, sizeof(marker));
        if (*marker && w - gw - nw - 1 < (int) fmt_width(marker))
                columns_limits_marker(b, true, marker, sizeof(marker));
        int mw = 0;
        if (*marker)
                mw = MIN((int) fmt_width(marker) + 1, w - gw - MIN(nw, NAME_KEEP));
        if (mw < 3)
                mw = 0;
        if (nw <= w - gw - mw)
                snprintf(name, sizeof(name), "%s", b->name); /* most rows: no second measure */
        else
                fmt_fit_name(name, sizeof(name), b->name, (size_t) MAX(w - gw - mw, 0),
                             screen_glyphs(scr)->ascii);
        snprintf(line, sizeof(line), "%s%s", glyph, name);
        draw_highlight(scr, y, x, w, attr, screen_attr(scr, COL_MATCH), line, search);
        if (mw > 0)
                draw_text(scr, y, x + w - mw + 1, mw - 1, attr ? attr : screen_attr(scr, COL_DIM), marker,
                          false, false);
}

static void bv_draw(Tui *t, View *v, int y, int x0, int h, int w0) {
        BuildsView *bv = v->data;
        const Screen *scr = t->screen;
        const Glyphs *g = screen_glyphs(scr);
        bv_ensure(t, v);
        /* With several hosts, each row starts with its host's name. */
        int hw = bv_host_width(t, w0), x = hw ? x0 + hw + 1 : x0, w = hw ? w0 - hw - 1 : w0;
        if (w <= 0)
                return;
        bool shown[16];
        int name_w = columns_layout(w, bv_idle_columns(t), shown, n_columns);
        double now = tui_now();

        /* Column titles, the sort column marked. */
        draw_fill(y, x0, w0, screen_attr(scr, COL_TITLE));
        if (hw)
                draw_text(scr, y, x0, hw, screen_attr(scr, COL_TITLE), "HOST", true, false);
        int cx = x;
        for (size_t c = 0; c < n_columns; c++) {
                if (!shown[c])
                        continue;
                int cw = c == COLUMN_NAME ? name_w : columns[c].width;
                char title[32];
                snprintf(title, sizeof(title), "%s%s", columns[c].title,
                         (int) c != bv->sort ? ""
                         : bv->descending    ? g->sort_down
                                             : g->sort_up);
                draw_text(scr, y, cx, cw, screen_attr(scr, COL_TITLE), title, true, columns[c].right);
                cx += cw + 1;
        }
        h--;
        y++;
        if (h <= 0)
                return;
        listnav_scroll(&v->nav, (size_t) h);
        if (bv->n_rows == 0) {
                const char *msg = t->n_hosts == 1 && !client_is_connected(t->hosts[0]->client)
                                          ? "(no daemon: waiting for it)"
                                  : t->filter ? "(no build matches the filter)"
                                  : bv->flat  ? "(no active build; t: tree of invocations)"
                                              : "(no build yet)";
                draw_text(scr, y, x + 1, w - 1, screen_attr(scr, COL_DIM), msg, false, false);
                return;
        }
        for (int i = 0; i < h && v->nav.top + (size_t) i < bv->n_rows; i++) {
                size_t ri = v->nav.top + (size_t) i;
                Row *r = &bv->rows[ri];
                int row_y = y + i;
                bool sel = ri == v->nav.cur && !t->log_focused;
                bool vis = bv_in_visual(bv, v, ri);
                int base = sel ? screen_attr(scr, COL_SELECTED) : vis ? screen_attr(scr, COL_VISUAL) : 0;
                /* A row its daemon no longer vouches for (it went away) is greyed throughout. */
                bool stale = row_stale(t, r);
                if (stale)
                        base = base ? base | (int) A_DIM : screen_attr(scr, COL_DIM);
                if (sel || vis)
                        draw_fill(row_y, x0, w0, base);
                if (hw)
                        draw_text(scr, row_y, x0, hw, base, tui_host_label(tui_host(t, r->host)), true,
                                  false);
                if (r->activity) {
                        const cJSON *a = cJSON_GetArrayItem(bv_activities(bv, r->host), (int) r->key);
                        char text[1024], line[1100];
                        activity_text(a, text, sizeof(text));
                        snprintf(line, sizeof(line), "%s%s", bv->flat ? "" : g->tee, text);
                        draw_highlight(scr, row_y, x, w, base ? base : screen_attr(scr, COL_DIM),
                                       screen_attr(scr, COL_MATCH), line, v->search);
                        continue;
                }
                if (r->invocation) {
                        StoreInvocation *inv = store_invocation(row_store(t, r), r->key);
                        if (!inv)
                                continue;
                        char text[1024];
                        invocation_text(inv, text, sizeof(text));
                        char line[1100];
                        snprintf(line, sizeof(line), "%s %s", r->folded ? g->fold_closed : g->fold_open,
                                 text);
                        draw_highlight(scr, row_y, x, w, stale ? base : base | (int) A_BOLD,
                                       screen_attr(scr, COL_MATCH), line, v->search);
                        continue;
                }
                StoreBuild *b = store_build(row_store(t, r), r->key);
                if (!b)
                        continue;
                int battr = base ? base : screen_attr(scr, state_colour(b->state));
                /* A failure reads as one in its name as well as in its STATE. */
                int nattr = base ? base : state_colour(b->state) == COL_FAILED ? battr : 0;
                if (b->state == BUILD_FROZEN && !sel && !stale)
                        draw_fill(row_y, x0, w0, screen_attr(scr, COL_FROZEN));
                cx = x;
                for (size_t c = 0; c < n_columns; c++) {
                        if (!shown[c])
                                continue;
                        int cw = c == COLUMN_NAME ? name_w : columns[c].width;
                        char buf[512];
                        if (c != COLUMN_NAME)
                                columns[c].format(b, now, buf, sizeof(buf));
                        if (c == COLUMN_NAME) {
                                bool tree = !bv->flat && store_invocation(row_store(t, r), b->invocation);
                                bv_draw_name(t, b, tree ? (r->last ? g->corner : g->tee) : "", row_y, cx, cw,
                                             nattr, v->search);
                        } else {
                                int a = (c == COLUMN_STATE || b->state == BUILD_FROZEN) ? battr : base;
                                draw_text(scr, row_y, cx, cw, a, buf, true, columns[c].right);
                        }
                        cx += cw + 1;
                }
        }
}

static void bv_sort_status(Tui *t, const BuildsView *bv) {
        if (bv->sort < 0)
                tui_status(t, false, "sort: %s (s: by the next column, S: reverse)",
                           bv->descending ? "ended first, then queued, then running"
                                          : "running first, then queued, then ended");
        else
                tui_status(t, false, "sort: %s, %s (empty last; S reverses)", columns[bv->sort].title,
                           bv->descending ? "descending, highest first" : "ascending, lowest first");
}

static void bv_fold(Tui *t, View *v, Cmd cmd) {
        BuildsView *bv = v->data;
        if (v->nav.cur >= bv->n_rows)
                return;
        Row *r = &bv->rows[v->nav.cur];
        if (r->activity)
                return;
        uint64_t id = r->invocation ? r->key : 0;
        if (!r->invocation) {
                StoreBuild *b = store_build(row_store(t, r), r->key);
                if (!b || bv->flat)
                        return;
                id = b->invocation;
        }
        StoreInvocation *inv = store_invocation(row_store(t, r), id);
        if (!inv)
                return;
        /* A build's row is listed: its invocation is open. */
        bool folded = r->invocation && r->folded;
        bool want = cmd == CMD_FOLD_CLOSE ? true : cmd == CMD_FOLD_OPEN ? false : !folded;
        bv_set_folded(bv, r->host, inv, want);
        /* The cursor goes to the invocation's row. */
        bv->sel_key = id;
        bv->sel_host = r->host;
        bv->sel_invocation = true;
        bv->built = false;
}

static bool bv_key(Tui *t, View *v, Cmd cmd) {
        BuildsView *bv = v->data;
        bv_ensure(t, v);
        switch (cmd) {
        case CMD_FOLD_CLOSE:
        case CMD_FOLD_OPEN:
        case CMD_FOLD_TOGGLE:
                bv_fold(t, v, cmd);
                return true;
        case CMD_TREE:
                bv->flat = !bv->flat;
                bv->built = false;
                tui_status(t, false, "%s", bv->flat ? "flat list of active builds" : "tree by invocation");
                return true;
        case CMD_SORT:
                /* Each column first the way people read it: the most CPU, memory or time on top. */
                bv->sort = bv->sort + 1 >= (int) n_columns ? -1 : bv->sort + 1;
                bv->descending = bv->sort >= 0 && columns[bv->sort].descending;
                bv->built = false;
                bv_sort_status(t, bv);
                return true;
        case CMD_SORT_REVERSE:
                bv->descending = !bv->descending;
                bv->built = false;
                bv_sort_status(t, bv);
                return true;
        case CMD_ENTER: {
                StoreBuild *b = view_builds_current(t);
                if (b)
                        view_detail_build(t, b);
                else if (v->nav.cur < bv->n_rows && bv->rows[v->nav.cur].activity) {
                        const cJSON *a = cJSON_GetArrayItem(bv_activities(bv, bv->rows[v->nav.cur].host),
                                                            (int) bv->rows[v->nav.cur].key);
                        if (a)
                                tui_show_detail(t, json_str(a, "kind") ?: "activity", a);
                } else if (v->nav.cur < bv->n_rows) {
                        StoreInvocation *inv = store_invocation(row_store(t, &bv->rows[v->nav.cur]),
                                                                bv->rows[v->nav.cur].key);
                        if (inv)
                                tui_show_detail(t, "invocation", inv->json);
                }
                return true;
        }
        default:
                if (listnav_move(&v->nav, cmd) || cmd == CMD_NONE) {
                        bv_remember(v);
                        return true;
                }
                return false;
        }
}

static void bv_store_changed(Tui *t, View *v) {
        bv_remember(v);
}

static void bv_free(View *v) {
        BuildsView *bv = v->data;
        for (size_t i = 0; i < bv->n_activities; i++)
                poll_free(&bv->activities[i]);
        free(bv->activities);
        Folded *f, *tf;
        HASH_ITER(hh, bv->folded, f, tf) {
                HASH_DEL(bv->folded, f);
                free(f);
        }
        free(bv->rows);
        free(bv->all);
        free(bv->filter);
        free(bv);
}

int view_builds_new(Tui *t, View **ret) {
        static const View proto = {
                .title = "builds",
                .count = bv_count,
                .row_text = bv_row_text,
                .draw = bv_draw,
                .key = bv_key,
                .store_changed = bv_store_changed,
                .free = bv_free,
        };
        int r = view_alloc(&proto, sizeof(BuildsView), ret);
        if (r < 0)
                return r;
        BuildsView *bv = (*ret)->data;
        bv->activities = calloc(t->n_hosts, sizeof(Poll));
        if (!bv->activities) {
                bv_free(*ret);
                free(*ret);
                *ret = NULL;
                return -ENOMEM;
        }
        bv->n_activities = t->n_hosts;
        bv->sort = -1;
        bv->tui = t;
        return 0;
}

void view_builds_show_all(Tui *t, bool on) {
        View *v = t->views[VIEW_BUILDS];
        BuildsView *bv = v->data;
        /* Every host's, each asked apart: one that is down or slow delays no other. */
        for (size_t i = 0; i < bv->n_activities; i++)
                if (on)
                        poll_start(&bv->activities[i], t, (unsigned) i, v, USEC_PER_SEC,
                                   bv_fetch_activities);
                else
                        poll_free(&bv->activities[i]);
        bv->built = false;
}

StoreBuild *view_builds_current(Tui *t) {
        View *v = t->views[VIEW_BUILDS];
        BuildsView *bv = v->data;
        bv_ensure(t, v);
        if (v->nav.cur >= bv->n_rows || bv->rows[v->nav.cur].invocation || bv->rows[v->nav.cur].activity)
                return NULL;
        return store_build(row_store(t, &bv->rows[v->nav.cur]), bv->rows[v->nav.cur].key);
}

uint64_t view_builds_current_invocation(Tui *t) {
        View *v = t->views[VIEW_BUILDS];
        BuildsView *bv = v->data;
        bv_ensure(t, v);
        if (v->nav.cur >= bv->n_rows)
                return 0;
        if (bv->rows[v->nav.cur].activity)
                return json_u64(cJSON_GetArrayItem(bv_activities(bv, bv->rows[v->nav.cur].host),
                                                   (int) bv->rows[v->nav.cur].key),
                                "invocation", 0);
        if (bv->rows[v->nav.cur].invocation)
                return bv->rows[v->nav.cur].key;
        StoreBuild *b = store_build(row_store(t, &bv->rows[v->nav.cur]), bv->rows[v->nav.cur].key);
        return b ? b->invocation : 0;
}

static bool refs_add(BuildRef *refs, size_t *n, size_t cap, unsigned host, uint64_t key) {
        for (size_t j = 0; j < *n; j++)
                if (refs[j].host == host && refs[j].key == key)
                        return false;
        if (*n >= cap)
                return false;
        refs[(*n)++] = (BuildRef){host, key};
        return true;
}

size_t view_builds_selection(Tui *t, BuildRef **ret) {
        View *v = t->views[VIEW_BUILDS];
        BuildsView *bv = v->data;
        bv_ensure(t, v);
        *ret = NULL;
        if (bv->n_rows == 0)
                return 0;
        size_t lo = v->nav.cur, hi = v->nav.cur;
        if (bv->visual) {
                lo = MIN(bv->anchor, v->nav.cur);
                hi = MIN(MAX(bv->anchor, v->nav.cur), bv->n_rows - 1);
        }
        size_t cap = bv->n_rows;
        for (size_t i = 0; i < t->n_hosts; i++)
                cap += HASH_COUNT(t->hosts[i]->store.builds);
        BuildRef *refs = calloc(cap, sizeof(BuildRef));
        if (!refs)
                return 0;
        size_t n = 0;
        for (size_t i = lo; i <= hi; i++) {
                Row *r = &bv->rows[i];
                if (r->activity)
                        continue; /* nothing to act on */
                if (!r->invocation) {
                        /* A build listed under its (selected) invocation is counted once. */
                        refs_add(refs, &n, cap, r->host, r->key);
                        continue;
                }
                /* An invocation row stands for its active builds (on its own host) that the
                 * filter shows: what is hidden is not acted on. */
                StoreBuild *b, *tb;
                HASH_ITER(hh, row_store(t, r)->builds, b, tb)
                        if (b->invocation == r->key && build_state_is_active(b->state) &&
                            filter_match(t, t->filter, b))
                                refs_add(refs, &n, cap, b->host, b->key);
        }
        if (n == 0) {
                free(refs);
                return 0;
        }
        *ret = refs;
        return n;
}

Host *tui_current_host(Tui *t) {
        View *v = t->views[VIEW_BUILDS];
        BuildsView *bv = v->data;
        bv_ensure(t, v);
        if (v->nav.cur < bv->n_rows)
                return tui_host(t, bv->rows[v->nav.cur].host);
        /* No row (none matches, or the host has no build yet): the host the filter names. */
        if (t->filter && strncmp(t->filter, "host:", 5) == 0)
                for (size_t i = 0; i < t->n_hosts; i++)
                        if (host_match(t->filter, t->hosts[i]))
                                return t->hosts[i];
        return t->hosts[0];
}

bool view_builds_visual(Tui *t) {
        return bv_of(t)->visual;
}

void view_builds_set_visual(Tui *t, bool on) {
        BuildsView *bv = bv_of(t);
        bv->visual = on;
        bv->anchor = t->views[VIEW_BUILDS]->nav.cur;
}

const char *view_builds_sort(Tui *t, bool *ret_descending) {
        BuildsView *bv = bv_of(t);
        *ret_descending = bv->descending;
        return bv->sort < 0 ? "activity" : columns[bv->sort].title;
}

bool view_builds_flat(Tui *t) {
        return bv_of(t)->flat;
}
