/* Subscriptions: turns the model's coalesced changes, and the sampler's look at a build's
 * processes, into events for control clients. */
#pragma once

#include "daemon/daemon.h"

/* Sends what changed since the last flush to every subscribed client. Cheap when nothing
 * changed; called after every loop dispatch and before answering a request, so that a
 * response never overtakes the events that precede it. */
void notify_flush(Daemon *d);
/* Sends a "processes" event for b to every client that subscribed to them (the sampler, after
 * each look at b's processes). */
void notify_processes(Daemon *d, const Build *b);
