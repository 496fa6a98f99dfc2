/* The dependency tree (d) of the selected build's invocation (or, when the daemon no longer
 * holds that graph, of the build's .drv read from the store; from the history view, of the
 * row's .drv): node states, foldable (zc/zo/za), searchable, asked for again every two
 * seconds while shown. */
#pragma once

#include "tui/tui.h"

int view_deps_new(Tui *t, View **ret);
/* Shows the graph of history row id of host (name: for the title). */
void view_deps_show_history(Tui *t, unsigned host, uint64_t id, const char *name);
