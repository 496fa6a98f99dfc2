/* Details of one object (a build, an invocation, a history row): every field of the daemon's
 * JSON as "key: value" lines, nested objects indented. */
#pragma once

#include <cjson/cJSON.h>

#include "tui/tui.h"

int view_detail_new(Tui *t, View **ret);
/* Shows a build: its store object at once, then the daemon's fuller get-build answer (log
 * tail, processes) when it comes. */
void view_detail_build(Tui *t, const StoreBuild *b);
/* Shows a history row of host's daemon at once, then the same row with its timeline (CPU and
 * memory over the build's life) when get-history answers. */
void view_detail_history(Tui *t, unsigned host, const cJSON *row);
/* Shows a copy of obj under title. */
void view_detail_set(Tui *t, const char *title, const cJSON *obj);
