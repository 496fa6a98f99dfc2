/* The help page's text: the keys, then every column, colour, state and failure word the
 * screen shows, each taken from the table that owns it (columns.c, fmt.c), wrapped to a
 * width. Pure (no curses), so its content is unit-tested. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "tui/screen.h"

typedef struct HelpLine {
        char *text;
        bool heading;
        /* A sample drawn in its colour: text's bytes [sample_at, sample_at + sample_len). */
        Colour colour;
        size_t sample_at, sample_len;
} HelpLine;

typedef struct HelpText {
        HelpLine *lines;
        size_t n, cap;
        int width; /* what the lines were wrapped to */
} HelpText;

/* The page for a screen `width` cells wide (no line wider, words kept whole where they fit).
 * -ENOMEM. */
int help_text_build(HelpText *h, int width);
void help_text_done(HelpText *h);
