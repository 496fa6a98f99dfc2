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

/* Keeps of keys[0..n) the builds action (kill, freeze, thaw, nice, cpu-limit, mem-limit) can
 * act on: running or frozen ones (freeze: running, thaw: frozen), not queued or ended ones.
 * Returns how many are kept, in order; with none, says why in the status line. */
size_t actions_applicable(Tui *t, const char *action, BuildRef *keys, size_t n);

/* The builds by name for a confirmation: "tui-a, tui-b, tui-c and 2 more" (in buf), each name
 * cut in its middle to share `cells` with the others. */
const char *actions_names(Tui *t, const BuildRef *keys, size_t n, size_t cells, char *buf, size_t len);

/* Frees the bookkeeping of actions still unanswered (at exit). */
void actions_free_all(Tui *t);
