/* Build ETAs from history: the median duration of the last ETA_SAMPLES successful builds of
 * the same pname on the same machine, else on any machine (scaled by speed factor), counting
 * rows of trusted sources and the requester's own. Looked up once per (pname, machine,
 * requester uid) and cached until new rows are written, so a build starting costs a hash
 * lookup, not a query. */
#pragma once

#include "daemon/daemon.h"

typedef struct Estimates Estimates;

int estimates_new(Daemon *d, Estimates **ret);
Estimates *estimates_free(Estimates *e);

/* Before the model's changes are reported (notify_flush), never while they are: builds that
 * appeared or changed since the last report get their ETA. A running one gets it now, so that
 * its event carries it; queued ones (a plan can announce thousands at once, each a possible
 * query) are looked up a few at a time from an idle source, at most 2 ms per loop turn, then
 * reported changed. */
void estimates_update(Daemon *d);
/* The estimate for pname on machine (local: "") for a build requested by uid (-1 unknown):
 * from trusted history rows and uid's own untrusted ones. 0 with *ret, -ENODATA without
 * history. */
int estimates_lookup(Daemon *d, const char *pname, const char *machine, int64_t uid, BuildEta *ret);
