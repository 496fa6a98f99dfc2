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
#include "tui/tui.h"

static void help(void) {
        printf("usage: nix-analytics [OPTION...]\n"
               "Watch and control every Nix build on this machine (htop for Nix).\n\n"
               "  -s, --socket-dir DIR  the daemon's socket directory (default:\n"
               "                        $NIX_ANALYTICS_SOCKET_DIR, else $XDG_RUNTIME_DIR/nix-analytics\n"
               "                        when the socket is there, else /run/nix-analytics)\n"
               "  -H, --host [USER@]HOST  the daemon on HOST, through ssh (ssh's own keys and\n"
               "                        configuration, $NIX_SSHOPTS); also ssh://[USER@]HOST[:PORT]\n"
               "      --remote-ctl CMD  what runs 'nix-analytics-ctl bridge' on HOST\n"
               "                        (default: nix-analytics-ctl)\n"
               "      --ascii           ASCII line drawing instead of UTF-8\n"
               "      --no-color        no colours (also when NO_COLOR is set)\n"
               "      --no-mouse        leave the mouse to the terminal\n"
               "      --fps N           at most N frames a second (default 30)\n"
               "      --stats FILE      write frame and CPU statistics (JSON) to FILE at exit\n"
               "  -h, --help            this help\n"
               "      --version         the version\n\n"
               "Press ? inside for the keys. The daemon need not be running: the TUI waits\n"
               "for it and reconnects when it restarts.\n");
}

typedef struct Args {
        char *socket_dir;
        const char *host, *remote_ctl;
        const char *stats;
        ScreenOptions screen;
} Args;

static int parse_args(int argc, char **argv, Args *a) {
        enum {
                OPT_ASCII = 256,
                OPT_NO_COLOR,
                OPT_NO_MOUSE,
                OPT_FPS,
                OPT_STATS,
                OPT_VERSION,
                OPT_REMOTE_CTL
        };
        static const struct option opts[] = {
                {"socket-dir", required_argument, NULL, 's'},
                {"host", required_argument, NULL, 'H'},
                {"remote-ctl", required_argument, NULL, OPT_REMOTE_CTL},
                {"ascii", no_argument, NULL, OPT_ASCII},
                {"no-color", no_argument, NULL, OPT_NO_COLOR},
                {"no-mouse", no_argument, NULL, OPT_NO_MOUSE},
                {"fps", required_argument, NULL, OPT_FPS},
                {"stats", required_argument, NULL, OPT_STATS},
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
                case 'H':
                        if (a->host) {
                                log_error("-H: one host at a time");
                                return -EINVAL;
                        }
                        a->host = optarg;
                        break;
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
        fprintf(f,
                "{\"frames\":%llu,\"frame_avg_ms\":%.3f,\"frame_p99_ms\":%.1f,\"frame_max_ms\":%.3f,"
                "\"events\":%llu,\"builds\":%u,\"cpu_seconds\":%.3f,\"wall_seconds\":%.3f}\n",
                (unsigned long long) st.frames,
                st.frames ? (double) st.total_usec / (double) st.frames / 1000.0 : 0.0,
                (double) st.p99_usec / 1000.0, (double) st.max_usec / 1000.0,
                (unsigned long long) t->store.events, HASH_COUNT(t->store.builds), cpu_seconds(), wall);
}

/* The ssh command for -H: `REMOTE_CTL [-s DIR] bridge` on the host. The log panel opens a
 * connection per build it follows: they share the first one's ssh connection (ControlMaster,
 * its socket in a directory of this process's own, removed at exit), so moving through builds
 * costs no new login. */
static int remote_argv(const Args *a, const char *socket_dir, char **ret_mux_dir, char ***ret) {
        _cleanup_free_ char *dest = NULL, *qdir = NULL, *cmd = NULL, *mux = NULL, *path_opt = NULL;
        unsigned port = 0;
        int r = ssh_target_parse(a->host, &dest, &port);
        if (r == -EINVAL)
                return log_error("-H %s: expected HOST, USER@HOST or ssh://[USER@]HOST[:PORT]", a->host),
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

int main(int argc, char **argv) {
        log_set_prefix("nix-analytics");
        /* UTF-8 line drawing and wide characters follow the user's locale. */
        setlocale(LC_ALL, "");
        Args a = {};
        int r = parse_args(argc, argv, &a);
        if (r <= 0) {
                free(a.socket_dir);
                return r < 0 ? 2 : 0;
        }
        _cleanup_free_ char *dir = a.socket_dir, *path = NULL, *mux_dir = NULL;
        char **ssh = NULL;
        if (a.host) {
                r = remote_argv(&a, dir, &mux_dir, &ssh);
                if (r < 0)
                        return r == -EINVAL ? 2 : 1;
        } else {
                if (!dir && sockdir_resolve_env(SOCKDIR_FOR_CLIENT, NA_CONTROL_SOCKET, &dir) < 0)
                        return log_error("out of memory"), 1;
                r = sockdir_socket_path(dir, NA_CONTROL_SOCKET, &path);
                if (r < 0) {
                        log_error_errno(r, "socket directory %s: %m", dir);
                        return 2;
                }
        }

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
        r = sd_event_default(&e);
        if (r < 0) {
                log_error_errno(r, "cannot start the event loop: %m");
                return 1;
        }
        (void) sd_event_add_signal(e, NULL, SIGINT, on_exit_signal, NULL);
        (void) sd_event_add_signal(e, NULL, SIGTERM, on_exit_signal, NULL);
        (void) sd_event_add_signal(e, NULL, SIGHUP, on_exit_signal, NULL);

        usec_t started = now_monotonic();
        Tui *t = NULL;
        r = tui_new(e, path, a.host, ssh, &a.screen, &t);
        if (r < 0) {
                if (r == -ENOTTY)
                        log_error("nix-analytics needs a terminal (for scripts: nix-analytics-ctl)");
                else
                        log_error_errno(r, "cannot start: %m");
                sd_event_unref(e);
                remove_mux_dir(mux_dir);
                return 1;
        }
        r = sd_event_loop(e);
        if (a.stats)
                write_stats(a.stats, t, started);
        tui_free(t);
        sd_event_unref(e);
        remove_mux_dir(mux_dir);
        if (r < 0) {
                log_error_errno(r, "event loop: %m");
                return 1;
        }
        return 0;
}
