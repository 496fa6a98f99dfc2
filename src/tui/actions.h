/* Acting on builds: one request per build (kill, freeze, thaw, nice, cpu-limit, mem-limit),
 * the answers gathered into one status line with the mechanism the daemon used, or its
 * error text when it refused. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tui/tui.h"

/* Sends cmd for each build (to its host's daemon) with the members of args (may be NULL; copied per build)
 * added. Returns 0 or -errno (not connected). */
int actions_run(Tui *t, const char *cmd, const cJSON *args, const BuildRef *keys, size_t n);

/* Frees the bookkeeping of actions still unanswered (at exit). */
void actions_free_all(Tui *t);
