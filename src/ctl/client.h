/* A connection to the daemon's control socket: requests and their responses in order, and
 * the asynchronous events (lines without "id") that arrive between them. */
#pragma once

#include <stdint.h>

#include <cjson/cJSON.h>

#include "basic/macro.h"
#include "basic/time-util.h"

#define CLIENT_NO_TIMEOUT UINT64_MAX

/* Events received while waiting for a response are kept for client_next_event(); more than
 * this many unread is a protocol error (-ENOBUFS). */
#define CLIENT_MAX_QUEUED_EVENTS 100000

typedef struct Client Client;

/* One response line. Exactly one of result and error is set; both point into root. */
typedef struct ClientReply {
        cJSON *root;
        const cJSON *result;
        const cJSON *error; /* object with "code", "message", maybe "candidates" */
        const char *code;   /* error: its code (NA_ERR_* in shared/proto.h) */
} ClientReply;

void client_reply_done(ClientReply *reply);

/* Connects to the socket at path. Errors are those of connect(2) (-ENOENT, -ECONNREFUSED,
 * -EACCES, ...), which all mean "no daemon there". */
int client_connect(const char *path, Client **ret);
/* Runs ssh_argv (shared/ssh-command.h; its remote command a `nix-analytics-ctl bridge`) and
 * talks to the remote daemon through it; host names it in messages ("ssh HOST"). ssh's own
 * messages go to stderr. */
int client_connect_ssh(char **ssh_argv, const char *host, Client **ret);
/* The ssh child's exit status (>= 128: killed by signal - 128), once the connection ended:
 * waits a second for ssh to end, then ends it. -1 for a local connection. */
int client_ssh_exit_status(Client *c);
Client *client_free(Client *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Client *, client_free)
#define _cleanup_client_free_ _cleanup_(client_freep)

/* The hello exchange (protocol.md): must be the first request. Returns 0, -EPROTONOSUPPORT
 * when the daemon does not speak our protocol, or an error as client_call(). */
int client_hello(Client *c, const char *client_name, usec_t timeout);

/* The socket path given to client_connect(), for messages. */
const char *client_path(const Client *c);

/* The daemon's version string from the hello result, or NULL. */
const char *client_daemon_version(const Client *c);

/* Sends {"id":N,"cmd":cmd,"args":args} (args consumed, may be NULL) and waits for its
 * response (a line longer than PROTO_MAX_REPLY_LINE is -EMSGSIZE). Returns 0 with *ret filled whether the
 * daemon answered with a result or an error; otherwise -ETIMEDOUT, -ECONNRESET (the daemon closed the
 * connection), -EBADMSG (a line that is not a JSON object), -EPROTO (a response that breaks the protocol),
 * -EMSGSIZE, -ENOBUFS, -ENOMEM or another -errno from the socket. */
int client_call(Client *c, const char *cmd, cJSON *args, usec_t timeout, ClientReply *ret);

/* Waits for the next event, queued ones first. stop_fd (or -1) is also polled: when it
 * becomes readable, returns 0 without an event. Returns 1 with the event object in *ret,
 * 0 when stopped, or an error as client_call(). */
int client_next_event(Client *c, int stop_fd, usec_t timeout, cJSON **ret);
