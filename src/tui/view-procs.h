/* The process view (p): the selected build's process tree (pid, user, state, CPU %, RSS,
 * command), asked for again every second while shown. */
#pragma once

#include "tui/tui.h"

int view_procs_new(Tui *t, View **ret);
