/* History (h): finished builds from the daemon's database, sortable (s: order, S: reverse),
 * details on Enter. */
#pragma once

#include "tui/tui.h"

int view_history_new(Tui *t, View **ret);
/* The row under the cursor (NULL: none), and the host whose history is shown. */
const cJSON *view_history_selected(Tui *t);
unsigned view_history_host(Tui *t);
