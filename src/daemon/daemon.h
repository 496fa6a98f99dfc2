/* The daemon's context, shared by its modules (listeners, connections, commands). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "basic/time-util.h"
#include "daemon/history-writer.h"
#include "daemon/quota.h"
#include "shared/model.h"
#include "shared/store-db.h"

typedef struct EventConn EventConn;
typedef struct Sampler Sampler;
typedef struct Scheduler Scheduler;
typedef struct Estimates Estimates;
typedef struct Outcomes Outcomes;
typedef struct Graphs Graphs;
typedef struct QueryWorker QueryWorker;
typedef struct ControlConn ControlConn;
typedef struct Metrics Metrics;
typedef struct Persist Persist;
typedef struct Oom Oom;
typedef struct LockWaits LockWaits;

typedef struct DaemonConfig {
        char *socket_dir;
        ModelConfig model;
        uint32_t max_event_conns;
        uint32_t max_control_conns;
        size_t control_output_max; /* bytes queued for one control client before it is dropped */
        QuotaLimits quota;         /* per untrusted uid (quota.c) */

        /* processes and cgroups (sampler.c, actions.c) */
        usec_t sample_interval;
        bool no_cgroups;
        char *kmsg;         /* --kmsg: the kernel log read for OOM kills (NULL: /dev/kmsg) */
        bool kmsg_disabled; /* --kmsg none */
        char *cgroup_root;
        pid_t discover_scope;
        char *admin_group; /* may act on every build */
        gid_t admin_gid;
        bool has_admin_gid;
        HistoryConfig history;
        bool history_disabled;
        usec_t graph_keep; /* a finished invocation's graph is dropped after this */
        uint32_t graph_max_nodes;

        /* remote builders (machines-config.c, machines-poll.c) */
        char *nix_conf_dir;
        usec_t machines_poll_interval, machines_poll_timeout;
        char *machines_remote_ctl;
        char *store_db; /* Nix's database, read only: which outputs are valid */

        char *metrics_listen; /* --metrics-listen: NULL serves no metrics (metrics.c) */
} DaemonConfig;

typedef struct Daemon {
        DaemonConfig config;
        sd_event *event;
        Model *model;
        Sampler *sampler;
        Quota *quota;
        StoreDb *store_db;

        int events_fd, control_fd;
        sd_event_source *events_listener, *control_listener;
        Scheduler *scheduler; /* model changes out after every dispatch, model timers */

        EventConn *event_conns;
        uint32_t n_event_conns;
        ControlConn *control_conns;
        uint32_t n_control_conns;
        uint32_t n_follows; /* builds followed, summed over control connections (control-conn.c) */

        HistoryWriter *history;
        Estimates *estimates;
        Outcomes *outcomes;          /* the last hour's outcomes from history (outcomes.c) */
        LockWaits *lock_waits;       /* lock waits inside nix-daemon, by Nix's database (lock-waits.c) */
        struct HostStats *hoststats; /* the machine's own figures every 10 s (hoststats.c) */
        Graphs *graphs;
        QueryWorker *queries;
        struct BuildDirs *build_dirs; /* builddirs.c: build directories measured */
        Metrics *metrics;             /* NULL unless --metrics-listen */
        Persist *persist;             /* running builds kept across restarts (persist.c) */
        Oom *oom;                     /* the OOM killer's kills: cgroups and the kernel log (oom.c) */
        struct MachinesConfig *machines_config;
        struct MachinesPoll *machines_poll;
        struct RemoteKills
                *remote_kills; /* actions-remote.c: killed remote builds whose hook may still run */

        usec_t started_mono;
        uint64_t control_dropped_slow;
        uint64_t control_serial; /* the last serial given to a control connection */
        uint64_t event_conns_refused, control_conns_refused;
} Daemon;
