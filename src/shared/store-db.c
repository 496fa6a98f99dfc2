/* Nix's store database, read only. Nix registers a build's outputs in its ValidPaths table
 * once they are complete; until then a path may exist on disk (the builder wrote it) and
 * still not be valid. The lookup never waits: a busy timeout of 0, and SQLITE_BUSY is
 * "undecided", for the caller to look again later. */
#include "shared/store-db.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/time-util.h"

#define REOPEN_USEC (5 * USEC_PER_SEC)

struct StoreDb {
        char *path;
        sqlite3 *db;
        sqlite3_stmt *query;
        sqlite3_stmt *drv_query; /* made at its first use */
        usec_t failed_at;        /* monotonic: the last open that failed */
        int failed;              /* its -errno */
};

int store_db_default_path(const char *store_dir, char **ret) {
        const char *slash = strrchr(store_dir, '/');
        if (!slash)
                return -EINVAL;
        /* "/nix/store" -> "/nix", "/srv/root/nix/store" -> "/srv/root/nix" */
        int n = (int) (slash - store_dir);
        return asprintf(ret, "%.*s/var/nix/db/db.sqlite", n, store_dir) < 0 ? -ENOMEM : 0;
}

int store_db_new(const char *path, StoreDb **ret) {
        StoreDb *db = calloc(1, sizeof(*db));
        if (!db)
                return -ENOMEM;
        db->path = strdup(path);
        if (!db->path) {
                free(db);
                return -ENOMEM;
        }
        *ret = db;
        return 0;
}

static void store_db_close(StoreDb *db) {
        sqlite3_finalize(db->query);
        sqlite3_finalize(db->drv_query);
        db->query = db->drv_query = NULL;
        sqlite3_close_v2(db->db);
        db->db = NULL;
}

StoreDb *store_db_free(StoreDb *db) {
        if (!db)
                return NULL;
        store_db_close(db);
        free(db->path);
        free(db);
        return NULL;
}

static int sqlite_errno(int code) {
        switch (code & 0xff) {
        case SQLITE_OK:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EAGAIN;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_PERM:
        case SQLITE_AUTH:
        case SQLITE_READONLY:
                return -EACCES;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        default:
                return -EIO;
        }
}

static int store_db_open(StoreDb *db) {
        if (db->query)
                return 0;
        usec_t now = now_monotonic();
        if (db->failed_at && now < db->failed_at + REOPEN_USEC)
                return db->failed;
        /* The file must exist: SQLite would otherwise make an empty one (not read only) or
         * report a missing table. */
        int code = sqlite3_open_v2(db->path, &db->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
        if (code == SQLITE_OK) {
                sqlite3_busy_timeout(db->db, 0);
                code = sqlite3_prepare_v2(db->db, "SELECT registrationTime FROM ValidPaths WHERE path = ?",
                                          -1, &db->query, NULL);
        }
        if (code == SQLITE_OK) {
                db->failed_at = 0;
                return 0;
        }
        int r = sqlite_errno(code);
        store_db_close(db);
        if (r == -EAGAIN)
                return r; /* locked while reading the schema: just later */
        db->failed_at = now;
        db->failed = r;
        return r;
}

int store_db_path_valid(StoreDb *db, const char *path) {
        return store_db_path_registered(db, path, NULL);
}

int store_db_path_registered(StoreDb *db, const char *path, usec_t *ret_registered) {
        int r = store_db_open(db);
        if (r < 0)
                return r;
        int code = sqlite3_bind_text(db->query, 1, path, -1, SQLITE_STATIC);
        if (code == SQLITE_OK)
                code = sqlite3_step(db->query);
        if (code == SQLITE_ROW) {
                sqlite3_int64 t = sqlite3_column_int64(db->query, 0);
                if (ret_registered)
                        *ret_registered = t > 0 ? (usec_t) t * USEC_PER_SEC : 0;
                r = 1;
        } else if (code == SQLITE_DONE)
                r = 0;
        else
                r = sqlite_errno(code);
        sqlite3_reset(db->query);
        sqlite3_clear_bindings(db->query);
        if (r < 0 && r != -EAGAIN)
                store_db_close(db); /* opened again at the next look */
        return r;
}

int store_db_output_drv(StoreDb *db, const char *output, char **ret_drv) {
        int r = store_db_open(db);
        if (r < 0)
                return r;
        /* Nix fills DerivationOutputs as it registers a .drv (indexed by path): the valid
         * derivations that name output. Two (fixed-output derivations may share an output)
         * cannot tell which one waits. */
        int code = SQLITE_OK;
        if (!db->drv_query)
                code = sqlite3_prepare_v2(
                        db->db,
                        "SELECT v.path FROM DerivationOutputs d JOIN ValidPaths v ON v.id = d.drv"
                        " WHERE d.path = ? LIMIT 2",
                        -1, &db->drv_query, NULL);
        if (code == SQLITE_OK)
                code = sqlite3_bind_text(db->drv_query, 1, output, -1, SQLITE_STATIC);
        char *drv = NULL;
        r = 0;
        while (code == SQLITE_OK || code == SQLITE_ROW) {
                code = sqlite3_step(db->drv_query);
                if (code != SQLITE_ROW)
                        break;
                const unsigned char *p = sqlite3_column_text(db->drv_query, 0);
                if (drv || !p) { /* a second one, or none named */
                        r = -ENOTUNIQ;
                        break;
                }
                if (!(drv = strdup((const char *) p))) {
                        r = -ENOMEM;
                        break;
                }
        }
        if (r == 0 && code != SQLITE_DONE)
                r = sqlite_errno(code);
        if (db->drv_query) {
                sqlite3_reset(db->drv_query);
                sqlite3_clear_bindings(db->drv_query);
        }
        if (r < 0) {
                free(drv);
                if (r != -EAGAIN && r != -ENOTUNIQ && r != -ENOMEM)
                        store_db_close(db);
                return r;
        }
        if (!drv)
                return 0;
        *ret_drv = drv;
        return 1;
}
