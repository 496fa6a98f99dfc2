/* What a control command produces, and the helpers every command module shares:
 * error replies and build-target resolution (docs/protocol.md "Errors", "Build targets"). */
#pragma once

#include <cjson/cJSON.h>

#include "basic/macro.h"
#include "daemon/control-conn.h"
#include "daemon/daemon.h"
#include "shared/model.h"
#include "shared/proto.h"

/* A result object, or an error (code, message, optional extra members). */
typedef struct Reply {
        cJSON *result;
        const char *code;
        char *message;
        cJSON *extra;
        bool deferred; /* answered later by the handler's own means (commands_send_reply) */
} Reply;

/* A command: fills r with a result or an error. Returns 0 or a negative errno. */
typedef int (*CommandHandler)(ControlConn *c, const ControlRequest *req, Reply *r);

/* Sets the error; returns -EINVAL so handlers can "return reply_error(...)". */
_printf_(3, 4) int reply_error(Reply *r, const char *code, const char *fmt, ...);
int reply_oom(Reply *r);

/* Resolves a build target (key, drv path, name or glob). On several matches, a single
 * active one wins; otherwise the reply is "ambiguous" with the candidates. */
int resolve_build(Daemon *d, const cJSON *target, Reply *r, Build **ret);

/* A "state" argument: one build state or an array of them, as a mask of 1 << BuildState. */
int reply_parse_states(const cJSON *v, unsigned *ret, Reply *r);
