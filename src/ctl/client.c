/* A connection to the daemon's control socket: framing, request ids, timeouts, and a queue
 * for the events that arrive while a response is awaited. */
#include "ctl/client.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/json-read.h"
#include "shared/linebuf.h"
#include "shared/proto-client.h"
#include "shared/socket-util.h"
#include "shared/ssh-command.h"

struct Client {
        int fd;
        LineBuf *in;
        uint64_t next_id;
        /* Events read while waiting for a response, oldest first (a cJSON array is a linked
         * list with a tail pointer: appending and detaching the head are O(1)). */
        cJSON *events;
        size_t n_events;
        char *daemon_version;
        char *path;     /* the socket path, or "ssh HOST" */
        pid_t ssh;      /* the ssh child of client_connect_ssh(), 0 none */
        int ssh_status; /* its wait status once reaped, -1 before */
};

void client_reply_done(ClientReply *reply) {
        if (!reply)
                return;
        cJSON_Delete(reply->root);
        *reply = (ClientReply){};
}

/* A client on fd (taken, also on failure), named name in messages. */
static int client_new(int fd, const char *name, Client **ret) {
        _cleanup_close_ int owned = fd;
        _cleanup_client_free_ Client *c = calloc(1, sizeof(Client));
        if (!c)
                return -ENOMEM;
        c->fd = -EBADF;
        c->ssh_status = -1;
        c->events = cJSON_CreateArray();
        if (!c->events)
                return -ENOMEM;
        int r = linebuf_new(PROTO_MAX_REPLY_LINE, &c->in);
        if (r < 0)
                return r;
        c->path = strdup(name);
        if (!c->path)
                return -ENOMEM;
        c->fd = TAKE_FD(owned);
        *ret = TAKE_PTR(c);
        return 0;
}

int client_connect(const char *path, Client **ret) {
        /* Non-blocking: a daemon with a full backlog cannot hold us past --timeout. */
        int fd = -EBADF;
        int r = socket_connect_unix(path, &fd);
        if (r < 0)
                return r;
        return client_new(fd, path, ret);
}

int client_connect_ssh(char **ssh_argv, const char *host, Client **ret) {
        int fd;
        pid_t pid;
        int r = ssh_spawn_stdio(ssh_argv, -1, &fd, &pid);
        if (r < 0)
                return r;
        if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
                r = -errno;
                close(fd);
                (void) kill(pid, SIGTERM);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        _cleanup_free_ char *name = NULL;
        if (asprintf(&name, "ssh %s", host) < 0)
                name = NULL;
        r = client_new(fd, name ? name : host, ret);
        if (r < 0) {
                (void) kill(pid, SIGTERM);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        (*ret)->ssh = pid;
        return 0;
}

/* Reaps the ssh child: it ends once its stdin closes (the remote bridge sees the end);
 * one that does not within a second is terminated. */
static void reap_ssh(Client *c, bool wait_for_it) {
        if (c->ssh <= 0 || c->ssh_status >= 0)
                return;
        for (int i = 0; i < (wait_for_it ? 100 : 1); i++) {
                int st;
                if (waitpid(c->ssh, &st, WNOHANG) == c->ssh) {
                        c->ssh_status = st;
                        return;
                }
                if (wait_for_it)
                        usleep(10 * 1000);
        }
        if (!wait_for_it)
                return;
        (void) kill(c->ssh, SIGTERM);
        int st;
        if (waitpid(c->ssh, &st, 0) == c->ssh)
                c->ssh_status = st;
}

int client_ssh_exit_status(Client *c) {
        reap_ssh(c, true);
        if (c->ssh_status < 0)
                return -1;
        return WIFEXITED(c->ssh_status) ? WEXITSTATUS(c->ssh_status) : 128 + WTERMSIG(c->ssh_status);
}

Client *client_free(Client *c) {
        if (!c)
                return NULL;
        if (c->fd >= 0)
                close(c->fd);
        reap_ssh(c, true);
        linebuf_free(c->in);
        cJSON_Delete(c->events);
        free(c->daemon_version);
        free(c->path);
        free(c);
        return NULL;
}

const char *client_path(const Client *c) {
        return c->path;
}

const char *client_daemon_version(const Client *c) {
        return c->daemon_version;
}

static usec_t deadline_after(usec_t timeout) {
        if (timeout == CLIENT_NO_TIMEOUT)
                return CLIENT_NO_TIMEOUT;
        usec_t now = now_monotonic();
        return timeout > CLIENT_NO_TIMEOUT - now ? CLIENT_NO_TIMEOUT : now + timeout;
}

/* Milliseconds left until deadline for poll(): -1 for none, rounded up so that a poll that
 * returns early never spins. */
static int poll_ms_until(usec_t deadline) {
        if (deadline == CLIENT_NO_TIMEOUT)
                return -1;
        usec_t now = now_monotonic();
        if (now >= deadline)
                return 0;
        usec_t ms = (deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
        return ms > INT_MAX ? INT_MAX : (int) ms;
}

/* Waits until fd has events, or stop_fd is readable (returns 0), or the deadline passed. */
static int wait_fd(Client *c, short events, int stop_fd, usec_t deadline) {
        for (;;) {
                struct pollfd p[2] = {
                        {.fd = c->fd, .events = events},
                        {.fd = stop_fd, .events = POLLIN},
                };
                int ms = poll_ms_until(deadline);
                if (ms == 0)
                        return -ETIMEDOUT;
                int n = poll(p, stop_fd >= 0 ? 2 : 1, ms);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        continue; /* the deadline check above decides */
                if (stop_fd >= 0 && p[1].revents)
                        return 0;
                if (p[0].revents)
                        return 1;
        }
}

static int send_all(Client *c, const char *buf, size_t len, usec_t deadline) {
        while (len > 0) {
                ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return errno == EPIPE ? -ECONNRESET : -errno;
                        int r = wait_fd(c, POLLOUT, -1, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Reads the next line and classifies it. Returns 1 with a message in *ret, 0 when stop_fd
 * became readable, or -errno. */
static int read_message(Client *c, int stop_fd, usec_t deadline, ProtoMessage *ret) {
        for (;;) {
                char *line;
                size_t len;
                if (linebuf_next(c->in, &line, &len) > 0) {
                        if (len == 0)
                                continue;
                        int r = proto_message_parse(line, len, ret);
                        return r < 0 ? r : 1;
                }

                int r = wait_fd(c, POLLIN, stop_fd, deadline);
                if (r <= 0)
                        return r;
                ssize_t n = linebuf_read(c->in, c->fd);
                if (n == -EAGAIN || n == -EINTR)
                        continue;
                if (n < 0)
                        return (int) n;
                if (linebuf_oversized(c->in) > 0)
                        return -EMSGSIZE;
                if (n == 0)
                        return -ECONNRESET;
        }
}

static int queue_event(Client *c, ProtoMessage *ev) {
        if (c->n_events >= CLIENT_MAX_QUEUED_EVENTS) {
                proto_message_done(ev);
                return -ENOBUFS;
        }
        cJSON_AddItemToArray(c->events, TAKE_PTR(ev->root));
        c->n_events++;
        return 0;
}

int client_call(Client *c, const char *cmd, cJSON *args, usec_t timeout, ClientReply *ret) {
        usec_t deadline = deadline_after(timeout);
        uint64_t id = c->next_id++;

        _cleanup_free_ char *line = NULL;
        size_t len;
        int r = proto_request_format(id, cmd, args, &line, &len);
        if (r < 0)
                return r;
        r = send_all(c, line, len, deadline);
        if (r < 0)
                return r;

        for (;;) {
                ProtoMessage msg;
                r = read_message(c, -1, deadline, &msg);
                if (r < 0)
                        return r;
                if (msg.kind == PROTO_EVENT) {
                        r = queue_event(c, &msg);
                        if (r < 0)
                                return r;
                        continue;
                }
                /* Requests are answered in order and only one is outstanding. */
                if (!proto_message_answers(&msg, id)) {
                        proto_message_done(&msg);
                        return -EPROTO;
                }
                *ret = (ClientReply){.root = TAKE_PTR(msg.root),
                                     .result = msg.result,
                                     .error = msg.error,
                                     .code = msg.code};
                return 0;
        }
}

int client_hello(Client *c, const char *client_name, usec_t timeout) {
        cJSON *args = proto_hello_args(client_name);
        if (!args)
                return -ENOMEM;

        _cleanup_(client_reply_done) ClientReply reply = {};
        int r = client_call(c, "hello", args, timeout, &reply);
        if (r < 0)
                return r;
        r = proto_hello_check(reply.result, reply.error);
        if (r < 0)
                return r;

        const char *version = json_str(reply.result, "version");
        if (version) {
                c->daemon_version = strdup(version);
                if (!c->daemon_version)
                        return -ENOMEM;
        }
        return 0;
}

int client_next_event(Client *c, int stop_fd, usec_t timeout, cJSON **ret) {
        if (c->n_events > 0) {
                *ret = cJSON_DetachItemFromArray(c->events, 0);
                c->n_events--;
                return 1;
        }

        ProtoMessage msg;
        int r = read_message(c, stop_fd, deadline_after(timeout), &msg);
        if (r <= 0)
                return r;
        if (msg.kind != PROTO_EVENT) {
                /* No request is outstanding, so this cannot be a response. */
                proto_message_done(&msg);
                return -EPROTO;
        }
        *ret = TAKE_PTR(msg.root);
        return 1;
}
