/* The help page's content and its wrapping. */
#include "tui/help-text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "shared/fmt.h"
#include "shared/model.h"
#include "tui/columns.h"
#include "tui/store.h"

/* The term column: a key, a column title or a colour's sample. Longer terms put their
 * description on the next line. */
#define TERM_INDENT 2
#define TERM_WIDTH  16

typedef struct HelpEntry {
        const char *term, *text;
} HelpEntry;

static const HelpEntry help_keys[] = {
        {"j/k, arrows", "down/up (here too: the help scrolls)"},
        {"Ctrl-d/Ctrl-u", "half a page down/up"},
        {"PgDn/PgUp", "a page down/up"},
        {"gg/G, Home/End", "top/bottom"},
        {"Enter", "details of the selected row"},
        {"Esc", "leave a mode, a view, a search or the filter"},
        {"Tab", "focus the log panel / the list"},
        {"l", "log panel of the selected build"},
        {"F", "the log panel follows again (scrolling up in it pauses; G too)"},
        {"p", "processes of the selected build"},
        {"d", "dependency tree of the selected invocation (in the history: of the row's .drv)"},
        {"@", "the screen at a past instant (in the history: the selected build's middle; "
              "elsewhere it asks for a time: 03:12, -2h, yesterday 14:00)"},
        {"h", "history of finished builds"},
        {"r", "remote machines"},
        {"[ / ], { / }", "in the at view: a minute back / on, ten minutes back / on"},
        {"f", "filter builds (text or glob, host:NAME)"},
        {"/", "search in the focused view; the status line says match i of N"},
        {"n / N", "next / previous match, wrapping; without a search n is the nice prompt (-20..19)"},
        {"K then k/f/u", "kill / freeze / unfreeze the selected build(s)"},
        {"c / m", "CPU limit (cores) / memory limit (bytes) prompt"},
        {"V", "visual mode: a range of rows; actions apply to all of it"},
        {"y then d/n/o/p/r/c/l", "yank drv / name / output / pid / requester / command / log"},
        {"a", "all activities: substitutions, downloads, copies, hooks"},
        {"t", "tree by invocation / flat list of active builds"},
        {"H", "one host's builds, the next one's, ... all (with several -H)"},
        {"s / S", "sort by the next column (CPU, memory, times: highest first) / reverse"},
        {"z then c/o/a", "fold close / open / toggle (invocation, dependency node)"},
        {"mouse", "a click selects a row, the wheel scrolls"},
        {"?, F1", "this help"},
        {"q", "quit"},
};

static const char *const help_order =
        "Running builds come first, then queued ones, then those that ended; an invocation "
        "whose builds all ended folds itself (zo opens it). Actions go to the running or "
        "frozen builds of the selection, name them and ask first for several; the status line "
        "shows the result and the mechanism, the daemon's error, or why nothing was sent.";

/* What each colour means, with a sample drawn in it. */
static const struct {
        Colour colour;
        const char *sample, *text;
} help_colours[] = {
        {COL_RUNNING, "running", "a build that runs now"},
        {COL_QUEUED, "queued", "waiting for its inputs or for a build slot"},
        {COL_FROZEN, "FROZEN", "frozen (K f): its processes are stopped until K u"},
        {COL_FINISHING, "finishing", "its processes are gone, Nix has not yet said how it ended"},
        {COL_SUCCEEDED, "succeeded", "built"},
        {COL_FAILED, "exit 3", "failed, killed or lost; the STATE says why"},
        {COL_DIM, "dimmed row",
         "a host that is down or a daemon that went away: what it last said, no longer ticking"},
        {COL_DIM, "n10 cpu0.5 mem64M",
         "the limits marker at a row's end: nice, CPU limit (cores), memory limit in force"},
        {COL_SELECTED, "selection", "the row under the cursor"},
        {COL_VISUAL, "visual range", "rows marked with V: actions apply to all of them"},
        {COL_MATCH, "match", "text matching the search"},
        {COL_ERROR, "error", "what failed, in the status line"},
};

/* What each state means (the STATE column; the names are build_state_to_string()'s). */
static const struct {
        BuildState state;
        const char *text;
} help_states[] = {
        {BUILD_QUEUED, "Nix will build it once its inputs are there and a slot is free"},
        {BUILD_RUNNING, "its builder runs"},
        {BUILD_FROZEN, "its processes are stopped (cgroup freezer); K u resumes them"},
        {BUILD_FINISHING, "its processes are gone; Nix has not yet said how it ended"},
        {BUILD_SUCCEEDED, "its outputs are valid"},
        {BUILD_FAILED, "it failed: instead of \"failed\" the row says why, in the words below"},
        {BUILD_KILLED, "a kill action (K k) ended it"},
        {BUILD_LOST, "its nix process went away without saying how it ended"},
};

static int help_push(HelpText *h, HelpLine l) {
        if (h->n == h->cap) {
                size_t cap = MAX(h->cap * 2, (size_t) 64);
                HelpLine *n = realloc(h->lines, cap * sizeof(HelpLine));
                if (!n)
                        return -ENOMEM;
                h->lines = n;
                h->cap = cap;
        }
        h->lines[h->n++] = l;
        return 0;
}

static int help_line(HelpText *h, bool heading, const char *text) {
        char *s = strdup(text);
        if (!s)
                return -ENOMEM;
        int r = help_push(h, (HelpLine){.text = s, .heading = heading});
        if (r < 0)
                free(s);
        return r;
}

/* Where to cut s to fit `cells` (ASCII text: a byte a cell): at the last space that fits,
 * else hard at cells. Returns the length of the part, *ret_next where the rest starts. */
static size_t help_cut(const char *s, size_t cells, const char **ret_next) {
        size_t l = strlen(s);
        if (l <= cells) {
                *ret_next = s + l;
                return l;
        }
        size_t cut = cells;
        while (cut > 0 && s[cut] != ' ')
                cut--;
        if (cut == 0)
                cut = cells;
        const char *next = s + cut;
        while (*next == ' ')
                next++;
        *ret_next = next;
        return cut;
}

/* "  term            text", text wrapped under itself; a colour's sample is the term. */
static int help_entry(HelpText *h, const char *term, const char *text, bool coloured, Colour colour) {
        int width = MAX(h->width, TERM_INDENT + TERM_WIDTH + 20);
        size_t text_cells = (size_t) (width - TERM_INDENT - TERM_WIDTH);
        size_t tl = strlen(term);
        bool own_line = tl + 1 > TERM_WIDTH;
        const char *p = text;
        bool first = true;
        do {
                const char *next;
                size_t len = help_cut(p, text_cells, &next);
                char *s = NULL;
                const char *t = first ? term : "";
                if (first && own_line) {
                        if (asprintf(&s, "%*s%s", TERM_INDENT, "", term) < 0)
                                return -ENOMEM;
                        next = p; /* the text starts on the next line */
                        len = 0;
                } else if (asprintf(&s, "%*s%-*s%.*s", TERM_INDENT, "", TERM_WIDTH, t, (int) len, p) < 0)
                        return -ENOMEM;
                HelpLine l = {.text = s};
                if (first && coloured)
                        l = (HelpLine){
                                .text = s, .colour = colour, .sample_at = TERM_INDENT, .sample_len = tl};
                int r = help_push(h, l);
                if (r < 0) {
                        free(s);
                        return r;
                }
                first = false;
                p = next;
        } while (*p);
        return 0;
}

/* A paragraph wrapped to the width, indented. */
static int help_paragraph(HelpText *h, const char *text) {
        size_t cells = (size_t) MAX(h->width - TERM_INDENT, 20);
        for (const char *p = text; *p;) {
                const char *next;
                size_t len = help_cut(p, cells, &next);
                char *s = NULL;
                if (asprintf(&s, "%*s%.*s", TERM_INDENT, "", (int) len, p) < 0)
                        return -ENOMEM;
                int r = help_push(h, (HelpLine){.text = s});
                if (r < 0) {
                        free(s);
                        return r;
                }
                p = next;
        }
        return 0;
}

int help_text_build(HelpText *h, int width) {
        int r;
        help_text_done(h);
        h->width = width;

        if ((r = help_line(h, true, "KEYS")) < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(help_keys); i++)
                if ((r = help_entry(h, help_keys[i].term, help_keys[i].text, false, 0)) < 0)
                        return r;
        if ((r = help_paragraph(h, help_order)) < 0)
                return r;

        if ((r = help_line(h, false, "")) < 0 || (r = help_line(h, true, "COLUMNS")) < 0)
                return r;
        for (size_t i = 0; i < n_columns; i++)
                if ((r = help_entry(h, columns[i].title, columns[i].help, false, 0)) < 0)
                        return r;

        if ((r = help_line(h, false, "")) < 0 || (r = help_line(h, true, "COLOURS")) < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(help_colours); i++)
                if ((r = help_entry(h, help_colours[i].sample, help_colours[i].text, true,
                                    help_colours[i].colour)) < 0)
                        return r;

        if ((r = help_line(h, false, "")) < 0 || (r = help_line(h, true, "STATES")) < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(help_states); i++) {
                char name[32];
                fmt_state(name, sizeof(name), store_state_name(help_states[i].state), NULL);
                if ((r = help_entry(h, name, help_states[i].text, false, 0)) < 0)
                        return r;
        }

        if ((r = help_line(h, false, "")) < 0 || (r = help_line(h, true, "WHY A BUILD FAILED")) < 0)
                return r;
        const char *words, *meaning;
        for (size_t i = 0; fmt_failure_word(i, &words, &meaning) > 0; i++)
                if ((r = help_entry(h, words, meaning, false, 0)) < 0)
                        return r;
        if ((r = help_entry(h, "failed", "a failure without words of its own (the details say more)", false,
                            0)) < 0)
                return r;

        if ((r = help_line(h, false, "")) < 0 ||
            (r = help_line(h, false, "  end of help: q, Esc or ? closes it")) < 0)
                return r;
        return 0;
}

void help_text_done(HelpText *h) {
        for (size_t i = 0; i < h->n; i++)
                free(h->lines[i].text);
        free(h->lines);
        *h = (HelpText){};
}
