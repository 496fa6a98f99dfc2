/* History (h): finished builds from the daemon's database, sortable (s: order, S: reverse),
 * details on Enter. */
#pragma once

#include "tui/tui.h"

int view_history_new(Tui *t, View **ret);
