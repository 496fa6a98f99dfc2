/* Text placement for every view. */
#include "tui/draw.h"

#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/fmt.h"

int draw_text(const Screen *scr, int y, int x, int w, int attr, const char *s, bool pad, bool right) {
        if (w <= 0)
                return 0;
        size_t cap = (size_t) w * 4 + 8;
        char *buf = malloc(cap);
        if (!buf)
                return 0;
        fmt_fit(buf, cap, s, (size_t) w, screen_glyphs(scr)->ascii);
        int cells = (int) fmt_width(buf);
        attron(attr);
        if (right && cells < w) {
                mvhline(y, x, ' ', w - cells);
                mvaddstr(y, x + w - cells, buf);
        } else {
                mvaddstr(y, x, buf);
                if (pad && cells < w)
                        mvhline(y, x + cells, ' ', w - cells);
        }
        attroff(attr);
        free(buf);
        return pad ? w : cells;
}

int draw_printf(const Screen *scr, int y, int x, int w, int attr, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *s = NULL;
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return 0;
        r = draw_text(scr, y, x, w, attr, s, true, false);
        free(s);
        return r;
}

void draw_fill(int y, int x, int w, int attr) {
        if (w <= 0)
                return;
        attron(attr);
        mvhline(y, x, ' ', w);
        attroff(attr);
}

void draw_highlight(const Screen *scr, int y, int x, int w, int attr, int hl_attr, const char *s,
                    const char *pattern) {
        draw_text(scr, y, x, w, attr, s, true, false);
        if (!pattern || !*pattern)
                return;
        size_t pl = strlen(pattern);
        for (const char *p = strstr(s, pattern); p; p = strstr(p + pl, pattern)) {
                /* Cell offset of the match: the width of what precedes it. */
                char *pre = strndup(s, (size_t) (p - s));
                if (!pre)
                        return;
                int off = (int) fmt_width(pre);
                free(pre);
                if (off >= w)
                        break;
                draw_text(scr, y, x + off, w - off, hl_attr, pattern, false, false);
        }
}
