/* Control requests: parse, authorise, answer (docs/protocol.md "Commands"). */
#pragma once

#include <stddef.h>

#include "daemon/control-conn.h"

/* Handles one request line from a client; the response (or error) is queued on c. */
void commands_dispatch(ControlConn *c, const char *line, size_t len);
