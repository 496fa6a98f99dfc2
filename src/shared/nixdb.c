/* Nix's store database, read-only (see the header). */
#include "shared/nixdb.h"

#include <errno.h>
#include <stddef.h>

#include <sqlite3.h>

static int sqlite_errno(int code) {
        switch (code & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_PERM:
        case SQLITE_AUTH:
        case SQLITE_READONLY:
                return -EACCES;
        case SQLITE_NOMEM:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

int nixdb_path_registered(const char *db_path, const char *path, usec_t *ret_registered) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int code = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
        if (code == SQLITE_OK) {
                sqlite3_busy_timeout(db, 100);
                code = sqlite3_prepare_v2(db, "SELECT registrationTime FROM ValidPaths WHERE path = ?1", -1,
                                          &st, NULL);
        }
        int r;
        if (code == SQLITE_OK) {
                sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
                code = sqlite3_step(st);
        }
        if (code == SQLITE_ROW) {
                sqlite3_int64 t = sqlite3_column_int64(st, 0);
                if (ret_registered)
                        *ret_registered = t > 0 ? (usec_t) t * USEC_PER_SEC : 0;
                r = 1;
        } else
                r = code == SQLITE_DONE ? 0 : sqlite_errno(code);
        sqlite3_finalize(st);
        sqlite3_close_v2(db);
        return r;
}
