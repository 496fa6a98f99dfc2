/* Instants as people type them, for `at` (nix-analytics-ctl at, nix-analytics --at): "03:12"
 * (today, or yesterday when that is still to come), "yesterday 14:00", "today 9:30:15",
 * "-2h", "90m ago", "1d", "2026-12-07T03:12", "2026-12-07 03:12:30", with "Z" or "+01:00",
 * "2026-12-07" (its midnight), "@1733541120" (unix seconds), "now". Local time unless a zone is
 * given. */
#pragma once

#include "basic/time-util.h"

/* *ret: realtime microseconds. 0, or -EINVAL for anything else. */
int when_parse(const char *s, usec_t now, usec_t *ret);
