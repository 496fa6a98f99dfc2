/* The OOM killer's kills, attributed (docs/protocol.md "list-oom"): each build's cgroup count
 * (memory.events / memory.oom_control, read by the sampler) and the kernel log (/dev/kmsg,
 * read on the event loop) name the victim and the build it belonged to; a victim outside
 * every build is "not a build", with the builds that held the most memory then. The last
 * OOM_EVENTS_MAX are kept in memory; each is also written to history. */
#pragma once

#include <cjson/cJSON.h>

#include "daemon/daemon.h"
#include "daemon/tracker.h"

#define OOM_EVENTS_MAX 64
#define OOM_TOP        3

/* kmsg_path NULL: the kernel log is not read (then only builds' groups tell of kills). Never
 * fails for an unreadable log: status says why. */
int oom_new(Daemon *d, const char *kmsg_path, Oom **ret);
Oom *oom_free(Oom *o);

/* The sampler read the OOM killer's count in t's group: kills beyond those recorded become
 * events (the kernel log names their victim when it can). */
void oom_build_count(Oom *o, Tracked *t, Build *b, uint64_t kills);
/* Writes to history the events that have waited long enough for the kernel log's word. */
void oom_tick(Oom *o);

/* Kills recorded since the start: in builds, and of processes of no build. */
void oom_counts(Oom *o, uint64_t *ret_builds, uint64_t *ret_other);
/* The "oom" member of status: whether the kernel log is read, counts. */
cJSON *oom_status_json(Oom *o);
/* The events, oldest first (list-oom's "events"). */
cJSON *oom_events_json(Oom *o);
