/* Control commands over the history store and the dependency graphs. */
#pragma once

#include "daemon/reply.h"

int cmd_get_history(ControlConn *c, const ControlRequest *req, Reply *r);
int cmd_stats(ControlConn *c, const ControlRequest *req, Reply *r);
int cmd_get_oom_history(ControlConn *c, const ControlRequest *req, Reply *r);
int cmd_at(ControlConn *c, const ControlRequest *req, Reply *r);
int cmd_deps(ControlConn *c, const ControlRequest *req, Reply *r);
