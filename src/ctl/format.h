/* Human-readable renderings of the daemon's objects and events: one line per event, columns
 * described by a table of fields per object kind (a new column is one table entry). */
#pragma once

#include <stdio.h>
#include <time.h>

#include <cjson/cJSON.h>

/* Gives the name of the build with this key, or NULL when unknown (for log lines, whose
 * events carry only the key). */
typedef const char *(*FormatBuildName)(void *userdata, double key);

/* Writes one line per event to f ("log" events: one per log line), stamped with the local
 * time when. Unknown events are shown as their JSON. Returns 0 or -errno. */
int format_event(FILE *f, const cJSON *ev, time_t when, FormatBuildName build_name, void *userdata);
