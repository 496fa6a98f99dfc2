/* Conventions shared by every nix-analytics-ctl command: the context from the global options,
 * exit codes, and the steps of talking to the control socket with messages for the user. */
#pragma once

#include <signal.h>

#include <errno.h>
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "basic/log.h"
#include "basic/time-util.h"
#include "ctl/client.h"
#include "shared/json-read.h"

/* The exit codes are an interface for scripts: documented in docs/ctl.md and --help. */
typedef enum CtlExit {
        CTL_EXIT_OK = 0,
        CTL_EXIT_DAEMON_ERROR = 1, /* the daemon answered with an error */
        CTL_EXIT_USAGE = 2,
        CTL_EXIT_UNREACHABLE = 3, /* no daemon on the socket, or it went away */
        CTL_EXIT_PROTOCOL = 4,    /* protocol or I/O error with the daemon */
} CtlExit;

/* How results are shown: --json, --table, or by whether stdout is a terminal. */
typedef enum CtlFormat {
        CTL_FORMAT_AUTO,
        CTL_FORMAT_JSON,
        CTL_FORMAT_TABLE,
} CtlFormat;

typedef enum CtlColor {
        CTL_COLOR_AUTO, /* on a terminal, unless NO_COLOR is set or TERM is dumb */
        CTL_COLOR_ALWAYS,
        CTL_COLOR_NEVER,
} CtlColor;

typedef struct CtlContext {
        const char *socket_dir; /* from --socket-dir, or NULL: resolve per socket (with -H: the
                                 * remote's, passed on to its bridge) */
        const char *host;       /* -H: the daemon on this host, through ssh; NULL: local */
        const char *remote_ctl; /* --remote-ctl: what runs the bridge there */
        usec_t timeout;         /* per request; CLIENT_NO_TIMEOUT with --timeout 0 */
        bool stdout_is_tty;
        CtlFormat format;
        CtlColor color;
} CtlContext;

#define ctl_log_oom() log_error_errno(ENOMEM, "out of memory")

/* Logs "out of memory" and returns the exit code for it (CTL_EXIT_PROTOCOL). */
int ctl_exit_oom(void);

/* Resolves the path of socket_name ("control.sock", "events.sock") from --socket-dir or the
 * environment. Returns 0 or -errno (logged). */
int ctl_socket_path(const CtlContext *ctx, const char *socket_name, char **ret);

/* Tells the user how to get a daemon on the socket that could not be reached. */
void ctl_hint_start_daemon(const char *socket_path);

/* Connects to the control socket and does the hello exchange. Returns CTL_EXIT_OK with
 * *ret set, or another exit code after telling the user what went wrong. */
int ctl_open(const CtlContext *ctx, Client **ret);

/* Runs one request (args consumed, may be NULL). Returns CTL_EXIT_OK with the reply in *ret
 * (its result set), or an exit code after printing the daemon's error or the failure. */
int ctl_call(const CtlContext *ctx, Client *c, const char *cmd, cJSON *args, ClientReply *ret);

/* Exit code and message for a transport failure r (-errno) while talking to the daemon. */
int ctl_transport_failure(Client *c, int r);

/* Prints v on stdout: pretty when stdout is a terminal, one compact line otherwise. Returns
 * an exit code (CTL_EXIT_PROTOCOL if stdout cannot be written). */
int ctl_print_json(const CtlContext *ctx, const cJSON *v);

/* Writes v as one compact line on stdout. Returns 0 or -errno. */
int ctl_print_json_line(const cJSON *v);

/* Parses a non-negative decimal integer option value; logs a usage error naming the option
 * otherwise. Returns 0 or -EINVAL. */
int ctl_parse_uint(const char *option, const char *s, long long *ret);

/* A build target or a requester as the protocol wants it: an integer when s is all digits,
 * else the string (the daemon resolves names and globs). NULL on allocation failure. */
cJSON *ctl_int_or_string(const char *s);

/* Points at the verb's --help (or the global one when verb is NULL); returns CTL_EXIT_USAGE. */
int ctl_usage_hint(const char *verb);

/* Blocks SIGINT, SIGTERM and SIGHUP and returns a signalfd that becomes readable when one
 * arrives, so long-running verbs can end cleanly (exit 0) from their poll loop. */
int ctl_stop_signal_fd(int *ret);
/* The same for the signals in mask. */
int ctl_signal_fd(const sigset_t *mask, int *ret);
