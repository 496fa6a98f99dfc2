/* nix-analyticsd: watches every Nix build on the machine and serves what it sees. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "basic/macro.h"
#include "daemon/actions-remote.h"
#include "daemon/commands.h"
#include "daemon/control-conn.h"
#include "daemon/daemon.h"
#include "daemon/estimates.h"
#include "daemon/hoststats.h"
#include "daemon/lock-waits.h"
#include "daemon/outcomes.h"
#include "daemon/event-conn.h"
#include "daemon/builddirs.h"
#include "daemon/graphs.h"
#include "daemon/history-writer.h"
#include "daemon/oom.h"
#include "daemon/persist.h"
#include "daemon/query-worker.h"
#include "daemon/listener.h"
#include "daemon/machines-config.h"
#include "daemon/metrics-http.h"
#include "daemon/metrics.h"
#include "daemon/machines-poll.h"
#include "daemon/sampler.h"
#include "daemon/scheduler.h"
#include "shared/cgroup-delegate.h"
#include "shared/json-arena.h"
#include "shared/proto-version.h"
#include "shared/sockdir.h"

static void help(void) {
        printf("Usage: nix-analyticsd [OPTIONS]\n"
               "\n"
               "Watch every Nix build on this machine: receive build events on\n"
               "DIR/events.sock, serve queries and subscriptions on DIR/control.sock.\n"
               "\n"
               "Options:\n"
               "  -s, --socket-dir DIR     socket directory (default: $NIX_ANALYTICS_SOCKET_DIR,\n"
               "                           else $XDG_RUNTIME_DIR/nix-analytics when not root,\n"
               "                           else " NA_SYSTEM_SOCKET_DIR ")\n"
               "      --log-ring N         log lines kept per running build (default 1000)\n"
               "      --log-ring-finished N  log lines kept per finished build (default 20)\n"
               "      --log-budget BYTES   memory for all builds' log lines (default 16M; K, M, G\n"
               "                           suffixes; 0 no limit): the oldest lines of the largest\n"
               "                           rings go first ('nix log DRV' keeps every line)\n"
               "      --max-finished N     finished builds kept in memory (default 5000)\n"
               "      --store-dir DIR      Nix store directory (default /nix/store)\n"
               "      --store-db PATH      Nix's store database, read only: outputs count as built\n"
               "                           once valid there (default DIR/../var/nix/db/db.sqlite;\n"
               "                           unreadable: once they exist)\n"
               "      --max-clients N      control clients at once (default 1024)\n"
               "      --max-sources N      event connections at once (default 8192)\n"
               "      --quota KEY=N        a per-uid limit for untrusted users (repeatable); keys and\n"
               "                           defaults: event-connections=64 control-connections=32\n"
               "                           builds=4096 log-bytes-per-sec=1048576 log-burst=8388608\n"
               "                           log-bytes-held=67108864 history-rows-per-hour=1000\n"
               "                           reserved-connections=64\n"
               "      --sample-interval S  seconds between samples of builds' processes (default 1)\n"
               "      --no-cgroups         never use cgroups: figures from /proc, actions by signals\n"
               "      --kmsg PATH|none     the kernel log read for OOM kills (default /dev/kmsg;\n"
               "                           unreadable: only kills inside builds are seen)\n"
               "      --cgroup-root PATH|auto  where builds are adopted in each cgroup hierarchy\n"
               "                           (default auto: the systemd service's delegated cgroup\n"
               "                           (Delegate=yes) when there is one, else /nix-analytics)\n"
               "      --admin-group GROUP  members may act on every build (besides root and the\n"
               "                           user who requested it)\n"
               "      --discover-scope PID find running builds (after a restart, and those served to\n"
               "                           remote clients) only under PID\n"
               "      --history-db PATH    history database (default /var/lib/nix-analytics/history.db\n"
               "                           for root, else $XDG_STATE_HOME/nix-analytics/history.db);\n"
               "                           'none' keeps no history\n"
               "      --history-max-age DAYS   delete history older than this (default 365, 0 never)\n"
               "      --history-max-rows N     keep at most N history rows (default 1000000, 0 no limit)\n"
               "      --graph-keep SECONDS     keep a finished invocation's dependency graph this long\n"
               "                               (default 600)\n"
               "      --graph-max-nodes N      derivations per dependency graph (default 200000)\n"
               "      --nix-conf-dir DIR   where nix.conf is read for the builders setting (default\n"
               "                           $NIX_CONF_DIR, else /etc/nix); $NIX_CONFIG applies too\n"
               "      --machines-poll-interval S  seconds between polls of each remote builder\n"
               "                           over ssh (default 30; 0 never polls)\n"
               "      --machines-poll-timeout S   give up on one poll after S seconds (default 10)\n"
               "      --machines-remote-ctl CMD   nix-analytics-ctl on the remote builders\n"
               "                           (default nix-analytics-ctl)\n"
               "      --metrics-listen ADDR serve Prometheus metrics at http://ADDR/metrics; ADDR is\n"
               "                           HOST:PORT, [IPV6]:PORT or PORT (then 127.0.0.1); off by\n"
               "                           default (see docs/metrics.md before exposing it)\n"
               "  -v, --verbose            log debug messages\n"
               "  -q, --quiet              log warnings and errors only\n"
               "  -h, --help               show this help\n"
               "      --version            show the version\n"
               "\n"
               "See nix-analyticsd(8) and docs/protocol.md.\n");
}

static int parse_u32(const char *opt, const char *s, uint32_t min, uint32_t *ret) {
        uint64_t v;
        if (safe_atou64(s, &v) < 0 || v < min || v > UINT32_MAX) {
                log_error("invalid value for %s: '%s' (a whole number >= %u)", opt, s, (unsigned) min);
                return -EINVAL;
        }
        *ret = (uint32_t) v;
        return 0;
}

enum {
        ARG_LOG_RING = 0x100,
        ARG_LOG_RING_FINISHED,
        ARG_LOG_BUDGET,
        ARG_MAX_FINISHED,
        ARG_STORE_DIR,
        ARG_STORE_DB,
        ARG_MAX_CLIENTS,
        ARG_MAX_SOURCES,
        ARG_QUOTA,
        ARG_HISTORY_DB,
        ARG_HISTORY_MAX_AGE,
        ARG_HISTORY_MAX_ROWS,
        ARG_GRAPH_KEEP,
        ARG_GRAPH_MAX_NODES,
        ARG_VERSION,
        ARG_SAMPLE_INTERVAL,
        ARG_NO_CGROUPS,
        ARG_CGROUP_ROOT,
        ARG_ADMIN_GROUP,
        ARG_DISCOVER_SCOPE,
        ARG_NIX_CONF_DIR,
        ARG_MACHINES_POLL_INTERVAL,
        ARG_MACHINES_POLL_TIMEOUT,
        ARG_MACHINES_REMOTE_CTL,
        ARG_METRICS_LISTEN,
        ARG_KMSG,
};

static int parse_sampler_option(int c, const char *arg, DaemonConfig *cfg) {
        char *end;
        switch (c) {
        case ARG_SAMPLE_INTERVAL: {
                errno = 0;
                double v = strtod(arg, &end);
                if (errno || end == arg || *end || !(v >= 0.05 && v <= 3600))
                        return log_error_errno(
                                EINVAL, "invalid value for --sample-interval: '%s' (seconds, 0.05 to 3600)",
                                arg);
                cfg->sample_interval = (usec_t) (v * (double) USEC_PER_SEC);
                return 0;
        }
        case ARG_NO_CGROUPS:
                cfg->no_cgroups = true;
                return 0;
        case ARG_KMSG:
                free(cfg->kmsg);
                cfg->kmsg = NULL;
                cfg->kmsg_disabled = strcmp(arg, "none") == 0;
                if (!cfg->kmsg_disabled && !(cfg->kmsg = strdup(arg)))
                        return log_error_errno(ENOMEM, "out of memory");
                return 0;
        case ARG_CGROUP_ROOT: {
                const char *path;
                if (cg_root_option_parse(arg, &path) < 0)
                        return log_error_errno(EINVAL,
                                               "--cgroup-root must be 'auto' or an absolute cgroup path "
                                               "such as /nix-analytics: '%s'",
                                               arg);
                free(cfg->cgroup_root);
                cfg->cgroup_root = path ? strdup(path) : NULL;
                return !path || cfg->cgroup_root ? 0 : log_error_errno(ENOMEM, "out of memory");
        }
        case ARG_ADMIN_GROUP: {
                struct group *g = getgrnam(arg);
                if (!g)
                        return log_error_errno(EINVAL, "--admin-group: no group named '%s'", arg);
                free(cfg->admin_group);
                cfg->admin_group = strdup(arg);
                cfg->admin_gid = g->gr_gid;
                cfg->has_admin_gid = true;
                return cfg->admin_group ? 0 : log_error_errno(ENOMEM, "out of memory");
        }
        case ARG_DISCOVER_SCOPE:
                if (parse_pid(arg, &cfg->discover_scope) < 0)
                        return log_error_errno(EINVAL, "invalid value for --discover-scope: '%s' (a pid)",
                                               arg);
                return 0;
        default:
                return -EINVAL;
        }
}

/* Returns 1 to run, 0 to exit successfully (help, version), < 0 on bad usage. */
static int parse_argv(int argc, char *argv[], DaemonConfig *cfg) {
        static const struct option options[] = {
                {"socket-dir", required_argument, NULL, 's'},
                {"log-ring", required_argument, NULL, ARG_LOG_RING},
                {"log-ring-finished", required_argument, NULL, ARG_LOG_RING_FINISHED},
                {"log-budget", required_argument, NULL, ARG_LOG_BUDGET},
                {"max-finished", required_argument, NULL, ARG_MAX_FINISHED},
                {"store-dir", required_argument, NULL, ARG_STORE_DIR},
                {"store-db", required_argument, NULL, ARG_STORE_DB},
                {"max-clients", required_argument, NULL, ARG_MAX_CLIENTS},
                {"max-sources", required_argument, NULL, ARG_MAX_SOURCES},
                {"quota", required_argument, NULL, ARG_QUOTA},
                {"sample-interval", required_argument, NULL, ARG_SAMPLE_INTERVAL},
                {"no-cgroups", no_argument, NULL, ARG_NO_CGROUPS},
                {"kmsg", required_argument, NULL, ARG_KMSG},
                {"cgroup-root", required_argument, NULL, ARG_CGROUP_ROOT},
                {"admin-group", required_argument, NULL, ARG_ADMIN_GROUP},
                {"discover-scope", required_argument, NULL, ARG_DISCOVER_SCOPE},
                {"history-db", required_argument, NULL, ARG_HISTORY_DB},
                {"history-max-age", required_argument, NULL, ARG_HISTORY_MAX_AGE},
                {"history-max-rows", required_argument, NULL, ARG_HISTORY_MAX_ROWS},
                {"graph-keep", required_argument, NULL, ARG_GRAPH_KEEP},
                {"graph-max-nodes", required_argument, NULL, ARG_GRAPH_MAX_NODES},
                {"verbose", no_argument, NULL, 'v'},
                {"quiet", no_argument, NULL, 'q'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"nix-conf-dir", required_argument, NULL, ARG_NIX_CONF_DIR},
                {"machines-poll-interval", required_argument, NULL, ARG_MACHINES_POLL_INTERVAL},
                {"machines-poll-timeout", required_argument, NULL, ARG_MACHINES_POLL_TIMEOUT},
                {"machines-remote-ctl", required_argument, NULL, ARG_MACHINES_REMOTE_CTL},
                {"metrics-listen", required_argument, NULL, ARG_METRICS_LISTEN},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "s:vqh", options, NULL)) >= 0) {
                switch (c) {
                case 's':
                        free(cfg->socket_dir);
                        cfg->socket_dir = strdup(optarg);
                        if (!cfg->socket_dir)
                                return log_error_errno(ENOMEM, "out of memory");
                        break;
                case ARG_LOG_RING:
                        if (parse_u32("--log-ring", optarg, 1, &cfg->model.log_ring) < 0)
                                return -EINVAL;
                        break;
                case ARG_LOG_RING_FINISHED:
                        if (parse_u32("--log-ring-finished", optarg, 0, &cfg->model.log_ring_finished) < 0)
                                return -EINVAL;
                        break;
                case ARG_LOG_BUDGET:
                        if (parse_size(optarg, &cfg->model.log_budget) < 0)
                                return log_error_errno(EINVAL,
                                                       "invalid value for --log-budget: '%s' (bytes, "
                                                       "optionally with K, M or G; 0 no limit)",
                                                       optarg);
                        break;
                case ARG_MAX_FINISHED:
                        if (parse_u32("--max-finished", optarg, 0, &cfg->model.max_finished) < 0)
                                return -EINVAL;
                        break;
                case ARG_STORE_DIR:
                        if (optarg[0] != '/')
                                return log_error_errno(EINVAL, "--store-dir must be an absolute path: '%s'",
                                                       optarg);
                        cfg->model.store_dir = optarg;
                        break;
                case ARG_STORE_DB:
                        free(cfg->store_db);
                        if (!(cfg->store_db = strdup(optarg)))
                                return log_error_errno(ENOMEM, "out of memory");
                        break;
                case ARG_MAX_CLIENTS:
                        if (parse_u32("--max-clients", optarg, 1, &cfg->max_control_conns) < 0)
                                return -EINVAL;
                        break;
                case ARG_MAX_SOURCES:
                        if (parse_u32("--max-sources", optarg, 1, &cfg->max_event_conns) < 0)
                                return -EINVAL;
                        break;
                case ARG_QUOTA:
                        if (quota_limits_parse(&cfg->quota, optarg) < 0)
                                return log_error_errno(EINVAL, "invalid --quota '%s' (KEY=N, see --help)",
                                                       optarg);
                        break;
                case ARG_SAMPLE_INTERVAL:
                case ARG_NO_CGROUPS:
                case ARG_KMSG:
                case ARG_CGROUP_ROOT:
                case ARG_ADMIN_GROUP:
                case ARG_DISCOVER_SCOPE:
                        if (parse_sampler_option(c, optarg, cfg) < 0)
                                return -EINVAL;
                        break;
                case ARG_HISTORY_DB:
                        free(cfg->history.path);
                        cfg->history.path = NULL;
                        cfg->history_disabled = strcmp(optarg, "none") == 0;
                        if (cfg->history_disabled)
                                break;
                        if (optarg[0] != '/')
                                return log_error_errno(
                                        EINVAL, "--history-db must be an absolute path or 'none': '%s'",
                                        optarg);
                        if (!(cfg->history.path = strdup(optarg)))
                                return log_error_errno(ENOMEM, "out of memory");
                        break;
                case ARG_HISTORY_MAX_AGE: {
                        uint32_t days;
                        if (parse_u32("--history-max-age", optarg, 0, &days) < 0)
                                return -EINVAL;
                        cfg->history.max_age = (usec_t) days * 86400 * USEC_PER_SEC;
                        break;
                }
                case ARG_HISTORY_MAX_ROWS: {
                        uint32_t rows;
                        if (parse_u32("--history-max-rows", optarg, 0, &rows) < 0)
                                return -EINVAL;
                        cfg->history.max_rows = rows;
                        break;
                }
                case ARG_GRAPH_KEEP: {
                        uint32_t sec;
                        if (parse_u32("--graph-keep", optarg, 0, &sec) < 0)
                                return -EINVAL;
                        cfg->graph_keep = (usec_t) sec * USEC_PER_SEC;
                        break;
                }
                case ARG_GRAPH_MAX_NODES:
                        if (parse_u32("--graph-max-nodes", optarg, 1, &cfg->graph_max_nodes) < 0)
                                return -EINVAL;
                        break;
                case ARG_NIX_CONF_DIR:
                case ARG_MACHINES_POLL_INTERVAL:
                case ARG_MACHINES_POLL_TIMEOUT:
                case ARG_MACHINES_REMOTE_CTL:
                        if (machines_parse_option(c - ARG_NIX_CONF_DIR, optarg, cfg) < 0)
                                return -EINVAL;
                        break;
                case ARG_METRICS_LISTEN: {
                        _cleanup_free_ char *host = NULL, *port = NULL;
                        if (metrics_http_parse_address(optarg, &host, &port) < 0) {
                                log_error("invalid value for --metrics-listen: '%s' (HOST:PORT, [IPV6]:PORT "
                                          "or PORT)",
                                          optarg);
                                return -EINVAL;
                        }
                        free(cfg->metrics_listen);
                        if (!(cfg->metrics_listen = strdup(optarg)))
                                return log_error_errno(ENOMEM, "out of memory");
                        break;
                }
                case 'v':
                        log_set_max_level(LOG_LEVEL_DEBUG);
                        break;
                case 'q':
                        log_set_max_level(LOG_LEVEL_WARNING);
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("nix-analyticsd %s (protocol %d)\n", PACKAGE_VERSION, NA_PROTOCOL);
                        return 0;
                default:
                        fprintf(stderr, "Try 'nix-analyticsd --help'.\n");
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                log_error("unexpected argument '%s'", argv[optind]);
                fprintf(stderr, "Try 'nix-analyticsd --help'.\n");
                return -EINVAL;
        }
        return 1;
}

/* Enough descriptors for thousands of senders and clients. */
static void raise_fd_limit(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
}

/* Why an existing socket directory is refused, with its owner and mode, and what to do. */
static int log_sockdir_refused(const char *dir, int r) {
        struct stat st = {0};
        (void) lstat(dir, &st);
        log_error("refusing socket directory %s (owner uid %u, mode %04o): %s; another user could put "
                  "her own sockets there. Use a directory owned by uid %u that only it can write "
                  "(chown %u %s; chmod 755 %s), or another --socket-dir",
                  dir, (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777),
                  r == -ELOOP     ? "it is a symbolic link"
                  : r == -ENOTDIR ? "it is not a directory"
                  : r == -EPERM   ? "it belongs to another user"
                                  : "group or others may write to it",
                  (unsigned) geteuid(), (unsigned) geteuid(), dir, dir);
        return -EPERM;
}

static int open_sockets(Daemon *d) {
        _cleanup_free_ char *events = NULL, *control = NULL;
        int r;

        r = sockdir_make(d->config.socket_dir, geteuid());
        if (r == -EPERM || r == -EACCES || r == -ELOOP || r == -ENOTDIR)
                return log_sockdir_refused(d->config.socket_dir, r);
        if (r < 0)
                return log_error_errno(r, "cannot create socket directory %s: %m", d->config.socket_dir);
        if ((r = sockdir_socket_path(d->config.socket_dir, NA_EVENTS_SOCKET, &events)) < 0 ||
            (r = sockdir_socket_path(d->config.socket_dir, NA_CONTROL_SOCKET, &control)) < 0)
                return log_error_errno(r, "socket directory %s: %m", d->config.socket_dir);

        /* Any local user may report its own builds and ask questions: the daemon attributes
         * and authorises every connection by SO_PEERCRED. */
        d->events_fd = listener_open(events, 0666);
        if (d->events_fd == -EADDRINUSE)
                return log_error_errno(EADDRINUSE, "another nix-analyticsd is listening on %s", events);
        if (d->events_fd < 0)
                return log_error_errno(d->events_fd, "cannot listen on %s: %m", events);
        d->control_fd = listener_open(control, 0666);
        if (d->control_fd == -EADDRINUSE)
                return log_error_errno(EADDRINUSE, "another nix-analyticsd is listening on %s", control);
        if (d->control_fd < 0)
                return log_error_errno(d->control_fd, "cannot listen on %s: %m", control);
        return 0;
}

/* A hangup never ends the daemon: it has no terminal of its own (every path is opened
 * O_NOCTTY), and a stray SIGHUP, from a terminal it was started on or from anyone allowed to
 * signal it, is logged and ignored (docs/protocol.md, "Paths from the wire"). */
static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("ignoring SIGHUP from pid %u", si->ssi_pid);
        return 0;
}

static int setup_loop(Daemon *d) {
        int r;
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        if ((r = sd_event_new(&d->event)) < 0 ||
            (r = sd_event_add_signal(d->event, NULL, SIGTERM, NULL, NULL)) < 0 ||
            (r = sd_event_add_signal(d->event, NULL, SIGINT, NULL, NULL)) < 0 ||
            (r = sd_event_add_signal(d->event, NULL, SIGHUP, on_sighup, d)) < 0)
                return log_error_errno(r, "failed to set up the event loop: %m");
        /* Under a unit with WatchdogSec= the loop pets systemd's watchdog; a no-op otherwise. */
        (void) sd_event_set_watchdog(d->event, true);

        /* All sources share one priority: sd-event then serves pending sources oldest first,
         * and ingestion is favoured by how much each event dispatch reads (event-conn.c). */
        if ((r = sd_event_add_io(d->event, &d->events_listener, d->events_fd, EPOLLIN, event_conn_accept,
                                 d)) < 0 ||
            (r = sd_event_add_io(d->event, &d->control_listener, d->control_fd, EPOLLIN, control_conn_accept,
                                 d)) < 0 ||
            (r = scheduler_new(d, &d->scheduler)) < 0)
                return log_error_errno(r, "failed to set up the event loop: %m");
        return 0;
}

static void config_done(DaemonConfig *c) {
        free(c->socket_dir);
        free(c->cgroup_root);
        free(c->kmsg);
        free(c->admin_group);
        free(c->history.path);
        free(c->nix_conf_dir);
        free(c->machines_remote_ctl);
        free(c->metrics_listen);
        free(c->store_db);
}

/* The model's look at Nix's database (ModelConfig.path_valid). */
static int path_valid(void *userdata, const char *path) {
        Daemon *d = userdata;
        return store_db_path_valid(d->store_db, path);
}

/* The model's lock wait with no plan to find its build in (ModelConfig.lock_wait_unplanned). */
static void lock_wait_unplanned(void *userdata, uint64_t source_id, uint64_t activity_id,
                                const char *output) {
        Daemon *d = userdata;
        lock_waits_ask(d->lock_waits, source_id, activity_id, output);
}

/* Outputs count as built once Nix registered them; where its database cannot be read (not
 * root), once they exist. */
static int setup_store_db(Daemon *d) {
        if (!d->config.store_db && store_db_default_path(d->config.model.store_dir, &d->config.store_db) < 0)
                return log_error_errno(ENOMEM, "out of memory");
        int r = store_db_new(d->config.store_db, &d->store_db);
        if (r < 0)
                return log_error_errno(r, "cannot set up the store database reader: %m");
        r = store_db_path_valid(d->store_db, d->config.model.store_dir);
        if (r < 0 && r != -EAGAIN)
                log_internal(LOG_LEVEL_NOTICE, r,
                             "cannot read Nix's store database %s (%m): a build's outputs count as "
                             "built once they exist",
                             d->config.store_db);
        d->config.model.path_valid = path_valid;
        d->config.model.path_valid_userdata = d;
        d->config.model.lock_wait_unplanned = lock_wait_unplanned;
        d->config.model.lock_wait_userdata = d;
        return 0;
}

static int setup_sampler(Daemon *d) {
        SamplerConfig sc = {
                .interval = d->config.sample_interval,
                .no_cgroups = d->config.no_cgroups,
                .cgroup_root = d->config.cgroup_root, /* NULL: auto */
                .discover_scope = d->config.discover_scope,
                .proc_root = d->config.model.proc_root,
                .store_dir = d->config.model.store_dir,
        };
        int r = sampler_new(d, &sc, &d->sampler);
        if (r < 0)
                return log_error_errno(r, "cannot start the process sampler: %m");
        r = oom_new(d,
                    d->config.kmsg_disabled ? NULL
                    : d->config.kmsg        ? d->config.kmsg
                                            : "/dev/kmsg",
                    &d->oom);
        if (r < 0)
                return log_error_errno(r, "cannot set up OOM kill records: %m");
        return 0;
}

static int setup_machines(Daemon *d) {
        int r = machines_config_start(d, d->config.nix_conf_dir, &d->machines_config);
        if (r < 0)
                return log_error_errno(r, "cannot read the builders setting: %m");
        if (d->config.machines_poll_interval == 0)
                return 0;
        MachinesPollConfig pc = {
                .interval = d->config.machines_poll_interval,
                .timeout = d->config.machines_poll_timeout,
                .remote_ctl =
                        d->config.machines_remote_ctl ? d->config.machines_remote_ctl : "nix-analytics-ctl",
        };
        r = machines_poll_new(d, &pc, &d->machines_poll);
        if (r < 0)
                return log_error_errno(r, "cannot set up polling of remote builders: %m");
        return 0;
}

/* The state file lives beside the history database (docs/history.md): without one, nothing
 * is kept across restarts. */
static int setup_persist(Daemon *d) {
        _cleanup_free_ char *path = NULL;
        const char *db = d->config.history.path, *slash = db ? strrchr(db, '/') : NULL;
        if (slash && asprintf(&path, "%.*s/running-builds.json", (int) (slash - db), db) < 0)
                return log_error_errno(ENOMEM, "out of memory");
        PersistConfig pc = {
                .path = path,
                .store_dir = d->config.model.store_dir,
                .nix_db = d->config.store_db,
        };
        int r = persist_new(d, &pc, &d->persist);
        if (r < 0)
                return log_error_errno(r, "cannot set up the state file %s: %m", path);
        return 0;
}

static void daemon_done(Daemon *d) {
        d->metrics = metrics_free(d->metrics); /* first: its threads wait on the loop */
        /* While the loop and the model are whole: the running builds' last record. */
        d->persist = persist_free(d->persist);
        d->machines_poll = machines_poll_free(d->machines_poll);
        d->remote_kills = remote_kills_free(d->remote_kills);
        d->machines_config = machines_config_free(d->machines_config);
        d->sampler = sampler_free(d->sampler);
        d->oom = oom_free(d->oom); /* its last events to history, before the writer stops */
        event_conns_free_all(d);
        control_conns_free_all(d);
        sd_event_source_disable_unref(d->events_listener);
        sd_event_source_disable_unref(d->control_listener);
        d->scheduler = scheduler_free(d->scheduler);
        if (d->events_fd >= 0)
                close(d->events_fd);
        if (d->control_fd >= 0)
                close(d->control_fd);
        d->graphs = graphs_free(d->graphs);
        d->build_dirs = build_dirs_free(d->build_dirs);
        d->estimates = estimates_free(d->estimates);
        d->outcomes = outcomes_free(d->outcomes);
        d->lock_waits = lock_waits_free(d->lock_waits);
        d->hoststats = hoststats_free(d->hoststats);
        d->queries = query_worker_stop(d->queries);
        sd_event_unref(d->event);
        /* After the loop: the last finished builds were queued by the final flush. */
        d->history = history_writer_stop(d->history);
        model_free(d->model);
        d->store_db = store_db_free(d->store_db);
        d->quota = quota_free(d->quota); /* after the model, which releases its builds */
        config_done(&d->config);
}

int main(int argc, char *argv[]) {
        Daemon d = {.events_fd = -EBADF, .control_fd = -EBADF};
        int r;

        log_set_prefix("nix-analyticsd");
        model_config_defaults(&d.config.model);
        d.config.max_event_conns = 8192;
        d.config.max_control_conns = 1024;
        d.config.control_output_max = 4u << 20;
        quota_limits_defaults(&d.config.quota);
        d.config.history.max_age = 365 * 86400 * USEC_PER_SEC;
        d.config.history.max_rows = 1000000;
        d.config.history.queue_max = 100000;
        d.config.graph_keep = 600 * USEC_PER_SEC;
        d.config.graph_max_nodes = 200000;

        d.config.sample_interval = USEC_PER_SEC;
        d.config.machines_poll_interval = 30 * USEC_PER_SEC;
        d.config.machines_poll_timeout = 10 * USEC_PER_SEC;
        r = parse_argv(argc, argv, &d.config);
        if (r <= 0) {
                config_done(&d.config);
                return r < 0 ? 2 : 0;
        }
        if (!d.config.history_disabled && !d.config.history.path &&
            history_default_path(&d.config.history.path) < 0)
                log_warning("no history database path ($HOME and $XDG_STATE_HOME unset): history disabled");
        if (!d.config.socket_dir &&
            (r = sockdir_resolve_env(SOCKDIR_FOR_DAEMON, NULL, &d.config.socket_dir)) < 0) {
                log_error_errno(r, "cannot resolve the socket directory: %m");
                config_done(&d.config);
                return 1;
        }

        raise_fd_limit();
        /* Before any other thread exists (see json-arena.h). */
        if ((r = json_arena_install()) < 0) {
                log_error_errno(r, "cannot set up the JSON arena: %m");
                config_done(&d.config);
                return 1;
        }
        d.started_mono = now_monotonic();
        if ((r = setup_store_db(&d)) < 0)
                goto free_daemon;
        if ((r = model_new(&d.config.model, &d.model)) < 0) {
                log_error_errno(r, "cannot create the model: %m");
                goto free_daemon;
        }
        if ((r = quota_new(&d.config.quota, getuid(), &d.quota)) < 0) {
                log_error_errno(r, "cannot set up quotas: %m");
                goto free_daemon;
        }
        quota_attach_model(d.quota, d.model);
        if ((r = open_sockets(&d)) < 0 || (r = setup_loop(&d)) < 0 || (r = setup_sampler(&d)) < 0)
                goto free_daemon;
        /* History problems never stop monitoring: the writer reports them in status. */
        if ((r = graphs_new(&d, &d.graphs)) < 0) {
                log_error_errno(r, "cannot set up dependency graphs: %m");
                goto free_daemon;
        }
        if ((r = build_dirs_new(&d, &d.build_dirs)) < 0) {
                log_error_errno(r, "cannot set up build directory measures: %m");
                goto free_daemon;
        }
        if ((r = lock_waits_new(&d, d.config.store_db, &d.lock_waits)) < 0) {
                log_error_errno(r, "cannot set up lock wait lookups: %m");
                goto free_daemon;
        }
        if ((r = estimates_new(&d, &d.estimates)) < 0 || (r = outcomes_new(&d, &d.outcomes)) < 0 ||
            (r = hoststats_new(&d, &d.hoststats)) < 0 ||
            (r = history_writer_start(&d.config.history, &d.history)) < 0) {
                log_error_errno(r, "cannot start the history writer: %m");
                goto free_daemon;
        }
        if ((r = query_worker_start(&d, &d.queries)) < 0) {
                log_error_errno(r, "cannot start the history query thread: %m");
                goto free_daemon;
        }
        if ((r = setup_machines(&d)) < 0 || (r = setup_persist(&d)) < 0)
                goto free_daemon;
        if (d.config.metrics_listen && (r = metrics_new(&d, d.config.metrics_listen, &d.metrics)) < 0)
                goto free_daemon;
        if (d.config.history.path)
                log_info("history in %s", d.config.history.path);
        else
                log_info("history disabled");

        log_info("listening on %s/{%s,%s}", d.config.socket_dir, NA_EVENTS_SOCKET, NA_CONTROL_SOCKET);
        (void) sd_notify(0, "READY=1\nSTATUS=watching builds");

        r = sd_event_loop(d.event);
        if (r < 0)
                log_error_errno(r, "event loop failed: %m");
        (void) sd_notify(0, "STOPPING=1");

free_daemon:
        daemon_done(&d);
        return r < 0 ? 1 : 0;
}
