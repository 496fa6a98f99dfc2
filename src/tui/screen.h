/* The terminal: curses set-up and tear-down, colours (none under NO_COLOR), line-drawing
 * glyphs (UTF-8 or an ASCII fallback), resizes, and frames drawn at most every few
 * milliseconds however often the data changes (no flicker: curses sends only differences). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

typedef enum Colour {
        COL_NORMAL,
        COL_HEADER,
        COL_TITLE, /* column titles */
        COL_SELECTED,
        COL_VISUAL,
        COL_RUNNING,
        COL_QUEUED,
        COL_FROZEN,
        COL_FINISHING,
        COL_SUCCEEDED,
        COL_FAILED,
        COL_DIM,
        COL_ERROR,
        COL_MATCH,
        _COL_MAX,
} Colour;

typedef struct Glyphs {
        const char *tee, *corner, *vbar, *hbar, *fold_open, *fold_closed, *ellipsis;
        const char *sort_up, *sort_down; /* after the sort column's title: ascending, descending */
        bool ascii;
} Glyphs;

typedef struct Screen Screen;

/* Draws the whole screen; called by the screen when a frame is due. */
typedef void (*ScreenDrawFn)(void *userdata);

typedef struct ScreenOptions {
        bool ascii;    /* ASCII line drawing even in a UTF-8 locale */
        bool no_color; /* also set by NO_COLOR in the environment */
        bool mouse;
        uint64_t min_frame_usec; /* shortest time between two frames */
} ScreenOptions;

/* Starts curses on the terminal, watches stdin (key_fn per key, with the KC_* codes of
 * keys.h) and SIGWINCH. */
typedef void (*ScreenKeyFn)(int key, void *userdata);
int screen_new(sd_event *e, const ScreenOptions *o, ScreenDrawFn draw, ScreenKeyFn key, void *userdata,
               Screen **ret);
/* Ends curses and restores the terminal. */
Screen *screen_free(Screen *s);

/* Something changed: a frame is drawn soon (at most one per min_frame_usec). */
void screen_invalidate(Screen *s);
/* Draw now (after a key: the user waits for its effect). */
void screen_draw_now(Screen *s);

const Glyphs *screen_glyphs(const Screen *s);
int screen_attr(const Screen *s, Colour c); /* curses attributes of a colour */
void screen_size(const Screen *s, int *ret_rows, int *ret_cols);

/* The last mouse event translated by the key reader: row, column, and whether it was a wheel
 * step (+1 down, -1 up) or a click (0). */
void screen_mouse(const Screen *s, int *ret_row, int *ret_col, int *ret_wheel);

/* Frame statistics (for the benchmark): frames drawn, total, longest and 99th percentile
 * draw time (to 0.1 ms). */
typedef struct ScreenStats {
        uint64_t frames, total_usec, max_usec, p99_usec;
} ScreenStats;
void screen_stats(const Screen *s, ScreenStats *ret);
