/* The list-machines request (docs/protocol.md "list-machines"). */
#pragma once

#include "daemon/reply.h"

int command_list_machines(ControlConn *c, const ControlRequest *req, Reply *r);
