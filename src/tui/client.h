/* An asynchronous connection to the daemon's control socket on an sd-event loop: the hello
 * exchange, requests with ids answered through callbacks, events, and reconnection with retry
 * (the TUI starts without a daemon and survives its restart). */
#pragma once

#include <stdbool.h>

#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#include "basic/macro.h"

typedef struct Client Client;

/* A response: exactly one of result and error is set, or both are NULL when the connection
 * went away before the answer came. Both are only valid during the call. */
typedef void (*ClientReplyFn)(Client *c, const cJSON *result, const cJSON *error, void *userdata);

typedef struct ClientCallbacks {
        /* The hello exchange succeeded: requests may be sent. */
        void (*connected)(Client *c, void *userdata);
        /* The connection was lost (or a connect attempt failed, error < 0): the client tries
         * again every retry interval. Called once per loss, not once per failed attempt. A
         * daemon that breaks the protocol (a line proto_message_parse() rejects, one longer
         * than PROTO_MAX_REPLY_LINE, a hello answer for another protocol) is dropped like a
         * lost one (-EBADMSG, -EPROTO, -EMSGSIZE, -EPROTONOSUPPORT). */
        void (*disconnected)(Client *c, int error, void *userdata);
        /* An event line (no "id"): the callee may take parts of ev (detach them); the rest is
         * freed after the call. */
        void (*event)(Client *c, cJSON *ev, void *userdata);
} ClientCallbacks;

/* Starts connecting to the control socket at path at once, then every retry_usec while it
 * is not connected. name is the client name sent in the hello. */
int client_new(sd_event *e, const char *path, const char *name, uint64_t retry_usec,
               const ClientCallbacks *cb, void *userdata, Client **ret);
/* The same through ssh: ssh_argv (taken; shared/ssh-command.h, its remote command a
 * `nix-analytics-ctl bridge`) is run for each connection, and ended with it. host names it
 * in messages ("ssh HOST"); what ssh or the far bridge said last is client_error_text(). */
int client_new_ssh(sd_event *e, char **ssh_argv, const char *host, const char *name, uint64_t retry_usec,
                   const ClientCallbacks *cb, void *userdata, Client **ret);
Client *client_free(Client *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Client *, client_free)

bool client_is_connected(const Client *c);
/* The daemon's version from the hello, or NULL. */
const char *client_daemon_version(const Client *c);
/* The last connection error (-errno), 0 when none. */
int client_last_error(const Client *c);
const char *client_path(const Client *c);
/* Why the last connection failed, for people: ssh's (or the far bridge's) last message, else
 * the error's text. */
const char *client_error_text(const Client *c);

/* Sends a request (args consumed, may be NULL); fn (may be NULL) gets the answer. Returns 0,
 * -ENOTCONN when not connected (args freed), -ENOMEM. */
int client_request(Client *c, const char *cmd, cJSON *args, ClientReplyFn fn, void *userdata);

/* Drops every pending callback whose userdata is this pointer (its owner goes away). */
void client_forget(Client *c, void *userdata);
