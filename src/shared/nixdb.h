/* Nix's own store database (db.sqlite), read-only: whether a store path is valid, and when it
 * was registered. Never written, never locked for long: Nix keeps it in WAL mode, so a reader
 * never blocks it. Slow (a file open per call): for a worker thread, not the event loop. */
#pragma once

#include "basic/time-util.h"

#define NIXDB_PATH_DEFAULT "/nix/var/nix/db/db.sqlite"

/* 1 when path is valid (in ValidPaths), with its registration time (realtime; seconds
 * resolution) in *ret_registered if given; 0 when it is not; -errno when the database cannot
 * be read (-ENOENT missing, -EACCES, -EBUSY locked past a short wait, -EIO). */
int nixdb_path_registered(const char *db_path, const char *path, usec_t *ret_registered);
