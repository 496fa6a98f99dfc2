/* Control requests: parse, authorise, answer (docs/protocol.md "Commands"). */
#pragma once

#include <stddef.h>

#include <cjson/cJSON.h>

#include "daemon/control-conn.h"

/* Handles one request line from a client; the response (or error) is queued on c. */
void commands_dispatch(ControlConn *c, const char *line, size_t len);

struct Reply;
/* Sends a reply (result or error) echoing id, and releases what it holds. */
void commands_send_reply(ControlConn *c, const cJSON *id, struct Reply *r);
