/* The help overlay (?): every key, drawn over the screen until the next key. */
#pragma once

#include "tui/tui.h"

void help_draw(Tui *t, int rows, int cols);
