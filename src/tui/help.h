/* The help page (?): every key, column, colour, state and failure word, drawn over the whole
 * screen and scrolled until closed. */
#pragma once

#include "tui/keys.h"
#include "tui/tui.h"

/* Shows the help from its first line. */
void help_open(Tui *t);
/* A key while the help is shown: scrolls it, or closes it (q, Esc, ?, any unbound key). */
void help_key(Tui *t, KeyResult k);
void help_draw(Tui *t, int rows, int cols);
