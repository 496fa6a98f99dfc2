/* The help page (? or F1): help-text.c's lines over the whole screen, scrolled with the
 * movement keys, closed by q, Esc or ? (or any key without a meaning here). */
#include "tui/help.h"

#include <curses.h>
#include <stdio.h>

#include "basic/macro.h"
#include "tui/draw.h"
#include "tui/help-text.h"

/* The lines below the title row. */
static size_t help_height(Tui *t) {
        int rows, cols;
        screen_size(t->screen, &rows, &cols);
        return (size_t) MAX(rows - 1, 1);
}

/* Text is wrapped one cell short of the width: the last column stays empty. */
static int help_width(Tui *t) {
        int rows, cols;
        screen_size(t->screen, &rows, &cols);
        return MAX(cols - 1, 1);
}

static size_t help_last_top(size_t n, size_t height) {
        return n > height ? n - height : 0;
}

void help_open(Tui *t) {
        t->show_help = true;
        t->help_top = 0;
}

void help_key(Tui *t, KeyResult k) {
        _cleanup_(help_text_done) HelpText h = {};
        if (help_text_build(&h, help_width(t)) < 0)
                return;
        size_t height = help_height(t), last = help_last_top(h.n, height), top = MIN(t->help_top, last);
        int row, col, wheel;
        switch (k.cmd) {
        case CMD_DOWN:
                top = MIN(top + 1, last);
                break;
        case CMD_UP:
                top = top > 0 ? top - 1 : 0;
                break;
        case CMD_HALF_DOWN:
        case CMD_PAGE_DOWN:
                top = MIN(top + (k.cmd == CMD_PAGE_DOWN ? height : height / 2), last);
                break;
        case CMD_HALF_UP:
        case CMD_PAGE_UP: {
                size_t step = k.cmd == CMD_PAGE_UP ? height : height / 2;
                top = top > step ? top - step : 0;
                break;
        }
        case CMD_TOP:
                top = 0;
                break;
        case CMD_BOTTOM:
                top = last;
                break;
        case CMD_MOUSE:
                screen_mouse(t->screen, &row, &col, &wheel);
                if (wheel > 0)
                        top = MIN(top + 3, last);
                else if (wheel < 0)
                        top = top > 3 ? top - 3 : 0;
                break;
        case CMD_PENDING:   /* g of gg */
        case CMD_CANCELLED: /* a sequence that came to nothing */
        case CMD_RESIZE:
                break;
        default: /* q, Esc, ? and keys without a meaning here */
                t->show_help = false;
                break;
        }
        t->help_top = top;
}

void help_draw(Tui *t, int rows, int cols) {
        const Screen *scr = t->screen;
        _cleanup_(help_text_done) HelpText h = {};
        if (help_text_build(&h, help_width(t)) < 0)
                return;
        size_t height = help_height(t);
        t->help_top = MIN(t->help_top, help_last_top(h.n, height));
        size_t end = MIN(t->help_top + height, h.n);
        draw_printf(scr, 0, 0, cols, screen_attr(scr, COL_HEADER),
                    "nix-analytics help  lines %zu-%zu of %zu  (j/k PgDn/PgUp g/G scroll, q/Esc close)",
                    t->help_top + 1, end, h.n);
        for (int y = 1; y < rows; y++) {
                size_t i = t->help_top + (size_t) (y - 1);
                draw_fill(y, 0, cols, 0);
                if (i >= h.n)
                        continue;
                const HelpLine *l = &h.lines[i];
                draw_text(scr, y, 0, cols, l->heading ? A_BOLD : 0, l->text, true, false);
                if (l->sample_len > 0) {
                        /* The sample in its colour, over its own text (ASCII: a byte a cell). */
                        char sample[64];
                        snprintf(sample, sizeof(sample), "%.*s", (int) l->sample_len,
                                 l->text + l->sample_at);
                        draw_text(scr, y, (int) l->sample_at, cols - (int) l->sample_at,
                                  screen_attr(scr, l->colour), sample, false, false);
                }
        }
}
