/* Help text: the keymap of keys.c in words. */
#include "tui/help.h"

#include <curses.h>

#include "basic/macro.h"
#include "tui/draw.h"

static const char *const help_lines[] = {
        "j/k, arrows      down/up             Ctrl-d/Ctrl-u  half page down/up",
        "gg/G, Home/End   top/bottom          PgDn/PgUp      page down/up",
        "F                the log panel follows again (scrolling up in it pauses; G too)",
        "K then k/f/u     kill/freeze/unfreeze the selected build(s)",
        "n                nice prompt; with a search active: next match (N: previous)",
        "c / m            CPU limit (cores) / memory limit (bytes) prompt",
        "V                visual mode: a range of rows; actions apply to all of it",
        "y then d/n/o/p/r/c/l  yank drv/name/output/pid/requester/command/log",
        "p                process view        d  dependency tree (invocation, history row)",
        "l                log panel           Tab focus the log panel / the list",
        "h                history             r  remote machines",
        "f                filter builds       /  search in the focused view",
        "a                all activities: substitutions, downloads, copies, hooks",
        "t                tree by invocation / flat list of active builds",
        "H                one host's builds, the next one's, ... all (with several -H)",
        "s / S            sort by next column (CPU, memory, times: highest first) / reverse",
        "z then c/o/a     fold close/open/toggle (invocation, dependency node)",
        "Running first, then queued, then ended; an ended invocation folds itself.",
        "A failed build's STATE says why (exit 3, signal 9, dep failed, oom-killed) in red;",
        "n10 cpu0.5 mem64M after a name: its nice and limits in force.",
        "Enter            details             Esc  leave a mode/view/search/filter",
        "mouse            click selects a row, wheel scrolls",
        "?                this help           q  quit",
        "",
        "Actions go to the running or frozen builds shown in the selection, name them and",
        "ask first for several; the status line shows the result and the mechanism, the",
        "daemon's error, or why nothing was sent.",
        "                                  (any key closes this help)",
};

void help_draw(Tui *t, int rows, int cols) {
        const Screen *scr = t->screen;
        int h = MIN((int) ELEMENTSOF(help_lines) + 2, rows), w = MIN(84, cols);
        int y = MAX((rows - h) / 2, 0), x = MAX((cols - w) / 2, 0);
        const Glyphs *g = screen_glyphs(scr);
        for (int i = 0; i < h; i++)
                draw_fill(y + i, x, w, A_REVERSE);
        if (!g->ascii) {
                attron(A_REVERSE);
                mvaddstr(y, x, "┌");
                mvaddstr(y, x + w - 1, "┐");
                mvaddstr(y + h - 1, x, "└");
                mvaddstr(y + h - 1, x + w - 1, "┘");
                for (int i = 1; i < w - 1; i++) {
                        mvaddstr(y, x + i, "─");
                        mvaddstr(y + h - 1, x + i, "─");
                }
                for (int i = 1; i < h - 1; i++) {
                        mvaddstr(y + i, x, "│");
                        mvaddstr(y + i, x + w - 1, "│");
                }
                attroff(A_REVERSE);
        }
        draw_text(scr, y, x + 2, w - 4, A_REVERSE | A_BOLD, " nix-analytics keys ", false, false);
        for (int i = 0; i + 2 < h && i < (int) ELEMENTSOF(help_lines); i++)
                draw_text(scr, y + 1 + i, x + 2, w - 4, A_REVERSE, help_lines[i], false, false);
}
