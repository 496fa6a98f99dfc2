/* The log panel: the selected build's log, followed live over a connection of its own
 * (get-log with follow), scrollable and searchable. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tui/tui.h"

int view_log_new(Tui *t, View **ret);
/* Follows this build's log (key 0: none). Does nothing when it is already followed. */
void view_log_follow(Tui *t, BuildRef ref);
/* The panel follows the newest line again (F; G in the focused panel). */
void view_log_resume(Tui *t);
/* The lines held, joined by newlines (a new string, for yank), or NULL. */
char *view_log_text(Tui *t, size_t max_bytes);
