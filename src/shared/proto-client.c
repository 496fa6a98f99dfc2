/* The client side of the control protocol: request framing and reply classification. */
#include "shared/proto-client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/json-read.h"
#include "shared/proto.h"

int proto_request_format(uint64_t id, const char *cmd, cJSON *args, char **ret, size_t *ret_len) {
        _cleanup_(cJSON_Deletep) cJSON *req = cJSON_CreateObject();
        if (!req || !cJSON_AddNumberToObject(req, "id", (double) id) ||
            !cJSON_AddStringToObject(req, "cmd", cmd)) {
                cJSON_Delete(args);
                return -ENOMEM;
        }
        if (args && !cJSON_AddItemToObject(req, "args", args)) {
                cJSON_Delete(args);
                return -ENOMEM;
        }

        char *text = cJSON_PrintUnformatted(req);
        if (!text)
                return -ENOMEM;
        size_t len = strlen(text);
        char *line = realloc(text, len + 2);
        if (!line) {
                free(text);
                return -ENOMEM;
        }
        memcpy(line + len, "\n", 2);
        *ret = line;
        if (ret_len)
                *ret_len = len + 1;
        return 0;
}

cJSON *proto_hello_args(const char *client_name) {
        cJSON *args = cJSON_CreateObject();
        if (!args || !cJSON_AddNumberToObject(args, "protocol", NA_PROTOCOL) ||
            !cJSON_AddStringToObject(args, "client", client_name)) {
                cJSON_Delete(args);
                return NULL;
        }
        return args;
}

int proto_hello_check(const cJSON *result, const cJSON *error) {
        if (error) {
                const char *code = json_str(error, "code");
                return code && strcmp(code, NA_ERR_UNSUPPORTED_PROTOCOL) == 0 ? -EPROTONOSUPPORT : -EPROTO;
        }
        if (!json_has_num(result, "protocol"))
                return -EPROTO;
        return json_num(result, "protocol", 0) == NA_PROTOCOL ? 0 : -EPROTONOSUPPORT;
}

static int classify(ProtoMessage *m) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(m->root, "id");
        if (!id) {
                m->event = json_str(m->root, "event");
                if (!m->event)
                        return -EPROTO;
                m->kind = PROTO_EVENT;
                return 0;
        }

        m->result = cJSON_GetObjectItemCaseSensitive(m->root, "result");
        m->error = cJSON_GetObjectItemCaseSensitive(m->root, "error");
        if (!m->result == !m->error)
                return -EPROTO;
        if (m->error) {
                m->code = json_str(m->error, "code");
                if (!m->code)
                        return -EPROTO;
                m->kind = PROTO_ERROR;
        } else
                m->kind = PROTO_RESULT;

        /* Clients send non-negative integer ids; only an error may come without one. */
        if (cJSON_IsNull(id))
                return m->error ? 0 : -EPROTO;
        if (json_to_u64(id, &m->id) < 0)
                return -EPROTO;
        m->has_id = true;
        return 0;
}

int proto_message_parse(const char *line, size_t len, ProtoMessage *ret) {
        if (len > PROTO_MAX_REPLY_LINE)
                return -EMSGSIZE;

        /* One value per line: anything but blanks after it makes the line garbage. */
        const char *end = NULL;
        ProtoMessage m = {
                .root = cJSON_ParseWithLengthOpts(line, len, &end, /* require_null_terminated= */ false)};
        while (m.root && end < line + len && strchr(" \t\r", *end) && *end)
                end++;
        if (!cJSON_IsObject(m.root) || end != line + len) {
                cJSON_Delete(m.root);
                return -EBADMSG;
        }
        int r = classify(&m);
        if (r < 0) {
                cJSON_Delete(m.root);
                return r;
        }
        *ret = m;
        return 0;
}

void proto_message_done(ProtoMessage *m) {
        if (!m)
                return;
        cJSON_Delete(m->root);
        *m = (ProtoMessage){};
}

bool proto_message_answers(const ProtoMessage *m, uint64_t want) {
        if (m->kind == PROTO_EVENT)
                return false;
        return m->has_id ? m->id == want : m->kind == PROTO_ERROR;
}
