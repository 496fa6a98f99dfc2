/* Internals shared by the history store's files (history.c: handle, inserts, retention;
 * history-schema.c: migrations; history-query.c: reads). */
#pragma once

#include <sqlite3.h>

#include "shared/history.h"

struct History {
        sqlite3 *db;
        bool readonly;
        sqlite3_stmt *insert; /* prepared once */
        usec_t deadline;      /* monotonic; for the progress handler, 0 none */
        bool interrupted;
};

/* The ETA lookups (history_recent_durations): the newest successful durations of a pname,
 * on one machine (?2) or any. They run on the daemon's main loop, so each must be an index
 * search that stops after ?3 rows (test-history checks their query plans). */
#define HISTORY_SQL_ETA_ON_MACHINE                                                                         \
        "SELECT duration, machine FROM builds WHERE pname = ?1 AND state = 'succeeded' AND kind = 'build'" \
        " AND machine = ?2 AND duration IS NOT NULL ORDER BY finished DESC LIMIT ?3"
#define HISTORY_SQL_ETA_ANY_MACHINE                                                                        \
        "SELECT duration, machine FROM builds WHERE pname = ?1 AND state = 'succeeded' AND kind = 'build'" \
        " AND duration IS NOT NULL ORDER BY finished DESC LIMIT ?3"

/* SQLite's result code as -errno. */
int history_errno(int sqlite_code);
/* Runs sql (no result rows). Returns 0 or -errno. */
int history_exec(History *h, const char *sql);
/* Brings the schema to the newest version (history-schema.c). */
int history_migrate(History *h);
/* Arms (budget > 0) or disarms the query time budget. */
void history_set_budget(History *h, usec_t budget);
