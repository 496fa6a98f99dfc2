/* The plugin's C core (see core.h): connection, bounded buffering, framing, records.
 *
 * Cost model. Nix calls in once per build log line (up to ~150 k a second), on the thread
 * that also reads the builder's output, compresses the log and feeds the client: whatever
 * that call costs is added to the build. So a record only takes an uncontended lock, checks
 * for a fork with one memory read and is formatted into a buffer: no syscall, not even
 * getpid(), except one non-blocking send per 32 KiB batch. Everything else (connecting,
 * reconnecting, retrying a full socket, the trailing records of a quiet build, records that
 * must go out at once) is done by a flusher thread of the plugin's own. A sender swaps the
 * filled buffer for an empty one and sends it without holding the lock. */
#include "plugin/core.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "basic/macro.h"
#include "plugin/ident.h"
#include "plugin/json.h"
#include "shared/proto-version.h"
#include "shared/sockdir.h"

/* What is kept while nix-analyticsd is slow or gone: two buffers of this size (the one
 * records go to and the one being sent), about a second of the fastest build output Nix 2.8
 * produces (~30 k lines/s through the daemon, ~125 bytes a record) in all. */
#define BUF_CAP      (2u << 20)
#define SNDBUF_BYTES (1 << 20)
/* Log lines are sent in batches of this size (by the thread that fills one) or at most this
 * long after the previous send (by the flusher), so a fast build costs few syscalls and few
 * wakeups in nix-analyticsd ... */
#define BATCH_BYTES (32u << 10)
#define BATCH_USEC  10000ULL
/* ... or at once when this much waits (the socket was full for a while). */
#define BATCH_HIGH (BUF_CAP / 4)
/* Anything else (starts, stops, messages, phases, progress) goes out at once, but with at
 * most one send per this long: nix-build run directly reports each log line as a message
 * too, which must not turn into a send (and a wakeup) per line. */
#define URGENT_USEC 1000ULL
/* Reconnect attempts: first one right away, then doubling up to the cap, so a restarted
 * daemon is found again within half a second of its socket reappearing. */
#define BACKOFF_MIN_USEC (20 * 1000ULL)
#define BACKOFF_MAX_USEC (500 * 1000ULL)
/* The record that reports losses (a count follows). */
#define DROPPED_PREFIX "{\"action\":\"dropped\",\"count\":"
/* Waiting for a send under way at exit, at most. */
#define EXIT_WAIT_USEC (100 * 1000ULL)

typedef unsigned long long usec_t;

enum {
        NA_RESULT_BUILD_LOG_LINE = 101, /* Nix's ResultType numbers */
        NA_RESULT_POST_BUILD_LOG_LINE = 107,
};

/* fork_guard values. The page is zero-filled in every child (MADV_WIPEONFORK), also after a
 * raw clone() that skips the atfork handlers, and shared with CLONE_VM children (vfork),
 * which share this whole state anyway. */
enum {
        GUARD_NEW = 0,      /* a new process: the state below is its parent's */
        GUARD_OURS = 1,     /* the process the state belongs to */
        GUARD_ADOPTING = 2, /* a thread of the new process is taking the state over */
};

/* The plugin lives inside Nix and is reached through Nix's global logger: there is no context
 * to pass around, so its state is this one process-wide object, guarded by lock. */
typedef struct Core {
        pthread_mutex_t lock;
        bool initialised;
        bool silent;   /* never send from this process */
        bool sent_any; /* this process has emitted; a child it forks stays silent */
        char nix_version[64];
        NaSocketPathFn socket_path;

        /* One page the kernel zero-fills in a child: a fork check with one memory read per
         * record instead of a getpid() syscall. NULL where the kernel lacks MADV_WIPEONFORK
         * (< 4.14): getpid() per record then. */
        volatile uint8_t *fork_guard;
        pid_t pid; /* the process the state below belongs to */
        NaRole role;
        bool requester_known;
        pid_t req_pid;
        uid_t req_uid;
        char *req_cmdline;
        bool cmdline_inherited, pre_inherited; /* req_cmdline, pre: the parent's (see core_adopt) */

        int fd;
        struct sockaddr_un addr; /* the last socket path known (sun_family 0: none yet) */
        usec_t next_try, backoff;
        char *pre; /* the hello line of the current connection */
        size_t pre_len, pre_off;
        char *buf; /* records not handed to the sender yet: [0, len) */
        size_t len;
        char *out; /* records being sent: [out_off, out_len) left */
        size_t out_len, out_off;
        bool sending;         /* a send from out is under way, without the lock */
        bool partial;         /* the last send ended inside a record */
        bool urgent;          /* a record in buf should go out at once */
        usec_t last_send;     /* monotonic */
        usec_t blocked_until; /* the socket was full: no send before this (monotonic) */
        uint64_t dropped;     /* records lost and not reported yet */
        /* The digits of the last timestamp's seconds and of the last activity id: a build's
         * log lines share both, and dividing 64-bit numbers down to digits is most of what
         * formatting a record costs. */
        time_t t_sec;
        uint64_t last_id;
        JsonOut t_sec_digits, last_id_digits;
        char t_sec_buf[24], last_id_buf[24];

        /* The flusher thread, started at the first record of each process. */
        bool flusher_started;
        bool flusher_failed; /* it could not start: the caller sends */
        bool flusher_waiting;
        usec_t flusher_due;  /* when the waiting flusher wakes up by itself; 0: only when told */
        pthread_cond_t wake; /* the flusher waits on it (CLOCK_MONOTONIC) */
        pthread_cond_t sent; /* a send ended (CLOCK_MONOTONIC) */
} Core;

static Core core = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .wake = PTHREAD_COND_INITIALIZER,
        .sent = PTHREAD_COND_INITIALIZER,
        .fd = -1,
};

static usec_t now_usec(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (usec_t) ts.tv_sec * 1000000ULL + (usec_t) ts.tv_nsec / 1000;
}

static struct timespec timespec_of(usec_t u) {
        return (struct timespec){.tv_sec = (time_t) (u / 1000000), .tv_nsec = (long) (u % 1000000) * 1000};
}

/* fork() from another thread while one of ours holds the lock would leave the child's copy
 * locked forever: take it around fork. Nothing else happens here (these handlers also run
 * in builder children between fork and exec). */
static void atfork_prepare(void) {
        pthread_mutex_lock(&core.lock);
}
static void atfork_release(void) {
        pthread_mutex_unlock(&core.lock);
}

/* The condition variables a process's flusher uses, on the monotonic clock. Also in a new
 * process, over the parent's copies (whose waiters do not exist there). */
static void core_init_conds(Core *c) {
        pthread_condattr_t ca;
        if (pthread_condattr_init(&ca) != 0)
                return;
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&c->wake, &ca);
        pthread_cond_init(&c->sent, &ca);
        pthread_condattr_destroy(&ca);
}

static void core_init_fork_guard(Core *c) {
        long page = sysconf(_SC_PAGESIZE);
        void *p = mmap(NULL, (size_t) page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return;
        if (madvise(p, (size_t) page, MADV_WIPEONFORK) < 0) {
                munmap(p, (size_t) page);
                return;
        }
        c->fork_guard = p;
        *c->fork_guard = GUARD_OURS;
}

void na_core_init(const char *nix_version, NaSocketPathFn socket_path) {
        pthread_mutex_lock(&core.lock);
        if (!core.initialised) {
                core.initialised = true;
                core.pid = getpid();
                core.socket_path = socket_path;
                snprintf(core.nix_version, sizeof(core.nix_version), "%s", nix_version ? nix_version : "");
                core.backoff = BACKOFF_MIN_USEC;
                core_init_conds(&core);
                core_init_fork_guard(&core);
                (void) pthread_atfork(atfork_prepare, atfork_release, atfork_release);
        }
        pthread_mutex_unlock(&core.lock);
}

void na_core_detach(void) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        pthread_mutex_lock(&core.lock);
        if (core.socket_path) {
                int l = core.socket_path(sa.sun_path, sizeof(sa.sun_path));
                if (l > 0 && (size_t) l < sizeof(sa.sun_path))
                        core.addr = sa;
        }
        core.socket_path = NULL;
        pthread_mutex_unlock(&core.lock);
}

void na_core_silence(void) {
        pthread_mutex_lock(&core.lock);
        core.silent = true;
        pthread_mutex_unlock(&core.lock);
}

char *na_default_socket_path(void) {
        _cleanup_free_ char *dir = NULL;
        char *path = NULL;

        if (sockdir_resolve_env(SOCKDIR_FOR_CLIENT, NA_EVENTS_SOCKET, &dir) < 0)
                return NULL;
        if (sockdir_socket_path(dir, NA_EVENTS_SOCKET, &path) < 0)
                return NULL;
        return path;
}

/* A process forked (or cloned) from the one the state belongs to: the connection, the
 * records and the requester are the parent's. A daemon worker (its parent, the daemon's main
 * process, never sends) starts afresh; a child of a process that sent (a builder, the build
 * hook between fork and exec) stays silent. After a raw clone() the parent's state may have
 * been half-way through a change by one of its threads: what it points to is never freed
 * here (the hello and the command line stay referenced, replaced without a free if ever),
 * and the buffers are reused only by a child whose parent never sent. */
static void core_adopt(Core *c, pid_t pid) {
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        c->silent = c->sent_any;
        c->sent_any = false;
        c->pid = pid;
        c->requester_known = false;
        c->cmdline_inherited = c->pre_inherited = true;
        c->pre_len = c->pre_off = 0;
        c->len = c->out_len = c->out_off = 0;
        c->sending = c->partial = c->urgent = false;
        c->blocked_until = 0;
        c->dropped = 0;
        c->next_try = 0;
        c->backoff = BACKOFF_MIN_USEC;
        /* threads do not survive fork */
        c->flusher_started = c->flusher_failed = c->flusher_waiting = false;
        core_init_conds(c);
}

/* Takes the lock, first taking the state over when this is a new process. With the fork
 * guard that check costs one read and is made before locking: after a raw clone() the
 * lock may be held by a thread of the parent that does not exist here, so the new process
 * initialises its own (the first of its threads to get here does it, the others wait). */
static void core_lock(Core *c) {
        volatile uint8_t *g = c->fork_guard;

        if (_likely_(g && *g == GUARD_OURS)) {
                pthread_mutex_lock(&c->lock);
                return;
        }
        if (g) {
                uint8_t expect = GUARD_NEW;
                if (__atomic_compare_exchange_n(g, &expect, GUARD_ADOPTING, false, __ATOMIC_ACQUIRE,
                                                __ATOMIC_ACQUIRE)) {
                        pthread_mutex_init(&c->lock, NULL);
                        pthread_mutex_lock(&c->lock);
                        core_adopt(c, getpid());
                        __atomic_store_n(g, GUARD_OURS, __ATOMIC_RELEASE);
                        return;
                }
                while (__atomic_load_n(g, __ATOMIC_ACQUIRE) != GUARD_OURS)
                        sched_yield();
                pthread_mutex_lock(&c->lock);
                return;
        }
        pthread_mutex_lock(&c->lock);
        pid_t pid = getpid();
        if (pid != c->pid)
                core_adopt(c, pid);
}

/* Whether the state is another process's (at exit: nothing to flush then). */
static bool core_is_parents(Core *c) {
        return c->fork_guard ? *c->fork_guard != GUARD_OURS : getpid() != c->pid;
}

static void core_learn_requester(Core *c, int except_fd) {
        if (c->requester_known)
                return;
        c->requester_known = true;
        if (!c->cmdline_inherited)
                free(c->req_cmdline);
        c->req_cmdline = NULL;
        c->cmdline_inherited = false;
        c->req_pid = getpid();
        c->req_uid = getuid();
        if (c->role == NA_ROLE_DAEMON_WORKER) {
                pid_t pid;
                uid_t uid;
                if (ident_find_client(except_fd, &pid, &uid) >= 0) {
                        c->req_pid = pid;
                        c->req_uid = uid;
                }
        }
        (void) ident_cmdline(c->req_pid, &c->req_cmdline);
}

static int core_make_hello(Core *c) {
        size_t cmd_len = c->req_cmdline ? strlen(c->req_cmdline) : 0;
        size_t cap = 512 + sizeof(c->nix_version) * 6 + cmd_len * 6;
        char *p = malloc(cap);
        JsonOut w;

        if (!p)
                return -ENOMEM;
        json_out_init(&w, p, cap);
        json_out_lit(&w, "{\"action\":\"hello\",\"protocol\":");
        json_out_u64(&w, NA_PROTOCOL);
        json_out_lit(&w, ",\"pid\":");
        json_out_i64(&w, c->pid);
        json_out_lit(&w, ",\"ppid\":");
        json_out_i64(&w, getppid());
        json_out_lit(&w, ",\"uid\":");
        json_out_u64(&w, getuid());
        json_out_lit(&w,
                     c->role == NA_ROLE_DAEMON_WORKER ? ",\"role\":\"daemon-worker\"" : ",\"role\":\"cli\"");
        if (c->nix_version[0]) {
                json_out_lit(&w, ",\"nix\":");
                json_out_str(&w, c->nix_version, strlen(c->nix_version));
        }
        json_out_lit(&w, ",\"requester\":{\"pid\":");
        json_out_i64(&w, c->req_pid);
        json_out_lit(&w, ",\"uid\":");
        json_out_u64(&w, c->req_uid);
        if (c->req_cmdline) {
                json_out_lit(&w, ",\"cmdline\":");
                json_out_str(&w, c->req_cmdline, cmd_len);
        }
        json_out_lit(&w, "}}\n");
        if (w.overflow) {
                free(p);
                return -ENOBUFS;
        }
        if (!c->pre_inherited)
                free(c->pre);
        c->pre_inherited = false;
        c->pre = p;
        c->pre_len = w.len;
        c->pre_off = 0;
        return 0;
}

static void core_schedule_retry(Core *c, usec_t now) {
        c->next_try = now + c->backoff;
        c->backoff = c->backoff * 2 > BACKOFF_MAX_USEC ? BACKOFF_MAX_USEC : c->backoff * 2;
}

static bool core_connect(Core *c, usec_t now) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        if (now < c->next_try)
                return false;
        if (c->socket_path) {
                int l = c->socket_path(sa.sun_path, sizeof(sa.sun_path));
                if (l <= 0 || (size_t) l >= sizeof(sa.sun_path)) {
                        core_schedule_retry(c, now);
                        return false;
                }
        } else if (c->addr.sun_family == AF_UNIX)
                sa = c->addr; /* detached (exiting): the last path known */
        else {
                core_schedule_retry(c, now);
                return false;
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                core_schedule_retry(c, now);
                return false;
        }
        /* A non-blocking connect to a Unix socket completes at once or fails (EAGAIN: the
         * listener's backlog is full); either way nothing to wait for. */
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                close(fd);
                core_schedule_retry(c, now);
                return false;
        }
        int sndbuf = SNDBUF_BYTES;
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        core_learn_requester(c, fd);
        if (core_make_hello(c) < 0) {
                close(fd);
                core_schedule_retry(c, now);
                return false;
        }
        c->fd = fd;
        c->addr = sa;
        c->backoff = BACKOFF_MIN_USEC;
        c->blocked_until = 0;
        return true;
}

/* The connection broke: the record it was in the middle of is lost (the next connection
 * must start on a record boundary, after its hello). Try again soon: a restarted daemon is
 * usually back already, and one that closes at once must not make this spin. */
static void core_disconnect(Core *c, usec_t now) {
        close(c->fd);
        c->fd = -1;
        if (c->partial) {
                char *nl = memchr(c->out + c->out_off, '\n', c->out_len - c->out_off);
                c->out_off = nl ? (size_t) (nl + 1 - c->out) : c->out_len;
                c->partial = false;
                c->dropped++;
        }
        c->blocked_until = 0;
        core_schedule_retry(c, now);
}

/* Sends [from+*off, from+len). Returns 1 all sent, 0 would block, -1 broken. */
static int core_send(int fd, const char *from, size_t *off, size_t len) {
        while (*off < len) {
                ssize_t n = send(fd, from + *off, len - *off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0) {
                        *off += (size_t) n;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return 0;
                return -1;
        }
        return 1;
}

/* With the lock held; it is released during the sends themselves, so Nix's threads keep
 * appending to buf meanwhile. One sender at a time (sending): the flusher, or the caller
 * when there is no flusher, or the exit handler. */
static void core_send_pending(Core *c) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        if (c->sending)
                return;
        if (c->fd < 0 && !core_connect(c, now))
                return;
        c->urgent = false;
        /* Two rounds: what is left of out, then buf (swapped in), or buf twice. */
        for (int round = 0; round < 2; round++) {
                if (c->out_off == c->out_len && c->len > 0) {
                        char *t = c->out;
                        c->out = c->buf;
                        c->out_len = c->len;
                        c->out_off = 0;
                        c->buf = t;
                        c->len = 0;
                }
                if (c->pre_off == c->pre_len && c->out_off == c->out_len)
                        break;
                int fd = c->fd;
                const char *pre = c->pre, *out = c->out;
                size_t pre_off = c->pre_off, pre_len = c->pre_len, out_off = c->out_off,
                       out_len = c->out_len;
                c->sending = true;
                pthread_mutex_unlock(&c->lock);
                int r = core_send(fd, pre, &pre_off, pre_len);
                if (r > 0)
                        r = core_send(fd, out, &out_off, out_len);
                pthread_mutex_lock(&c->lock);
                c->sending = false;
                pthread_cond_broadcast(&c->sent);
                c->pre_off = pre_off;
                c->out_off = out_off;
                c->partial = out_off > 0 && out[out_off - 1] != '\n';
                c->last_send = now = now_usec(CLOCK_MONOTONIC);
                if (r < 0) {
                        core_disconnect(c, now);
                        return;
                }
                if (r == 0) {
                        c->blocked_until = now + BATCH_USEC;
                        return;
                }
                c->blocked_until = 0;
        }
}

/* When the flusher must send next (monotonic), 0 for "not before new records". */
static usec_t flusher_due(const Core *c) {
        if (c->len == 0 && c->out_off == c->out_len)
                return 0;
        if (c->fd < 0)
                return MAX(c->next_try, 1ULL);
        if (c->blocked_until)
                return c->blocked_until;
        if (c->urgent || c->len >= BATCH_HIGH)
                return c->last_send + URGENT_USEC;
        return c->last_send + BATCH_USEC;
}

static void *flusher_main(void *arg) {
        Core *c = arg;

        pthread_mutex_lock(&c->lock);
        for (;;) {
                if (c->sending) { /* the exit handler's, or a caller's without a flusher */
                        pthread_cond_wait(&c->sent, &c->lock);
                        continue;
                }
                usec_t due = flusher_due(c);
                if (due != 0 && due <= now_usec(CLOCK_MONOTONIC)) {
                        core_send_pending(c);
                        continue;
                }
                c->flusher_due = due;
                c->flusher_waiting = true;
                if (due) {
                        struct timespec ts = timespec_of(due);
                        pthread_cond_timedwait(&c->wake, &c->lock, &ts);
                } else
                        pthread_cond_wait(&c->wake, &c->lock);
                c->flusher_waiting = false;
        }
        return NULL;
}

/* With the lock held. The thread blocks every signal: Nix's own signal handling stays as
 * it is. */
static void core_start_flusher(Core *c) {
        pthread_attr_t attr;
        sigset_t all, old;
        pthread_t t;

        c->flusher_started = true;
        if (pthread_attr_init(&attr) != 0) {
                c->flusher_failed = true;
                return;
        }
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_create(&t, &attr, flusher_main, c) != 0)
                c->flusher_failed = true;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
}

/* After a record: make sure it will be sent in time. No syscall in the usual case (the
 * flusher is awake, or waits with a deadline the record does not bring forward) but one
 * send per BATCH_BYTES. */
static void core_kick(Core *c) {
        if (_unlikely_(!c->flusher_started))
                core_start_flusher(c);
        if (_unlikely_(c->flusher_failed)) {
                /* No flusher: this thread sends, everything at once (a full socket is not
                 * knocked on more than once per BATCH_USEC). */
                if (!c->blocked_until || now_usec(CLOCK_MONOTONIC) >= c->blocked_until)
                        core_send_pending(c);
                return;
        }
        /* A full batch goes out from here, at once: measured on a real build through the
         * nix-daemon, that slows it less than waking the flusher for it (smaller bursts for
         * nix-analyticsd, no thread switch on the busy core). Not while the socket is full
         * (the flusher retries) or unconnected (the flusher connects). */
        if (c->len >= BATCH_BYTES && c->fd >= 0 && !c->blocked_until && !c->sending) {
                core_send_pending(c);
                return;
        }
        if (!c->flusher_waiting)
                return; /* it looks at buf again before it waits */
        usec_t due = flusher_due(c);
        if (due != 0 && (c->flusher_due == 0 || due < c->flusher_due)) {
                c->flusher_waiting = false; /* told once */
                pthread_cond_signal(&c->wake);
        }
}

/* Locks, handles a fork, and gives the space the next record may use. least: the bytes the
 * record needs at the very least; with less free, it is dropped without being formatted.
 * False: nothing to do (silent process, no memory, no room), the lock is then released. */
static bool record_begin(NaRole role, size_t least, JsonOut *w) {
        Core *c = &core;
        core_lock(c);
        if (_unlikely_(!c->initialised || c->silent))
                goto unlock;
        c->sent_any = true;
        c->role = role;
        if (_unlikely_(!c->buf)) {
                c->buf = malloc(BUF_CAP);
                c->out = malloc(BUF_CAP);
                if (!c->buf || !c->out) {
                        free(c->buf);
                        free(c->out);
                        c->buf = c->out = NULL;
                        c->dropped++;
                        goto unlock;
                }
        }
        if (_unlikely_(c->dropped > 0)) {
                json_out_init(w, c->buf + c->len, BUF_CAP - c->len);
                json_out_lit(w, DROPPED_PREFIX);
                json_out_u64(w, c->dropped);
                json_out_lit(w, "}\n");
                if (!w->overflow) {
                        c->len += w->len;
                        c->dropped = 0;
                }
        }
        if (_unlikely_(BUF_CAP - c->len < least)) {
                c->dropped++;
                goto unlock;
        }
        json_out_init(w, c->buf + c->len, BUF_CAP - c->len);
        return true;
unlock:
        pthread_mutex_unlock(&c->lock);
        return false;
}

/* The record's timestamp: unix time in microseconds, from the coarse clock: the time of the
 * last tick (1-4 ms old), read without the TSC; the precise clock was a third of the Nix
 * thread's cost per log line (issue 22), and build times are not that fine. */
static void put_time(Core *c, JsonOut *w) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME_COARSE, &ts);
        if (_unlikely_(ts.tv_sec <= 0)) {
                json_out_u64(w, (uint64_t) now_usec(CLOCK_REALTIME));
                return;
        }
        if (ts.tv_sec != c->t_sec || c->t_sec_digits.len == 0) {
                json_out_init(&c->t_sec_digits, c->t_sec_buf, sizeof(c->t_sec_buf));
                json_out_u64(&c->t_sec_digits, (uint64_t) ts.tv_sec);
                c->t_sec = ts.tv_sec;
        }
        json_out_raw(w, c->t_sec_buf, c->t_sec_digits.len);
        json_out_u64_digits(w, (uint32_t) (ts.tv_nsec / 1000), 6);
}

static void put_id(Core *c, JsonOut *w, uint64_t id) {
        if (id != c->last_id || c->last_id_digits.len == 0) {
                json_out_init(&c->last_id_digits, c->last_id_buf, sizeof(c->last_id_buf));
                json_out_u64(&c->last_id_digits, id);
                c->last_id = id;
        }
        json_out_raw(w, c->last_id_buf, c->last_id_digits.len);
}

static void record_end(JsonOut *w, bool urgent) {
        Core *c = &core;
        json_out_lit(w, ",\"t\":");
        put_time(c, w);
        json_out_lit(w, "}\n");
        if (_unlikely_(w->overflow))
                c->dropped++;
        else {
                c->len += w->len;
                c->urgent |= urgent;
        }
        core_kick(c);
        pthread_mutex_unlock(&c->lock);
}

/* The smallest record: its fixed keys, numbers and timestamp. */
#define RECORD_LEAST 64

static size_t fields_least(const NaField *fields, size_t n) {
        size_t l = 0;
        for (size_t i = 0; i < n; i++)
                l += fields[i].is_string ? fields[i].len + 3 : 2;
        return l;
}

static void write_fields(JsonOut *w, const NaField *fields, size_t n) {
        json_out_lit(w, ",\"fields\":[");
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        json_out_raw(w, ",", 1);
                if (fields[i].is_string)
                        json_out_str(w, fields[i].s, fields[i].len);
                else
                        json_out_u64(w, fields[i].i);
        }
        json_out_raw(w, "]", 1);
}

void na_emit_start(NaRole role, uint64_t id, int level, int type, const char *text, size_t text_len,
                   const NaField *fields, size_t n_fields, uint64_t parent) {
        JsonOut w;
        if (!record_begin(role, RECORD_LEAST + text_len + fields_least(fields, n_fields), &w))
                return;
        json_out_lit(&w, "{\"action\":\"start\",\"id\":");
        json_out_u64(&w, id);
        json_out_lit(&w, ",\"level\":");
        json_out_i64(&w, level);
        json_out_lit(&w, ",\"type\":");
        json_out_i64(&w, type);
        json_out_lit(&w, ",\"text\":");
        json_out_str(&w, text, text_len);
        if (parent) {
                json_out_lit(&w, ",\"parent\":");
                json_out_u64(&w, parent);
        }
        if (n_fields > 0)
                write_fields(&w, fields, n_fields);
        record_end(&w, /* urgent= */ true);
}

void na_emit_stop(NaRole role, uint64_t id) {
        JsonOut w;
        if (!record_begin(role, RECORD_LEAST, &w))
                return;
        json_out_lit(&w, "{\"action\":\"stop\",\"id\":");
        json_out_u64(&w, id);
        record_end(&w, /* urgent= */ true);
}

void na_emit_result(NaRole role, uint64_t id, int type, const NaField *fields, size_t n_fields) {
        JsonOut w;
        if (!record_begin(role, RECORD_LEAST + fields_least(fields, n_fields), &w))
                return;
        json_out_lit(&w, "{\"action\":\"result\",\"id\":");
        put_id(&core, &w, id);
        json_out_lit(&w, ",\"type\":");
        json_out_i64(&w, type);
        if (n_fields > 0)
                write_fields(&w, fields, n_fields);
        record_end(&w,
                   /* urgent= */ type != NA_RESULT_BUILD_LOG_LINE && type != NA_RESULT_POST_BUILD_LOG_LINE);
}

void na_emit_msg(NaRole role, int level, const char *msg, size_t msg_len, const char *raw, size_t raw_len) {
        JsonOut w;
        if (!record_begin(role, RECORD_LEAST + msg_len + (raw ? raw_len : 0), &w))
                return;
        json_out_lit(&w, "{\"action\":\"msg\",\"level\":");
        json_out_i64(&w, level);
        json_out_lit(&w, ",\"msg\":");
        json_out_str(&w, msg, msg_len);
        if (raw) {
                json_out_lit(&w, ",\"raw_msg\":");
                json_out_str(&w, raw, raw_len);
        }
        record_end(&w, /* urgent= */ true);
}

/* The records lost with unsent bytes: one per line, a dropped record's own count for it. */
static uint64_t count_lost(const char *p, size_t n) {
        const char *e = p + n, *nl;
        uint64_t k = 0;
        for (; (nl = memchr(p, '\n', (size_t) (e - p))); p = nl + 1) {
                size_t l = strlen(DROPPED_PREFIX);
                if ((size_t) (nl - p) > l && memcmp(p, DROPPED_PREFIX, l) == 0)
                        k += strtoull(p + l, NULL, 10);
                else
                        k++;
        }
        return k;
}

/* At exit, with records that can no longer be sent on a connection that is full (a stopped
 * nix-analyticsd): a second connection (it queues in the listener's backlog) carries a hello
 * and their count, so the loss is reported once the daemon runs again. Non-blocking
 * throughout; a daemon that is gone just gets nothing. */
static void core_report_lost(Core *c, uint64_t lost) {
        char line[64];
        JsonOut w;

        if (c->addr.sun_family != AF_UNIX || core_make_hello(c) < 0)
                return;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &c->addr, sizeof(c->addr)) < 0)
                return;
        json_out_init(&w, line, sizeof(line));
        json_out_lit(&w, DROPPED_PREFIX);
        json_out_u64(&w, lost);
        json_out_lit(&w, "}\n");
        size_t pre_off = 0, off = 0;
        if (!w.overflow && core_send(fd, c->pre, &pre_off, c->pre_len) > 0)
                (void) core_send(fd, line, &off, w.len);
}

/* At exit (nix-build returning from main, a nix-daemon worker's exit(0)): what is still
 * buffered gets one last non-blocking send (connecting if need be, to the last path known:
 * the shim's settings may be gone by now), after the flusher's send under way if any, so the
 * last records are not lost with the process; what cannot be sent on a connection that is
 * full is counted and reported. Bounded waits: exit never hangs here. */
__attribute__((destructor)) static void core_exit_flush(void) {
        Core *c = &core;
        struct timespec ts = timespec_of(now_usec(CLOCK_REALTIME) + EXIT_WAIT_USEC);

        if (core_is_parents(c) || pthread_mutex_timedlock(&c->lock, &ts) != 0)
                return;
        if (c->initialised && !c->silent && c->buf) {
                ts = timespec_of(now_usec(CLOCK_MONOTONIC) + EXIT_WAIT_USEC);
                while (c->sending && pthread_cond_timedwait(&c->sent, &c->lock, &ts) == 0)
                        ;
                c->blocked_until = c->next_try = 0;
                if (!c->sending && (c->len > 0 || c->out_off < c->out_len))
                        core_send_pending(c);
                if (!c->sending && c->fd >= 0) {
                        uint64_t lost = c->dropped +
                                        count_lost(c->out + c->out_off, c->out_len - c->out_off) +
                                        count_lost(c->buf, c->len);
                        if (lost > 0)
                                core_report_lost(c, lost);
                }
        }
        pthread_mutex_unlock(&c->lock);
}
