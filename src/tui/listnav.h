/* A cursor over a list of rows shown in a window of some height: moves (j/k, half and whole
 * pages, top, bottom) and the scroll offset that keeps the cursor in view. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "tui/keys.h"

typedef struct ListNav {
        size_t cur;    /* selected row */
        size_t top;    /* first row shown */
        size_t count;  /* rows */
        size_t height; /* rows shown (the last draw's) */
} ListNav;

/* Sets the row count (rows changed), keeping the cursor inside. */
void listnav_set_count(ListNav *n, size_t count);
/* Applies a movement command; false when cmd is not a movement. */
bool listnav_move(ListNav *n, Cmd cmd);
/* Moves to row i (clamped). */
void listnav_goto(ListNav *n, size_t i);
/* Fixes top for the given height so that cur is visible. */
void listnav_scroll(ListNav *n, size_t height);
