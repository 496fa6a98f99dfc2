/* Conventions shared by every nix-analytics-ctl command: socket paths, connecting with a
 * hello, turning daemon errors and transport failures into messages and exit codes. */
#include "ctl/ctl.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "shared/json-read.h"
#include "shared/proto-client.h"
#include "shared/proto.h"
#include "shared/sockdir.h"
#include "shared/ssh-command.h"

static int resolve_dir(const CtlContext *ctx, const char *socket_name, char **ret) {
        if (ctx->socket_dir) {
                char *d = strdup(ctx->socket_dir);
                if (!d)
                        return ctl_log_oom();
                *ret = d;
                return 0;
        }
        int r = sockdir_resolve_env(SOCKDIR_FOR_CLIENT, socket_name, ret);
        if (r < 0)
                return log_error_errno(r, "cannot resolve the socket directory: %m");
        return 0;
}

int ctl_socket_path(const CtlContext *ctx, const char *socket_name, char **ret) {
        _cleanup_free_ char *dir = NULL;
        int r = resolve_dir(ctx, socket_name, &dir);
        if (r < 0)
                return r;
        r = sockdir_socket_path(dir, socket_name, ret);
        if (r < 0)
                return log_error_errno(r, "socket path %s/%s: %m", dir, socket_name);
        return 0;
}

void ctl_hint_start_daemon(const char *socket_path) {
        /* The directory is the path up to its last '/'; socket paths always have one. */
        const char *slash = strrchr(socket_path, '/');
        int dir_len = slash ? (int) (slash - socket_path) : (int) strlen(socket_path);
        log_error("start the daemon with 'nix-analyticsd --socket-dir %.*s', or point to a running one "
                  "with --socket-dir DIR or NIX_ANALYTICS_SOCKET_DIR",
                  dir_len, socket_path);
}

/* The daemon on ctx->host: ssh runs `nix-analytics-ctl bridge` there, which relays to that
 * host's control socket. Authentication, host keys and the user the daemon sees are ssh's. */
static int open_remote(const CtlContext *ctx, Client **ret) {
        _cleanup_free_ char *dest = NULL, *dir = NULL, *cmd = NULL;
        unsigned port = 0;
        int r = ssh_target_parse(ctx->host, &dest, &port);
        if (r == -ENOMEM)
                return ctl_exit_oom();
        if (r < 0) {
                log_error("-H %s: expected HOST, USER@HOST or ssh://[USER@]HOST[:PORT]", ctx->host);
                return CTL_EXIT_USAGE;
        }
        if (ctx->socket_dir && !(dir = ssh_quote_arg(ctx->socket_dir)))
                return ctl_exit_oom();
        if (asprintf(&cmd, "%s%s%s bridge", ctx->remote_ctl, dir ? " -s " : "", dir ? dir : "") < 0)
                return ctl_exit_oom();
        usec_t secs = ctx->timeout == CLIENT_NO_TIMEOUT ? 0 : ctx->timeout / USEC_PER_SEC;
        SshTarget target = {
                .destination = dest, .port = port, .connect_timeout = (unsigned) MIN(secs, 3600u)};
        _cleanup_(ssh_argv_freep) char **argv = NULL;
        if (ssh_argv(&target, cmd, &argv) < 0)
                return ctl_exit_oom();

        _cleanup_client_free_ Client *c = NULL;
        r = client_connect_ssh(argv, ctx->host, &c);
        if (r == -ENOMEM)
                return ctl_exit_oom();
        if (r < 0) {
                log_error_errno(r, "cannot run ssh for %s: %m", ctx->host);
                return CTL_EXIT_UNREACHABLE;
        }
        r = client_hello(c, "nix-analytics-ctl", ctx->timeout);
        if (r == -ECONNRESET) {
                /* ssh or the bridge ended: their own message is above, on stderr. */
                int st = client_ssh_exit_status(c);
                if (st == 255)
                        log_error("%s: ssh could not connect or log in", ctx->host);
                else if (st == 127)
                        log_error("%s: '%s' was not found there (see --remote-ctl)", ctx->host,
                                  ctx->remote_ctl);
                else if (st == CTL_EXIT_UNREACHABLE)
                        log_error("%s: no nix-analytics daemon is running there", ctx->host);
                else
                        log_error("%s: the connection through ssh ended (ssh exit status %d)", ctx->host,
                                  st);
                return CTL_EXIT_UNREACHABLE;
        }
        if (r < 0)
                return ctl_transport_failure(c, r);
        *ret = TAKE_PTR(c);
        return CTL_EXIT_OK;
}

int ctl_open(const CtlContext *ctx, Client **ret) {
        if (ctx->host)
                return open_remote(ctx, ret);
        _cleanup_free_ char *path = NULL;
        if (ctl_socket_path(ctx, NA_CONTROL_SOCKET, &path) < 0)
                return CTL_EXIT_UNREACHABLE;

        _cleanup_client_free_ Client *c = NULL;
        int r = client_connect(path, &c);
        if (r == -ENOMEM)
                return ctl_exit_oom();
        if (r < 0) {
                log_error_errno(r, "cannot connect to the daemon at %s: %m", path);
                ctl_hint_start_daemon(path);
                return CTL_EXIT_UNREACHABLE;
        }

        r = client_hello(c, "nix-analytics-ctl", ctx->timeout);
        if (r < 0)
                return ctl_transport_failure(c, r);
        *ret = TAKE_PTR(c);
        return CTL_EXIT_OK;
}

int ctl_transport_failure(Client *c, int r) {
        const char *path = client_path(c);

        switch (r) {
        case -ETIMEDOUT:
                log_error("%s: no answer from the daemon in time (see --timeout)", path);
                break;
        case -ECONNRESET:
                log_error("%s: the daemon closed the connection", path);
                break;
        case -EPROTONOSUPPORT:
                log_error("%s: the daemon does not speak protocol %d", path, NA_PROTOCOL);
                break;
        case -EMSGSIZE:
                log_error("%s: the daemon sent a line longer than %zu MiB", path,
                          PROTO_MAX_REPLY_LINE >> 20);
                break;
        case -EBADMSG:
                log_error("%s: the daemon sent a line that is not a JSON object", path);
                break;
        case -EPROTO:
                log_error("%s: unexpected message from the daemon (protocol error)", path);
                break;
        case -ENOBUFS:
                log_error("%s: more than %d events arrived before a response", path,
                          CLIENT_MAX_QUEUED_EVENTS);
                break;
        default:
                log_error_errno(r, "%s: %m", path);
        }
        return CTL_EXIT_PROTOCOL;
}

static void print_candidates(const cJSON *candidates) {
        if (!cJSON_IsArray(candidates) || cJSON_GetArraySize(candidates) == 0)
                return;

        fputs("candidates:", stderr);
        const cJSON *i;
        cJSON_ArrayForEach(i, candidates) {
                if (cJSON_IsString(i)) {
                        fprintf(stderr, " %s", i->valuestring);
                        continue;
                }
                _cleanup_free_ char *s = cJSON_PrintUnformatted(i);
                if (s)
                        fprintf(stderr, " %s", s);
        }
        fputc('\n', stderr);
}

int ctl_call(const CtlContext *ctx, Client *c, const char *cmd, cJSON *args, ClientReply *ret) {
        ClientReply reply;
        int r = client_call(c, cmd, args, ctx->timeout, &reply);
        if (r < 0)
                return ctl_transport_failure(c, r);

        if (reply.error) {
                const char *message = json_str(reply.error, "message");
                log_error("%s: %s", reply.code, message ?: "(no message)");
                print_candidates(cJSON_GetObjectItemCaseSensitive(reply.error, "candidates"));
                client_reply_done(&reply);
                return CTL_EXIT_DAEMON_ERROR;
        }
        *ret = reply;
        return CTL_EXIT_OK;
}

static int print_text(char *text) {
        if (!text)
                return ctl_log_oom();
        if (fputs(text, stdout) == EOF || putchar('\n') == EOF || fflush(stdout) == EOF) {
                int r = -errno;
                free(text);
                return log_error_errno(r, "cannot write to standard output: %m");
        }
        free(text);
        return 0;
}

int ctl_print_json(const CtlContext *ctx, const cJSON *v) {
        int r = print_text(ctx->stdout_is_tty ? cJSON_Print(v) : cJSON_PrintUnformatted(v));
        return r < 0 ? CTL_EXIT_PROTOCOL : CTL_EXIT_OK;
}

int ctl_print_json_line(const cJSON *v) {
        return print_text(cJSON_PrintUnformatted(v));
}

int ctl_parse_uint(const char *option, const char *s, long long *ret) {
        uint64_t v;
        if (safe_atou64(s, &v) < 0 || v > LLONG_MAX) {
                log_error("%s: expected a non-negative integer, got '%s'", option, s);
                return -EINVAL;
        }
        *ret = (long long) v;
        return 0;
}

cJSON *ctl_int_or_string(const char *s) {
        /* Keys and uids are far below 2^53, where a JSON number stays exact; longer digit
         * strings are left as strings for the daemon to judge. */
        uint64_t v;
        if (strlen(s) <= 15 && safe_atou64(s, &v) == 0)
                return cJSON_CreateNumber((double) v);
        return cJSON_CreateString(s);
}

int ctl_exit_oom(void) {
        ctl_log_oom();
        return CTL_EXIT_PROTOCOL;
}

int ctl_usage_hint(const char *verb) {
        if (verb)
                fprintf(stderr, "Try 'nix-analytics-ctl %s --help'.\n", verb);
        else
                fputs("Try 'nix-analytics-ctl --help'.\n", stderr);
        return CTL_EXIT_USAGE;
}

int ctl_stop_signal_fd(int *ret) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        return ctl_signal_fd(&mask, ret);
}

int ctl_signal_fd(const sigset_t *mask_in, int *ret) {
        sigset_t mask = *mask_in;
        int fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd < 0)
                return log_error_errno(errno, "signalfd: %m");
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                int r = -errno;
                close(fd);
                return log_error_errno(r, "sigprocmask: %m");
        }
        *ret = fd;
        return 0;
}
