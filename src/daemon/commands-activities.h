/* The list-activities request (docs/protocol.md "list-activities"). */
#pragma once

#include "daemon/reply.h"

int command_list_activities(ControlConn *c, const ControlRequest *req, Reply *r);
