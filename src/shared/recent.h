/* How builds ended lately, in a few words: the last hour's outcomes a daemon counts from its
 * history (status "recent"), so that they survive its restarts; without history, the builds
 * a client holds, by state. Shown by the TUI's header and `nix-analytics-ctl status`. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "shared/model.h"

typedef struct Recent {
        bool known;             /* the daemon sent its counts */
        double window;          /* seconds */
        unsigned n[_COUNT_MAX]; /* the final counts (succeeded to lost) */
} Recent;

/* From a status result (NULL, or one without "recent": not known). */
void recent_parse(Recent *r, const cJSON *status);
/* Adds b's counts to a (known when either is). */
void recent_add(Recent *a, const Recent *b);
/* "last hour: 12 ok 1 failed 3 dep 1 killed" (ok and failed always, the other kinds when some
 * ended so); unknown: "2 failed 1 killed" from by_state (the store's counts by BuildState). */
char *recent_format(const Recent *r, const unsigned *by_state, char *buf, size_t n);
