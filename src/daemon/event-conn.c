/* Event connections: Nix (plugin, json-log-path) and ingest streams into the model.
 *
 * With json-log-path Nix's writes block, so a stalled reader would stall builds: each
 * dispatch reads up to READS_PER_DISPATCH buffers (hundreds of KiB, thousands of records),
 * while a control client gets one read per dispatch. Ingestion thus gets the lion's share of
 * the loop without a strict priority, which would starve control requests and timers for as
 * long as a sender keeps the socket readable. */
#include "daemon/event-conn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/quota.h"
#include "shared/json-arena.h"
#include "shared/linebuf.h"
#include "shared/nixlog.h"
#include "shared/proc.h"
#include "shared/proto.h"

#define READS_PER_DISPATCH 16

struct EventConn {
        Daemon *daemon;
        int fd;
        sd_event_source *io;
        LineBuf *lines;
        Source *source;
        uid_t uid; /* peer's, from SO_PEERCRED: holds one of its event connections */
        uint64_t oversized_seen;
        bool first_record_seen;
        EventConn *prev, *next;
};

static void event_conn_free(EventConn *c) {
        if (!c)
                return;
        Daemon *d = c->daemon;
        if (c->source)
                model_source_disconnect(d->model, c->source, now_realtime());
        sd_event_source_disable_unref(c->io);
        if (c->fd >= 0)
                close(c->fd);
        linebuf_free(c->lines);
        quota_release(d->quota, QUOTA_EVENT_CONNECTIONS, c->uid);
        if (c->prev)
                c->prev->next = c->next;
        else
                d->event_conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        d->n_event_conns--;
        free(c);
}

/* A stream that starts without a hello from a trusted peer that is a nix-daemon worker is
 * that worker's json-log-path: one connection per client connection. Its requester is the
 * worker's client, which the worker names in its argv[1] (proc_nix_daemon_client()), given to
 * the model as the hello the worker did not send; else the requester stays the peer. */
static void json_log_worker_hello(EventConn *c, usec_t now) {
        Daemon *d = c->daemon;
        pid_t pid;
        uid_t uid;

        if (proc_nix_daemon_client(d->config.model.proc_root, c->source->pid, &pid, &uid) < 0)
                return;
        NixRecord hello = {.action = NIX_ACTION_HELLO};
        hello.hello = (NixHello){
                .protocol = NA_PROTOCOL,
                .pid = -1, /* the source stays the worker */
                .ppid = -1,
                .uid = -1,
                .role = "json-log",
                .requester_pid = pid,
                .requester_uid = uid,
        };
        int r = model_apply(d->model, c->source, &hello, now);
        if (r < 0)
                log_debug_errno(r, "source %" PRIu64 ": nix-daemon worker's client %d not applied: %m",
                                c->source->id, (int) pid);
}

static void process_line(EventConn *c, char *line, size_t len, usec_t now) {
        Daemon *d = c->daemon;
        NixRecord rec;

        if (len == 0)
                return;
        /* The line is ours until the next read. The record, a tree only when it is not a
         * plain log line, lives until nix_record_done() below: build any tree in the arena. */
        json_arena_begin();
        int r = nix_record_parse_in_place(line, len, &rec);
        json_arena_end();
        if (r < 0) {
                json_arena_reset();
                model_source_count_bad(d->model, c->source, 1);
                log_debug_errno(r, "source %" PRIu64 ": unparsable record: %m", c->source->id);
                return;
        }
        /* Build log lines of an untrusted source are paid for by its uid; past its rate they
         * are dropped here, before they take memory or reach followers. */
        if (rec.action == NIX_ACTION_RESULT &&
            (rec.type == NIX_RES_BUILD_LOG_LINE || rec.type == NIX_RES_POST_BUILD_LOG_LINE) &&
            !c->source->trusted && quota_take_log(d->quota, c->uid, len, now_monotonic()) < 0) {
                nix_record_done(&rec);
                json_arena_reset();
                return;
        }
        if (!c->first_record_seen) {
                c->first_record_seen = true;
                if (rec.action != NIX_ACTION_HELLO && c->source->trusted)
                        json_log_worker_hello(c, now);
        }
        r = model_apply(d->model, c->source, &rec, rec.has_time ? rec.time_usec : now);
        if (r < 0) {
                model_source_count_bad(d->model, c->source, 1);
                log_debug_errno(r, "source %" PRIu64 ": record rejected: %m", c->source->id);
        }
        nix_record_done(&rec);
        json_arena_reset();
}

static int event_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        EventConn *c = userdata;
        Daemon *d = c->daemon;

        for (unsigned i = 0; i < READS_PER_DISPATCH; i++) {
                ssize_t n = linebuf_read(c->lines, c->fd);
                if (n == -EAGAIN)
                        break;
                if (n <= 0) {
                        if (n < 0)
                                log_debug_errno((int) n, "source %" PRIu64 ": read failed: %m",
                                                c->source->id);
                        /* A last line without its newline still counts. */
                        char *line;
                        size_t len;
                        if (linebuf_take_partial(c->lines, &line, &len) > 0)
                                process_line(c, line, len, now_realtime());
                        event_conn_free(c);
                        return 0;
                }

                usec_t now = now_realtime();
                char *line;
                size_t len;
                while (linebuf_next(c->lines, &line, &len) > 0)
                        process_line(c, line, len, now);

                uint64_t oversized = linebuf_oversized(c->lines);
                if (oversized > c->oversized_seen) {
                        model_source_count_oversized(d->model, c->source, oversized - c->oversized_seen);
                        log_warning("source %" PRIu64 " (pid %d): discarded a line longer than %u bytes",
                                    c->source->id, (int) c->source->pid, (unsigned) NA_MAX_LINE);
                        c->oversized_seen = oversized;
                }
        }
        return 0;
}

int event_conn_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Daemon *d = userdata;

        for (;;) {
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                                return 0;
                        /* Out of fds or memory: keep running, try again on the next wakeup. */
                        log_warning_errno(errno, "failed to accept an event connection: %m");
                        return 0;
                }
                struct ucred cred = {.pid = 0, .uid = (uid_t) -1};
                socklen_t cl = sizeof(cred);
                if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
                        log_warning_errno(errno, "SO_PEERCRED on an event connection: %m");
                        close(cfd);
                        continue;
                }
                /* Untrusted peers share the global cap minus a reserve kept for root and the
                 * daemon's own uid (the plugin in nix-daemon), and each uid its own quota. */
                bool trusted = quota_uid_trusted(d->quota, cred.uid);
                uint32_t cap = d->config.max_event_conns;
                uint32_t reserve = MIN(d->config.quota.reserved_connections, cap - 1);
                if (d->n_event_conns >= (trusted ? cap : cap - reserve)) {
                        d->event_conns_refused++;
                        log_warning("refusing event connection (uid %u): %u connections open",
                                    (unsigned) cred.uid, d->n_event_conns);
                        close(cfd);
                        continue;
                }
                if (quota_take(d->quota, QUOTA_EVENT_CONNECTIONS, cred.uid, now_monotonic()) < 0) {
                        d->event_conns_refused++;
                        close(cfd);
                        continue;
                }

                EventConn *c = calloc(1, sizeof(*c));
                if (!c || linebuf_new(NA_MAX_LINE, &c->lines) < 0) {
                        free(c);
                        close(cfd);
                        quota_release(d->quota, QUOTA_EVENT_CONNECTIONS, cred.uid);
                        /* Not an error for sd-event, which would disable the listener for good:
                         * the next connection may find memory again. */
                        log_error_errno(ENOMEM, "out of memory accepting an event connection");
                        return 0;
                }
                c->daemon = d;
                c->fd = cfd;
                c->uid = cred.uid;
                int r = model_source_new(d->model, cred.pid, cred.uid, trusted, now_realtime(), &c->source);
                if (r >= 0)
                        r = sd_event_add_io(d->event, &c->io, cfd, EPOLLIN, event_conn_io, c);
                c->next = d->event_conns;
                if (d->event_conns)
                        d->event_conns->prev = c;
                d->event_conns = c;
                d->n_event_conns++;
                if (r < 0) {
                        log_error_errno(r, "failed to watch an event connection: %m");
                        event_conn_free(c);
                        continue;
                }
                log_debug("source %" PRIu64 ": connected (pid %d, uid %u)", c->source->id, (int) cred.pid,
                          (unsigned) cred.uid);
        }
}

void event_conns_free_all(Daemon *d) {
        while (d->event_conns)
                event_conn_free(d->event_conns);
}
