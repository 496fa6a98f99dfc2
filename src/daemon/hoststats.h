/* The machine's own figures every 10 s (on whole tens of seconds): CPU busy, load, memory and
 * swap used, pressure, builds running. The last hour stays in memory (the TUI's header graph,
 * `at` for the last hour without a history read); every sample goes to history, where `at`
 * finds older ones (thinned to one a minute after a week). */
#pragma once

#include <cjson/cJSON.h>

#include "basic/time-util.h"
#include "daemon/daemon.h"
#include "shared/history.h"

#define HOSTSTATS_INTERVAL (10 * USEC_PER_SEC)
#define HOSTSTATS_KEEP     360 /* an hour */

typedef struct HostStats HostStats;

int hoststats_new(Daemon *d, HostStats **ret);
HostStats *hoststats_free(HostStats *hs);

/* The sample at or before t, at most one interval older, from the last hour: 0 with *ret,
 * -ENOENT. */
int hoststats_at(HostStats *hs, usec_t t, MachineSample *ret);
/* A sample as JSON (docs/protocol.md "machine sample"). */
cJSON *hoststats_sample_json(const MachineSample *s);
/* The newest sample: 0 with *ret, -ENOENT before the first. */
int hoststats_latest(HostStats *hs, MachineSample *ret);
