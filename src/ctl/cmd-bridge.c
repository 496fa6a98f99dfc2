/* bridge: relays stdin to the control socket and the socket to stdout, byte for byte, until
 * either side ends. `nix-analytics-ctl -H HOST` and the TUI's -H run it over ssh, as Nix
 * runs `nix-daemon --stdio`: the daemon sees the ssh login's user (SO_PEERCRED of this
 * process) and authorises it as it would a local client. Nothing is parsed here: the
 * protocol, with its line limits, is the daemon's and the far client's. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl/commands.h"
#include "ctl/ctl.h"
#include "shared/sockdir.h"
#include "shared/socket-util.h"

#define BRIDGE_BUF (64u * 1024u)

/* One direction: bytes read from `from` wait in buf until written to `to`. */
typedef struct Pipe {
        int from, to;
        char buf[BRIDGE_BUF];
        size_t len;
        bool eof; /* from ended: once buf is written, to is shut for writing */
} Pipe;

static void help(void) {
        printf("Usage: nix-analytics-ctl bridge\n"
               "\n"
               "Relay stdin to the daemon's control socket and its answers to stdout, until\n"
               "either side ends. It is what 'nix-analytics-ctl -H HOST' and 'nix-analytics -H\n"
               "HOST' run on HOST through ssh; the daemon there sees the ssh login's user.\n"
               "\n"
               "Exit status: 0 when the client ended the session, 3 when the daemon is not\n"
               "reachable or closed the connection, 4 on an I/O error.\n");
}

/* Moves what it can: 0 more to do, 1 this direction is over, -errno. */
static int pipe_step(Pipe *p, short from_revents, short to_revents) {
        if (!p->eof && p->len < BRIDGE_BUF && (from_revents & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t n = read(p->from, p->buf + p->len, BRIDGE_BUF - p->len);
                if (n > 0)
                        p->len += (size_t) n;
                else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                        p->eof = true; /* an error on the way in ends it like an EOF */
        }
        if (p->len > 0 && (to_revents & (POLLOUT | POLLERR | POLLHUP))) {
                ssize_t n = send(p->to, p->buf, p->len, MSG_NOSIGNAL);
                if (n < 0 && errno == ENOTSOCK)
                        n = write(p->to, p->buf, p->len);
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                if (n > 0) {
                        memmove(p->buf, p->buf + n, p->len - (size_t) n);
                        p->len -= (size_t) n;
                }
        }
        return p->eof && p->len == 0 ? 1 : 0;
}

int verb_bridge(const CtlContext *ctx, int argc, char **argv) {
        static const struct option options[] = {{"help", no_argument, NULL, 'h'}, {}};
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if (c == 'h') {
                        help();
                        return CTL_EXIT_OK;
                }
                return ctl_usage_hint("bridge");
        }
        if (optind < argc) {
                log_error("bridge takes no arguments");
                return ctl_usage_hint("bridge");
        }
        if (ctx->host) {
                log_error("bridge relays to the local daemon: run it on the host itself");
                return CTL_EXIT_USAGE;
        }

        _cleanup_free_ char *path = NULL;
        if (ctl_socket_path(ctx, NA_CONTROL_SOCKET, &path) < 0)
                return CTL_EXIT_UNREACHABLE;
        _cleanup_close_ int sock = -EBADF;
        int r = socket_connect_unix(path, &sock);
        if (r < 0) {
                log_error_errno(r, "cannot connect to the daemon at %s: %m", path);
                return CTL_EXIT_UNREACHABLE;
        }
        (void) fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
        (void) fcntl(STDOUT_FILENO, F_SETFL, fcntl(STDOUT_FILENO, F_GETFL) | O_NONBLOCK);

        _cleanup_free_ Pipe *up = calloc(1, sizeof(Pipe)), *down = calloc(1, sizeof(Pipe));
        if (!up || !down)
                return ctl_exit_oom();
        *up = (Pipe){.from = STDIN_FILENO, .to = sock};
        *down = (Pipe){.from = sock, .to = STDOUT_FILENO};
        bool up_done = false;
        for (;;) {
                struct pollfd p[4] = {
                        {.fd = up_done || up->eof || up->len == BRIDGE_BUF ? -1 : STDIN_FILENO,
                         .events = POLLIN},
                        {.fd = up->len > 0 ? sock : -1, .events = POLLOUT},
                        {.fd = down->eof || down->len == BRIDGE_BUF ? -1 : sock, .events = POLLIN},
                        {.fd = down->len > 0 ? STDOUT_FILENO : -1, .events = POLLOUT},
                };
                if (poll(p, 4, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "bridge: poll: %m"), CTL_EXIT_PROTOCOL;
                }
                if (!up_done) {
                        r = pipe_step(up, p[0].revents, p[1].revents);
                        if (r < 0) {
                                log_error_errno(r, "bridge: the daemon's socket: %m");
                                return CTL_EXIT_UNREACHABLE;
                        }
                        if (r > 0) {
                                /* The client is done asking: the daemon answers what it has. */
                                (void) shutdown(sock, SHUT_WR);
                                up_done = true;
                        }
                }
                r = pipe_step(down, p[2].revents, p[3].revents);
                if (r < 0)
                        return CTL_EXIT_OK; /* stdout went away: the client ended the session */
                if (r > 0)
                        return up_done ? CTL_EXIT_OK : CTL_EXIT_UNREACHABLE; /* the daemon closed */
        }
}
