/* Subscriptions: turns the model's coalesced changes into events for control clients. */
#pragma once

#include "daemon/daemon.h"

/* Sends what changed since the last flush to every subscribed client. Cheap when nothing
 * changed; called after every loop dispatch and before answering a request, so that a
 * response never overtakes the events that precede it. */
void notify_flush(Daemon *d);
