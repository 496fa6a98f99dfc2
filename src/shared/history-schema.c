/* The history database schema, as numbered migrations. The version lives in SQLite's
 * user_version; migration N takes a database from version N-1 to N inside one transaction,
 * so a crash mid-way leaves the previous version intact. Never edit a released migration:
 * append a new one (docs/history.md lists them). */
#include <errno.h>
#include <stdio.h>

#include "basic/macro.h"
#include "shared/history-internal.h"

static const char *const migrations[] = {
        /* 1: one row per finished build or substitution. Times and durations are
         * microseconds (unix time for times); NULL when unknown. (drv, queued) identifies a
         * build: re-sent rows are ignored, never duplicated. */
        "CREATE TABLE builds ("
        "  id INTEGER PRIMARY KEY,"
        "  kind TEXT NOT NULL DEFAULT 'build',"
        "  drv TEXT NOT NULL,"
        "  name TEXT NOT NULL,"
        "  pname TEXT NOT NULL,"
        "  machine TEXT NOT NULL DEFAULT '',"
        "  state TEXT NOT NULL,"
        "  requester_uid INTEGER,"
        "  requester_user TEXT,"
        "  requester_cmdline TEXT,"
        "  queued INTEGER NOT NULL,"
        "  started INTEGER,"
        "  finished INTEGER NOT NULL,"
        "  duration INTEGER,"
        "  failure_kind TEXT,"
        "  failure_message TEXT,"
        "  exit_code INTEGER,"
        "  signal INTEGER,"
        "  cpu_user INTEGER,"
        "  cpu_system INTEGER,"
        "  mem_peak INTEGER,"
        "  io_read INTEGER,"
        "  io_write INTEGER,"
        "  nice INTEGER,"
        "  cpu_limit REAL,"
        "  mem_limit INTEGER,"
        "  oom_killed INTEGER,"
        "  log_tail TEXT,"
        "  UNIQUE (drv, queued)"
        ");",

        /* 2: indexes for the queries the CLI and TUI make: recent, by name, by requester,
         * by machine, failed, and the ETA lookup (pname, machine, successful, newest). */
        "CREATE INDEX builds_finished ON builds (finished);"
        "CREATE INDEX builds_name ON builds (name, finished);"
        "CREATE INDEX builds_requester ON builds (requester_uid, finished);"
        "CREATE INDEX builds_machine ON builds (machine, finished);"
        "CREATE INDEX builds_state ON builds (state, finished);"
        "CREATE INDEX builds_eta ON builds (pname, state, machine, finished);",

        /* 3: the ETA lookup over every machine (a build not seen on this one yet). Without it
         * SQLite walked builds_state, every successful build newest first, reading most of a
         * big table from disk: seconds on a cold cache, with 70 k rows. */
        "CREATE INDEX builds_eta_any ON builds (pname, state, finished);",

        /* 4: the TUI's history view orders by start time and by duration too; without these
         * each of its pages sorted every row: 0.2-2.7 s at 1 M rows (issue 22). The rowid in
         * each entry gives the "id" tie-break of get-history's ORDER BY for free. */
        ("CREATE INDEX builds_started ON builds (started);"
         "CREATE INDEX builds_duration ON builds (duration);"),

        /* 5: whose word a row is (issue 15). untrusted_uid is NULL for a build reported by a
         * trusted source (the plugin in nix-daemon, root's nix), else the uid of the untrusted
         * peer that reported it. ETAs and stats read trusted rows plus the asker's own, so one
         * user's fake builds skew only her own figures. Older rows predate the column: NULL,
         * trusted. The ETA indexes gain the column before the finish time, so that both the
         * trusted rows and one user's own stay a single index range each, newest first. */
        ("ALTER TABLE builds ADD COLUMN untrusted_uid INTEGER;"
         "DROP INDEX builds_eta;"
         "DROP INDEX builds_eta_any;"
         "CREATE INDEX builds_eta ON builds (pname, state, untrusted_uid, machine, finished);"
         "CREATE INDEX builds_eta_any ON builds (pname, state, untrusted_uid, finished);"),

        /* 6: get-history for one package, newest first (`ctl get-history --pname`, the TUI's
         * history of a build). Since 5 no index leads with (pname, finished): SQLite read
         * every row of the package through builds_eta_any and sorted them, 3-5 ms at 1 M
         * rows for a common package. */
        "CREATE INDEX builds_pname ON builds (pname, finished);",

        /* 7: durations that are not exact (issue 18): a build found again after a daemon
         * restart whose start was unknown, or one that ended while the daemon was down and was
         * recorded afterwards from what Nix left. Shown as such; ETAs never read them. Older
         * rows are exact as far as anyone knows: 0. */
        "ALTER TABLE builds ADD COLUMN approximate INTEGER NOT NULL DEFAULT 0;",

        /* 8: after the fact (issue 19). Each build's usage over its life (timeline.h's blob,
         * at most 4,627 bytes) and its phases with their durations (JSON); the machine's own
         * figures every 10 s (t: unix time, seconds), thinned to one a minute after a week
         * (history_prune). Older rows have neither: NULL. */
        ("ALTER TABLE builds ADD COLUMN timeline BLOB;"
         "ALTER TABLE builds ADD COLUMN phases TEXT;"
         "CREATE TABLE machine_samples ("
         "  t INTEGER PRIMARY KEY,"
         "  cpu REAL,"
         "  load1 REAL,"
         "  mem_total INTEGER,"
         "  mem_used INTEGER,"
         "  swap_total INTEGER,"
         "  swap_used INTEGER,"
         "  psi_cpu REAL,"
         "  psi_mem REAL,"
         "  psi_io REAL,"
         "  builds INTEGER"
         ");"),

        /* 9: the OOM killer (issue 19). mem_limit_peak is the peak of what the kernel charged
         * to the build's memory cgroup, which its memory limit goes by (mem_peak is its
         * processes' resident sizes); NULL without a memory cgroup and in older rows. The
         * failure kind "oom-kill" was renamed "oom-killed". oom_events keeps each kill the
         * daemon saw: its victim, and the build it belonged to or, for a victim outside any
         * build, the builds that held the most memory then (top, a JSON array). */
        ("ALTER TABLE builds ADD COLUMN mem_limit_peak INTEGER;"
         "UPDATE builds SET failure_kind = 'oom-killed' WHERE failure_kind = 'oom-kill';"
         "CREATE TABLE oom_events ("
         "  id INTEGER PRIMARY KEY,"
         "  time INTEGER NOT NULL,"
         "  source TEXT NOT NULL,"
         "  pid INTEGER,"
         "  command TEXT,"
         "  memcg TEXT,"
         "  oom_constraint TEXT,"
         "  drv TEXT,"
         "  name TEXT,"
         "  requester_uid INTEGER,"
         "  requester_user TEXT,"
         "  mem_limit INTEGER,"
         "  mem_peak INTEGER,"
         "  top TEXT"
         ");"
         "CREATE INDEX oom_events_time ON oom_events (time);"),

        /* 10: an OOM victim's pid as the kernel logged it (the initial pid namespace's) apart
         * from the daemon's own: they differ when the daemon runs in a child namespace (a
         * container). Older rows' pid was the kernel's: it is their host_pid too. */
        ("ALTER TABLE oom_events ADD COLUMN host_pid INTEGER;"
         "UPDATE oom_events SET host_pid = pid;"),

        /* 11: pressure (issue 19). mem_pressure_peak is the most memory pressure of any
         * sampling interval of the build (percent of it some task of the build's cgroup
         * stalled for memory, PSI); NULL without a cgroup of its own or PSI, and in older
         * rows. Each point of the timeline blob has it too from blob version 2 on. */
        "ALTER TABLE builds ADD COLUMN mem_pressure_peak REAL;",
};

int history_schema_latest(void) {
        return (int) ELEMENTSOF(migrations);
}

int history_schema_version(History *h) {
        sqlite3_stmt *st = NULL;
        int r = sqlite3_prepare_v2(h->db, "PRAGMA user_version", -1, &st, NULL);
        if (r != SQLITE_OK)
                return history_errno(r);
        r = sqlite3_step(st);
        int v = r == SQLITE_ROW ? sqlite3_column_int(st, 0) : history_errno(r);
        sqlite3_finalize(st);
        return v;
}

int history_migrate(History *h) {
        int version = history_schema_version(h);
        if (version < 0)
                return version;
        if (version > history_schema_latest())
                return -EPROTONOSUPPORT;
        if (version == history_schema_latest())
                return 0;
        if (h->readonly)
                return -EROFS;

        for (int v = version; v < history_schema_latest(); v++) {
                char pragma[64];
                int r = history_exec(h, "BEGIN IMMEDIATE");
                if (r < 0)
                        return r;
                /* Another writer may have migrated meanwhile: look again under the lock. */
                int now = history_schema_version(h);
                if (now != v) {
                        (void) history_exec(h, "ROLLBACK");
                        if (now < 0)
                                return now;
                        v = now - 1;
                        continue;
                }
                snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
                if ((r = history_exec(h, migrations[v])) < 0 || (r = history_exec(h, pragma)) < 0 ||
                    (r = history_exec(h, "COMMIT")) < 0) {
                        (void) history_exec(h, "ROLLBACK");
                        return r;
                }
        }
        return 0;
}
