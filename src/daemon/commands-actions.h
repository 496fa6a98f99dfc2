/* Control commands on builds as processes (commands-actions.c): get-processes and the
 * actions. Handlers for commands.c's table. */
#pragma once

#include "daemon/reply.h"

int command_get_processes(ControlConn *c, const ControlRequest *req, Reply *r);
int command_kill(ControlConn *c, const ControlRequest *req, Reply *r);
int command_freeze(ControlConn *c, const ControlRequest *req, Reply *r);
int command_thaw(ControlConn *c, const ControlRequest *req, Reply *r);
int command_nice(ControlConn *c, const ControlRequest *req, Reply *r);
int command_cpu_limit(ControlConn *c, const ControlRequest *req, Reply *r);
int command_mem_limit(ControlConn *c, const ControlRequest *req, Reply *r);
