/* The never-blocking connection to events.sock: a bounded record queue, drop counting,
 * reconnection with backoff, and a hello (plus a drop report) opening every connection. */
#include "ctl/sender.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/socket-util.h"

#define BACKOFF_FIRST    (100 * USEC_PER_MSEC)
#define BACKOFF_MAX      (1 * USEC_PER_SEC)
#define QUEUE_FIRST_SIZE ((size_t) 64 * 1024)

struct Sender {
        char *path;
        char *hello; /* newline-terminated */
        bool started;

        int fd;
        int error;
        usec_t next_attempt;
        usec_t backoff;
        bool attempt_now;

        /* What opens a connection: the hello and, when records were dropped, a report. It is
         * rebuilt for each connection; the drops it reports are forgotten once it is sent. */
        char *preamble;
        size_t preamble_len, preamble_sent;
        uint64_t preamble_dropped;

        /* Whole newline-terminated records in buf[start, end), grown on demand up to max. */
        char *buf;
        size_t start, end, cap, max;
        bool mid_record; /* the head of the record at buf[start] went out on the connection */

        uint64_t dropped; /* dropped and not yet reported */
};

int sender_new(size_t max_queue, Sender **ret) {
        Sender *s = calloc(1, sizeof(Sender));
        if (!s)
                return -ENOMEM;
        s->fd = -EBADF;
        s->max = max_queue;
        s->backoff = BACKOFF_FIRST;
        *ret = s;
        return 0;
}

Sender *sender_free(Sender *s) {
        if (!s)
                return NULL;
        if (s->fd >= 0)
                close(s->fd);
        free(s->path);
        free(s->hello);
        free(s->preamble);
        free(s->buf);
        free(s);
        return NULL;
}

int sender_set_path(Sender *s, const char *path) {
        char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        free(s->path);
        s->path = p;
        return 0;
}

const char *sender_path(const Sender *s) {
        return s->path;
}

int sender_start(Sender *s, const char *hello) {
        char *h;
        if (asprintf(&h, "%s\n", hello) < 0)
                return -ENOMEM;
        free(s->hello);
        s->hello = h;
        s->started = true;
        s->attempt_now = true;
        return 0;
}

/* Makes room for need more bytes. Unsent bytes are moved down only when at least as many
 * bytes were sent since the last move, so moving costs O(1) per byte; growing stops at max.
 * That can leave up to half the buffer unusable when the daemon is far behind: then records
 * are dropped a little earlier, which is what "bounded" asks anyway. */
static int queue_reserve(Sender *s, size_t need) {
        size_t used = s->end - s->start;
        if (s->cap - s->end >= need)
                return 0;
        if (used + need > s->max)
                return -ENOBUFS;

        if (s->start > 0 && s->start >= used) {
                memmove(s->buf, s->buf + s->start, used);
                s->start = 0;
                s->end = used;
                if (s->cap - s->end >= need)
                        return 0;
        }

        if (s->end + need > s->max)
                return -ENOBUFS;
        size_t cap = MAX(s->cap, QUEUE_FIRST_SIZE);
        while (cap < s->end + need)
                cap *= 2;
        cap = MIN(cap, s->max);
        char *b = realloc(s->buf, cap);
        if (!b)
                return -ENOBUFS; /* memory is short: a drop like any other */
        s->buf = b;
        s->cap = cap;
        return 0;
}

static int queue_append(Sender *s, const char *record, size_t len) {
        if (len > SIZE_MAX - 1 || queue_reserve(s, len + 1) < 0)
                return -ENOBUFS;
        memcpy(s->buf + s->end, record, len);
        s->buf[s->end + len] = '\n';
        s->end += len + 1;
        return 0;
}

int sender_queue(Sender *s, const char *record, size_t len) {
        if (queue_append(s, record, len) < 0) {
                s->dropped++;
                return -ENOBUFS;
        }
        return 0;
}

static int format_dropped(uint64_t count, char **ret) {
        return asprintf(ret, "{\"action\":\"dropped\",\"count\":%" PRIu64 "}", count) < 0 ? -ENOMEM : 0;
}

static int build_preamble(Sender *s) {
        _cleanup_free_ char *report = NULL;
        if (s->dropped > 0 && format_dropped(s->dropped, &report) < 0)
                return -ENOMEM;

        char *p;
        if (asprintf(&p, "%s%s%s", s->hello, report ?: "", report ? "\n" : "") < 0)
                return -ENOMEM;
        free(s->preamble);
        s->preamble = p;
        s->preamble_len = strlen(p);
        s->preamble_sent = 0;
        s->preamble_dropped = s->dropped;
        return 0;
}

static int try_connect(Sender *s) {
        if (!s->path)
                return -EDESTADDRREQ;
        /* Non-blocking: a daemon that is stopped with a full backlog gives EAGAIN here. */
        _cleanup_close_ int fd = -EBADF;
        int r = socket_connect_unix(s->path, &fd);
        if (r < 0)
                return r;

        r = build_preamble(s);
        if (r < 0)
                return r;
        s->fd = TAKE_FD(fd);
        return 0;
}

static void schedule_retry(Sender *s, usec_t now) {
        s->next_attempt = now + s->backoff;
        s->backoff = MIN(s->backoff * 2, BACKOFF_MAX);
}

static void lose(Sender *s, int error, usec_t now) {
        close(s->fd);
        s->fd = -EBADF;
        s->error = error;

        /* The daemon saw the head of the front record on the dead connection; its tail alone
         * would be garbage on the next one. */
        if (s->mid_record) {
                const char *nl = memchr(s->buf + s->start, '\n', s->end - s->start);
                s->start = nl ? (size_t) (nl - s->buf) + 1 : s->end;
                s->mid_record = false;
                s->dropped++;
        }
        free(s->preamble);
        s->preamble = NULL;
        s->preamble_len = s->preamble_sent = 0;
        s->preamble_dropped = 0;
        schedule_retry(s, now);
}

/* Returns 0 when the socket takes no more (or all is written), or -errno. */
static int flush(Sender *s) {
        while (s->preamble_sent < s->preamble_len) {
                ssize_t n = send(s->fd, s->preamble + s->preamble_sent, s->preamble_len - s->preamble_sent,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                s->preamble_sent += (size_t) n;
        }
        if (s->preamble) {
                s->dropped -= s->preamble_dropped;
                free(s->preamble);
                s->preamble = NULL;
                s->preamble_len = s->preamble_sent = 0;
                s->preamble_dropped = 0;
        }

        /* Drops while connected (a slow daemon) are reported in the stream, as soon as the
         * report fits. */
        if (s->dropped > 0) {
                _cleanup_free_ char *report = NULL;
                if (format_dropped(s->dropped, &report) == 0 && queue_append(s, report, strlen(report)) == 0)
                        s->dropped = 0;
        }

        while (s->start < s->end) {
                ssize_t n = send(s->fd, s->buf + s->start, s->end - s->start, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                s->start += (size_t) n;
                s->mid_record = s->buf[s->start - 1] != '\n';
        }
        s->start = s->end = 0;
        return 0;
}

/* The daemon never writes on this socket: readable means it closed (or broke) it. */
static int check_peer(Sender *s, short revents) {
        if (revents & (POLLHUP | POLLERR))
                return -ECONNRESET;
        if (!(revents & POLLIN))
                return 0;
        char scratch[256];
        ssize_t n = recv(s->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
        if (n == 0)
                return -ECONNRESET;
        if (n < 0 && errno != EAGAIN && errno != EINTR)
                return -errno;
        return 0;
}

SenderEvent sender_dispatch(Sender *s, usec_t now, short revents) {
        SenderEvent ev = SENDER_IDLE;

        if (s->fd < 0) {
                if (!s->started || (!s->attempt_now && now < s->next_attempt))
                        return SENDER_IDLE;
                s->attempt_now = false;
                int r = try_connect(s);
                if (r < 0) {
                        s->error = r;
                        schedule_retry(s, now);
                        return SENDER_CONNECT_FAILED;
                }
                s->backoff = BACKOFF_FIRST;
                ev = SENDER_CONNECTED;
                revents = 0; /* they were about no socket or an older one */
        }

        int r = check_peer(s, revents);
        if (r >= 0)
                r = flush(s);
        if (r < 0) {
                lose(s, r == -EPIPE ? -ECONNRESET : r, now);
                return SENDER_LOST;
        }
        return ev;
}

void sender_poll(const Sender *s, struct pollfd *ret_pfd, usec_t *ret_wakeup) {
        if (s->fd >= 0) {
                bool output = s->preamble_sent < s->preamble_len || s->start < s->end || s->dropped > 0;
                *ret_pfd = (struct pollfd){.fd = s->fd, .events = POLLIN | (output ? POLLOUT : 0)};
                *ret_wakeup = SENDER_NO_WAKEUP;
                return;
        }
        *ret_pfd = (struct pollfd){.fd = -1};
        if (!s->started)
                *ret_wakeup = SENDER_NO_WAKEUP;
        else
                *ret_wakeup = s->attempt_now ? 0 : s->next_attempt;
}

void sender_retry_now(Sender *s) {
        s->attempt_now = true;
}

bool sender_connected(const Sender *s) {
        return s->fd >= 0;
}

size_t sender_pending(const Sender *s) {
        return (s->preamble_len - s->preamble_sent) + (s->end - s->start);
}

uint64_t sender_unreported_drops(const Sender *s) {
        return s->dropped;
}

size_t sender_queued_records(const Sender *s) {
        if (s->start == s->end)
                return 0;
        size_t n = 0;
        for (const char *p = s->buf + s->start, *end = s->buf + s->end; p < end; p++) {
                p = memchr(p, '\n', (size_t) (end - p));
                if (!p)
                        break;
                n++;
        }
        return n;
}

int sender_error(const Sender *s) {
        return s->error;
}
