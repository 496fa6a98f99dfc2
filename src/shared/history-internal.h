/* Internals shared by the history store's files (history.c: handle, inserts, retention;
 * history-schema.c: migrations; history-query.c: reads). */
#pragma once

#include <sqlite3.h>

#include "shared/history.h"

struct History {
        sqlite3 *db;
        bool readonly;
        sqlite3_stmt *insert; /* prepared once */
        sqlite3_stmt *eta[2]; /* the ETA lookups, on a machine and on any: prepared once */
        usec_t deadline;      /* monotonic; for the progress handler, 0 none */
        bool interrupted;
};

/* The ETA lookups (history_recent_durations): the newest successful durations of a pname,
 * on one machine (?2) or any, from trusted rows and from the untrusted rows of uid ?4 (NULL:
 * none). Each branch is its own index range, read newest first and stopped after ?3 rows;
 * only those 2 * ?3 rows are merged. They run on the daemon's main loop, so each branch must
 * be an index search (test-history checks their query plans): another user's rows, however
 * many, are never read. */
#define HISTORY_SQL_ETA_BRANCH(owner, on_machine)                                        \
        "SELECT * FROM (SELECT duration, machine, finished FROM builds WHERE pname = ?1" \
        " AND state = 'succeeded' AND untrusted_uid " owner on_machine                   \
        " AND kind = 'build' AND duration IS NOT NULL AND approximate = 0"               \
        " ORDER BY finished DESC LIMIT ?3)"
/* clang-format off */
#define HISTORY_SQL_ETA(on_machine)                                                      \
        "SELECT duration, machine FROM ("                                                \
        HISTORY_SQL_ETA_BRANCH("IS NULL", on_machine)                                    \
        " UNION ALL "                                                                    \
        HISTORY_SQL_ETA_BRANCH("= ?4", on_machine)                                       \
        ") ORDER BY finished DESC LIMIT ?3"
/* clang-format on */
#define HISTORY_SQL_ETA_ON_MACHINE  HISTORY_SQL_ETA(" AND machine = ?2")
#define HISTORY_SQL_ETA_ANY_MACHINE HISTORY_SQL_ETA("")

/* SQLite's result code as -errno. */
int history_errno(int sqlite_code);
/* Runs sql (no result rows). Returns 0 or -errno. */
int history_exec(History *h, const char *sql);
/* Brings the schema to the newest version (history-schema.c). */
int history_migrate(History *h);
/* Arms (budget > 0) or disarms the query time budget. */
void history_set_budget(History *h, usec_t budget);
