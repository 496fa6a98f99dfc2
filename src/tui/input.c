/* Key dispatch: one function per command family, the view's own keys first. */
#include "tui/input.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/json-read.h"
#include "tui/actions.h"
#include "tui/help.h"
#include "shared/fmt.h"
#include "tui/prompt.h"
#include "shared/when.h"
#include "tui/view-at.h"
#include "tui/view-builds.h"
#include "tui/view-deps.h"
#include "tui/view-history.h"
#include "tui/view-log.h"
#include "tui/yank-field.h"

/* ---- search ---- */

/* Moves the view's cursor to the next (dir 1) or previous (-1) row containing its search
 * pattern, starting after the cursor (or at it, with inclusive), wrapping: 1 with the match's
 * place among all matches, 0 when none. */
static int search_step(Tui *t, View *v, int dir, bool inclusive, size_t *ret_index, size_t *ret_count) {
        if (!v->search)
                return 0;
        if (v->search_fn)
                return v->search_fn(t, v, v->search, dir, inclusive, ret_index, ret_count);
        if (!v->row_text)
                return 0;
        size_t n = v->count(t, v);
        if (n == 0)
                return 0;
        size_t cur = v->nav.cur;
        for (size_t step = inclusive ? 0 : 1; step <= n; step++) {
                size_t i = dir > 0 ? (cur + step) % n : (cur + n - step % n) % n;
                if (!strstr(v->row_text(t, v, i), v->search))
                        continue;
                listnav_goto(&v->nav, i);
                if (v->key)
                        v->key(t, v, CMD_NONE); /* lets the view remember its selection */
                size_t before = 0, all = 0;
                for (size_t j = 0; j < n; j++)
                        if (strstr(v->row_text(t, v, j), v->search)) {
                                all++;
                                before += j <= i;
                        }
                *ret_index = before;
                *ret_count = all;
                return 1;
        }
        return 0;
}

static void search_report(Tui *t, View *v, int dir, bool inclusive) {
        size_t i = 0, n = 0;
        int r = search_step(t, v, dir, inclusive, &i, &n);
        if (r > 0)
                tui_status(t, false, "/%s: match %zu of %zu in %s (n next, N previous, Esc clears)",
                           v->search, i, n, v->title);
        else if (r < 0)
                tui_status(t, true, "/%s: search in %s failed: %s", v->search, v->title, strerror(-r));
        else
                tui_status(t, true, "/%s: not found in %s", v->search, v->title);
}

/* ---- prompts ---- */

static void start_prompt(Tui *t, PromptKind kind, const char *label, const char *initial, BuildRef *keys,
                         size_t n) {
        prompt_free(t->prompt);
        t->prompt = prompt_new(kind, label, initial, keys, n);
}

/* "tui-a", or "3 builds (tui-a, tui-b, tui-c)": what an action will touch, by name, the
 * names cut to leave `others` cells of the screen to the rest of the prompt. */
static const char *targets_desc(Tui *t, const BuildRef *keys, size_t n, size_t others, char *buf,
                                size_t len) {
        int rows, cols;
        screen_size(t->screen, &rows, &cols);
        size_t cells = MAX((size_t) MAX(cols, 0), others + 28) - others - 12;
        int ascii = screen_glyphs(t->screen)->ascii;
        char names[512];
        actions_names(t, keys, n, cells, names, sizeof(names));
        if (n == 1)
                return fmt_fit(buf, len, names, cells, ascii);
        int o = snprintf(buf, len, "%zu builds (", n);
        if (o < 0 || (size_t) o + 2 >= len)
                return buf;
        fmt_fit(buf + o, len - (size_t) o - 1, names, cells, ascii);
        strcat(buf, ")");
        return buf;
}

/* The selection's builds that action applies to (none: the status line says why). */
static size_t action_targets(Tui *t, const char *action, BuildRef **ret) {
        BuildRef *keys;
        size_t n = view_builds_selection(t, &keys);
        if (n == 0) {
                tui_status(t, true, "%s: no build selected", action);
                *ret = NULL;
                return 0;
        }
        size_t k = actions_applicable(t, action, keys, n);
        if (k == 0) {
                free(keys);
                keys = NULL;
        }
        *ret = keys;
        return k;
}

/* Asks before an action on several builds, naming them. */
static void confirm_action(Tui *t, const char *action, const char *value, BuildRef *keys, size_t n) {
        char desc[256], label[sizeof(desc) + PROMPT_MAX + 64]; /* the prompt keeps what fits */
        size_t others = strlen(action) + strlen(value ?: "") + 16;
        snprintf(label, sizeof(label), "%s %s%s%s? (y/n) ", action,
                 targets_desc(t, keys, n, others, desc, sizeof(desc)), value && *value ? " to " : "",
                 value ?: "");
        start_prompt(t, PROMPT_CONFIRM, label, NULL, keys, n);
        if (!t->prompt)
                return;
        snprintf(t->prompt->action, sizeof(t->prompt->action), "%s", action);
        snprintf(t->prompt->value, sizeof(t->prompt->value), "%s", value ?: "");
}

/* The action and its argument, as the daemon wants them. */
static void run_action(Tui *t, const char *action, const char *value, const BuildRef *keys, size_t n) {
        _cleanup_(cJSON_Deletep) cJSON *args = cJSON_CreateObject();
        if (!args)
                return;
        if (strcmp(action, "nice") == 0) {
                int64_t v;
                if (safe_atoi64(value, &v) < 0 || v < -20 || v > 19) {
                        tui_status(t, true, "nice: '%s' is not a niceness from -20 to 19", value);
                        return;
                }
                cJSON_AddNumberToObject(args, "nice", (double) v);
        } else if (strcmp(action, "cpu-limit") == 0)
                cJSON_AddStringToObject(args, "cores", value);
        else if (strcmp(action, "mem-limit") == 0)
                cJSON_AddStringToObject(args, "bytes", value);
        actions_run(t, action, args, keys, n);
}

/* An action on the selection: asks first when it is more than one build. */
static void act(Tui *t, const char *action, const char *value) {
        BuildRef *keys;
        size_t n = action_targets(t, action, &keys);
        if (n == 0)
                return;
        if (n > 1) {
                confirm_action(t, action, value, keys, n);
                return;
        }
        run_action(t, action, value ?: "", keys, n);
        free(keys);
        view_builds_set_visual(t, false);
}

static void value_prompt(Tui *t, PromptKind kind, const char *what, const char *hint) {
        const char *action = kind == PROMPT_NICE ? "nice" : kind == PROMPT_CPU ? "cpu-limit" : "mem-limit";
        BuildRef *keys;
        size_t n = action_targets(t, action, &keys);
        if (n == 0)
                return;
        char desc[256], label[512];
        snprintf(label, sizeof(label), "%s for %s (%s): ", what,
                 targets_desc(t, keys, n, strlen(what) + strlen(hint) + 24, desc, sizeof(desc)), hint);
        start_prompt(t, kind, label, NULL, keys, n);
}

/* H: the filter host:NAME for the first host, then the next, ..., then no filter. */
static void next_host(Tui *t) {
        if (t->n_hosts < 2) {
                tui_status(t, false, "H: one host only (give -H again for more)");
                return;
        }
        size_t next = 0;
        if (t->filter && strncmp(t->filter, "host:", 5) == 0)
                for (size_t i = 0; i < t->n_hosts; i++)
                        if (strcmp(t->filter + 5, tui_host_label(t->hosts[i])) == 0) {
                                next = i + 1;
                                break;
                        }
        free(t->filter);
        t->filter = NULL;
        if (next < t->n_hosts && asprintf(&t->filter, "host:%s", tui_host_label(t->hosts[next])) < 0)
                t->filter = NULL;
        tui_status(t, false, t->filter ? "filter: %s (H next host, Esc clears)" : "every host's builds",
                   t->filter);
}

static void prompt_submit(Tui *t) {
        struct Prompt *p = t->prompt;
        t->prompt = NULL;
        View *v = tui_focused_view(t);
        switch (p->kind) {
        case PROMPT_FILTER:
                free(t->filter);
                t->filter = p->len ? strdup(p->text) : NULL;
                tui_status(t, false, t->filter ? "filter: %s (Esc clears)" : "filter cleared", p->text);
                break;
        case PROMPT_SEARCH:
                free(v->search);
                v->search = p->len ? strdup(p->text) : NULL;
                if (v->search)
                        search_report(t, v, 1, /* inclusive= */ true);
                break;
        case PROMPT_NICE:
        case PROMPT_CPU:
        case PROMPT_MEM: {
                const char *action = p->kind == PROMPT_NICE  ? "nice"
                                     : p->kind == PROMPT_CPU ? "cpu-limit"
                                                             : "mem-limit";
                if (p->n_keys > 1) {
                        /* The value first, then the confirmation. */
                        confirm_action(t, action, p->text, p->keys, p->n_keys);
                        p->keys = NULL;
                } else {
                        run_action(t, action, p->text, p->keys, p->n_keys);
                        view_builds_set_visual(t, false);
                }
                break;
        }
        case PROMPT_CONFIRM:
                run_action(t, p->action, p->value, p->keys, p->n_keys);
                view_builds_set_visual(t, false);
                break;
        case PROMPT_AT: {
                usec_t when;
                if (when_parse(p->text, now_realtime(), &when) < 0)
                        tui_status(t, true,
                                   "'%s': not a time (03:12, -2h, yesterday 14:00, 2026-12-07T03:12)",
                                   p->text);
                else if (when > now_realtime())
                        tui_status(t, true, "'%s' is still to come", p->text);
                else
                        view_at_show(t, tui_current_host(t)->index, when);
                break;
        }
        }
        prompt_free(p);
}

/* ---- commands ---- */

static void toggle_view(Tui *t, ViewId id) {
        tui_show_view(t, t->view == id ? VIEW_BUILDS : id);
}

static void escape(Tui *t) {
        View *v = tui_focused_view(t);
        if (view_builds_visual(t))
                view_builds_set_visual(t, false);
        else if (v->search) {
                free(v->search);
                v->search = NULL;
                tui_status(t, false, "search cleared");
        } else if (t->log_focused)
                t->log_focused = false;
        else if (t->view != VIEW_BUILDS)
                tui_show_view(t, t->view == VIEW_DETAIL ? t->detail_return : VIEW_BUILDS);
        else if (t->filter) {
                free(t->filter);
                t->filter = NULL;
                tui_status(t, false, "filter cleared");
        }
}

static void mouse(Tui *t) {
        int row, col, wheel;
        screen_mouse(t->screen, &row, &col, &wheel);
        View *v = tui_focused_view(t);
        if (wheel) {
                for (int i = 0; i < 3; i++)
                        v->key ? v->key(t, v, wheel > 0 ? CMD_DOWN : CMD_UP)
                               : listnav_move(&v->nav, wheel > 0 ? CMD_DOWN : CMD_UP);
                return;
        }
        /* A click on a row of the main view selects it (below the header and the titles). */
        v = t->views[t->view];
        int first = tui_main_y(t) + 1;
        if (row >= first && (size_t) (row - first) + v->nav.top < v->count(t, v)) {
                t->log_focused = false;
                listnav_goto(&v->nav, v->nav.top + (size_t) (row - first));
                if (v->key)
                        v->key(t, v, CMD_NONE);
        }
}

static void command(Tui *t, KeyResult k) {
        View *v = tui_focused_view(t);
        switch (k.cmd) {
        case CMD_QUIT:
                t->quit = true;
                return;
        case CMD_HELP:
                help_open(t);
                return;
        case CMD_ESCAPE:
                escape(t);
                return;
        case CMD_CANCELLED:
                tui_status(t, false, "cancelled");
                return;
        case CMD_FOCUS:
                if (t->show_log)
                        t->log_focused = !t->log_focused;
                else
                        tui_status(t, false, "Tab: open the log panel (l) to move focus to it");
                return;
        case CMD_LOG:
                t->show_log = !t->show_log;
                t->log_focused = false;
                if (!t->show_log)
                        view_log_follow(t, (BuildRef){});
                return;
        case CMD_FOLLOW:
                if (t->show_log)
                        view_log_resume(t);
                else
                        tui_status(t, false, "F: the log panel follows its build (l opens it)");
                return;
        case CMD_PROCS:
                toggle_view(t, VIEW_PROCS);
                return;
        case CMD_DEPS: {
                /* From the history: that row's derivation, as the store has it. */
                const cJSON *row = t->view == VIEW_HISTORY ? view_history_selected(t) : NULL;
                if (row && json_u64(row, "id", 0))
                        view_deps_show_history(t, view_history_host(t), json_u64(row, "id", 0),
                                               json_str(row, "name"));
                else
                        toggle_view(t, VIEW_DEPS);
                return;
        }
        case CMD_HISTORY:
                toggle_view(t, VIEW_HISTORY);
                return;
        case CMD_MACHINES:
                toggle_view(t, VIEW_MACHINES);
                return;
        case CMD_ALL_ACTIVITY:
                t->show_all = !t->show_all;
                view_builds_show_all(t, t->show_all);
                tui_status(t, false, "%s",
                           t->show_all ? "showing everything: substitutions, downloads, copies, hooks, "
                                         "finished builds"
                                       : "showing active builds and recent invocations");
                return;
        case CMD_HOST:
                next_host(t);
                return;
        case CMD_AT: {
                /* From a history row: the moment in the middle of that build. */
                const cJSON *r = t->view == VIEW_HISTORY ? view_history_selected(t) : NULL;
                double s = r ? json_num(r, "started", -1) : -1, f = r ? json_num(r, "finished", -1) : -1;
                if (s > 0 && f >= s)
                        view_at_show(t, view_history_host(t), (usec_t) ((s + f) / 2 * 1e6));
                else
                        start_prompt(t, PROMPT_AT, "at (03:12, -2h, yesterday 14:00): ", NULL, NULL, 0);
                return;
        }
        case CMD_TIME:
                if (t->view == VIEW_AT)
                        view_at_move(t, k.arg);
                else
                        tui_status(t, false, "[ ] { }: move through time in the at view (@ opens it)");
                return;
        case CMD_FILTER:
                start_prompt(t, PROMPT_FILTER,
                             "filter builds (text or glob, host:NAME; empty clears): ", t->filter, NULL, 0);
                return;
        case CMD_SEARCH: {
                char label[64];
                snprintf(label, sizeof(label), "search %s: /", v->title);
                start_prompt(t, PROMPT_SEARCH, label, NULL, NULL, 0);
                return;
        }
        case CMD_NICE_OR_NEXT:
                if (v->search)
                        search_report(t, v, 1, false);
                else
                        value_prompt(t, PROMPT_NICE, "nice", "-20..19");
                return;
        case CMD_PREV_MATCH:
                if (v->search)
                        search_report(t, v, -1, false);
                else
                        tui_status(t, false, "N: no search active (/ searches)");
                return;
        case CMD_CPU_LIMIT:
                value_prompt(t, PROMPT_CPU, "CPU limit", "cores, e.g. 0.5; none lifts");
                return;
        case CMD_MEM_LIMIT:
                value_prompt(t, PROMPT_MEM, "memory limit", "e.g. 512M, 2G; none lifts");
                return;
        case CMD_KILL:
                act(t, "kill", NULL);
                return;
        case CMD_FREEZE:
                act(t, "freeze", NULL);
                return;
        case CMD_THAW:
                act(t, "thaw", NULL);
                return;
        case CMD_VISUAL:
                if (t->view != VIEW_BUILDS || t->log_focused) {
                        tui_status(t, false, "V: visual mode is for the build list");
                        return;
                }
                view_builds_set_visual(t, !view_builds_visual(t));
                return;
        case CMD_YANK:
                yank_field(t, k.arg);
                return;
        case CMD_MOUSE:
                mouse(t);
                return;
        case CMD_RESIZE:
        case CMD_NONE:
        case CMD_PENDING:
                return;
        default:
                break;
        }
        if (v->key && v->key(t, v, k.cmd))
                return;
        if (listnav_move(&v->nav, k.cmd))
                return;
        tui_status(t, false, "this key does nothing in the %s view (? for help)", v->title);
}

void input_key(Tui *t, int key) {
        if (t->show_help) {
                help_key(t, keys_feed(&t->keys, key));
                return;
        }
        if (t->prompt) {
                if (key == KC_RESIZE || key == KC_MOUSE)
                        return;
                PromptResult r = prompt_feed(t->prompt, key);
                if (r == PROMPT_SUBMIT)
                        prompt_submit(t);
                else if (r == PROMPT_CANCEL) {
                        t->prompt = prompt_free(t->prompt);
                        tui_status(t, false, "cancelled");
                }
        } else {
                KeyResult k = keys_feed(&t->keys, key);
                if (k.cmd == CMD_PENDING)
                        t->status[0] = 0;
                command(t, k);
        }
}
