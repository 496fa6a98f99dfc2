/* Drawing helpers over curses: text cut to a width (UTF-8 aware), padded, with attributes. */
#pragma once

#include <stdbool.h>

#include "tui/screen.h"

/* Writes s at (y, x) in at most w cells, cut with an ellipsis; pads with spaces to w when
 * pad. right: right-aligned. Returns the cells written. */
int draw_text(const Screen *scr, int y, int x, int w, int attr, const char *s, bool pad, bool right);
/* Like draw_text with a printf format, padded. */
int draw_printf(const Screen *scr, int y, int x, int w, int attr, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));
/* Fills cells (y, x..x+w) with attr (a selection bar). */
void draw_fill(int y, int x, int w, int attr);
/* Writes s at (y, x) within w cells, highlighting occurrences of pattern with hl_attr. */
void draw_highlight(const Screen *scr, int y, int x, int w, int attr, int hl_attr, const char *s,
                    const char *pattern);
