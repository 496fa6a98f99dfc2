/* The plugin's C core (see core.h): connection, bounded buffering, framing, records. */
#include "plugin/core.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "basic/macro.h"
#include "plugin/ident.h"
#include "plugin/json.h"
#include "shared/sockdir.h"

/* What is kept while nix-analyticsd is slow or gone: about a second of the fastest build
 * output Nix 2.8 produces (~30 k lines/s through the daemon, ~125 bytes a record). */
#define BUF_CAP (4u << 20)
/* Compact the buffer when less than this is free at its end. */
#define BUF_SLACK    (64u << 10)
#define SNDBUF_BYTES (1 << 20)
/* Log lines are sent in batches (one send per this many bytes or this much time) so a
 * fast build costs few syscalls here and few wakeups in nix-analyticsd; anything else
 * (starts, stops, messages, phases, progress) goes out at once with what is pending. */
#define BATCH_BYTES (32u << 10)
#define BATCH_USEC  10000ULL
/* Reconnect attempts: first one right away, then doubling up to the cap, so a restarted
 * daemon is found again within half a second of its socket reappearing (while Nix logs). */
#define BACKOFF_MIN_USEC (20 * 1000ULL)
#define BACKOFF_MAX_USEC (500 * 1000ULL)

typedef unsigned long long usec_t;

enum {
        NA_RESULT_BUILD_LOG_LINE = 101, /* Nix's ResultType numbers */
        NA_RESULT_POST_BUILD_LOG_LINE = 107,
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

        pid_t pid; /* the process the state below belongs to */
        bool requester_known;
        pid_t req_pid;
        uid_t req_uid;
        char *req_cmdline;

        int fd;
        usec_t next_try, backoff;
        char *pre; /* the hello line of the current connection */
        size_t pre_len, pre_off;
        char *buf; /* records; [off, len) not sent yet */
        size_t len, off;
        bool partial;         /* the last send ended inside a record */
        usec_t last_send;     /* monotonic */
        usec_t blocked_until; /* the socket was full: no send before this (monotonic) */
        /* Sends batched log lines that no later record flushes (a build printing one line and
         * then nothing for a minute). Started on first need in each process. */
        bool flusher_started;
        bool flusher_idle; /* waiting without a deadline: needs a wake-up */
        pthread_cond_t wake;
        uint64_t dropped; /* records lost and not reported yet */
} Core;

static Core core = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .wake = PTHREAD_COND_INITIALIZER,
        .fd = -1,
};

static usec_t now_usec(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (usec_t) ts.tv_sec * 1000000ULL + (usec_t) ts.tv_nsec / 1000;
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

void na_core_init(const char *nix_version, NaSocketPathFn socket_path) {
        pthread_mutex_lock(&core.lock);
        if (!core.initialised) {
                core.initialised = true;
                core.pid = getpid();
                core.socket_path = socket_path;
                snprintf(core.nix_version, sizeof(core.nix_version), "%s", nix_version ? nix_version : "");
                core.backoff = BACKOFF_MIN_USEC;
                (void) pthread_atfork(atfork_prepare, atfork_release, atfork_release);
        }
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
 * hook between fork and exec) stays silent. */
static void core_adopt(Core *c, pid_t pid) {
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        c->silent = c->sent_any;
        c->sent_any = false;
        c->pid = pid;
        c->requester_known = false;
        free(c->req_cmdline);
        c->req_cmdline = NULL;
        free(c->pre);
        c->pre = NULL;
        c->pre_len = c->pre_off = 0;
        c->len = c->off = 0;
        c->partial = false;
        c->dropped = 0;
        c->next_try = 0;
        c->backoff = BACKOFF_MIN_USEC;
        c->flusher_started = c->flusher_idle = false; /* threads do not survive fork */
        pthread_cond_init(&c->wake, NULL);
}

static void core_learn_requester(Core *c, NaRole role, int except_fd) {
        if (c->requester_known)
                return;
        c->requester_known = true;
        c->req_pid = getpid();
        c->req_uid = getuid();
        if (role == NA_ROLE_DAEMON_WORKER) {
                pid_t pid;
                uid_t uid;
                if (ident_find_client(except_fd, &pid, &uid) >= 0) {
                        c->req_pid = pid;
                        c->req_uid = uid;
                }
        }
        (void) ident_cmdline(c->req_pid, &c->req_cmdline);
}

static int core_make_hello(Core *c, NaRole role) {
        size_t cmd_len = c->req_cmdline ? strlen(c->req_cmdline) : 0;
        size_t cap = 512 + sizeof(c->nix_version) * 6 + cmd_len * 6;
        char *p = malloc(cap);
        JsonOut w;

        if (!p)
                return -ENOMEM;
        json_out_init(&w, p, cap);
        json_lit(&w, "{\"action\":\"hello\",\"protocol\":");
        json_u64(&w, NA_PROTOCOL_VERSION);
        json_lit(&w, ",\"pid\":");
        json_i64(&w, c->pid);
        json_lit(&w, ",\"ppid\":");
        json_i64(&w, getppid());
        json_lit(&w, ",\"uid\":");
        json_u64(&w, getuid());
        json_lit(&w, role == NA_ROLE_DAEMON_WORKER ? ",\"role\":\"daemon-worker\"" : ",\"role\":\"cli\"");
        if (c->nix_version[0]) {
                json_lit(&w, ",\"nix\":");
                json_str(&w, c->nix_version, strlen(c->nix_version));
        }
        json_lit(&w, ",\"requester\":{\"pid\":");
        json_i64(&w, c->req_pid);
        json_lit(&w, ",\"uid\":");
        json_u64(&w, c->req_uid);
        if (c->req_cmdline) {
                json_lit(&w, ",\"cmdline\":");
                json_str(&w, c->req_cmdline, cmd_len);
        }
        json_lit(&w, "}}\n");
        if (w.overflow) {
                free(p);
                return -ENOBUFS;
        }
        free(c->pre);
        c->pre = p;
        c->pre_len = w.len;
        c->pre_off = 0;
        return 0;
}

static void core_schedule_retry(Core *c, usec_t now) {
        c->next_try = now + c->backoff;
        c->backoff = c->backoff * 2 > BACKOFF_MAX_USEC ? BACKOFF_MAX_USEC : c->backoff * 2;
}

static bool core_connect(Core *c, NaRole role) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        if (now < c->next_try)
                return false;
        int l = c->socket_path ? c->socket_path(sa.sun_path, sizeof(sa.sun_path)) : -1;
        if (l <= 0 || (size_t) l >= sizeof(sa.sun_path)) {
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
        core_learn_requester(c, role, fd);
        if (core_make_hello(c, role) < 0) {
                close(fd);
                core_schedule_retry(c, now);
                return false;
        }
        c->fd = fd;
        c->backoff = BACKOFF_MIN_USEC;
        return true;
}

/* The connection broke: the record it was in the middle of is lost (the next connection
 * must start on a record boundary, after its hello). */
static void core_disconnect(Core *c) {
        close(c->fd);
        c->fd = -1;
        if (c->partial) {
                char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);
                c->off = nl ? (size_t) (nl + 1 - c->buf) : c->len;
                c->partial = false;
                c->dropped++;
        }
        /* Try again at the next record: a restarted daemon is usually back already. */
        c->next_try = 0;
}

/* Sends [from+*off, from+len). Returns 1 all sent, 0 would block, -1 broken. */
static int core_send(Core *c, const char *from, size_t *off, size_t len) {
        while (*off < len) {
                ssize_t n = send(c->fd, from + *off, len - *off, MSG_NOSIGNAL | MSG_DONTWAIT);
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

static void core_start_flusher(Core *c);

static void core_flush(Core *c, NaRole role, bool urgent) {
        /* A stalled daemon: do not knock on a full socket once per record. */
        if (c->fd >= 0 && c->blocked_until && now_usec(CLOCK_MONOTONIC) < c->blocked_until)
                return;
        c->blocked_until = 0;
        if (c->fd >= 0 && !urgent && c->pre_off == c->pre_len && c->len - c->off < BATCH_BYTES) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                if (now - c->last_send < BATCH_USEC) {
                        if (!c->flusher_started)
                                core_start_flusher(c);
                        if (c->flusher_started) {
                                if (c->flusher_idle)
                                        pthread_cond_signal(&c->wake);
                                return;
                        }
                }
                c->last_send = now;
        } else if (c->fd >= 0)
                c->last_send = now_usec(CLOCK_MONOTONIC);
        if (c->fd < 0 && !core_connect(c, role))
                return;
        int r = core_send(c, c->pre, &c->pre_off, c->pre_len);
        if (r > 0 && c->off < c->len) {
                r = core_send(c, c->buf, &c->off, c->len);
                c->partial = c->off > 0 && c->buf[c->off - 1] != '\n';
        }
        if (r < 0)
                core_disconnect(c);
        else if (r == 0)
                c->blocked_until = now_usec(CLOCK_MONOTONIC) + BATCH_USEC;
}

static void *flusher_main(void *arg) {
        Core *c = arg;
        pid_t pid = getpid();

        pthread_mutex_lock(&c->lock);
        while (c->pid == pid) {
                if (c->fd >= 0 && c->off < c->len) {
                        usec_t due = c->last_send + BATCH_USEC;
                        if (c->blocked_until > due)
                                due = c->blocked_until;
                        struct timespec ts = {.tv_sec = (time_t) (due / 1000000),
                                              .tv_nsec = (long) (due % 1000000) * 1000};
                        if (pthread_cond_timedwait(&c->wake, &c->lock, &ts) == ETIMEDOUT &&
                            now_usec(CLOCK_MONOTONIC) >= due && c->pid == pid)
                                core_flush(c, NA_ROLE_CLI, /* urgent= */ true);
                } else {
                        c->flusher_idle = true;
                        pthread_cond_wait(&c->wake, &c->lock);
                        c->flusher_idle = false;
                }
        }
        pthread_mutex_unlock(&c->lock);
        return NULL;
}

/* With the lock held. The thread blocks every signal: Nix's own signal handling stays as
 * it is. On failure, batching is simply off (records are sent at once). */
static void core_start_flusher(Core *c) {
        pthread_attr_t attr;
        pthread_condattr_t ca;
        sigset_t all, old;
        pthread_t t;

        c->flusher_started = true;
        if (pthread_condattr_init(&ca) != 0) {
                c->flusher_started = false;
                return;
        }
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_destroy(&c->wake);
        pthread_cond_init(&c->wake, &ca);
        pthread_condattr_destroy(&ca);

        if (pthread_attr_init(&attr) != 0) {
                c->flusher_started = false;
                return;
        }
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_create(&t, &attr, flusher_main, c) != 0)
                c->flusher_started = false;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
}

/* Locks, handles a fork, and gives the space the next record may use. False: nothing to
 * do (silent process, no memory), the lock is then released. */
static bool record_begin(NaRole role, JsonOut *w) {
        Core *c = &core;
        pthread_mutex_lock(&c->lock);
        if (!c->initialised)
                goto skip;
        pid_t pid = getpid();
        if (pid != c->pid)
                core_adopt(c, pid);
        if (c->silent)
                goto skip;
        c->sent_any = true;
        if (!c->buf) {
                c->buf = malloc(BUF_CAP);
                if (!c->buf) {
                        c->dropped++;
                        goto skip;
                }
        }
        if (c->off == c->len)
                c->off = c->len = 0;
        else if (BUF_CAP - c->len < BUF_SLACK && c->off > 0) {
                memmove(c->buf, c->buf + c->off, c->len - c->off);
                c->len -= c->off;
                c->off = 0;
        }
        if (c->dropped > 0) {
                json_out_init(w, c->buf + c->len, BUF_CAP - c->len);
                json_lit(w, "{\"action\":\"dropped\",\"count\":");
                json_u64(w, c->dropped);
                json_lit(w, "}\n");
                if (!w->overflow) {
                        c->len += w->len;
                        c->dropped = 0;
                }
        }
        json_out_init(w, c->buf + c->len, BUF_CAP - c->len);
        (void) role;
        return true;
skip:
        pthread_mutex_unlock(&c->lock);
        return false;
}

static void record_end(NaRole role, JsonOut *w, bool urgent) {
        Core *c = &core;
        json_lit(w, ",\"t\":");
        json_u64(w, now_usec(CLOCK_REALTIME));
        json_lit(w, "}\n");
        if (w->overflow)
                c->dropped++;
        else
                c->len += w->len;
        core_flush(c, role, urgent);
        pthread_mutex_unlock(&c->lock);
}

static void write_fields(JsonOut *w, const NaField *fields, size_t n) {
        json_lit(w, ",\"fields\":[");
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        json_raw(w, ",", 1);
                if (fields[i].is_string)
                        json_str(w, fields[i].s, fields[i].len);
                else
                        json_u64(w, fields[i].i);
        }
        json_raw(w, "]", 1);
}

void na_emit_start(NaRole role, uint64_t id, int level, int type, const char *text, size_t text_len,
                   const NaField *fields, size_t n_fields, uint64_t parent) {
        JsonOut w;
        if (!record_begin(role, &w))
                return;
        json_lit(&w, "{\"action\":\"start\",\"id\":");
        json_u64(&w, id);
        json_lit(&w, ",\"level\":");
        json_i64(&w, level);
        json_lit(&w, ",\"type\":");
        json_i64(&w, type);
        json_lit(&w, ",\"text\":");
        json_str(&w, text, text_len);
        if (parent) {
                json_lit(&w, ",\"parent\":");
                json_u64(&w, parent);
        }
        if (n_fields > 0)
                write_fields(&w, fields, n_fields);
        record_end(role, &w, /* urgent= */ true);
}

void na_emit_stop(NaRole role, uint64_t id) {
        JsonOut w;
        if (!record_begin(role, &w))
                return;
        json_lit(&w, "{\"action\":\"stop\",\"id\":");
        json_u64(&w, id);
        record_end(role, &w, /* urgent= */ true);
}

void na_emit_result(NaRole role, uint64_t id, int type, const NaField *fields, size_t n_fields) {
        JsonOut w;
        if (!record_begin(role, &w))
                return;
        json_lit(&w, "{\"action\":\"result\",\"id\":");
        json_u64(&w, id);
        json_lit(&w, ",\"type\":");
        json_i64(&w, type);
        if (n_fields > 0)
                write_fields(&w, fields, n_fields);
        record_end(role, &w,
                   /* urgent= */ type != NA_RESULT_BUILD_LOG_LINE && type != NA_RESULT_POST_BUILD_LOG_LINE);
}

void na_emit_msg(NaRole role, int level, const char *msg, size_t msg_len, const char *raw, size_t raw_len) {
        JsonOut w;
        if (!record_begin(role, &w))
                return;
        json_lit(&w, "{\"action\":\"msg\",\"level\":");
        json_i64(&w, level);
        json_lit(&w, ",\"msg\":");
        json_str(&w, msg, msg_len);
        if (raw) {
                json_lit(&w, ",\"raw_msg\":");
                json_str(&w, raw, raw_len);
        }
        record_end(role, &w, /* urgent= */ true);
}

/* At exit (nix-build returning from main): one last non-blocking attempt, so records held
 * back by a momentarily full socket are not lost with the process. */
__attribute__((destructor)) static void core_exit_flush(void) {
        Core *c = &core;
        if (pthread_mutex_trylock(&c->lock) != 0)
                return;
        if (c->initialised && !c->silent && c->pid == getpid() && c->fd >= 0 && c->off < c->len)
                core_flush(c, NA_ROLE_CLI, /* urgent= */ true);
        pthread_mutex_unlock(&c->lock);
}
