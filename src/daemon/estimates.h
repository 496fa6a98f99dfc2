/* Build ETAs from history: the median duration of the last ETA_SAMPLES successful builds of
 * the same pname on the same machine, else on any machine (scaled by speed factor), counting
 * rows of trusted sources and the requester's own. The event loop keeps the answers per
 * (pname, machine, requester uid), until new rows are written; a miss is looked up on a
 * worker thread (work-queue.h), once however many builds wait for it, and the answer comes
 * back to the loop, which gives it to those builds. A build starting costs a hash lookup,
 * never a query: a slow or locked database delays ETAs, not the loop. */
#pragma once

#include <cjson/cJSON.h>

#include "daemon/daemon.h"

typedef struct Estimates Estimates;

int estimates_new(Daemon *d, Estimates **ret);
Estimates *estimates_free(Estimates *e);

/* Before the model's changes are reported (notify_flush), never while they are: builds that
 * appeared or changed since the last report get their ETA if it is known (a running one now,
 * so that its event carries it; queued ones, of which a plan can announce thousands at once,
 * a few at a time from an idle source, at most 2 ms per loop turn), else once its lookup
 * answers; they are then reported changed. */
void estimates_update(Daemon *d);

/* The "estimates" member of status: answers cached, lookups asked and not yet answered
 * ("asking"), lookups asked since start, and the longest one (ms). */
cJSON *estimates_status_json(Daemon *d);
