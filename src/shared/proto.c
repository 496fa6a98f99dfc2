/* Control protocol framing (docs/protocol.md): requests in, responses and events out. */
#include "shared/proto.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "basic/string-util.h"

/* Requests are small: nesting deeper than this is an attack or a bug, not a request. */
#define CONTROL_MAX_DEPTH 16

static bool nesting_ok(const char *buf, size_t len) {
        int depth = 0;
        bool in_string = false;
        for (size_t i = 0; i < len; i++) {
                char c = buf[i];
                if (in_string) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_string = false;
                } else if (c == '"')
                        in_string = true;
                else if (c == '{' || c == '[') {
                        if (++depth > CONTROL_MAX_DEPTH)
                                return false;
                } else if (c == '}' || c == ']')
                        depth--;
        }
        return true;
}

int control_request_parse(const char *buf, size_t len, ControlRequest *ret, const char **ret_error) {
        *ret = (ControlRequest){};

        if (!utf8_is_valid(buf, len)) {
                *ret_error = "request is not valid UTF-8";
                return -EBADMSG;
        }
        if (!nesting_ok(buf, len)) {
                *ret_error = "request nested too deeply";
                return -EBADMSG;
        }
        ret->root = cJSON_ParseWithLength(buf, len);
        if (!ret->root) {
                *ret_error = "request is not valid JSON";
                return -EBADMSG;
        }
        if (!cJSON_IsObject(ret->root)) {
                *ret_error = "request is not a JSON object";
                return -EBADMSG;
        }

        const cJSON *id = cJSON_GetObjectItemCaseSensitive(ret->root, "id");
        if (id && (cJSON_IsNumber(id) || cJSON_IsString(id)))
                ret->id = id;
        else if (id && !cJSON_IsNull(id)) {
                *ret_error = "\"id\" must be a number or a string";
                return -EPROTO;
        }

        const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(ret->root, "cmd");
        if (!cJSON_IsString(cmd)) {
                *ret_error = "\"cmd\" missing or not a string";
                return -EPROTO;
        }
        ret->cmd = cmd->valuestring;

        const cJSON *args = cJSON_GetObjectItemCaseSensitive(ret->root, "args");
        if (args && !cJSON_IsNull(args) && !cJSON_IsObject(args)) {
                *ret_error = "\"args\" must be an object";
                return -EPROTO;
        }
        ret->args = cJSON_IsObject(args) ? args : NULL;
        return 0;
}

void control_request_done(ControlRequest *req) {
        cJSON_Delete(req->root);
        *req = (ControlRequest){};
}

const cJSON *control_arg(const ControlRequest *req, const char *key) {
        if (!req->args)
                return NULL;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->args, key);
        return cJSON_IsNull(v) ? NULL : v;
}

int control_arg_string(const ControlRequest *req, const char *key, const char **ret) {
        const cJSON *v = control_arg(req, key);
        if (!v)
                return -ENOENT;
        if (!cJSON_IsString(v))
                return -EINVAL;
        *ret = v->valuestring;
        return 0;
}

int control_arg_int(const ControlRequest *req, const char *key, long long *ret) {
        const cJSON *v = control_arg(req, key);
        if (!v)
                return -ENOENT;
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 9e15)
                return -EINVAL;
        *ret = (long long) v->valuedouble;
        return 0;
}

int control_arg_bool(const ControlRequest *req, const char *key, bool *ret) {
        const cJSON *v = control_arg(req, key);
        if (!v)
                return -ENOENT;
        if (!cJSON_IsBool(v))
                return -EINVAL;
        *ret = cJSON_IsTrue(v);
        return 0;
}

/* Prints obj compactly with a trailing newline, and frees it. */
static char *format_line(cJSON *obj, size_t *ret_len) {
        if (!obj)
                return NULL;
        char *s = cJSON_PrintUnformatted(obj);
        cJSON_Delete(obj);
        if (!s)
                return NULL;
        size_t n = strlen(s);
        char *line = realloc(s, n + 2);
        if (!line) {
                free(s);
                return NULL;
        }
        line[n] = '\n';
        line[n + 1] = '\0';
        if (ret_len)
                *ret_len = n + 1;
        return line;
}

static cJSON *new_response(const cJSON *id) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON *idc = id ? cJSON_Duplicate(id, false) : cJSON_CreateNull();
        if (!idc || !cJSON_AddItemToObject(o, "id", idc)) {
                cJSON_Delete(idc);
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

char *control_format_result(const cJSON *id, cJSON *result, size_t *ret_len) {
        cJSON *o = new_response(id);
        if (!o || !result || !cJSON_AddItemToObject(o, "result", result)) {
                cJSON_Delete(result);
                cJSON_Delete(o);
                return NULL;
        }
        return format_line(o, ret_len);
}

char *control_format_error(const cJSON *id, const char *code, const char *message, cJSON *extra,
                           size_t *ret_len) {
        cJSON *o = new_response(id);
        cJSON *err = extra ? extra : cJSON_CreateObject();
        if (!o || !err || !cJSON_AddStringToObject(err, "code", code) ||
            !cJSON_AddStringToObject(err, "message", message) || !cJSON_AddItemToObject(o, "error", err)) {
                cJSON_Delete(err);
                cJSON_Delete(o);
                return NULL;
        }
        return format_line(o, ret_len);
}

char *control_format_event(const char *name, cJSON *fields, size_t *ret_len) {
        /* "event" goes first so that a reader can dispatch before looking at the rest. */
        cJSON *o = cJSON_CreateObject();
        if (!o || !fields || !cJSON_AddStringToObject(o, "event", name)) {
                cJSON_Delete(o);
                cJSON_Delete(fields);
                return NULL;
        }
        while (fields->child) {
                cJSON *item = cJSON_DetachItemViaPointer(fields, fields->child);
                /* cJSON copies the key before releasing the item's old one. */
                if (!cJSON_AddItemToObject(o, item->string, item)) {
                        cJSON_Delete(item);
                        cJSON_Delete(fields);
                        cJSON_Delete(o);
                        return NULL;
                }
        }
        cJSON_Delete(fields);
        return format_line(o, ret_len);
}
