/* The dependency tree (d) of the selected build's invocation: node states, foldable
 * (zc/zo/za), searchable, asked for again every two seconds while shown. */
#pragma once

#include "tui/tui.h"

int view_deps_new(Tui *t, View **ret);
