/* Background polls of remote builders over ssh (see machines-poll.h). */
#include "daemon/machines-poll.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/machines.h"
#include "shared/json-read.h"
#include "shared/procfs.h"
#include "shared/ssh-command.h"

#define OUTPUT_MAX        (512u << 10)
#define STDERR_MAX        4096
#define BACKOFF_MAX       8
#define REMOTE_BUILDS_MAX 256
#define REMOTE_TEXT_MAX   256 /* longest state or phase name taken from the remote */
/* between polls of a machine with builds dispatched to it running: their remote view is
 * that fresh */
#define BUSY_INTERVAL  (5 * USEC_PER_SEC)
#define DISPATCH_DELAY (1 * USEC_PER_SEC)

typedef enum PollState { POLL_UNKNOWN, POLL_UP, POLL_DOWN } PollState;

typedef struct Target {
        char *key, *uri;
        /* the last finished poll */
        PollState state;
        char *error;
        usec_t checked; /* realtime */
        double latency_ms, load[3];
        long cpus;
        uint64_t mem_total, mem_available;
        bool has_figures;
        int remote_ctl; /* -1 unknown, 0 absent, 1 present */
        char *remote_error;
        cJSON *remote_builds;
        unsigned failures;

        /* the poll under way */
        pid_t pid;
        int pidfd;
        sd_event_source *out_src, *err_src, *pid_src, *timer;
        char *out, *err;
        size_t out_len, err_len;
        usec_t started_mono, first_line_mono;
        bool timed_out, too_much;
        bool stale; /* removed from the configuration while its poll ran */
        MachinesPoll *poll;
        UT_hash_handle hh;
} Target;

struct MachinesPoll {
        Daemon *daemon;
        MachinesPollConfig config;
        Target *targets;
};

static const char remote_script[] =
        "echo na-poll-1; cat /proc/loadavg; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN; "
        "grep -E \"^(MemTotal|MemAvailable):\" /proc/meminfo; "
        "if command -v \"$1\" >/dev/null 2>&1; then "
        "out=$(\"$1\" --timeout 5 list-builds --state running 2>&1); echo \"ctl-rc $?\"; "
        "printf \"%s\\n\" \"$out\"; else echo no-ctl; fi";

static void poll_reset(Target *t) {
        t->out_src = sd_event_source_disable_unref(t->out_src);
        t->err_src = sd_event_source_disable_unref(t->err_src);
        t->pid_src = sd_event_source_disable_unref(t->pid_src);
        if (t->pidfd >= 0)
                close(t->pidfd);
        t->pidfd = -EBADF;
        t->pid = 0;
        free(t->out);
        free(t->err);
        t->out = t->err = NULL;
        t->out_len = t->err_len = 0;
        t->timed_out = t->too_much = false;
        t->first_line_mono = 0;
}

static void target_free(Target *t) {
        if (!t)
                return;
        if (t->pid > 0) {
                (void) kill(t->pid, SIGKILL);
                (void) waitpid(t->pid, NULL, 0);
        }
        poll_reset(t);
        sd_event_source_disable_unref(t->timer);
        cJSON_Delete(t->remote_builds);
        free(t->remote_error);
        free(t->error);
        free(t->key);
        free(t->uri);
        free(t);
}

static void schedule(Target *t, usec_t delay) {
        (void) sd_event_source_set_time_relative(t->timer, delay);
        (void) sd_event_source_set_enabled(t->timer, SD_EVENT_ONESHOT);
}

static void set_error(Target *t, const char *fmt, ...) _printf_(2, 3);
static void set_error(Target *t, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        free(t->error);
        if (vasprintf(&t->error, fmt, ap) < 0)
                t->error = NULL;
        va_end(ap);
}

/* The last non-empty line of ssh's stderr: what ssh says went wrong. */
static const char *last_line(char *s) {
        if (!s)
                return NULL;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
                s[--n] = '\0';
        char *nl = strrchr(s, '\n');
        return nl ? nl + 1 : s;
}

/* "   123456 kB" of a /proc/meminfo line, in bytes; 0 when it is anything else. */
static uint64_t meminfo_bytes(const char *s) {
        uint64_t kb;
        const char *end;
        s += strspn(s, " ");
        if (parse_u64_prefix(s, strlen(s), &end, &kb) < 0 || kb > UINT64_MAX / 1024 ||
            (*end != '\0' && strcmp(end, " kB") != 0))
                return 0;
        return kb * 1024;
}

static void parse_output(Target *t) {
        char *save = NULL, *line;
        int step = 0;
        t->has_figures = false;
        t->remote_ctl = -1;
        cJSON_Delete(t->remote_builds);
        t->remote_builds = NULL;
        free(t->remote_error);
        t->remote_error = NULL;
        char *text = t->out ? t->out : (char *) "";
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), step++) {
                if (step == 0 && strcmp(line, "na-poll-1") != 0)
                        return;
                if (step == 1) {
                        /* strtok_r ended the line at its newline */
                        if (procfs_parse_loadavg(line, strlen(line), t->load) == 0)
                                t->has_figures = true;
                } else if (step == 2) {
                        uint64_t v;
                        t->cpus = safe_atou64(line, &v) == 0 && v <= INT32_MAX ? (long) v : 0;
                } else if (startswith(line, "MemTotal:"))
                        t->mem_total = meminfo_bytes(line + 9);
                else if (startswith(line, "MemAvailable:"))
                        t->mem_available = meminfo_bytes(line + 13);
                else if (strcmp(line, "no-ctl") == 0)
                        t->remote_ctl = 0;
                else if (startswith(line, "ctl-rc ")) {
                        t->remote_ctl = 1;
                        int rc = atoi(line + 7);
                        const char *rest = save ? save : "";
                        if (rc != 0) {
                                t->remote_error = strndup(rest, 1000);
                        } else {
                                cJSON *j = cJSON_Parse(rest);
                                cJSON *builds = cJSON_DetachItemFromObject(j, "builds");
                                cJSON_Delete(j);
                                if (cJSON_IsArray(builds) && cJSON_GetArraySize(builds) <= REMOTE_BUILDS_MAX)
                                        t->remote_builds = builds;
                                else {
                                        cJSON_Delete(builds);
                                        t->remote_error =
                                                strdup("the remote's list-builds answer is not understood");
                                }
                        }
                        return;
                }
        }
}

static const char *remote_text(const cJSON *o, const char *key) {
        const char *v = json_str(o, key);
        return v && strlen(v) <= REMOTE_TEXT_MAX ? v : NULL;
}

/* The remote daemon's build of drv in the last answer, as a view; false when absent. */
static bool remote_view_of(const Target *t, const char *drv, BuildRemoteView *ret) {
        const cJSON *rb;
        cJSON_ArrayForEach(rb, t->remote_builds) {
                const char *d = json_str(rb, "drv");
                if (!d || strcmp(d, drv) != 0)
                        continue;
                const cJSON *u = json_obj(rb, "usage");
                *ret = (BuildRemoteView){
                        .present = true,
                        .state = (char *) remote_text(rb, "state"),
                        .phase = (char *) remote_text(rb, "phase"),
                        .sampled = u != NULL,
                        .cpu_percent = MAX(json_num(u, "cpu_percent", 0), 0.0),
                        .mem_current = json_u64(u, "mem_current", 0),
                        .mem_peak = json_u64(u, "mem_peak", 0),
                        .n_procs = (uint32_t) json_int(u, "procs", 0, INT32_MAX, 0),
                        .log_lines = json_u64(rb, "log_lines", 0),
                        .seen = t->checked,
                };
                return true;
        }
        return false;
}

/* A poll that failed while builds run there keeps their last views (their `seen` tells their
 * age) and is tried again soon, this many times in a row, before they are dropped and the
 * machine backs off like any down one: one refused ssh is not a machine gone. */
#define BUSY_RETRIES 3

/* Gives each running build dispatched to t's machine the remote daemon's view of it from
 * this poll, or none (after a failed poll: the last one, for BUSY_RETRIES failures). Returns
 * whether any such build runs. */
static bool update_remote_views(Target *t) {
        Model *m = t->poll->daemon->model;
        ModelMachine *mm = model_machine_find(m, t->uri);
        bool busy = false;
        if (!mm)
                return false;
        for (Build *b = model_builds_first(m); b; b = b->next) {
                if (b->state != BUILD_RUNNING || !model_machine_has_build(mm, b))
                        continue;
                busy = true;
                if (t->state != POLL_UP && t->failures <= BUSY_RETRIES)
                        continue;
                BuildRemoteView v;
                bool found = t->state == POLL_UP && remote_view_of(t, b->drv, &v);
                if (model_build_set_remote_view(m, b, found ? &v : NULL) < 0)
                        log_warning("machine %s: cannot keep the remote view of %s: out of memory", t->uri,
                                    b->drv);
        }
        return busy;
}

static void poll_finish(Target *t, int status) {
        MachinesPoll *p = t->poll;
        t->checked = now_realtime();
        if (t->timed_out) {
                t->state = POLL_DOWN;
                set_error(t, "no answer within %.0f s%s%s", usec_to_sec(p->config.timeout),
                          t->err_len ? ": " : "", t->err_len ? last_line(t->err) : "");
        } else if (t->too_much) {
                t->state = POLL_DOWN;
                set_error(t, "the remote wrote more than %u bytes", OUTPUT_MAX);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !t->first_line_mono) {
                t->state = POLL_DOWN;
                const char *why = last_line(t->err);
                if (why && *why)
                        set_error(t, "%s", why);
                else if (WIFEXITED(status))
                        set_error(t, "ssh exited with status %d", WEXITSTATUS(status));
                else
                        set_error(t, "ssh killed by signal %d", WTERMSIG(status));
        } else {
                t->state = POLL_UP;
                free(t->error);
                t->error = NULL;
                t->latency_ms = (double) (t->first_line_mono - t->started_mono) / 1000.0;
                parse_output(t);
        }
        if (t->state == POLL_DOWN) {
                t->failures++;
                log_debug("machine %s: down: %s", t->uri, t->error ? t->error : "?");
        } else
                t->failures = 0;
        poll_reset(t);
        bool busy = !t->stale && update_remote_views(t);
        usec_t delay = p->config.interval << MIN(t->failures, 3u);
        if (t->failures > 0)
                delay = MIN(delay, p->config.interval * BACKOFF_MAX);
        if (busy && t->failures <= BUSY_RETRIES)
                delay = MIN(delay, BUSY_INTERVAL);
        if (t->stale) {
                HASH_DEL(p->targets, t);
                target_free(t);
                return;
        }
        schedule(t, delay);
}

static int on_exit_fd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Target *t = userdata;
        int status = 0;
        pid_t r = waitpid(t->pid, &status, WNOHANG);
        if (r == 0)
                return 0; /* not yet */
        /* Drain what the pipes still hold before judging. */
        t->pid = 0;
        for (int i = 0; i < 2; i++) {
                sd_event_source *src = i == 0 ? t->out_src : t->err_src;
                if (!src)
                        continue;
                int pfd = sd_event_source_get_io_fd(src);
                char **buf = i == 0 ? &t->out : &t->err;
                size_t *len = i == 0 ? &t->out_len : &t->err_len;
                size_t max = i == 0 ? OUTPUT_MAX : STDERR_MAX;
                for (;;) {
                        char tmp[4096];
                        ssize_t k = read(pfd, tmp, sizeof(tmp));
                        if (k <= 0)
                                break;
                        size_t take = MIN((size_t) k, max - MIN(*len, max));
                        char *g = realloc(*buf, *len + take + 1);
                        if (!g)
                                break;
                        memcpy(g + *len, tmp, take);
                        *len += take;
                        g[*len] = '\0';
                        *buf = g;
                }
        }
        if (t->out && !t->first_line_mono && strchr(t->out, '\n'))
                t->first_line_mono = now_monotonic();
        poll_finish(t, r < 0 ? 0xff00 : status);
        return 0;
}

static int on_pipe(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Target *t = userdata;
        bool is_out = s == t->out_src;
        char **buf = is_out ? &t->out : &t->err;
        size_t *len = is_out ? &t->out_len : &t->err_len;
        size_t max = is_out ? OUTPUT_MAX : STDERR_MAX;
        char tmp[16384];
        ssize_t k = read(fd, tmp, sizeof(tmp));
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (k <= 0) {
                if (is_out)
                        t->out_src = sd_event_source_disable_unref(t->out_src);
                else
                        t->err_src = sd_event_source_disable_unref(t->err_src);
                return 0;
        }
        if (*len + (size_t) k > max) {
                if (is_out && !t->too_much) {
                        t->too_much = true;
                        (void) kill(t->pid, SIGKILL);
                }
                k = (ssize_t) (max - MIN(*len, max));
        }
        char *g = realloc(*buf, *len + (size_t) k + 1);
        if (!g)
                return 0;
        memcpy(g + *len, tmp, (size_t) k);
        *len += (size_t) k;
        g[*len] = '\0';
        *buf = g;
        if (is_out && !t->first_line_mono && memchr(tmp, '\n', (size_t) k))
                t->first_line_mono = now_monotonic();
        return 0;
}

static int spawn(Target *t) {
        MachinesPoll *p = t->poll;
        const MachineSpec *spec = NULL;
        ModelMachine *mm = model_machine_find(p->daemon->model, t->uri);
        if (mm && mm->configured)
                spec = &mm->spec;
        _cleanup_free_ char *dest = NULL, *cmd = NULL;
        unsigned portn = 0;
        int r = machine_uri_ssh_target(t->uri, &dest, &portn);
        if (r < 0)
                return r;
        /* the remote shell joins the words: the script is quoted once */
        if (asprintf(&cmd, "sh -c '%s' sh '%s'", remote_script, p->config.remote_ctl) < 0)
                return -ENOMEM;
        SshTarget target = {
                .destination = dest,
                .port = portn,
                .identity = spec ? spec->ssh_key : NULL,
                .connect_timeout = (unsigned) MAX(1, p->config.timeout / USEC_PER_SEC),
        };
        _cleanup_(ssh_argv_freep) char **argv = NULL;
        r = ssh_argv(&target, cmd, &argv);
        if (r < 0)
                return r;

        int out[2], err[2];
        if (pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        if (pipe2(err, O_CLOEXEC | O_NONBLOCK) < 0) {
                r = -errno;
                close(out[0]);
                close(out[1]);
                return r;
        }
        pid_t pid = fork();
        if (pid < 0) {
                r = -errno;
                close(out[0]);
                close(out[1]);
                close(err[0]);
                close(err[1]);
                return r;
        }
        if (pid == 0) {
                sigset_t all;
                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                int devnull = open("/dev/null", O_RDONLY);
                if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
                        _exit(127);
                setsid(); /* no controlling terminal: ssh can never prompt */
                execvp(argv[0], argv);
                _exit(127);
        }
        close(out[1]);
        close(err[1]);
        t->pid = pid;
        t->started_mono = now_monotonic();
        t->pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (t->pidfd < 0 ||
            sd_event_add_io(p->daemon->event, &t->out_src, out[0], EPOLLIN, on_pipe, t) < 0 ||
            sd_event_add_io(p->daemon->event, &t->err_src, err[0], EPOLLIN, on_pipe, t) < 0 ||
            sd_event_add_io(p->daemon->event, &t->pid_src, t->pidfd, EPOLLIN, on_exit_fd, t) < 0) {
                if (!t->out_src)
                        close(out[0]);
                if (!t->err_src)
                        close(err[0]);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                t->pid = 0;
                poll_reset(t);
                return -ENOMEM;
        }
        /* the sources own the pipes: closed when they are released */
        (void) sd_event_source_set_io_fd_own(t->out_src, true);
        (void) sd_event_source_set_io_fd_own(t->err_src, true);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Target *t = userdata;
        MachinesPoll *p = t->poll;
        if (t->pid > 0) {
                /* the deadline of the poll under way */
                t->timed_out = true;
                (void) kill(t->pid, SIGKILL);
                return 0;
        }
        int r = spawn(t);
        if (r < 0) {
                t->state = POLL_DOWN;
                t->checked = now_realtime();
                set_error(t, "cannot run ssh: %s", strerror(-r));
                t->failures++;
                schedule(t, p->config.interval * BACKOFF_MAX);
                return 0;
        }
        schedule(t, p->config.timeout);
        return 0;
}

static bool pollable(const ModelMachine *mm) {
        return mm->configured &&
               (strncmp(mm->spec.uri, "ssh://", 6) == 0 || strncmp(mm->spec.uri, "ssh-ng://", 9) == 0);
}

void machines_poll_sync(MachinesPoll *p) {
        Target *t, *tmp;
        HASH_ITER(hh, p->targets, t, tmp) {
                ModelMachine *mm = model_machine_find(p->daemon->model, t->uri);
                if (mm && pollable(mm) && strcmp(mm->uri, t->uri) == 0)
                        continue;
                if (t->pid > 0) {
                        t->stale = true; /* freed when its ssh is reaped */
                        (void) kill(t->pid, SIGKILL);
                        continue;
                }
                HASH_DEL(p->targets, t);
                target_free(t);
        }
        for (ModelMachine *mm = model_machines_first(p->daemon->model); mm; mm = model_machine_next(mm)) {
                if (!pollable(mm))
                        continue;
                HASH_FIND(hh, p->targets, mm->key, strlen(mm->key), t);
                if (t && !t->stale)
                        continue;
                t = calloc(1, sizeof(*t));
                if (!t || !(t->key = strdup(mm->key)) || !(t->uri = strdup(mm->uri)) ||
                    sd_event_add_time_relative(p->daemon->event, &t->timer, CLOCK_MONOTONIC, 0,
                                               USEC_PER_MSEC * 10, on_timer, t) < 0) {
                        log_warning("machine %s: cannot set up polling: out of memory", mm->uri);
                        target_free(t);
                        continue;
                }
                t->pidfd = -EBADF;
                t->poll = p;
                t->remote_ctl = -1;
                HASH_ADD_KEYPTR(hh, p->targets, t->key, strlen(t->key), t);
        }
}

int machines_poll_new(Daemon *d, const MachinesPollConfig *c, MachinesPoll **ret) {
        MachinesPoll *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->daemon = d;
        p->config = *c;
        machines_poll_sync(p);
        *ret = p;
        return 0;
}

MachinesPoll *machines_poll_free(MachinesPoll *p) {
        if (!p)
                return NULL;
        Target *t, *tmp;
        HASH_ITER(hh, p->targets, t, tmp) {
                HASH_DEL(p->targets, t);
                target_free(t);
        }
        free(p);
        return NULL;
}

void machines_poll_build_running(MachinesPoll *p, const Build *b) {
        if (!p || b->state != BUILD_RUNNING || !b->machine || !b->machine[0])
                return;
        _cleanup_free_ char *key = NULL;
        Target *t = NULL;
        if (machine_uri_key(b->machine, &key) >= 0)
                HASH_FIND(hh, p->targets, key, strlen(key), t);
        /* A poll under way (the timer is its deadline), a failing machine (its backoff), or
         * one due soon anyway: nothing to bring forward. */
        if (!t || t->stale || t->pid > 0 || t->failures > 0)
                return;
        usec_t due = 0, now = now_monotonic();
        if (sd_event_source_get_time(t->timer, &due) >= 0 && due <= now + BUSY_INTERVAL)
                return;
        /* The first look at the remote daemon's view, a moment after the dispatch: it learns
         * of the build as its Nix starts it. */
        schedule(t, MIN(p->config.interval, DISPATCH_DELAY));
}

MachinePollState machines_poll_state(MachinesPoll *p, const ModelMachine *mm) {
        Target *t = NULL;
        if (p)
                HASH_FIND(hh, p->targets, mm->key, strlen(mm->key), t);
        if (!t || t->stale)
                return MACHINE_POLL_NONE;
        return t->state == POLL_UP     ? MACHINE_POLL_UP
               : t->state == POLL_DOWN ? MACHINE_POLL_DOWN
                                       : MACHINE_POLL_UNKNOWN;
}

cJSON *machines_poll_to_json(MachinesPoll *p, const ModelMachine *mm) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        Target *t = NULL;
        if (p)
                HASH_FIND(hh, p->targets, mm->key, strlen(mm->key), t);
        if (!t || t->stale) {
                cJSON_AddStringToObject(o, "state", "not-polled");
                return o;
        }
        cJSON_AddStringToObject(o, "state",
                                t->state == POLL_UP     ? "up"
                                : t->state == POLL_DOWN ? "down"
                                                        : "unknown");
        cJSON_AddBoolToObject(o, "polling", t->pid > 0);
        if (t->checked)
                cJSON_AddNumberToObject(o, "checked", usec_to_sec(t->checked));
        else
                cJSON_AddNullToObject(o, "checked");
        cJSON_AddNumberToObject(o, "failures", t->failures);
        if (t->state == POLL_DOWN) {
                cJSON_AddStringToObject(o, "error", t->error ? t->error : "unknown error");
                return o;
        }
        if (t->state != POLL_UP)
                return o;
        cJSON_AddNumberToObject(o, "latency_ms", t->latency_ms);
        if (t->has_figures) {
                cJSON *load = cJSON_AddArrayToObject(o, "load");
                for (int i = 0; load && i < 3; i++)
                        cJSON_AddItemToArray(load, cJSON_CreateNumber(t->load[i]));
        }
        cJSON_AddNumberToObject(o, "cpus", (double) t->cpus);
        cJSON_AddNumberToObject(o, "mem_total", (double) t->mem_total);
        cJSON_AddNumberToObject(o, "mem_available", (double) t->mem_available);
        cJSON *remote = cJSON_AddObjectToObject(o, "remote");
        if (remote) {
                cJSON_AddBoolToObject(remote, "ctl", t->remote_ctl == 1);
                if (t->remote_error)
                        cJSON_AddStringToObject(remote, "error", t->remote_error);
                if (t->remote_builds)
                        cJSON_AddItemToObject(remote, "builds", cJSON_Duplicate(t->remote_builds, true));
        }
        return o;
}
