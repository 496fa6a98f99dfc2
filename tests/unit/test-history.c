/* Unit tests for the history store (src/shared/history*.c): migrations, inserts without
 * duplicates, retention, filtered and paged queries, stats, recent durations. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "basic/macro.h"
#include "shared/history-internal.h"
#include "shared/history.h"

#define SEC USEC_PER_SEC

static char dir[] = "/tmp/test-history.XXXXXX";
static char path[256];

static int setup(void **state) {
        strcpy(dir, "/tmp/test-history.XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/h.db", dir);
        return 0;
}

static int teardown(void **state) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static HistoryRecord rec(const char *drv, const char *name, const char *state, usec_t started,
                         double seconds, int64_t uid) {
        HistoryRecord r = {
                .kind = strdup("build"),
                .drv = strdup(drv),
                .name = strdup(name),
                .pname = strdup(name),
                .machine = strdup(""),
                .state = strdup(state),
                .requester_uid = uid,
                .requester_user = strdup(uid == 0 ? "root" : "alice"),
                .queued = started,
                .started = started,
                .finished = started + (usec_t) (seconds * 1e6),
                .exit_code = -1,
        };
        if (strcmp(state, "failed") == 0) {
                r.failure_kind = strdup("exit-code");
                r.exit_code = 3;
        }
        return r;
}

static void insert(History *h, HistoryRecord *r, size_t n, int expected) {
        assert_int_equal(history_insert(h, r, n), expected);
}

static void test_migrations(void **state) {
        History *h = NULL;
        char *err = NULL;
        assert_int_equal(history_open(path, 0, &h, &err), 0);
        assert_int_equal(history_schema_version(h), history_schema_latest());
        assert_true(history_schema_latest() >= 2);
        history_close(h);

        /* A version-1 database with a row migrates to the latest, keeping the row. */
        unlink(path);
        sqlite3 *db;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        /* migration 1 as released, by hand, plus a row */
        assert_int_equal(
                sqlite3_exec(
                        db,
                        "CREATE TABLE builds (id INTEGER PRIMARY KEY, kind TEXT NOT NULL DEFAULT 'build',"
                        " drv TEXT NOT NULL, name TEXT NOT NULL, pname TEXT NOT NULL, machine TEXT NOT "
                        "NULL DEFAULT '', state TEXT NOT NULL, requester_uid INTEGER, requester_user TEXT,"
                        " requester_cmdline TEXT, queued INTEGER NOT NULL, started INTEGER, finished "
                        "INTEGER NOT NULL, duration INTEGER, failure_kind TEXT, failure_message TEXT,"
                        " exit_code INTEGER, signal INTEGER, cpu_user INTEGER, cpu_system INTEGER,"
                        " mem_peak INTEGER, io_read INTEGER, io_write INTEGER, nice INTEGER, cpu_limit "
                        "REAL, mem_limit INTEGER, oom_killed INTEGER, log_tail TEXT, UNIQUE (drv, queued));"
                        "INSERT INTO builds (drv, name, pname, state, queued, finished) VALUES"
                        " ('/d', 'x', 'x', 'succeeded', 1, 2);"
                        /* killed at its memory limit, under the kind's old name */
                        "INSERT INTO builds (drv, name, pname, state, queued, finished, failure_kind,"
                        " mem_peak, mem_limit, oom_killed) VALUES"
                        " ('/o', 'o', 'o', 'failed', 1, 3, 'oom-kill', 60000000, 67108864, 1);"
                        "PRAGMA user_version = 1;",
                        NULL, NULL, NULL),
                SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(history_open(path, 0, &h, &err), 0);
        assert_int_equal(history_schema_version(h), history_schema_latest());
        uint64_t n = 0;
        assert_int_equal(history_count(h, &n), 0);
        assert_int_equal(n, 2);
        /* It predates the trust column: counted as trusted. */
        cJSON *rows = NULL;
        HistoryQuery q = {.order = HISTORY_ORDER_FINISHED, .limit = 10};
        assert_int_equal(history_query(h, &q, 0, &rows, NULL), 0);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "trusted")));
        /* The OOM kill reads with today's kind, its limit, and the peak it has (the
         * processes', from before the cgroup's was kept). */
        cJSON *fl = cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "failure");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(fl, "kind")), "oom-killed");
        assert_int_equal((int64_t) cJSON_GetNumberValue(cJSON_GetObjectItem(fl, "mem_limit")), 67108864);
        assert_int_equal((int64_t) cJSON_GetNumberValue(cJSON_GetObjectItem(fl, "mem_peak")), 60000000);
        /* It predates pressure (schema 10): unknown, not 0. */
        cJSON *u = cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "usage");
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(u, "mem_pressure_peak")));
        cJSON_Delete(rows);
        history_close(h);

        /* Newer than this code: refused, untouched. */
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 42", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(history_open(path, 0, &h, &err), -EPROTONOSUPPORT);
        assert_non_null(strstr(err, "schema version 42"));
        free(err);
        err = NULL;

        /* Not a database. */
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        for (int i = 0; i < 4096; i++)
                fputc(i * 7, f);
        fclose(f);
        assert_int_equal(history_open(path, 0, &h, &err), -EUCLEAN);
        free(err);
        unlink(path);
}

static void test_insert_dedupe_prune(void **state) {
        History *h = NULL;
        assert_int_equal(history_open(path, 0, &h, NULL), 0);
        usec_t t0 = 1700000000 * SEC;
        HistoryRecord r[3] = {
                rec("/nix/store/a-x.drv", "x", "succeeded", t0, 10, 0),
                rec("/nix/store/b-y.drv", "y", "failed", t0 + 100 * SEC, 1, 1000),
                rec("/nix/store/c-z.drv", "z", "succeeded", t0 + 200 * SEC, 5, 0),
        };
        /* x stalled for memory (its own cgroup, PSI); y was sampled without pressure */
        r[0].usage = (BuildUsage){.sampled = true, .has_pressure = true, .pressure_mem_peak = 37.25};
        r[1].usage = (BuildUsage){.sampled = true};
        insert(h, r, 3, 3);
        cJSON *rows = NULL;
        HistoryQuery q = {.order = HISTORY_ORDER_FINISHED, .limit = 10};
        assert_int_equal(history_query(h, &q, 0, &rows, NULL), 0);
        cJSON *ux = cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 2), "usage"),
              *uy = cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "usage");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 2), "name")),
                            "x");
        assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(ux, "mem_pressure_peak")) == 37.25);
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(uy, "mem_pressure_peak")));
        cJSON_Delete(rows);
        /* The same batch again (a retry after a failed commit, a restart): nothing new. */
        insert(h, r, 3, 0);
        uint64_t n;
        assert_int_equal(history_count(h, &n), 0);
        assert_int_equal(n, 3);

        /* by rows: the oldest goes */
        assert_int_equal(history_prune(h, t0 + 300 * SEC, 0, 2), 1);
        /* by age: older than 150 s before t0 + 300 s */
        assert_int_equal(history_prune(h, t0 + 300 * SEC, 150 * SEC, 0), 1);
        assert_int_equal(history_count(h, &n), 0);
        assert_int_equal(n, 1);
        for (int i = 0; i < 3; i++)
                history_record_done(&r[i]);
        history_close(h);
        unlink(path);

        /* read-only handles do not write */
        assert_int_equal(history_open(path, 0, &h, NULL), 0);
        history_close(h);
        assert_int_equal(history_open(path, HISTORY_OPEN_READONLY, &h, NULL), 0);
        HistoryRecord x = rec("/d", "d", "succeeded", t0, 1, 0);
        assert_int_equal(history_insert(h, &x, 1), -EROFS);
        history_record_done(&x);
        history_close(h);
        unlink(path);
}

static History *populated(void) {
        History *h = NULL;
        assert_int_equal(history_open(path, 0, &h, NULL), 0);
        usec_t t0 = 1700000000 * SEC;
        HistoryRecord r[6] = {
                rec("/nix/store/1-hello-1.drv", "hello-1", "succeeded", t0, 10, 0),
                rec("/nix/store/2-hello-2.drv", "hello-2", "succeeded", t0 + 100 * SEC, 20, 0),
                rec("/nix/store/3-world.drv", "world", "failed", t0 + 200 * SEC, 3, 1000),
                rec("/nix/store/4-world.drv", "world", "failed", t0 + 300 * SEC, 4, 1000),
                rec("/nix/store/5-world.drv", "world", "succeeded", t0 + 400 * SEC, 5, 1000),
                rec("/nix/store/6-big.drv", "big", "succeeded", t0 + 86400 * SEC, 100, 0),
        };
        free(r[0].pname);
        r[0].pname = strdup("hello");
        free(r[1].pname);
        r[1].pname = strdup("hello");
        insert(h, r, 6, 6);
        for (int i = 0; i < 6; i++)
                history_record_done(&r[i]);
        return h;
}

static const char *name_at(cJSON *rows, int i) {
        return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, i), "name"));
}

/* A failure first recorded as no-outputs (decided before Nix's reason came) takes Nix's
 * reason when recorded again; any other row stays as first recorded. */
static void test_revised_failure(void **state) {
        History *h = NULL;
        assert_int_equal(history_open(path, 0, &h, NULL), 0);
        usec_t t0 = 1700000000 * SEC;
        HistoryRecord r = rec("/nix/store/f-f.drv", "f", "failed", t0, 2, 0);
        free(r.failure_kind);
        r.failure_kind = strdup("no-outputs");
        r.exit_code = -1;
        insert(h, &r, 1, 1);
        free(r.failure_kind);
        r.failure_kind = strdup("exit-code");
        r.exit_code = 3;
        insert(h, &r, 1, 1);
        free(r.failure_kind);
        r.failure_kind = strdup("other"); /* a third word changes nothing */
        insert(h, &r, 1, 0);
        uint64_t n;
        assert_int_equal(history_count(h, &n), 0);
        assert_int_equal(n, 1);
        cJSON *rows = NULL;
        HistoryQuery q = {.order = HISTORY_ORDER_FINISHED, .limit = 10};
        assert_int_equal(history_query(h, &q, 0, &rows, NULL), 0);
        cJSON *failure = cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "failure");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(failure, "kind")), "exit-code");
        assert_int_equal(cJSON_GetObjectItem(failure, "exit_code")->valuedouble, 3);
        cJSON_Delete(rows);
        history_record_done(&r);
        history_close(h);
}

static void test_queries(void **state) {
        History *h = populated();
        cJSON *rows = NULL;
        uint64_t total = 0;

        HistoryQuery q = {.order = HISTORY_ORDER_FINISHED, .limit = 2, .count = true};
        assert_int_equal(history_query(h, &q, 0, &rows, &total), 0);
        assert_int_equal(total, 6);
        assert_int_equal(cJSON_GetArraySize(rows), 2);
        assert_string_equal(name_at(rows, 0), "big"); /* newest first */
        assert_string_equal(name_at(rows, 1), "world");
        cJSON_Delete(rows);

        /* page 2 */
        q.offset = 2;
        assert_int_equal(history_query(h, &q, 0, &rows, &total), 0);
        assert_string_equal(name_at(rows, 0), "world");
        cJSON_Delete(rows);

        /* glob, state, requester, ordering by duration ascending */
        q = (HistoryQuery){.order = HISTORY_ORDER_DURATION, .ascending = true, .limit = 10, .count = true};
        q.filter.name = "hello-*";
        assert_int_equal(history_query(h, &q, 0, &rows, &total), 0);
        assert_int_equal(total, 2);
        assert_string_equal(name_at(rows, 0), "hello-1");
        cJSON *d = cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "duration");
        assert_true(cJSON_IsNumber(d) && d->valuedouble == 20.0);
        cJSON_Delete(rows);

        q.filter =
                (HistoryFilter){.states = 1u << BUILD_FAILED, .requester_set = true, .requester_uid = 1000};
        assert_int_equal(history_query(h, &q, 0, &rows, &total), 0);
        assert_int_equal(total, 2);
        cJSON *fl = cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "failure");
        assert_int_equal((int) cJSON_GetObjectItem(fl, "exit_code")->valuedouble, 3);
        cJSON_Delete(rows);

        q.filter = (HistoryFilter){.requester_set = true, .requester_user = "alice"};
        assert_int_equal(history_query(h, &q, 0, &rows, &total), 0);
        assert_int_equal(total, 3);
        cJSON_Delete(rows);

        /* a time range on finish times */
        q.filter = (HistoryFilter){.since = (1700000000 + 250) * SEC, .until = (1700000000 + 1000) * SEC};
        assert_int_equal(history_query(h, &q, 0, &rows, &total), 0);
        assert_int_equal(total, 2);
        cJSON_Delete(rows);

        /* a value that would break naive SQL is just a value */
        q.filter = (HistoryFilter){.name = "x' OR '1'='1"};
        assert_int_equal(history_query(h, &q, 0, &rows, &total), 0);
        assert_int_equal(total, 0);
        cJSON_Delete(rows);
        history_close(h);
        unlink(path);
}

static void test_stats(void **state) {
        History *h = populated();
        cJSON *s = NULL;
        HistoryFilter f = {};
        assert_int_equal(history_stats(h, &f, 10, 0, &s), 0);
        cJSON *totals = cJSON_GetObjectItem(s, "totals");
        assert_int_equal((int) cJSON_GetObjectItem(totals, "builds")->valuedouble, 6);
        assert_int_equal((int) cJSON_GetObjectItem(totals, "failed")->valuedouble, 2);
        cJSON *slowest = cJSON_GetObjectItem(s, "slowest");
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(slowest, 0), "pname")), "big");
        /* hello: mean of 10 and 20 */
        cJSON *hello = cJSON_GetArrayItem(slowest, 1);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(hello, "pname")), "hello");
        assert_true(cJSON_GetObjectItem(hello, "mean")->valuedouble == 15.0);
        cJSON *failing = cJSON_GetObjectItem(s, "failing");
        assert_int_equal(cJSON_GetArraySize(failing), 1);
        assert_int_equal((int) cJSON_GetObjectItem(cJSON_GetArrayItem(failing, 0), "failures")->valuedouble,
                         2);
        cJSON *req = cJSON_GetObjectItem(s, "requesters");
        assert_int_equal(cJSON_GetArraySize(req), 2);
        cJSON *days = cJSON_GetObjectItem(s, "by_day");
        assert_int_equal(cJSON_GetArraySize(days), 2);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(days, 0), "day")),
                            "2023-11-15");
        cJSON_Delete(s);

        /* top 1 */
        assert_int_equal(history_stats(h, &f, 1, 0, &s), 0);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s, "slowest")), 1);
        cJSON_Delete(s);
        history_close(h);
        unlink(path);
}

static void test_recent_durations(void **state) {
        History *h = populated();
        double v[10];
        char *machines[10] = {};
        assert_int_equal(history_recent_durations(h, "hello", "", -1, 10, 0, v, NULL), 2);
        assert_true(v[0] == 20.0 && v[1] == 10.0); /* newest first */
        assert_int_equal(history_recent_durations(h, "world", "", -1, 10, 0, v, NULL),
                         1); /* successes only */
        assert_int_equal(history_recent_durations(h, "hello", "ssh://elsewhere", -1, 10, 0, v, NULL), 0);
        assert_int_equal(history_recent_durations(h, "hello", NULL, -1, 1, 0, v, machines), 1);
        assert_string_equal(machines[0], "");
        free(machines[0]);
        history_close(h);
        unlink(path);
}

static void test_substitution_rows(void **state) {
        History *h = NULL;
        assert_int_equal(history_open(path, 0, &h, NULL), 0);
        Substitution x = {
                .path = (char *) "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-2.12",
                .name = (char *) "hello-2.12",
                .uri = (char *) "https://cache.example",
                .started = 1700000000 * SEC,
                .finished = 1700000002 * SEC,
                .succeeded = true,
                .requester = {.uid = 1000, .pid = -1, .user = (char *) "alice"},
        };
        HistoryRecord r[2];
        assert_int_equal(history_record_from_substitution(&x, &r[0]), 0);
        x.succeeded = false;
        x.path = (char *) "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-world-1";
        x.name = (char *) "world-1";
        x.untrusted = true;
        assert_int_equal(history_record_from_substitution(&x, &r[1]), 0);
        assert_string_equal(r[0].pname, "hello");
        insert(h, r, 2, 2);
        history_record_done(&r[0]);
        history_record_done(&r[1]);

        cJSON *rows = NULL;
        uint64_t total = 0;
        HistoryQuery q = {.order = HISTORY_ORDER_NAME, .ascending = true, .limit = 10, .count = true};
        q.filter.kind = "substitution";
        assert_int_equal(history_query(h, &q, 0, &rows, &total), 0);
        assert_int_equal(total, 2);
        cJSON *first = cJSON_GetArrayItem(rows, 0);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(first, "machine")),
                            "https://cache.example");
        assert_true(cJSON_GetObjectItem(first, "duration")->valuedouble == 2.0);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "state")),
                            "failed");
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(first, "trusted")));
        assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "trusted")));
        cJSON_Delete(rows);

        /* never an ETA for a build from a substitution's duration */
        double v[4];
        assert_int_equal(history_recent_durations(h, "hello", NULL, -1, 4, 0, v, NULL), 0);
        history_close(h);
        unlink(path);
}

/* Issue 18: a row whose duration is approximate (a build that ended while the daemon was
 * down) is stored and shown as such, and never feeds an ETA, however recent. */
static void test_approximate_rows(void **state) {
        History *h = NULL;
        assert_int_equal(history_open(path, 0, &h, NULL), 0);
        HistoryRecord r[2] = {
                rec("/nix/store/a-hello.drv", "hello", "succeeded", 1700000000 * SEC, 40, 0),
                rec("/nix/store/b-hello.drv", "hello", "succeeded", 1700000100 * SEC, 15, 0),
        };
        r[1].approximate = true;
        insert(h, r, 2, 2);
        history_record_done(&r[0]);
        history_record_done(&r[1]);
        double v[4];
        assert_int_equal(history_recent_durations(h, "hello", "", -1, 4, 0, v, NULL), 1);
        assert_true(v[0] == 40.0);
        assert_int_equal(history_recent_durations(h, "hello", NULL, -1, 4, 0, v, NULL), 1);

        cJSON *rows = NULL;
        HistoryQuery q = {.order = HISTORY_ORDER_FINISHED, .limit = 10};
        assert_int_equal(history_query(h, &q, 0, &rows, NULL), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 2);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "approximate")));
        assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "approximate")));
        cJSON_Delete(rows);
        history_close(h);
        unlink(path);
}

/* One row by its id, with its timeline as get-build's arrays when asked (issue 19): a page
 * leaves timelines out; a row without one, or whose blob is damaged, has null. */
static void test_row_timeline(void **state) {
        History *h = NULL;
        assert_int_equal(history_open(path, 0, &h, NULL), 0);
        HistoryRecord r[3] = {
                rec("/nix/store/a-tl.drv", "tl", "succeeded", 1700000000 * SEC, 60, 0),
                rec("/nix/store/b-tl.drv", "tl", "succeeded", 1700000100 * SEC, 60, 0),
                rec("/nix/store/c-tl.drv", "tl", "succeeded", 1700000200 * SEC, 60, 0),
        };
        Timeline tl = {};
        for (unsigned i = 0; i < 60; i++) /* 1 s samples: thinned to 4 s points */
                assert_int_equal(timeline_add(&tl, 1700000000 * SEC + i * SEC, 150, (i < 30 ? 64 : 1) << 20,
                                              2, 0, i < 30 ? 12.5 : -1),
                                 0);
        assert_int_equal(history_timeline_blob(&tl, &r[0].timeline, &r[0].timeline_len), 0);
        r[2].timeline = (uint8_t *) strdup("not a timeline");
        r[2].timeline_len = strlen("not a timeline");
        insert(h, r, 3, 3);
        for (size_t i = 0; i < ELEMENTSOF(r); i++)
                history_record_done(&r[i]);
        timeline_done(&tl);

        cJSON *rows = NULL;
        HistoryQuery q = {.order = HISTORY_ORDER_STARTED, .ascending = true, .limit = 10};
        assert_int_equal(history_query(h, &q, 0, &rows, NULL), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 3);
        assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "timeline"));
        int64_t id = (int64_t) cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "id")->valuedouble;
        cJSON_Delete(rows);

        q.filter.id = id;
        q.timeline = true;
        assert_int_equal(history_query(h, &q, 0, &rows, NULL), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 1);
        const cJSON *row = cJSON_GetArrayItem(rows, 0), *t = cJSON_GetObjectItem(row, "timeline");
        assert_string_equal(cJSON_GetObjectItem(row, "drv")->valuestring, "/nix/store/a-tl.drv");
        assert_true(cJSON_IsObject(t));
        const cJSON *times = cJSON_GetObjectItem(t, "t"), *mem = cJSON_GetObjectItem(t, "mem"),
                    *cpu = cJSON_GetObjectItem(t, "cpu_percent");
        int n = cJSON_GetArraySize(times);
        assert_true(n >= 14 && n <= 16); /* a minute at 4 s a point */
        assert_int_equal(cJSON_GetArraySize(mem), n);
        assert_int_equal(cJSON_GetArraySize(cpu), n);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(t, "procs")), n);
        assert_true(cJSON_GetObjectItem(t, "step")->valuedouble >= 4);
        assert_true(cJSON_GetArrayItem(mem, 0)->valuedouble == 64 << 20);
        /* memory pressure while it had one (its own cgroup, PSI), unknown after */
        const cJSON *mp = cJSON_GetObjectItem(t, "mem_pressure");
        assert_int_equal(cJSON_GetArraySize(mp), n);
        assert_true(cJSON_GetArrayItem(mp, 0)->valuedouble == 12.5);
        assert_true(cJSON_IsNull(cJSON_GetArrayItem(mp, n - 1)));
        assert_true(cJSON_GetArrayItem(mem, n - 1)->valuedouble == 1 << 20);
        assert_true(cJSON_GetArrayItem(cpu, 1)->valuedouble == 150);
        assert_true(cJSON_GetArrayItem(times, 0)->valuedouble >= 1700000000);
        cJSON_Delete(rows);

        q.filter.id = 0; /* every row: none kept, or a damaged blob, is null */
        assert_int_equal(history_query(h, &q, 0, &rows, NULL), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 3);
        assert_true(cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "timeline")));
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "timeline")));
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 2), "timeline")));
        cJSON_Delete(rows);

        q.filter.id = id + 100; /* no such row */
        assert_int_equal(history_query(h, &q, 0, &rows, NULL), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 0);
        cJSON_Delete(rows);
        history_close(h);
        unlink(path);
}

/* Issue 15: an untrusted user's fake builds (many, newer, absurd durations) never reach the
 * ETA of anyone else, nor the stats another user sees; her own lookups do see them. */
static void test_untrusted_rows(void **state) {
        History *h = NULL;
        enum { FAKES = 50, MALLORY = 1001 };
        static HistoryRecord r[3 + FAKES];
        char drv[64];
        usec_t t0 = 1700000000 * SEC;
        assert_int_equal(history_open(path, 0, &h, NULL), 0);
        r[0] = rec("/nix/store/1-hello.drv", "hello", "succeeded", t0, 2, 0);
        r[1] = rec("/nix/store/2-hello.drv", "hello", "succeeded", t0 + 10 * SEC, 2, 1000);
        /* through a trusted source (the plugin in nix-daemon): counts for everyone */
        r[2] = rec("/nix/store/3-hello.drv", "hello", "succeeded", t0 + 20 * SEC, 2, MALLORY);
        for (int i = 0; i < FAKES; i++) {
                snprintf(drv, sizeof(drv), "/nix/store/f%d-hello.drv", i);
                r[3 + i] = rec(drv, "hello", i % 2 ? "failed" : "succeeded", t0 + (100 + (usec_t) i) * SEC,
                               9999, MALLORY);
                r[3 + i].untrusted = true;
        }
        /* an untrusted row whose uid is unknown counts for no one */
        free(r[3].requester_user);
        r[3].requester_user = NULL;
        r[3].requester_uid = -1;
        insert(h, r, ELEMENTSOF(r), (int) ELEMENTSOF(r));
        for (size_t i = 0; i < ELEMENTSOF(r); i++)
                history_record_done(&r[i]);

        double v[10];
        char *machines[10] = {};
        /* root's, another user's, an unknown requester's: the three trusted rows only */
        int64_t others[] = {0, 1000, 1002, -1};
        for (size_t k = 0; k < ELEMENTSOF(others); k++) {
                assert_int_equal(history_recent_durations(h, "hello", "", others[k], 10, 0, v, NULL), 3);
                for (int i = 0; i < 3; i++)
                        assert_true(v[i] == 2.0);
                assert_int_equal(history_recent_durations(h, "hello", NULL, others[k], 10, 0, v, machines),
                                 3);
                for (int i = 0; i < 3; i++) {
                        assert_true(v[i] == 2.0);
                        free(machines[i]);
                        machines[i] = NULL;
                }
        }
        /* hers: her newest successful fakes first, then the trusted rows */
        assert_int_equal(history_recent_durations(h, "hello", "", MALLORY, 10, 0, v, NULL), 10);
        for (int i = 0; i < 10; i++)
                assert_true(v[i] == 9999.0);
        double all[40];
        /* 24 of her successful fakes with a known uid (f0 lost its uid), then the 3 trusted */
        assert_int_equal(history_recent_durations(h, "hello", NULL, MALLORY, 40, 0, all, NULL), 27);
        assert_true(all[23] == 9999.0 && all[24] == 2.0 && all[26] == 2.0);

        /* stats for root see neither her builds nor her failures; hers see them */
        HistoryFilter f = {.viewer_set = true, .viewer_uid = 0};
        cJSON *st = NULL;
        assert_int_equal(history_stats(h, &f, 10, 0, &st), 0);
        cJSON *totals = cJSON_GetObjectItem(st, "totals");
        assert_int_equal((int) cJSON_GetObjectItem(totals, "builds")->valuedouble, 3);
        assert_int_equal((int) cJSON_GetObjectItem(totals, "failed")->valuedouble, 0);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(st, "failing")), 0);
        cJSON_Delete(st);
        f.viewer_uid = MALLORY;
        assert_int_equal(history_stats(h, &f, 10, 0, &st), 0);
        totals = cJSON_GetObjectItem(st, "totals");
        assert_int_equal((int) cJSON_GetObjectItem(totals, "builds")->valuedouble, 3 + FAKES - 1);
        cJSON_Delete(st);

        /* every row is listed, each saying whose word it is */
        cJSON *rows = NULL;
        HistoryQuery q = {.order = HISTORY_ORDER_FINISHED, .ascending = true, .limit = 100};
        assert_int_equal(history_query(h, &q, 0, &rows, NULL), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 3 + FAKES);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 2), "trusted")));
        assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 3), "trusted")));
        cJSON_Delete(rows);
        history_close(h);
}

/* A lookup that outlives its budget stops with -ETIME and hands back nothing half-made. */
static void test_recent_durations_budget(void **state) {
        History *h = NULL;
        enum { N = 400 };
        static HistoryRecord r[N];
        char drv[64];
        assert_int_equal(history_open(path, 0, &h, NULL), 0);
        for (int i = 0; i < N; i++) {
                snprintf(drv, sizeof(drv), "/nix/store/%d-many.drv", i);
                r[i] = rec(drv, "many", "succeeded", (1700000000 + (usec_t) i) * SEC, 1 + i % 7, 0);
        }
        insert(h, r, N, N);
        for (int i = 0; i < N; i++)
                history_record_done(&r[i]);

        double v[N];
        char *machines[N] = {};
        /* 1 us is over before SQLite's first progress callback. */
        assert_int_equal(history_recent_durations(h, "many", NULL, -1, N, 1, v, machines), -ETIME);
        for (int i = 0; i < N; i++)
                assert_null(machines[i]);
        /* The handle is still good, and without a budget the lookup completes. */
        assert_int_equal(history_recent_durations(h, "many", NULL, -1, N, 0, v, machines), N);
        for (int i = 0; i < N; i++)
                free(machines[i]);
        assert_int_equal(history_recent_durations(h, "many", "", -1, N, 10 * USEC_PER_SEC, v, NULL), N);
        history_close(h);
}

/* The query plan of sql on the database at path, every step's detail on one line. */
static void query_plan(const char *sql, char *buf, size_t size) {
        sqlite3 *db;
        sqlite3_stmt *st;
        char explain[1024];
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        snprintf(explain, sizeof(explain), "EXPLAIN QUERY PLAN %s", sql);
        assert_int_equal(sqlite3_prepare_v2(db, explain, -1, &st, NULL), SQLITE_OK);
        buf[0] = '\0';
        while (sqlite3_step(st) == SQLITE_ROW) {
                size_t len = strlen(buf);
                snprintf(buf + len, size - len, "%s; ", (const char *) sqlite3_column_text(st, 3));
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
}

/* plan: two searches of the index (never a scan of builds), neither sorted; the only sort is
 * the merge of their rows, after both. */
static void assert_merge_of_two_searches(const char *plan, const char *search) {
        const char *first = strstr(plan, search);
        assert_non_null(first);
        const char *second = strstr(first + 1, search);
        assert_non_null(second);
        assert_null(strstr(plan, "SCAN builds"));
        const char *sort = strstr(plan, "TEMP B-TREE");
        assert_true(!sort || (sort > second && !strstr(sort + 1, "TEMP B-TREE")));
}

/* The ETA lookups run on the daemon's main loop: each must search an index on pname and
 * read its rows newest first, never walk every successful build (seconds on a big, cold
 * database) nor sort. */
/* OOM kills: written beside builds (not counted as theirs), read newest first, in a range,
 * pruned by age. */
static void test_oom_events(void **state) {
        History *h = NULL;
        assert_int_equal(history_open(path, 0, &h, NULL), 0);
        usec_t t0 = 1700000000 * SEC;
        HistoryRecord r[3] = {
                rec("/nix/store/a-x.drv", "x", "failed", t0, 10, 0),
                {.requester_uid = -1, .exit_code = -1, .oom = calloc(1, sizeof(HistoryOom))},
                {.requester_uid = -1, .exit_code = -1, .oom = calloc(1, sizeof(HistoryOom))},
        };
        assert_non_null(r[1].oom);
        assert_non_null(r[2].oom);
        *r[1].oom = (HistoryOom){
                .time = t0 + 5 * SEC,
                .source = "cgroup+kmsg",
                .pid = 4242,
                .command = strdup("sh"),
                .memcg = strdup("/na/build-1"),
                .drv = strdup("/nix/store/a-x.drv"),
                .name = strdup("x"),
                .requester_uid = 0,
                .requester_user = strdup("root"),
                .mem_limit = 64 << 20,
                .mem_peak = 64 << 20,
        };
        *r[2].oom = (HistoryOom){
                .time = t0 + 60 * SEC,
                .source = "kmsg",
                .pid = 77,
                .command = strdup("tail"),
                .requester_uid = -1,
                .top = strdup("[{\"name\":\"x\",\"mem\":1000}]"),
        };
        insert(h, r, 3, 1); /* one build's row; the kills are not counted */
        uint64_t n;
        assert_int_equal(history_count(h, &n), 0);
        assert_int_equal(n, 1);

        cJSON *rows = NULL;
        HistoryQuery q = {.limit = 10};
        assert_int_equal(history_oom_query(h, &q, 0, &rows), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 2);
        cJSON *lone = cJSON_GetArrayItem(rows, 0), *built = cJSON_GetArrayItem(rows, 1);
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(lone, "build")));
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(lone, "victim"), "command")),
                "tail");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
                                    cJSON_GetArrayItem(cJSON_GetObjectItem(lone, "top"), 0), "name")),
                            "x");
        cJSON *b = cJSON_GetObjectItem(built, "build");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(b, "name")), "x");
        assert_int_equal((int64_t) cJSON_GetNumberValue(cJSON_GetObjectItem(b, "mem_limit")), 64 << 20);
        assert_int_equal((int64_t) cJSON_GetNumberValue(
                                 cJSON_GetObjectItem(cJSON_GetObjectItem(built, "victim"), "pid")),
                         4242);
        assert_int_equal((int64_t) cJSON_GetNumberValue(cJSON_GetObjectItem(built, "requester_uid")), 0);
        cJSON_Delete(rows);

        /* since: only the later one */
        q.filter.since = t0 + 10 * SEC;
        assert_int_equal(history_oom_query(h, &q, 0, &rows), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 1);
        cJSON_Delete(rows);

        /* pruned with the builds past their age */
        assert_int_equal(history_prune(h, t0 + 100 * SEC, 50 * SEC, 0), 1);
        q.filter.since = 0;
        assert_int_equal(history_oom_query(h, &q, 0, &rows), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 1);
        assert_int_equal((int64_t) cJSON_GetNumberValue(cJSON_GetObjectItem(
                                 cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "victim"), "pid")),
                         77);
        cJSON_Delete(rows);
        for (int i = 0; i < 3; i++)
                history_record_done(&r[i]);
        history_close(h);
}

static void test_eta_query_plans(void **state) {
        History *h = NULL;
        char *err = NULL;
        char plan[1024];
        assert_int_equal(history_open(path, 0, &h, &err), 0);
        history_close(h);

        /* Two index ranges (trusted rows; the requester's own), each read newest first; only
         * their first LIMIT rows each are merged. */
        query_plan(HISTORY_SQL_ETA_ON_MACHINE, plan, sizeof(plan));
        print_message("on a machine: %s\n", plan);
        const char *on = "USING INDEX builds_eta (pname=? AND state=? AND untrusted_uid=? AND machine=?)";
        assert_merge_of_two_searches(plan, on);

        query_plan(HISTORY_SQL_ETA_ANY_MACHINE, plan, sizeof(plan));
        print_message("on any machine: %s\n", plan);
        const char *any = "USING INDEX builds_eta_any (pname=? AND state=? AND untrusted_uid=?)";
        assert_merge_of_two_searches(plan, any);
}

/* get-history of one package, newest first (ctl get-history --pname, as root and as another
 * user): one index range read in order, no sort, no scan. */
static void test_pname_query_plan(void **state) {
        History *h = NULL;
        char *err = NULL;
        char plan[1024];
        assert_int_equal(history_open(path, 0, &h, &err), 0);
        history_close(h);

        const char *const queries[] = {
                "SELECT * FROM builds WHERE pname = ? ORDER BY finished DESC, id DESC LIMIT 50",
                "SELECT * FROM builds WHERE pname = ? AND (untrusted_uid IS NULL OR untrusted_uid = ?) "
                "ORDER BY finished DESC, id DESC LIMIT 50",
        };
        for (size_t i = 0; i < ELEMENTSOF(queries); i++) {
                query_plan(queries[i], plan, sizeof(plan));
                print_message("%s\n  %s\n", queries[i], plan);
                assert_non_null(strstr(plan, "USING INDEX builds_pname (pname=?)"));
                assert_null(strstr(plan, "SCAN builds"));
                assert_null(strstr(plan, "TEMP B-TREE"));
        }
}

/* deps from the store (issue 19): each derivation's newest row a viewer may rely on, and a
 * row's derivation by its id. */
static void test_last_builds(void **state) {
        History *h = NULL;
        enum { MALLORY = 1001 };
        usec_t t0 = 1700000000 * SEC;
        HistoryRecord r[4];
        assert_int_equal(history_open(path, 0, &h, NULL), 0);
        r[0] = rec("/nix/store/x-hello.drv", "hello", "failed", t0, 1, 0);
        r[1] = rec("/nix/store/x-hello.drv", "hello", "succeeded", t0 + 10 * SEC, 2.5, 1000);
        r[2] = rec("/nix/store/x-hello.drv", "hello", "failed", t0 + 20 * SEC, 1, MALLORY);
        r[2].untrusted = true;
        r[3] = rec("/nix/store/y-other.drv", "other", "succeeded", t0, 1, MALLORY);
        r[3].untrusted = true;
        insert(h, r, ELEMENTSOF(r), (int) ELEMENTSOF(r));
        for (size_t i = 0; i < ELEMENTSOF(r); i++)
                history_record_done(&r[i]);

        const char *drvs[] = {"/nix/store/x-hello.drv", "/nix/store/y-other.drv", "/nix/store/z-none.drv"};
        HistoryLast l[3];
        /* Anyone else: the trusted rows only, the newest of them. */
        assert_int_equal(history_last_builds(h, drvs, 3, 1000, 0, l), 0);
        assert_string_equal(l[0].state, "succeeded");
        assert_int_equal(l[0].id, 2);
        assert_true(l[0].has_duration);
        assert_int_equal(l[0].duration, 2500000);
        assert_int_equal(l[0].finished, t0 + 12500000);
        assert_null(l[0].failure_kind);
        assert_null(l[1].state);
        assert_int_equal(l[1].id, 0);
        assert_null(l[2].state);
        history_last_free(l, 3);
        /* Her own rows count for her. */
        assert_int_equal(history_last_builds(h, drvs, 3, MALLORY, 0, l), 0);
        assert_string_equal(l[0].state, "failed");
        assert_string_equal(l[0].failure_kind, "exit-code");
        assert_string_equal(l[1].state, "succeeded");
        history_last_free(l, 3);

        char *drv = NULL;
        assert_int_equal(history_row_drv(h, 4, &drv), 0);
        assert_string_equal(drv, "/nix/store/y-other.drv");
        free(drv);
        assert_int_equal(history_row_drv(h, 99, &drv), -ENOENT);
        history_close(h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
                cmocka_unit_test_setup_teardown(test_insert_dedupe_prune, setup, teardown),
                cmocka_unit_test_setup_teardown(test_revised_failure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_queries, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
                cmocka_unit_test_setup_teardown(test_recent_durations, setup, teardown),
                cmocka_unit_test_setup_teardown(test_recent_durations_budget, setup, teardown),
                cmocka_unit_test_setup_teardown(test_approximate_rows, setup, teardown),
                cmocka_unit_test_setup_teardown(test_untrusted_rows, setup, teardown),
                cmocka_unit_test_setup_teardown(test_eta_query_plans, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oom_events, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pname_query_plan, setup, teardown),
                cmocka_unit_test_setup_teardown(test_substitution_rows, setup, teardown),
                cmocka_unit_test_setup_teardown(test_last_builds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_row_timeline, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
