/* A build's processes as the protocol shows them: get-processes, get-build, snapshot and the
 * "processes" event (docs/protocol.md "Processes and actions"). */
#pragma once

#include <cjson/cJSON.h>

#include "daemon/daemon.h"

/* A build's processes, cgroup and control mechanism, as the sampler last saw them. NULL on
 * OOM. */
cJSON *processes_to_json(Daemon *d, const Build *b);
/* A remote build's processes here: the build hook serving it and its ssh, looked for now
 * (only on request: it reads all of /proc). NULL on OOM. */
cJSON *processes_remote_to_json(Daemon *d, const Build *b);
