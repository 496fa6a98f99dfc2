/* The client side of the control protocol (docs/protocol.md "Framing"): the request lines a
 * client sends and what each line from the daemon is. No I/O: the blocking CLI and the
 * event-driven TUI frame and classify alike and each reads in its own way. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Longest response or event line a client accepts (a big deps or history answer). */
#define PROTO_MAX_REPLY_LINE ((size_t) 64 * 1024 * 1024)

/* The request line {"id":id,"cmd":cmd,"args":args} and its newline; args is taken (may be
 * NULL). Returns 0 with the NUL-terminated line in *ret and its length in *ret_len (may be
 * NULL), or -ENOMEM. */
int proto_request_format(uint64_t id, const char *cmd, cJSON *args, char **ret, size_t *ret_len);

/* The args of the hello request: our protocol and the client's name. NULL on ENOMEM. */
cJSON *proto_hello_args(const char *client_name);

/* Judges the answer to hello (one of result and error set): 0 when the daemon speaks our
 * protocol, -EPROTONOSUPPORT when it says it does not (unsupported-protocol, or a result
 * naming another protocol), -EPROTO for any other answer. */
int proto_hello_check(const cJSON *result, const cJSON *error);

typedef enum ProtoMessageKind {
        PROTO_EVENT,  /* {"event":"<name>", ...}: no "id" */
        PROTO_RESULT, /* {"id":N, "result":...} */
        PROTO_ERROR,  /* {"id":N or null, "error":{"code":"...", "message":"...", ...}} */
} ProtoMessageKind;

/* One line from the daemon. Every pointer points into root. */
typedef struct ProtoMessage {
        cJSON *root;
        ProtoMessageKind kind;
        /* A response's id. An error with a null id answers a request the daemon could not
         * read: it has no id (has_id false), and as answers come in order, it is the oldest
         * outstanding request's. */
        bool has_id;
        uint64_t id;
        const char *event;   /* PROTO_EVENT: its name */
        const cJSON *result; /* PROTO_RESULT: any JSON value */
        const cJSON *error;  /* PROTO_ERROR: an object */
        const char *code;    /* PROTO_ERROR: error.code (NA_ERR_* in shared/proto.h) */
} ProtoMessage;

/* Parses and classifies one line (without its newline). Returns 0 with *ret filled (free with
 * proto_message_done()), -EMSGSIZE for a line over PROTO_MAX_REPLY_LINE, -EBADMSG for a line
 * that is not a JSON object, or -EPROTO for an object that is neither an event nor a
 * well-formed response (no id and no event name; an id that is not one we send; neither or
 * both of result and error; an error without a string code). */
int proto_message_parse(const char *line, size_t len, ProtoMessage *ret);
void proto_message_done(ProtoMessage *m);

/* True when response m answers the request with id want (by its id, or as an error with a
 * null id, which answers the oldest outstanding request: the caller asks only for that one). */
bool proto_message_answers(const ProtoMessage *m, uint64_t want);
