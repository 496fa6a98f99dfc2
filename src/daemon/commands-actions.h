/* Control commands on builds as processes (commands-actions.c): get-processes and the
 * actions. Handlers for commands.c's table. */
#pragma once

#include <cjson/cJSON.h>

#include "daemon/reply.h"

int command_get_processes(ControlConn *c, const ControlRequest *req, Reply *r);
int command_kill(ControlConn *c, const ControlRequest *req, Reply *r);
int command_freeze(ControlConn *c, const ControlRequest *req, Reply *r);
int command_thaw(ControlConn *c, const ControlRequest *req, Reply *r);
int command_nice(ControlConn *c, const ControlRequest *req, Reply *r);
int command_cpu_limit(ControlConn *c, const ControlRequest *req, Reply *r);
int command_mem_limit(ControlConn *c, const ControlRequest *req, Reply *r);

/* A build's processes, cgroup and control mechanism, as get-processes shows them (also
 * used by get-build, snapshot and the "processes" subscription). NULL on OOM. */
cJSON *processes_to_json(Daemon *d, const Build *b);
/* The sampler's settings and costs, for status. */
cJSON *sampler_status_json(Daemon *d);
/* Sends a "processes" event for b to every client that subscribed to them. */
void notify_processes(Daemon *d, const Build *b);
