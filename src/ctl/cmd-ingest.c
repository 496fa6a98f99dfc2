/* The ingest verb: `nix-build ... --log-format internal-json -v 2>&1 | nix-analytics-ctl ingest`.
 * Splits stdin into "@nix {...}" records, forwarded verbatim to events.sock, and other lines,
 * passed through to stdout (and forwarded as plain messages). Nix must never wait for us, so
 * the daemon side never blocks (see sender.h) and stdin is read in large chunks. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "ctl/commands.h"
#include "ctl/pipe-peer.h"
#include "ctl/proc-ident.h"
#include "ctl/sender.h"
#include "shared/proto.h"
#include "shared/sockdir.h"

/* The bounded in-memory buffer for the daemon: what it has not taken yet, or what piles up
 * while it is away (so a daemon started mid-build still sees the build's beginning). */
#define QUEUE_MAX ((size_t) 8 * 1024 * 1024)
/* Nix writes one record per write(). Woken for each, we would cost it a context switch per
 * record (issue 22: 1.35x a plain nix-build). So the pipe is enlarged to PIPE_SIZE, and after
 * each read stdin rests for INPUT_HOLD: what Nix writes meanwhile lands in the pipe without
 * waking us, and is read, parsed and sent to the daemon as one batch. 1 MiB in 5 ms is
 * 200 MB/s, far more than Nix writes; a read that fills the buffer does not rest. */
#define PIPE_SIZE  ((size_t) 1024 * 1024)
#define INPUT_HOLD (5 * USEC_PER_MSEC)
/* Reads are this large at least: one read empties the enlarged pipe. */
#define READ_CHUNK PIPE_SIZE
#define NIX_PREFIX "@nix "
/* A record the daemon would discard (protocol.md: 1 MiB) is not forwarded. */
#define MAX_LINE     (NA_MAX_LINE + sizeof(NIX_PREFIX) - 1)
#define FLUSH_AT_EOF (5 * USEC_PER_SEC)
/* Nix's default verbosity: what plain `nix-build` would have shown. */
#define ECHO_LEVEL_DEFAULT 3

static const char usage[] =
        "Usage: nix-build ... --log-format internal-json -v 2>&1 | nix-analytics-ctl ingest [OPTIONS]\n"
        "\n"
        "Forwards Nix's internal-json records from stdin to the daemon's event socket. Other\n"
        "lines (such as the output path) go on to stdout, and Nix's messages and activities\n"
        "(\"building '...'...\") at its default verbosity to stderr, as plain nix-build shows\n"
        "them (build log lines excepted: see 'nix-analytics-ctl log'). Never slows\n"
        "Nix down: with the daemon slow or absent, records are buffered (8 MiB) and then\n"
        "dropped and counted; the daemon is retried every second. Exits 0 at end of input.\n"
        "\n"
        "Options:\n"
        "      --no-passthrough   do not copy non-record lines to stdout\n"
        "      --echo-level N     show messages up to this Nix verbosity on stderr (default 3:\n"
        "                         0 error, 1 warn, 2 notice, 3 info, 4 talkative, ...)\n"
        "      --quiet            show no messages on stderr\n"
        "  -h, --help             show this help\n";

typedef struct Ingest {
        const CtlContext *ctx;
        bool passthrough;
        long long echo_level; /* -1: no echo */
        bool stderr_is_tty;

        Sender *sender;
        bool started; /* hello made and connecting, once input arrived */
        bool warned;  /* said once that the daemon cannot be reached */
        bool ever_connected;

        /* stdin: in[0, in_len) holds the unfinished line after each chunk. */
        char *in;
        size_t in_len, in_cap;
        bool skipping;       /* inside a line over MAX_LINE, until its newline */
        bool skipping_plain; /* ... which is passed through */

        /* Passthrough batched into one write per chunk. */
        char *out;
        size_t out_len, out_cap;
        bool out_broken;

        cJSON *plain_msg; /* {"action":"msg","level":3,"msg":...,"plain":true}, reused */
} Ingest;

static void ingest_done(Ingest *g) {
        sender_free(g->sender);
        free(g->in);
        free(g->out);
        cJSON_Delete(g->plain_msg);
}

static void out_flush(Ingest *g) {
        const char *p = g->out;
        size_t left = g->out_len;
        g->out_len = 0;
        while (left > 0 && !g->out_broken) {
                ssize_t n = write(STDOUT_FILENO, p, left);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        /* The pipeline goes on without our stdout: whoever read it left. */
                        if (errno != EPIPE)
                                log_warning_errno(errno,
                                                  "cannot write to standard output, passthrough stops: %m");
                        g->out_broken = true;
                        break;
                }
                p += n;
                left -= (size_t) n;
        }
}

static void out_append(Ingest *g, const char *data, size_t len) {
        if (!g->passthrough || g->out_broken)
                return;
        if (g->out_cap - g->out_len < len) {
                size_t cap = MAX(g->out_cap * 2, g->out_len + len);
                char *o = realloc(g->out, cap);
                if (!o) {
                        /* Keep the order of what we show: write out what we have, then this. */
                        out_flush(g);
                        if (write(STDOUT_FILENO, data, len) < 0)
                                g->out_broken = true;
                        return;
                }
                g->out = o;
                g->out_cap = cap;
        }
        memcpy(g->out + g->out_len, data, len);
        g->out_len += len;
}

/* Shows a record on stderr as Nix's own logger would have at --echo-level: a msg as its
 * text, an activity start as its text and "..." (like "building '/nix/store/...drv'..."). */
static void echo_record(Ingest *g, const char *rec, size_t len) {
        _cleanup_(cJSON_Deletep) cJSON *v = cJSON_ParseWithLength(rec, len);
        const char *action = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "action"));
        const cJSON *level = cJSON_GetObjectItemCaseSensitive(v, "level");
        if (!action || !cJSON_IsNumber(level) || level->valuedouble > (double) g->echo_level)
                return;

        bool start = strcmp(action, "start") == 0;
        char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, start ? "text" : "msg"));
        if (!text || (!start && strcmp(action, "msg") != 0) || (start && !*text))
                return;
        if (!g->stderr_is_tty)
                ansi_strip(text);
        out_flush(g); /* stdout and stderr often share the terminal: keep their order */
        fprintf(stderr, "%s%s\n", text, start ? "..." : "");
}

/* Whether a record may need echo_record(): only msg and start records do, and the bulk (log
 * lines, progress) must not be parsed. '"action":"' cannot occur inside a JSON string (its
 * quotes would be escaped), so the first occurrence is a key. */
static bool may_echo(const char *rec, size_t len) {
        static const char key[] = "\"action\":\"";
        const char *p = memmem(rec, len, key, strlen(key));
        if (!p)
                return false;
        p += strlen(key);
        size_t left = len - (size_t) (p - rec);
        return (left >= 4 && memcmp(p, "msg\"", 4) == 0) || (left >= 6 && memcmp(p, "start\"", 6) == 0);
}

/* A non-record line: the daemon keeps it as log text of the invocation. */
static void forward_plain(Ingest *g, char *line, size_t len) {
        if (len == 0)
                return;
        char saved = line[len];
        line[len] = '\0'; /* in the buffer's slack: there is always room after a line */
        cJSON *s = cJSON_CreateString(line);
        line[len] = saved;
        if (!s || !cJSON_ReplaceItemInObjectCaseSensitive(g->plain_msg, "msg", s)) {
                cJSON_Delete(s);
                return;
        }
        _cleanup_free_ char *rec = cJSON_PrintUnformatted(g->plain_msg);
        size_t rec_len = rec ? strlen(rec) : 0;
        if (rec && rec_len <= NA_MAX_LINE) /* escaping may have made it too long */
                (void) sender_queue(g->sender, rec, rec_len);
}

static bool is_record(const char *line, size_t len) {
        return len >= strlen(NIX_PREFIX "{") && memcmp(line, NIX_PREFIX "{", strlen(NIX_PREFIX "{")) == 0;
}

/* One complete line without its newline; line[len] may be written (it is the newline or
 * slack in the buffer). */
static void process_line(Ingest *g, char *line, size_t len, bool newline) {
        if (is_record(line, len)) {
                const char *rec = line + strlen(NIX_PREFIX);
                size_t rec_len = len - strlen(NIX_PREFIX);
                /* The daemon would discard it (and count it as oversized); a drop is counted
                 * and reported. */
                if (rec_len <= NA_MAX_LINE)
                        (void) sender_queue(g->sender, rec, rec_len);
                if (g->echo_level >= 0 && may_echo(rec, rec_len))
                        echo_record(g, rec, rec_len);
                return;
        }

        out_append(g, line, len + newline);
        forward_plain(g, line, len);
}

/* Handles in[0, in_len): every complete line, then the unfinished rest moves to the front. */
static void process_input(Ingest *g) {
        char *p = g->in, *end = g->in + g->in_len;

        if (g->skipping) {
                char *nl = memchr(p, '\n', (size_t) (end - p));
                char *stop = nl ? nl + 1 : end;
                if (g->skipping_plain)
                        out_append(g, p, (size_t) (stop - p));
                p = stop;
                g->skipping = !nl;
        }

        for (;;) {
                char *nl = memchr(p, '\n', (size_t) (end - p));
                if (!nl)
                        break;
                process_line(g, p, (size_t) (nl - p), /* newline= */ true);
                p = nl + 1;
        }

        size_t rest = (size_t) (end - p);
        if (rest >= MAX_LINE) {
                /* Too long for the daemon: pass it through, forward nothing, and skip on to
                 * its end. */
                g->skipping = true;
                g->skipping_plain = !is_record(p, rest);
                if (g->skipping_plain)
                        out_append(g, p, rest);
                rest = 0;
        }
        memmove(g->in, p, rest);
        g->in_len = rest;
}

static char *make_hello(const ProcIdent *id) {
        _cleanup_(cJSON_Deletep) cJSON *h = cJSON_CreateObject();
        cJSON *requester = cJSON_AddObjectToObject(h, "requester");
        if (!requester || !cJSON_AddStringToObject(h, "action", "hello") ||
            !cJSON_AddNumberToObject(h, "protocol", NA_PROTOCOL) ||
            !cJSON_AddNumberToObject(h, "pid", id->pid) || !cJSON_AddNumberToObject(h, "ppid", id->ppid) ||
            !cJSON_AddNumberToObject(h, "uid", id->uid) || !cJSON_AddStringToObject(h, "role", "ingest") ||
            (id->nix_version && !cJSON_AddStringToObject(h, "nix", id->nix_version)) ||
            !cJSON_AddNumberToObject(requester, "pid", id->pid) ||
            !cJSON_AddNumberToObject(requester, "uid", id->uid) ||
            (id->cmdline && *id->cmdline && !cJSON_AddStringToObject(requester, "cmdline", id->cmdline)))
                return NULL;
        return cJSON_PrintUnformatted(h);
}

static int resolve_events_path(Ingest *g) {
        _cleanup_free_ char *path = NULL;
        int r = ctl_socket_path(g->ctx, NA_EVENTS_SOCKET, &path);
        if (r < 0)
                return r;
        return sender_set_path(g->sender, path);
}

/* On the first input, when the nix process has certainly exec'd: who is writing into our
 * stdin goes into the hello, and connecting begins. */
static int start(Ingest *g) {
        ProcIdent id = {};
        pid_t writer;
        int r = pipe_peer_find_writer("/proc", STDIN_FILENO, getpid(), &writer);
        if (r < 0 || proc_ident_read("/proc", writer, &id) < 0) {
                r = proc_ident_read("/proc", getpid(), &id);
                if (r < 0)
                        return log_error_errno(r, "cannot read our own /proc entry: %m");
        }
        _cleanup_free_ char *hello = make_hello(&id);
        proc_ident_done(&id);
        if (!hello)
                return ctl_log_oom();

        r = resolve_events_path(g);
        if (r < 0)
                return r;
        r = sender_start(g->sender, hello);
        if (r < 0)
                return ctl_log_oom();
        g->started = true;
        return 0;
}

static void handle_sender_event(Ingest *g, SenderEvent ev) {
        switch (ev) {
        case SENDER_CONNECTED:
                if (g->warned)
                        log_info("connected to the daemon at %s", sender_path(g->sender));
                g->ever_connected = true;
                break;
        case SENDER_CONNECT_FAILED:
                if (!g->warned) {
                        log_warning_errno(sender_error(g->sender), "cannot reach the daemon at %s: %m",
                                          sender_path(g->sender));
                        log_warning(
                                "events are not recorded until it is there (start nix-analyticsd, or set "
                                "NIX_ANALYTICS_SOCKET_DIR); the build goes on");
                        g->warned = true;
                }
                /* A daemon may appear in another directory of the search order meanwhile. */
                (void) resolve_events_path(g);
                break;
        case SENDER_LOST:
                if (!g->warned) {
                        log_warning_errno(sender_error(g->sender),
                                          "lost the daemon at %s (%m), reconnecting",
                                          sender_path(g->sender));
                        g->warned = true;
                }
                break;
        case SENDER_IDLE:
                break;
        }
}

static int poll_ms_until(usec_t when, usec_t now) {
        if (when == SENDER_NO_WAKEUP)
                return -1;
        if (when <= now)
                return 0;
        usec_t ms = (when - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
        return ms > 60 * 1000 ? 60 * 1000 : (int) ms;
}

/* Returns -1 to go on, else an exit code. */
static int parse_options(int argc, char **argv, Ingest *g) {
        enum { ARG_NO_PASSTHROUGH = 0x100, ARG_ECHO_LEVEL, ARG_QUIET };
        static const struct option options[] = {
                {"no-passthrough", no_argument, NULL, ARG_NO_PASSTHROUGH},
                {"echo-level", required_argument, NULL, ARG_ECHO_LEVEL},
                {"quiet", no_argument, NULL, ARG_QUIET},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        bool quiet = false;

        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_NO_PASSTHROUGH:
                        g->passthrough = false;
                        break;
                case ARG_ECHO_LEVEL:
                        if (ctl_parse_uint("--echo-level", optarg, &g->echo_level) < 0)
                                return ctl_usage_hint("ingest");
                        break;
                case ARG_QUIET:
                        quiet = true;
                        break;
                case 'h':
                        fputs(usage, stdout);
                        return CTL_EXIT_OK;
                default:
                        return ctl_usage_hint("ingest");
                }
        }
        if (optind < argc) {
                log_error("ingest: unexpected argument '%s'", argv[optind]);
                return ctl_usage_hint("ingest");
        }
        if (quiet)
                g->echo_level = -1;
        return -1;
}

/* The largest pipe buffer we may have, up to PIPE_SIZE (an unprivileged user is limited by
 * /proc/sys/fs/pipe-max-size and pipe-user-pages-soft). Returns the hold between reads: none
 * unless the pipe is large enough to take what Nix writes meanwhile. */
static usec_t setup_input_pipe(int fd) {
        int size = fcntl(fd, F_GETPIPE_SZ);
        if (size < 0)
                return 0; /* a file or a terminal: nothing to wait for */
        for (size_t want = PIPE_SIZE; (size_t) size < want && want >= 256 * 1024; want /= 2) {
                int r = fcntl(fd, F_SETPIPE_SZ, (int) want);
                if (r >= 0) {
                        size = r;
                        break;
                }
        }
        /* Scaled down with the pipe: 256 KiB rests a little over a millisecond. */
        return (usec_t) size >= 256 * 1024 ? INPUT_HOLD * (usec_t) size / PIPE_SIZE : 0;
}

/* SIGINT reaches nix and us together; nix then prints why it stops, which we must still show.
 * So the first one is noted and we read on until nix closes the pipe; a second ends us. */
static int setup_signals(int *ret_sigint_fd) {
        if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
                return log_error_errno(errno, "cannot ignore SIGPIPE: %m");
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        return ctl_signal_fd(&mask, ret_sigint_fd);
}

/* After EOF: whether to stop now, warning about what could not be delivered. */
static bool eof_done(Ingest *g, usec_t now, usec_t deadline, bool *final_attempt_made) {
        Sender *s = g->sender;
        if (!g->started)
                return true; /* no input at all: nothing to tell the daemon */
        if (sender_connected(s) && sender_pending(s) == 0 && sender_unreported_drops(s) == 0)
                return true;
        if (!sender_connected(s)) {
                /* One last attempt, right away; no waiting for a daemon that is not there. */
                if (!*final_attempt_made) {
                        *final_attempt_made = true;
                        sender_retry_now(s);
                        return false;
                }
        } else if (now < deadline)
                return false;

        size_t n = sender_queued_records(s);
        if (g->ever_connected && n > 0)
                log_warning("gave up sending %zu events to the daemon at %s", n, sender_path(s));
        return true;
}

int verb_ingest(const CtlContext *ctx, int argc, char **argv) {
        _cleanup_(ingest_done) Ingest g = {
                .ctx = ctx,
                .passthrough = true,
                .echo_level = ECHO_LEVEL_DEFAULT,
                .stderr_is_tty = isatty(STDERR_FILENO) == 1,
        };
        int r = parse_options(argc, argv, &g);
        if (r >= 0)
                return r;
        if (ctx->host) {
                log_error("ingest feeds the daemon on this machine (its events.sock): run it on %s instead "
                          "of -H",
                          ctx->host);
                return CTL_EXIT_USAGE;
        }

        _cleanup_close_ int sigint_fd = -EBADF;
        if (setup_signals(&sigint_fd) < 0)
                return CTL_EXIT_PROTOCOL;

        g.in_cap = MAX_LINE + READ_CHUNK;
        g.in = malloc(g.in_cap);
        g.plain_msg = cJSON_CreateObject();
        if (!g.in || !g.plain_msg || !cJSON_AddStringToObject(g.plain_msg, "action", "msg") ||
            !cJSON_AddNumberToObject(g.plain_msg, "level", 3) ||
            !cJSON_AddStringToObject(g.plain_msg, "msg", "") ||
            !cJSON_AddTrueToObject(g.plain_msg, "plain") || sender_new(QUEUE_MAX, &g.sender) < 0)
                return ctl_exit_oom();

        bool eof = false, final_attempt_made = false;
        usec_t eof_deadline = 0, hold = setup_input_pipe(STDIN_FILENO), input_rests_until = 0;
        unsigned interrupts = 0;

        for (;;) {
                bool resting = !eof && now_monotonic() < input_rests_until;
                struct pollfd p[3] = {
                        {.fd = eof || resting ? -1 : STDIN_FILENO, .events = POLLIN},
                        {.fd = -1},
                        {.fd = sigint_fd, .events = POLLIN},
                };
                usec_t wakeup;
                sender_poll(g.sender, &p[1], &wakeup);
                if (eof)
                        wakeup = MIN(wakeup, eof_deadline);
                if (resting)
                        wakeup = MIN(wakeup, input_rests_until);

                if (poll(p, ELEMENTSOF(p), poll_ms_until(wakeup, now_monotonic())) < 0 && errno != EINTR) {
                        log_error_errno(errno, "poll: %m");
                        return CTL_EXIT_PROTOCOL;
                }

                if (p[2].revents) {
                        struct signalfd_siginfo si;
                        while (read(sigint_fd, &si, sizeof(si)) == sizeof(si))
                                interrupts++;
                        if (interrupts >= 2) {
                                out_flush(&g);
                                return 128 + SIGINT;
                        }
                }

                if (p[0].revents) {
                        ssize_t n = read(STDIN_FILENO, g.in + g.in_len, g.in_cap - g.in_len);
                        if (n > 0) {
                                if (!g.started && start(&g) < 0)
                                        return CTL_EXIT_PROTOCOL;
                                /* A full read leaves more behind: read on at once. */
                                if ((size_t) n < g.in_cap - g.in_len)
                                        input_rests_until = now_monotonic() + hold;
                                g.in_len += (size_t) n;
                                process_input(&g);
                        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                                if (n < 0)
                                        log_warning_errno(errno, "cannot read standard input: %m");
                                if (g.in_len > 0)
                                        process_line(&g, g.in, g.in_len, /* newline= */ false);
                                g.in_len = 0;
                                eof = true;
                                eof_deadline = now_monotonic() + FLUSH_AT_EOF;
                        }
                        out_flush(&g);
                }

                usec_t now = now_monotonic();
                handle_sender_event(&g, sender_dispatch(g.sender, now, p[1].revents));

                if (eof && eof_done(&g, now, eof_deadline, &final_attempt_made))
                        return CTL_EXIT_OK;
        }
}
