/* Continuity across the daemon's restarts: what it knows of its running builds is written to a
 * small state file now and then and at shutdown, read back at start, given back to the builds
 * found running again, and turned into history rows for those that ended meanwhile
 * (docs/history.md "Continuity across restarts"). */
#pragma once

#include <sys/types.h>

#include "basic/time-util.h"
#include "shared/resume.h"

typedef struct Daemon Daemon;
typedef struct Persist Persist;

typedef struct PersistConfig {
        const char *path;      /* the state file; NULL: nothing is kept */
        const char *store_dir; /* Nix's store, its database and the build logs it keeps */
        const char *nix_db;    /* its database (store-db.h) */
        const char *nix_log_dir;
        usec_t interval; /* between writes while builds run */
} PersistConfig;

#define PERSIST_INTERVAL_DEFAULT (3 * USEC_PER_SEC)
#define PERSIST_LOG_DIR_DEFAULT  "/nix/var/log/nix/drvs"

/* Reads what the last run left (a missing or unreadable file is no record) and arms the
 * periodic write. */
int persist_new(Daemon *d, const PersistConfig *cfg, Persist **ret);
/* Writes the running builds a last time (at shutdown, after the loop), then frees. */
Persist *persist_free(Persist *p);

/* The record of drv built by the nix process nix_pid (started nix_start ticks after boot; 0
 * unknown) before the restart, once (NULL: none). Another process that took the pid since is
 * not it. p may be NULL. */
const ResumeBuild *persist_take(Persist *p, const char *drv, pid_t nix_pid, uint64_t nix_start);
/* Rediscovery is complete: every record not taken is a build that ended while the daemon was
 * down; its outcome and end are read off the loop from what Nix left, and it goes to history
 * with its duration marked approximate. From now on the state file follows the model. */
void persist_rediscovery_done(Persist *p);
