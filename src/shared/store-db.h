/* Nix's store database, read only: is a store path valid (registered by Nix after its build,
 * not only present on disk)? Which derivation has an output? Never waits on Nix's locks. */
#pragma once

#include "basic/time-util.h"

typedef struct StoreDb StoreDb;

/* The database of the store at store_dir, as Nix lays it out: "<store_dir>/../var/nix/db/
 * db.sqlite" (/nix/var/nix/db/db.sqlite for /nix/store). */
int store_db_default_path(const char *store_dir, char **ret);

/* Remembers path; the database is opened at the first look, and again (at most every few
 * seconds) after it could not be. */
int store_db_new(const char *path, StoreDb **ret);
StoreDb *store_db_free(StoreDb *db);

/* 1 valid, 0 not valid, -EAGAIN Nix holds a lock now (look again later), other -errno: the
 * database cannot tell (absent, unreadable: -EACCES without root, corrupt). */
int store_db_path_valid(StoreDb *db, const char *path);
/* The same, with the time Nix registered a valid path (realtime, seconds resolution; 0 when
 * the database does not say) in *ret_registered if given. */
int store_db_path_registered(StoreDb *db, const char *path, usec_t *ret_registered);
/* The derivation (its .drv path, valid) that has output among its outputs: 1 and *ret_drv, 0
 * none, -ENOTUNIQ more than one, -EAGAIN Nix holds a lock now, other -errno as above. */
int store_db_output_drv(StoreDb *db, const char *output, char **ret_drv);
