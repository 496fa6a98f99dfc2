/* Asynchronous control-socket client: connect, hello, requests matched to their answers by
 * id, events handed on, and a retry timer whenever the daemon is not there. */
#include "tui/client.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/time-util.h"
#include "shared/json-read.h"
#include "shared/linebuf.h"
#include "shared/proto-client.h"
#include "shared/socket-util.h"
#include "shared/ssh-command.h"

/* Output queued for a daemon that does not read: more means the daemon is stuck. */
#define CLIENT_MAX_OUT ((size_t) 4 * 1024 * 1024)

typedef struct Pending {
        uint64_t id;
        ClientReplyFn fn;
        void *userdata;
        struct Pending *next;
} Pending;

/* A daemon that has not answered the hello this long after the connection (an ssh that hangs
 * on a slow host) is given up on and tried again later. */
#define CLIENT_HELLO_TIMEOUT_USEC (15 * USEC_PER_SEC)

struct Client {
        sd_event *event;
        sd_event_source *io, *retry, *hello_timer;
        char *path, *name;   /* path: the socket, or "ssh HOST" */
        char **ssh_argv;     /* client_new_ssh(): run for each connection, else NULL */
        pid_t ssh_pid;       /* the running ssh, 0 none */
        int ssh_err;         /* its stderr (read end), -1 none */
        char ssh_error[256]; /* the last line ssh (or the far bridge) said, "" none */
        uint64_t retry_usec;
        ClientCallbacks cb;
        void *userdata;

        int fd;
        LineBuf *in;
        char *out;
        size_t out_len, out_cap;
        bool connected; /* hello answered */
        bool reported_down;
        int last_error;
        char *daemon_version;

        uint64_t next_id;
        Pending *pending, *pending_tail;
};

static int client_arm_retry(Client *c);

static void client_fail_pending(Client *c) {
        /* Callbacks may send new requests (refused: not connected); detach the list first. */
        Pending *p = c->pending;
        c->pending = c->pending_tail = NULL;
        while (p) {
                Pending *next = p->next;
                if (p->fn)
                        p->fn(c, NULL, NULL, p->userdata);
                free(p);
                p = next;
        }
}

/* The ssh of a connection that ended: its last words kept for the user, the process ended
 * and reaped (it ends at once: its stdin is gone or it is told to). */
static void client_end_ssh(Client *c) {
        if (c->ssh_err >= 0) {
                char buf[4096];
                ssize_t n = read(c->ssh_err, buf, sizeof(buf) - 1);
                if (n > 0) {
                        buf[n] = '\0';
                        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                                buf[--n] = '\0';
                        const char *last = strrchr(buf, '\n');
                        const char *msg = last ? last + 1 : buf;
                        size_t len = MIN(strlen(msg), sizeof(c->ssh_error) - 1);
                        memcpy(c->ssh_error, msg, len);
                        c->ssh_error[len] = '\0';
                }
                close(c->ssh_err);
                c->ssh_err = -1;
        }
        if (c->ssh_pid > 0) {
                (void) kill(c->ssh_pid, SIGTERM);
                (void) waitpid(c->ssh_pid, NULL, 0);
                c->ssh_pid = 0;
        }
}

static void client_close(Client *c, int error) {
        bool was_up = c->fd >= 0;
        c->io = sd_event_source_disable_unref(c->io);
        c->hello_timer = sd_event_source_disable_unref(c->hello_timer);
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -EBADF;
        client_end_ssh(c);
        c->in = linebuf_free(c->in);
        c->out_len = 0;
        c->connected = false;
        c->last_error = error;
        client_fail_pending(c);
        if ((was_up || !c->reported_down) && c->cb.disconnected) {
                c->reported_down = true;
                c->cb.disconnected(c, error, c->userdata);
        }
        (void) client_arm_retry(c);
}

static int client_flush(Client *c) {
        size_t off = 0;
        while (off < c->out_len) {
                ssize_t n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return -errno;
                }
                off += (size_t) n;
        }
        memmove(c->out, c->out + off, c->out_len - off);
        c->out_len -= off;
        return sd_event_source_set_io_events(c->io, EPOLLIN | (c->out_len > 0 ? EPOLLOUT : 0));
}

/* Hands on one line; returns 0, or < 0 when it breaks the protocol (the connection is then
 * dropped like a lost one: what was pending fails, and the client tries again). */
static int client_handle_line(Client *c, const char *line, size_t len) {
        if (len == 0)
                return 0;
        _cleanup_(proto_message_done) ProtoMessage m = {};
        int r = proto_message_parse(line, len, &m);
        if (r < 0)
                return r;
        if (m.kind == PROTO_EVENT) {
                if (c->cb.event)
                        c->cb.event(c, m.root, c->userdata);
                return 0;
        }
        /* Answers come in order: the head of the queue, unless an id does not match (then
         * look further, and ignore an answer nobody waits for). */
        Pending **pp = &c->pending, *prev = NULL;
        while (*pp && !proto_message_answers(&m, (*pp)->id)) {
                prev = *pp;
                pp = &(*pp)->next;
        }
        Pending *p = *pp;
        if (p) {
                *pp = p->next;
                if (c->pending_tail == p)
                        c->pending_tail = prev;
                if (p->fn)
                        p->fn(c, m.result, m.error, p->userdata);
                free(p);
        }
        return 0;
}

static int client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Client *c = userdata;
        if (revents & EPOLLOUT) {
                int r = client_flush(c);
                if (r < 0) {
                        client_close(c, r);
                        return 0;
                }
        }
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                /* A bounded number of reads per wakeup: the terminal stays responsive during
                 * a flood of events. */
                for (int i = 0; i < 16 && c->fd >= 0; i++) {
                        ssize_t n = linebuf_read(c->in, c->fd);
                        if (n == -EAGAIN)
                                break;
                        if (n == 0 || (n < 0 && n != -ENOBUFS)) {
                                client_close(c, n == 0 ? -ECONNRESET : (int) n);
                                return 0;
                        }
                        /* A line too long to take may be an answer: its request would wait
                         * forever. The daemon is dropped, as ctl does (-EMSGSIZE). */
                        if (linebuf_oversized(c->in) > 0) {
                                client_close(c, -EMSGSIZE);
                                return 0;
                        }
                        char *line;
                        size_t len;
                        /* A callback may close the connection (c->in freed). */
                        while (c->in && linebuf_next(c->in, &line, &len) > 0) {
                                int r = client_handle_line(c, line, len);
                                if (r < 0) {
                                        client_close(c, r);
                                        return 0;
                                }
                        }
                }
        }
        return 0;
}

static int client_queue(Client *c, const char *cmd, cJSON *args, ClientReplyFn fn, void *userdata) {
        Pending *p = calloc(1, sizeof(Pending));
        if (!p) {
                cJSON_Delete(args);
                return -ENOMEM;
        }
        p->id = ++c->next_id;
        p->fn = fn;
        p->userdata = userdata;
        _cleanup_free_ char *line = NULL;
        size_t len;
        int r = proto_request_format(p->id, cmd, args, &line, &len);
        if (r < 0) {
                free(p);
                return r;
        }
        if (c->out_len + len > CLIENT_MAX_OUT) {
                free(p);
                return -ENOBUFS;
        }
        if (c->out_len + len > c->out_cap) {
                size_t cap = MAX(c->out_cap * 2, c->out_len + len);
                char *n = realloc(c->out, cap);
                if (!n) {
                        free(p);
                        return -ENOMEM;
                }
                c->out = n;
                c->out_cap = cap;
        }
        memcpy(c->out + c->out_len, line, len);
        c->out_len += len;
        if (c->pending_tail)
                c->pending_tail->next = p;
        else
                c->pending = p;
        c->pending_tail = p;
        return sd_event_source_set_io_events(c->io, EPOLLIN | EPOLLOUT);
}

static void client_hello_reply(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        if (!result && !error)
                return; /* the connection is gone already */
        int r = proto_hello_check(result, error);
        if (r < 0) {
                if (c->fd >= 0)
                        client_close(c, r);
                return;
        }
        const char *v = json_str(result, "version");
        free(c->daemon_version);
        c->daemon_version = v ? strdup(v) : NULL;
        c->hello_timer = sd_event_source_disable_unref(c->hello_timer);
        c->connected = true;
        c->reported_down = false;
        c->last_error = 0;
        c->ssh_error[0] = '\0';
        if (c->cb.connected)
                c->cb.connected(c, c->userdata);
}

static int client_hello_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Client *c = userdata;
        if (!c->connected && c->fd >= 0)
                client_close(c, -ETIMEDOUT);
        return 0;
}

/* Starts ssh for a connection: *ret_fd talks to the far bridge. */
static int client_spawn_ssh(Client *c, int *ret_fd) {
        int errp[2];
        if (pipe2(errp, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        int fd;
        pid_t pid;
        int r = ssh_spawn_stdio(c->ssh_argv, errp[1], &fd, &pid);
        close(errp[1]);
        if (r < 0) {
                close(errp[0]);
                return r;
        }
        c->ssh_pid = pid;
        c->ssh_err = errp[0];
        c->ssh_error[0] = '\0';
        if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
                r = -errno;
                close(fd);
                client_end_ssh(c);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

static int client_try_connect(Client *c) {
        _cleanup_close_ int fd = -EBADF;
        int r = c->ssh_argv ? client_spawn_ssh(c, &fd) : socket_connect_unix(c->path, &fd);
        if (r < 0)
                return r;

        r = linebuf_new(PROTO_MAX_REPLY_LINE, &c->in);
        if (r < 0) {
                client_end_ssh(c);
                return r;
        }
        r = sd_event_add_io(c->event, &c->io, fd, EPOLLIN, client_io, c);
        if (r < 0) {
                c->in = linebuf_free(c->in);
                client_end_ssh(c);
                return r;
        }
        c->fd = TAKE_FD(fd);
        r = sd_event_add_time_relative(c->event, &c->hello_timer, CLOCK_MONOTONIC, CLIENT_HELLO_TIMEOUT_USEC,
                                       USEC_PER_SEC, client_hello_timeout, c);
        if (r < 0)
                return r; /* the caller closes: c->fd is set */

        cJSON *args = proto_hello_args(c->name);
        if (!args)
                return -ENOMEM;
        return client_queue(c, "hello", args, client_hello_reply, NULL);
}

static int client_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Client *c = userdata;
        c->retry = sd_event_source_disable_unref(c->retry);
        int r = client_try_connect(c);
        if (r < 0) {
                if (c->fd >= 0)
                        client_close(c, r);
                else {
                        c->last_error = r;
                        if (!c->reported_down && c->cb.disconnected) {
                                c->reported_down = true;
                                c->cb.disconnected(c, r, c->userdata);
                        }
                        (void) client_arm_retry(c);
                }
        }
        return 0;
}

static int client_arm_retry(Client *c) {
        if (c->retry)
                return 0;
        return sd_event_add_time_relative(c->event, &c->retry, CLOCK_MONOTONIC, c->retry_usec, 0,
                                          client_retry, c);
}

static int client_make(sd_event *e, const char *path, const char *name, uint64_t retry_usec,
                       const ClientCallbacks *cb, void *userdata, char **ssh_argv, Client **ret) {
        _cleanup_(client_freep) Client *c = calloc(1, sizeof(Client));
        if (!c) {
                ssh_argv_free(ssh_argv);
                return -ENOMEM;
        }
        c->fd = -EBADF;
        c->ssh_err = -1;
        c->ssh_argv = ssh_argv;
        c->event = sd_event_ref(e);
        c->path = strdup(path);
        c->name = strdup(name);
        if (!c->path || !c->name)
                return -ENOMEM;
        c->retry_usec = retry_usec;
        c->cb = *cb;
        c->userdata = userdata;
        /* The first attempt from the loop, so callbacks never run inside client_new(). */
        int r = sd_event_add_time_relative(e, &c->retry, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, client_retry, c);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

int client_new(sd_event *e, const char *path, const char *name, uint64_t retry_usec,
               const ClientCallbacks *cb, void *userdata, Client **ret) {
        return client_make(e, path, name, retry_usec, cb, userdata, NULL, ret);
}

int client_new_ssh(sd_event *e, char **ssh_argv, const char *host, const char *name, uint64_t retry_usec,
                   const ClientCallbacks *cb, void *userdata, Client **ret) {
        _cleanup_free_ char *label = NULL;
        if (asprintf(&label, "ssh %s", host) < 0) {
                ssh_argv_free(ssh_argv);
                return -ENOMEM;
        }
        return client_make(e, label, name, retry_usec, cb, userdata, ssh_argv, ret);
}

Client *client_free(Client *c) {
        if (!c)
                return NULL;
        c->io = sd_event_source_disable_unref(c->io);
        c->retry = sd_event_source_disable_unref(c->retry);
        c->hello_timer = sd_event_source_disable_unref(c->hello_timer);
        if (c->fd >= 0)
                close(c->fd);
        client_end_ssh(c);
        ssh_argv_free(c->ssh_argv);
        linebuf_free(c->in);
        /* Owners are going away too: nobody is told. */
        while (c->pending) {
                Pending *next = c->pending->next;
                free(c->pending);
                c->pending = next;
        }
        sd_event_unref(c->event);
        free(c->out);
        free(c->path);
        free(c->name);
        free(c->daemon_version);
        free(c);
        return NULL;
}

bool client_is_connected(const Client *c) {
        return c && c->connected;
}

const char *client_daemon_version(const Client *c) {
        return c->daemon_version;
}

int client_last_error(const Client *c) {
        return c->last_error;
}

const char *client_error_text(const Client *c) {
        if (c->ssh_error[0])
                return c->ssh_error;
        return c->last_error ? strerror(-c->last_error) : "not connected yet";
}

const char *client_path(const Client *c) {
        return c->path;
}

int client_request(Client *c, const char *cmd, cJSON *args, ClientReplyFn fn, void *userdata) {
        if (!c->connected) {
                cJSON_Delete(args);
                return -ENOTCONN;
        }
        int r = client_queue(c, cmd, args, fn, userdata);
        if (r == -ENOBUFS)
                client_close(c, r);
        return r;
}

void client_forget(Client *c, void *userdata) {
        for (Pending *p = c->pending; p; p = p->next)
                if (p->userdata == userdata)
                        p->fn = NULL;
}
