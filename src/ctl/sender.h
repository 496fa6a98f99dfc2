/* The never-blocking connection to the daemon's event socket used by ingest: records are
 * queued in a bounded buffer and written when the socket takes them; when the buffer is full
 * records are dropped and counted; a lost or absent daemon is retried with backoff, and each
 * new connection starts with the hello line and a {"action":"dropped"} report. */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"
#include "basic/time-util.h"

#define SENDER_NO_WAKEUP UINT64_MAX

typedef struct Sender Sender;

typedef enum SenderEvent {
        SENDER_IDLE,           /* nothing worth telling */
        SENDER_CONNECTED,      /* a connection was made */
        SENDER_CONNECT_FAILED, /* sender_error() says why; retried later */
        SENDER_LOST,           /* the connection broke; sender_error() says why; retried later */
} SenderEvent;

/* max_queue bounds the bytes held for the daemon. Nothing is sent before sender_start(). */
int sender_new(size_t max_queue, Sender **ret);
Sender *sender_free(Sender *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Sender *, sender_free)

/* Where to connect; used from the next attempt on (the path may be re-resolved after a
 * failure). Returns 0 or -ENOMEM. */
int sender_set_path(Sender *s, const char *path);
const char *sender_path(const Sender *s);

/* Starts connecting; hello (one JSON object, no newline) opens every connection. Returns 0
 * or -ENOMEM. */
int sender_start(Sender *s, const char *hello);

/* Queues one record (one JSON object, no newline). Returns 0, or -ENOBUFS when it did not fit
 * and was dropped (and counted). */
int sender_queue(Sender *s, const char *record, size_t len);

/* What to poll for: the socket and its events (fd -1 while disconnected), and the monotonic
 * time of the next connection attempt (SENDER_NO_WAKEUP for none). */
void sender_poll(const Sender *s, struct pollfd *ret_pfd, usec_t *ret_wakeup);

/* Connects when an attempt is due (or forced), writes what the socket takes, notices a lost
 * connection from revents (of the pollfd from sender_poll(), 0 if not polled). Never blocks.
 * Returns a SenderEvent. */
SenderEvent sender_dispatch(Sender *s, usec_t now, short revents);

/* Makes the next sender_dispatch() attempt a connection now (at EOF: one last try). */
void sender_retry_now(Sender *s);

bool sender_connected(const Sender *s);
/* Bytes not yet written (queued records, an unsent hello) and records dropped but not yet
 * reported to the daemon. */
size_t sender_pending(const Sender *s);
uint64_t sender_unreported_drops(const Sender *s);
/* Complete records still queued. */
size_t sender_queued_records(const Sender *s);
/* -errno of the last failed connection attempt or lost connection. */
int sender_error(const Sender *s);
