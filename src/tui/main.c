/* nix-analytics: the terminal UI. Options, the event loop, and clean exit. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "basic/macro.h"
#include "basic/time-util.h"
#include "shared/sockdir.h"
#include "shared/ssh-command.h"
#include "shared/when.h"
#include "tui/tui.h"
#include "tui/view-at.h"

static void help(void) {
        printf("usage: nix-analytics [OPTION...]\n"
               "Watch and control every Nix build on this machine (htop for Nix).\n\n"
               "  -s, --socket-dir DIR  the daemon's socket directory (default:\n"
               "                        $NIX_ANALYTICS_SOCKET_DIR, else $XDG_RUNTIME_DIR/nix-analytics\n"
               "                        when the socket is there, else /run/nix-analytics)\n"
               "  -H, --host [USER@]HOST  the daemon on HOST, through ssh (ssh's own keys and\n"
               "                        configuration, $NIX_SSHOPTS); also ssh://[USER@]HOST[:PORT];\n"
               "                        again for more hosts, all shown together\n"
               "      --hosts-file FILE  more hosts, one [USER@]HOST a line (# comments)\n"
               "      --remote-ctl CMD  what runs 'nix-analytics-ctl bridge' on HOST\n"
               "                        (default: nix-analytics-ctl)\n"
               "      --ascii           ASCII line drawing instead of UTF-8\n"
               "      --no-color        no colours (also when NO_COLOR is set)\n"
               "      --no-mouse        leave the mouse to the terminal\n"
               "      --fps N           at most N frames a second (default 30)\n"
               "      --at TIME         start on the screen as it was at TIME: the builds running then\n"
               "                        with their CPU and memory then, and the machine (03:12,\n"
               "                        'yesterday 14:00', -2h, 2026-12-07T03:12, @UNIXSECONDS)\n"
               "      --stats FILE      write frame and CPU statistics (JSON) to FILE at exit\n"
               "  -h, --help            this help\n"
               "      --version         the version\n\n"
               "Press ? inside for the keys. The daemon need not be running: the TUI waits\n"
               "for it and reconnects when it restarts.\n");
}

/* Hosts a TUI shows at most: each is a connection (and an ssh) of its own. */
#define HOSTS_MAX 64

typedef struct Args {
        char *socket_dir;
        char *hosts[HOSTS_MAX]; /* -H and --hosts-file, in order */
        size_t n_hosts;
        const char *remote_ctl;
        const char *stats;
        usec_t at; /* --at: realtime, 0 none */
        ScreenOptions screen;
} Args;

static void args_done(Args *a) {
        free(a->socket_dir);
        for (size_t i = 0; i < a->n_hosts; i++)
                free(a->hosts[i]);
}

static int add_host(Args *a, const char *host, const char *where) {
        if (a->n_hosts >= HOSTS_MAX) {
                log_error("%s %s: at most %d hosts", where, host, HOSTS_MAX);
                return -E2BIG;
        }
        if (!(a->hosts[a->n_hosts] = strdup(host)))
                return log_error_errno(ENOMEM, "out of memory");
        a->n_hosts++;
        return 0;
}

/* --hosts-file: one [USER@]HOST a line; blank lines and # comments are skipped. */
static int read_hosts_file(Args *a, const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return log_error_errno(-errno, "--hosts-file %s: %m", path), -EINVAL;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        unsigned lineno = 0;
        size_t before = a->n_hosts;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) >= 0) {
                lineno++;
                char *hash = strchr(line, '#');
                if (hash)
                        *hash = 0;
                char *s = line + strspn(line, " \t\r\n");
                s[strcspn(s, " \t\r\n")] = 0;
                if (!*s)
                        continue;
                char where[64];
                snprintf(where, sizeof(where), "--hosts-file line %u:", lineno);
                int r = add_host(a, s, where);
                if (r < 0)
                        return r;
        }
        if (a->n_hosts == before) {
                /* Not the local daemon in its stead: that would show another machine's builds. */
                log_error("--hosts-file %s: no host in it", path);
                return -EINVAL;
        }
        return 0;
}

static int parse_args(int argc, char **argv, Args *a) {
        enum {
                OPT_ASCII = 256,
                OPT_NO_COLOR,
                OPT_NO_MOUSE,
                OPT_FPS,
                OPT_STATS,
                OPT_VERSION,
                OPT_REMOTE_CTL,
                OPT_HOSTS_FILE,
                OPT_AT,
        };
        static const struct option opts[] = {
                {"socket-dir", required_argument, NULL, 's'},
                {"host", required_argument, NULL, 'H'},
                {"remote-ctl", required_argument, NULL, OPT_REMOTE_CTL},
                {"hosts-file", required_argument, NULL, OPT_HOSTS_FILE},
                {"ascii", no_argument, NULL, OPT_ASCII},
                {"no-color", no_argument, NULL, OPT_NO_COLOR},
                {"no-mouse", no_argument, NULL, OPT_NO_MOUSE},
                {"fps", required_argument, NULL, OPT_FPS},
                {"stats", required_argument, NULL, OPT_STATS},
                {"at", required_argument, NULL, OPT_AT},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, OPT_VERSION},
                {},
        };
        a->screen = (ScreenOptions){.mouse = true, .min_frame_usec = USEC_PER_SEC / 30};
        int c;
        a->remote_ctl = "nix-analytics-ctl";
        while ((c = getopt_long(argc, argv, "s:hH:", opts, NULL)) >= 0) {
                switch (c) {
                case 's':
                        free(a->socket_dir);
                        a->socket_dir = strdup(optarg);
                        if (!a->socket_dir)
                                return -ENOMEM;
                        break;
                case 'H': {
                        int r = add_host(a, optarg, "-H");
                        if (r < 0)
                                return r;
                        break;
                }
                case OPT_HOSTS_FILE: {
                        int r = read_hosts_file(a, optarg);
                        if (r < 0)
                                return r;
                        break;
                }
                case OPT_REMOTE_CTL:
                        if (!*optarg) {
                                log_error("--remote-ctl: empty command");
                                return -EINVAL;
                        }
                        a->remote_ctl = optarg;
                        break;
                case OPT_ASCII:
                        a->screen.ascii = true;
                        break;
                case OPT_NO_COLOR:
                        a->screen.no_color = true;
                        break;
                case OPT_NO_MOUSE:
                        a->screen.mouse = false;
                        break;
                case OPT_FPS: {
                        uint64_t fps;
                        if (safe_atou64(optarg, &fps) < 0 || fps < 1 || fps > 1000) {
                                log_error("--fps: '%s' is not a number from 1 to 1000", optarg);
                                return -EINVAL;
                        }
                        a->screen.min_frame_usec = USEC_PER_SEC / (usec_t) fps;
                        break;
                }
                case OPT_STATS:
                        a->stats = optarg;
                        break;
                case OPT_AT:
                        if (when_parse(optarg, now_realtime(), &a->at) < 0) {
                                log_error("--at: cannot read '%s' as a time: give 03:12, 'yesterday 14:00', "
                                          "-2h, "
                                          "'90m ago', 2026-12-07T03:12 or @UNIXSECONDS",
                                          optarg);
                                return -EINVAL;
                        }
                        if (a->at > now_realtime()) {
                                log_error("--at: '%s' is still to come", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'h':
                        help();
                        return 0;
                case OPT_VERSION:
                        printf("nix-analytics %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        log_error("try 'nix-analytics --help'");
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                log_error("unexpected argument '%s' (try --help)", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static double cpu_seconds(void) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) < 0)
                return -1;
        return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 +
               (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}

static void write_stats(const char *path, Tui *t, usec_t started) {
        ScreenStats st;
        screen_stats(t->screen, &st);
        _cleanup_fclose_ FILE *f = fopen(path, "we");
        if (!f) {
                log_error_errno(-errno, "cannot write statistics to %s: %m", path);
                return;
        }
        double wall = usec_to_sec(now_monotonic() - started);
        unsigned long long events = 0;
        unsigned builds = 0;
        for (size_t i = 0; i < t->n_hosts; i++) {
                events += t->hosts[i]->store.events;
                builds += HASH_COUNT(t->hosts[i]->store.builds);
        }
        fprintf(f,
                "{\"frames\":%llu,\"frame_avg_ms\":%.3f,\"frame_p99_ms\":%.1f,\"frame_max_ms\":%.3f,"
                "\"events\":%llu,\"builds\":%u,\"cpu_seconds\":%.3f,\"wall_seconds\":%.3f}\n",
                (unsigned long long) st.frames,
                st.frames ? (double) st.total_usec / (double) st.frames / 1000.0 : 0.0,
                (double) st.p99_usec / 1000.0, (double) st.max_usec / 1000.0, (unsigned long long) events,
                builds, cpu_seconds(), wall);
}

/* The ssh command for -H: `REMOTE_CTL [-s DIR] bridge` on the host. The log panel opens a
 * connection per build it follows: they share the first one's ssh connection (ControlMaster,
 * its socket in a directory of this process's own, removed at exit), so moving through builds
 * costs no new login. */
static int remote_argv(const Args *a, const char *host, const char *socket_dir, char **ret_mux_dir,
                       char ***ret) {
        _cleanup_free_ char *dest = NULL, *qdir = NULL, *cmd = NULL, *mux = NULL, *path_opt = NULL;
        unsigned port = 0;
        int r = ssh_target_parse(host, &dest, &port);
        if (r == -EINVAL)
                return log_error("-H %s: expected HOST, USER@HOST or ssh://[USER@]HOST[:PORT]", host),
                       -EINVAL;
        if (r < 0)
                return log_error_errno(r, "out of memory");
        if (socket_dir && !(qdir = ssh_quote_arg(socket_dir)))
                return log_error_errno(ENOMEM, "out of memory");
        const char *runtime = getenv("XDG_RUNTIME_DIR");
        if (asprintf(&cmd, "%s%s%s bridge", a->remote_ctl, qdir ? " -s " : "", qdir ?: "") < 0 ||
            asprintf(&mux, "%s/nix-analytics-ssh-XXXXXX", runtime && runtime[0] == '/' ? runtime : "/tmp") <
                    0)
                return log_error_errno(ENOMEM, "out of memory");
        if (!mkdtemp(mux))
                return log_error_errno(errno, "cannot make a directory for ssh's control socket (%s): %m",
                                       mux);
        if (asprintf(&path_opt, "ControlPath=%s/%%C", mux) < 0) {
                rmdir(mux);
                return log_error_errno(ENOMEM, "out of memory");
        }
        const char *const options[] = {"ControlMaster=auto", "ControlPersist=no", path_opt, NULL};
        SshTarget target = {.destination = dest, .port = port, .connect_timeout = 10, .options = options};
        r = ssh_argv(&target, cmd, ret);
        if (r < 0) {
                rmdir(mux);
                return log_error_errno(r, "out of memory");
        }
        *ret_mux_dir = TAKE_PTR(mux);
        return 0;
}

/* Removes remote_argv()'s directory and the control socket ssh may have left in it. */
static void remove_mux_dir(const char *dir) {
        if (!dir)
                return;
        DIR *d = opendir(dir);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d)))
                        if (de->d_name[0] != '.')
                                (void) unlinkat(dirfd(d), de->d_name, 0);
                closedir(d);
        }
        (void) rmdir(dir);
}

/* The TUI's hosts: the local daemon, or each -H host through ssh (a ControlMaster directory
 * each, kept in mux_dirs for removal at exit). Returns 0, or the exit status. */
static int make_specs(const Args *a, char **dir, char **ret_path, HostSpec *specs, char **mux_dirs) {
        if (a->n_hosts == 0) {
                if (!*dir && sockdir_resolve_env(SOCKDIR_FOR_CLIENT, NA_CONTROL_SOCKET, dir) < 0)
                        return log_error("out of memory"), 1;
                int r = sockdir_socket_path(*dir, NA_CONTROL_SOCKET, ret_path);
                if (r < 0) {
                        log_error_errno(r, "socket directory %s: %m", *dir);
                        return 2;
                }
                specs[0] = (HostSpec){.socket_path = *ret_path};
                return 0;
        }
        for (size_t i = 0; i < a->n_hosts; i++) {
                specs[i] = (HostSpec){.name = a->hosts[i]};
                int r = remote_argv(a, a->hosts[i], *dir, &mux_dirs[i], &specs[i].ssh_argv);
                if (r < 0)
                        return r == -EINVAL ? 2 : 1;
        }
        return 0;
}

static int run(Args *a) {
        HostSpec specs[HOSTS_MAX] = {};
        char *mux_dirs[HOSTS_MAX] = {};
        _cleanup_free_ char *path = NULL;
        size_t n = MAX(a->n_hosts, (size_t) 1);
        int r = make_specs(a, &a->socket_dir, &path, specs, mux_dirs);
        if (r == 0) {
                /* Signals become event sources (SIGWINCH: resize; SIGCHLD: clipboard tools). */
                sigset_t mask;
                sigemptyset(&mask);
                sigaddset(&mask, SIGWINCH);
                sigaddset(&mask, SIGINT);
                sigaddset(&mask, SIGTERM);
                sigaddset(&mask, SIGHUP);
                sigaddset(&mask, SIGCHLD);
                sigprocmask(SIG_BLOCK, &mask, NULL);

                sd_event *e = NULL;
                Tui *t = NULL;
                usec_t started = now_monotonic();
                r = sd_event_default(&e);
                if (r < 0)
                        log_error_errno(r, "cannot start the event loop: %m");
                else {
                        (void) sd_event_add_signal(e, NULL, SIGINT, on_exit_signal, NULL);
                        (void) sd_event_add_signal(e, NULL, SIGTERM, on_exit_signal, NULL);
                        (void) sd_event_add_signal(e, NULL, SIGHUP, on_exit_signal, NULL);
                        r = tui_new(e, specs, n, &a->screen, &t);
                        if (r == -ENOTTY)
                                log_error("nix-analytics needs a terminal (for scripts: nix-analytics-ctl)");
                        else if (r < 0)
                                log_error_errno(r, "cannot start: %m");
                }
                if (r >= 0 && a->at)
                        view_at_show(t, 0, a->at);
                if (r >= 0) {
                        r = sd_event_loop(e);
                        /* The loop no longer takes signals: let them end whatever is left to do
                         * (the terminal may be gone, and with it any reason to wait). */
                        sigprocmask(SIG_UNBLOCK, &mask, NULL);
                        if (a->stats)
                                write_stats(a->stats, t, started);
                        if (r < 0)
                                log_error_errno(r, "event loop: %m");
                }
                tui_free(t);
                sd_event_unref(e);
                r = r < 0 ? 1 : 0;
        }
        for (size_t i = 0; i < n; i++) {
                ssh_argv_free(specs[i].ssh_argv); /* those tui_new() did not take */
                remove_mux_dir(mux_dirs[i]);
                free(mux_dirs[i]);
        }
        return r;
}

int main(int argc, char **argv) {
        log_set_prefix("nix-analytics");
        /* UTF-8 line drawing and wide characters follow the user's locale. */
        setlocale(LC_ALL, "");
        Args a = {};
        int r = parse_args(argc, argv, &a);
        if (r > 0)
                r = run(&a);
        else
                r = r < 0 ? 2 : 0;
        args_done(&a);
        return r;
}
