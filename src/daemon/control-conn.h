/* Control connections: request lines in, responses and events out through a bounded
 * output buffer. A client that lets the buffer fill is dropped; it never slows ingestion. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/daemon.h"

#define FOLLOW_MAX 64

/* What a client asked to be told about (see notify.c). */
typedef struct Subscription {
        bool builds, invocations, sources;
        bool processes; /* "processes" events after every sample of a build */
        bool logs_all;
        uint64_t follow[FOLLOW_MAX]; /* build keys whose log lines the client gets */
        bool follow_end[FOLLOW_MAX]; /* send log-end and stop following when it ends */
        unsigned n_follow;
} Subscription;

struct ControlConn {
        Daemon *daemon;
        int fd;
        pid_t pid;
        uid_t uid;
        gid_t gid;
        int privileged; /* privacy_privileged(): -1 until first asked (the peer's groups are
                         * those it had at connect(), so one answer holds for the connection) */
        sd_event_source *io;
        struct LineBuf *lines;

        char *out;
        size_t out_len, out_off, out_cap;
        bool closing;    /* close once the output is written */
        bool dead;       /* freed at the end of the current dispatch */
        bool waiting;    /* a reply is being computed elsewhere: read no further requests */
        uint64_t serial; /* unique per daemon run: finds the connection again later */

        Subscription sub;
        ControlConn *prev, *next;
};

int control_conn_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* Queues a complete line for the client; drops the client when its buffer would overflow.
 * Returns 0, or -ENOBUFS when the client was dropped. */
int control_conn_send(ControlConn *c, const char *line, size_t len);

/* Adds/removes a followed build. -ENOSPC when the client follows too many. */
int control_conn_follow(ControlConn *c, uint64_t key, bool notify_end);
void control_conn_unfollow(ControlConn *c, unsigned index);

/* A request's answer will come later (control_conn_resume): until then no further request
 * of this client is read, so answers stay in order. */
void control_conn_defer(ControlConn *c);
/* The deferred answer was sent: handle the requests buffered meanwhile. */
void control_conn_resume(ControlConn *c);
/* The live connection with this serial, or NULL (it went away). */
ControlConn *control_conn_by_serial(Daemon *d, uint64_t serial);

/* Frees connections killed while notifying (called from the post handler). */
void control_conns_reap(Daemon *d);
void control_conns_free_all(Daemon *d);
