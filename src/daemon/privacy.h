/* What each control client sees (docs/protocol.md "Trust model"): root, the admin group and a
 * build's requester see its command lines; others see null in their place (the requester's
 * command line, its processes' command lines, history rows). Secrets are already gone from
 * what is kept (shared/redact.h); this hides the rest of other users' command lines. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "daemon/control-conn.h"

/* Root, or a member of the admin group (from the peer's credentials at connect). */
bool privacy_privileged(ControlConn *c);
/* May c see the command lines of what uid requested (-1: unknown requester)? */
bool privacy_sees(ControlConn *c, int64_t requester_uid);
/* Replaces, in a reply or event about to be sent to c, every command line c may not see. */
void privacy_filter(ControlConn *c, cJSON *root);
