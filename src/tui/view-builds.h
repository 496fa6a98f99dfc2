/* The build list: a tree grouped by invocation (who asked, what command), or a flat list of
 * active builds (t), with the columns of columns.c, a sort key (s/S), folds (zc/zo/za), a
 * filter (f) and visual mode (V). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tui/tui.h"

int view_builds_new(Tui *t, View **ret);

/* The build under the cursor, or NULL (an invocation row, or nothing). */
StoreBuild *view_builds_current(Tui *t);
/* The builds acted on: the visual range, else the one under the cursor (an invocation row:
 * its active builds), each with its host. Returns how many, and a new array in *ret (NULL
 * when none). */
size_t view_builds_selection(Tui *t, BuildRef **ret);
/* Visual mode on/off. */
bool view_builds_visual(Tui *t);
void view_builds_set_visual(Tui *t, bool on);
/* The invocation of the row under the cursor (0 when none; on tui_current_host()). */
uint64_t view_builds_current_invocation(Tui *t);
/* Current sort: column title, reversed. */
const char *view_builds_sort(Tui *t, bool *ret_descending);
bool view_builds_flat(Tui *t);
/* a: also list what invocations do beside building (substitutions, downloads, copies, hooks;
 * asked for every second while on) and finished builds. */
void view_builds_show_all(Tui *t, bool on);
