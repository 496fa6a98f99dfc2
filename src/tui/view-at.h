/* At (@, nix-analytics --at TIME): the screen as it was at a past instant, from the daemon's
 * `at`: the builds running then with their CPU, memory and processes then and how each ended,
 * and the machine's CPU, load, memory, swap and pressure. [ and ] move a minute through time,
 * { and } ten, @ asks for a time; Enter: a build's details. */
#pragma once

#include "basic/time-util.h"
#include "tui/tui.h"

int view_at_new(Tui *t, View **ret);
/* Shows the view at t (realtime) for host's daemon (an index in Tui.hosts). */
void view_at_show(Tui *t, unsigned host, usec_t at);
/* Moves its instant by delta seconds (not past now). */
void view_at_move(Tui *t, int64_t delta_sec);
