/* Control connections: request lines in, responses and events out through a bounded
 * output buffer. */
#include "daemon/control-conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/commands.h"
#include "daemon/quota.h"
#include "shared/linebuf.h"
#include "shared/proto.h"

static void control_conn_free(ControlConn *c) {
        Daemon *d = c->daemon;
        d->n_follows -= c->sub.n_follow;
        sd_event_source_disable_unref(c->io);
        if (c->fd >= 0)
                close(c->fd);
        linebuf_free(c->lines);
        free(c->out);
        quota_release(d->quota, QUOTA_CONTROL_CONNECTIONS, c->uid);
        if (c->prev)
                c->prev->next = c->next;
        else
                d->control_conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        d->n_control_conns--;
        free(c);
}

/* Marks the connection for freeing; the io handler frees it when it regains control, so a
 * connection is never freed under a caller that still holds it (e.g. while notifying). */
static void control_conn_kill(ControlConn *c) {
        if (c->dead)
                return;
        c->dead = true;
        sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
        /* Nothing else will run for this connection: free it at the next post dispatch. */
        shutdown(c->fd, SHUT_RDWR);
}

static int control_conn_flush(ControlConn *c) {
        while (c->out_off < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        return -errno;
                }
                c->out_off += (size_t) n;
        }
        if (c->out_off == c->out_len) {
                c->out_off = c->out_len = 0;
                if (c->closing)
                        return -ECONNRESET;
        }
        uint32_t want = EPOLLIN | (c->out_len > 0 ? EPOLLOUT : 0);
        if (c->closing || c->waiting)
                want &= ~EPOLLIN;
        return sd_event_source_set_io_events(c->io, want);
}

int control_conn_send(ControlConn *c, const char *line, size_t len) {
        if (c->dead)
                return -ENOBUFS;
        size_t pending = c->out_len - c->out_off;
        if (pending + len > c->daemon->config.control_output_max) {
                c->daemon->control_dropped_slow++;
                log_warning("dropping control client (pid %d, uid %u): %zu bytes unread", (int) c->pid,
                            (unsigned) c->uid, pending);
                control_conn_kill(c);
                return -ENOBUFS;
        }
        if (c->out_off > 0 && c->out_len + len > c->out_cap) {
                memmove(c->out, c->out + c->out_off, pending);
                c->out_len = pending;
                c->out_off = 0;
        }
        if (c->out_len + len > c->out_cap) {
                size_t cap = MAX(c->out_cap * 2, c->out_len + len);
                cap = MAX(cap, (size_t) 4096);
                char *grown = realloc(c->out, cap);
                if (!grown) {
                        control_conn_kill(c);
                        return -ENOBUFS;
                }
                c->out = grown;
                c->out_cap = cap;
        }
        memcpy(c->out + c->out_len, line, len);
        c->out_len += len;
        if (control_conn_flush(c) < 0) {
                control_conn_kill(c);
                return -ENOBUFS;
        }
        return 0;
}

int control_conn_follow(ControlConn *c, uint64_t key, bool notify_end) {
        for (unsigned i = 0; i < c->sub.n_follow; i++)
                if (c->sub.follow[i] == key) {
                        c->sub.follow_end[i] |= notify_end;
                        return 0;
                }
        if (c->sub.n_follow >= FOLLOW_MAX)
                return -ENOSPC;
        c->sub.follow[c->sub.n_follow] = key;
        c->sub.follow_end[c->sub.n_follow] = notify_end;
        c->sub.n_follow++;
        c->daemon->n_follows++;
        return 0;
}

void control_conn_unfollow(ControlConn *c, unsigned index) {
        if (index >= c->sub.n_follow)
                return;
        c->daemon->n_follows--;
        c->sub.n_follow--;
        c->sub.follow[index] = c->sub.follow[c->sub.n_follow];
        c->sub.follow_end[index] = c->sub.follow_end[c->sub.n_follow];
}

static void send_error_and_close(ControlConn *c, const char *code, const char *message) {
        size_t len;
        _cleanup_free_ char *line = control_format_error(NULL, code, message, NULL, &len);
        if (line)
                control_conn_send(c, line, len);
        c->closing = true;
        if (!c->dead && control_conn_flush(c) < 0)
                control_conn_kill(c);
}

/* Answers every complete buffered line (until one is deferred). */
static void control_conn_process(ControlConn *c) {
        char *line;
        size_t len;
        /* Every complete line is answered now: lines left in the buffer would not make the
         * socket readable again. A client sending faster than it reads fills its output
         * buffer and is dropped. */
        while (!c->dead && !c->waiting && linebuf_next(c->lines, &line, &len) > 0)
                if (len > 0)
                        commands_dispatch(c, line, len);
        if (!c->dead && !c->waiting && linebuf_oversized(c->lines) > 0)
                send_error_and_close(c, NA_ERR_TOO_LARGE, "request line longer than 1 MiB; closing");
}

void control_conn_defer(ControlConn *c) {
        c->waiting = true;
        if (!c->dead && control_conn_flush(c) < 0)
                control_conn_kill(c);
}

void control_conn_resume(ControlConn *c) {
        c->waiting = false;
        if (c->dead)
                return;
        if (control_conn_flush(c) < 0) {
                control_conn_kill(c);
                return;
        }
        /* Dead connections are freed by the post handler (control_conns_reap). */
        control_conn_process(c);
}

ControlConn *control_conn_by_serial(Daemon *d, uint64_t serial) {
        for (ControlConn *c = d->control_conns; c; c = c->next)
                if (c->serial == serial)
                        return c->dead ? NULL : c;
        return NULL;
}

static int control_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ControlConn *c = userdata;

        if (c->dead) {
                control_conn_free(c);
                return 0;
        }
        if (revents & EPOLLOUT) {
                if (control_conn_flush(c) < 0) {
                        control_conn_free(c);
                        return 0;
                }
        }
        if (c->waiting && (revents & (EPOLLHUP | EPOLLERR))) {
                /* Gone while its answer is computed (epoll reports hang-ups even with EPOLLIN
                 * off): the answer will find no connection and be dropped. */
                control_conn_free(c);
                return 0;
        }
        if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) || c->closing || c->waiting)
                return 0;

        ssize_t n = linebuf_read(c->lines, c->fd);
        if (n == 0 || (n < 0 && n != -EAGAIN)) {
                control_conn_free(c);
                return 0;
        }

        control_conn_process(c);
        if (c->dead)
                control_conn_free(c);
        return 0;
}

int control_conn_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Daemon *d = userdata;

        for (;;) {
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                log_warning_errno(errno, "failed to accept a control connection: %m");
                        return 0;
                }
                struct ucred cred = {.uid = (uid_t) -1, .gid = (gid_t) -1};
                socklen_t cl = sizeof(cred);
                if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
                        close(cfd);
                        continue;
                }
                /* As for event connections: a reserve of the global cap for root and the
                 * daemon's uid, a quota per untrusted uid. */
                bool trusted = quota_uid_trusted(d->quota, cred.uid);
                uint32_t cap = d->config.max_control_conns;
                uint32_t reserve = MIN(d->config.quota.reserved_connections, cap - 1);
                if (d->n_control_conns >= (trusted ? cap : cap - reserve)) {
                        d->control_conns_refused++;
                        log_warning("refusing control connection (uid %u): %u clients connected",
                                    (unsigned) cred.uid, d->n_control_conns);
                        close(cfd);
                        continue;
                }
                if (quota_take(d->quota, QUOTA_CONTROL_CONNECTIONS, cred.uid, now_monotonic()) < 0) {
                        d->control_conns_refused++;
                        close(cfd);
                        continue;
                }
                ControlConn *c = calloc(1, sizeof(*c));
                if (!c || linebuf_new(NA_MAX_LINE, &c->lines) < 0) {
                        free(c);
                        close(cfd);
                        quota_release(d->quota, QUOTA_CONTROL_CONNECTIONS, cred.uid);
                        /* Not an error for sd-event, which would disable the listener for good:
                         * the next connection may find memory again. */
                        log_error_errno(ENOMEM, "out of memory accepting a control connection");
                        return 0;
                }
                c->daemon = d;
                c->serial = ++d->control_serial;
                c->fd = cfd;
                c->pid = cred.pid;
                c->uid = cred.uid;
                c->gid = cred.gid;
                c->privileged = -1;
                c->next = d->control_conns;
                if (d->control_conns)
                        d->control_conns->prev = c;
                d->control_conns = c;
                d->n_control_conns++;
                int r = sd_event_add_io(d->event, &c->io, cfd, EPOLLIN, control_conn_io, c);
                if (r < 0) {
                        log_error_errno(r, "failed to watch a control connection: %m");
                        control_conn_free(c);
                }
        }
}

void control_conns_reap(Daemon *d) {
        for (ControlConn *c = d->control_conns; c;) {
                ControlConn *next = c->next;
                if (c->dead)
                        control_conn_free(c);
                c = next;
        }
}

void control_conns_free_all(Daemon *d) {
        while (d->control_conns)
                control_conn_free(d->control_conns);
}
