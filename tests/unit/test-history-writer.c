/* The history writer's queue: while the database cannot be written, the newest queue_max
 * rows wait and the oldest beyond them are counted dropped; once it can, the waiting rows
 * are written, in order. (A real SQLite database, locked by a second connection as another
 * process would.) */
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
#include "basic/time-util.h"
#include "daemon/history-writer.h"
#include "shared/history.h"
#include "test-helpers.h"

#define QUEUE_MAX 100
#define RECORDS   250

static double status_number(HistoryWriter *w, const char *key) {
        cJSON *st = history_writer_status(w);
        assert_non_null(st);
        const cJSON *v = cJSON_GetObjectItem(st, key);
        assert_true(cJSON_IsNumber(v));
        double d = v->valuedouble;
        cJSON_Delete(st);
        return d;
}

static char *status_string(HistoryWriter *w, const char *key) {
        cJSON *st = history_writer_status(w);
        assert_non_null(st);
        const cJSON *v = cJSON_GetObjectItem(st, key);
        char *s = strdup(cJSON_IsString(v) ? v->valuestring : "");
        cJSON_Delete(st);
        return s;
}

/* Waits up to 10 s for status key to reach at least want. */
static bool wait_number(HistoryWriter *w, const char *key, double want) {
        for (usec_t end = now_monotonic() + 10 * USEC_PER_SEC; now_monotonic() < end; usleep(20000))
                if (status_number(w, key) >= want)
                        return true;
        return false;
}

static void record_via(HistoryWriter *w, int i, const char *uri) {
        char path[128];
        snprintf(path, sizeof(path), "/nix/store/%032d-fetched-%d", i, i);
        Substitution x = {.path = path,
                          .name = path + strlen("/nix/store/") + 33,
                          .uri = (char *) uri,
                          .started = (usec_t) (1000 + i) * USEC_PER_SEC,
                          .finished = (usec_t) (1001 + i) * USEC_PER_SEC,
                          .succeeded = true,
                          .requester = {.uid = -1, .pid = -1}};
        history_writer_record_substitution(w, &x);
}

static void record(HistoryWriter *w, int i) {
        record_via(w, i, "https://cache.invalid");
}

/* The drv column of every row, oldest first, as "first,last,count". */
static void rows_summary(const char *db_path, char *buf, size_t size) {
        sqlite3 *db;
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
        assert_int_equal(
                sqlite3_prepare_v2(db, "SELECT MIN(drv), MAX(drv), COUNT(*) FROM builds", -1, &st, NULL),
                SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        snprintf(buf, size, "%s,%s,%d", (const char *) sqlite3_column_text(st, 0),
                 (const char *) sqlite3_column_text(st, 1), sqlite3_column_int(st, 2));
        sqlite3_finalize(st);
        sqlite3_close(db);
}

/* A history database in dir (its path in db_path), held locked by another connection, as
 * another process would: the returned one, to COMMIT and close. */
static sqlite3 *locked_store(const char *dir, char *db_path, size_t size) {
        snprintf(db_path, size, "%s/history.db", dir);
        History *h = NULL;
        char *err = NULL;
        assert_int_equal(history_open(db_path, 0, &h, &err), 0);
        history_close(h);
        sqlite3 *locker;
        assert_int_equal(sqlite3_open(db_path, &locker), SQLITE_OK);
        assert_int_equal(sqlite3_exec(locker, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
        return locker;
}

static void test_queue_while_locked(void **state) {
        char *dir = test_mkdtemp(); /* free()d */
        char db_path[4096];
        sqlite3 *locker = locked_store(dir, db_path, sizeof(db_path));

        HistoryConfig cfg = {.path = db_path, .queue_max = QUEUE_MAX};
        HistoryWriter *w = NULL;
        assert_int_equal(history_writer_start(&cfg, &w), 0);
        history_writer_wait_started(w, 5 * USEC_PER_SEC);

        /* Queued as the writer first meets the lock: then 250 more than it can hold. */
        record(w, 0);
        for (usec_t end = now_monotonic() + 10 * USEC_PER_SEC; now_monotonic() < end; usleep(20000)) {
                _cleanup_free_ char *s = status_string(w, "state");
                if (strcmp(s, "unavailable") == 0)
                        break;
        }
        _cleanup_free_ char *s = status_string(w, "state");
        assert_string_equal(s, "unavailable");
        for (int i = 1; i < RECORDS; i++)
                record(w, i);

        double queued = status_number(w, "queued"), dropped = status_number(w, "dropped");
        print_message("locked: queued %.0f, dropped %.0f\n", queued, dropped);
        /* The thread may hold one batch of its own (taken before the lock stopped it). */
        assert_true(queued >= QUEUE_MAX && queued <= QUEUE_MAX + 256);
        assert_true(dropped > 0);
        assert_int_equal((int) (queued + dropped), RECORDS);

        /* The lock goes: every waiting row is written, the newest among them. */
        assert_int_equal(sqlite3_exec(locker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(locker);
        assert_true(wait_number(w, "written", queued));
        assert_int_equal((int) status_number(w, "queued"), 0);
        char summary[512], want[512];
        rows_summary(db_path, summary, sizeof(summary));
        snprintf(want, sizeof(want), "/nix/store/%032d-fetched-%d,%d", RECORDS - 1, RECORDS - 1,
                 (int) queued);
        print_message("rows: %s\n", summary);
        assert_non_null(strstr(summary, want)); /* the newest is there, and only the queued */

        /* Drained, it takes more (from an empty queue again). */
        record(w, RECORDS);
        assert_true(wait_number(w, "written", queued + 1));

        w = history_writer_stop(w);
        assert_null(w);
        test_rm_rf(dir);
        free(dir);
}

/* The queue is bounded in memory too (32 MiB): records of 4 KiB each, far fewer than
 * queue_max, and the oldest go. */
static void test_queue_bytes(void **state) {
        char *dir = test_mkdtemp(); /* free()d */
        char db_path[4096];
        sqlite3 *locker = locked_store(dir, db_path, sizeof(db_path));

        HistoryConfig cfg = {.path = db_path, .queue_max = 1000000};
        HistoryWriter *w = NULL;
        assert_int_equal(history_writer_start(&cfg, &w), 0);
        history_writer_wait_started(w, 5 * USEC_PER_SEC);
        char uri[4096];
        memset(uri, 'u', sizeof(uri) - 1);
        uri[sizeof(uri) - 1] = '\0';
        const int n = 12000; /* about 48 MiB */
        for (int i = 0; i < n; i++)
                record_via(w, i, uri);
        double queued = status_number(w, "queued"), dropped = status_number(w, "dropped");
        print_message("4 KiB records: queued %.0f, dropped %.0f\n", queued, dropped);
        assert_int_equal((int) (queued + dropped), n);
        /* 32 MiB of them, give or take the thread's own batch (up to 256) */
        assert_true(queued >= 7000 && queued <= 8192 + 256);
        assert_true(dropped >= n - 8192 - 256);

        assert_int_equal(sqlite3_exec(locker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(locker);
        assert_true(wait_number(w, "written", queued));
        w = history_writer_stop(w);
        test_rm_rf(dir);
        free(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_queue_while_locked),
                cmocka_unit_test(test_queue_bytes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
