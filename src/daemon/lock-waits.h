/* Lock waits Nix reports from inside nix-daemon (ModelConfig.lock_wait_unplanned): "waiting
 * for lock on <output>" with no plan to find the waiting build in. The derivation that has
 * that output is looked up in Nix's database on a worker thread (never on the event loop:
 * SQLite reads the disk), then the model marks its build (made queued if need be) waiting. */
#pragma once

#include <stdint.h>

#include "daemon/daemon.h"

typedef struct LockWaits LockWaits;

/* db_path: Nix's database (DaemonConfig.store_db). */
int lock_waits_new(Daemon *d, const char *db_path, LockWaits **ret);
LockWaits *lock_waits_free(LockWaits *l);

/* Asks which derivation has output (a valid store path) for that activity; the answer comes
 * on the event loop. Dropped when too many wait already. */
void lock_waits_ask(LockWaits *l, uint64_t source_id, uint64_t activity_id, const char *output);
