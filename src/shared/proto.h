/* Control protocol framing (docs/protocol.md): requests in, responses and events out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "shared/proto-version.h"

#define NA_MAX_LINE (1024 * 1024) /* longest event or control request line */

/* Error codes of responses. */
#define NA_ERR_BAD_REQUEST          "bad-request"
#define NA_ERR_UNKNOWN_COMMAND      "unknown-command"
#define NA_ERR_NOT_FOUND            "not-found"
#define NA_ERR_AMBIGUOUS            "ambiguous"
#define NA_ERR_PERMISSION_DENIED    "permission-denied"
#define NA_ERR_UNSUPPORTED_PROTOCOL "unsupported-protocol"
#define NA_ERR_TOO_LARGE            "too-large"
#define NA_ERR_INTERNAL             "internal"
#define NA_ERR_UNAVAILABLE          "unavailable" /* history store unavailable, or a query over its time budget */

/* Error codes of actions (docs/protocol.md "Action errors"). */
#define NA_ERR_NOT_RUNNING "not-running"
#define NA_ERR_NO_PROCESS  "no-process"
#define NA_ERR_UNSUPPORTED "unsupported"
#define NA_ERR_FAILED      "failed"

typedef struct ControlRequest {
        cJSON *root;
        const cJSON *id;   /* number or string; NULL when the request had none */
        const char *cmd;   /* points into root */
        const cJSON *args; /* object, or NULL when absent */
} ControlRequest;

/* Parses one request line. On -EBADMSG/-EPROTO, *ret_error (static text) says why and
 * ret->id may still be set (when the line was an object with an id) so the error can echo it;
 * the caller must still call control_request_done(). */
int control_request_parse(const char *buf, size_t len, ControlRequest *ret, const char **ret_error);
void control_request_done(ControlRequest *req);

/* Typed access to args: return 0, -ENOENT when absent (or null), -EINVAL on a wrong type. */
int control_arg_string(const ControlRequest *req, const char *key, const char **ret);
int control_arg_int(const ControlRequest *req, const char *key, long long *ret);
int control_arg_bool(const ControlRequest *req, const char *key, bool *ret);
const cJSON *control_arg(const ControlRequest *req, const char *key);

/* Serialised, newline-terminated response lines; they take ownership of result/extra.
 * Return NULL on allocation failure. */
char *control_format_result(const cJSON *id, cJSON *result, size_t *ret_len);
char *control_format_error(const cJSON *id, const char *code, const char *message, cJSON *extra,
                           size_t *ret_len);
/* An asynchronous event line {"event":name, ...fields}; takes ownership of fields (an object). */
char *control_format_event(const char *name, cJSON *fields, size_t *ret_len);
