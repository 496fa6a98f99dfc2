/* Unit tests for src/shared/store-db.c: Nix's store database read only, never waiting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "shared/store-db.h"
#include "test-helpers.h"

static void test_default_path(void **state) {
        char *p = NULL;
        assert_int_equal(store_db_default_path("/nix/store", &p), 0);
        assert_string_equal(p, "/nix/var/nix/db/db.sqlite");
        free(p);
        assert_int_equal(store_db_default_path("/home/alice/nix/store", &p), 0);
        assert_string_equal(p, "/home/alice/nix/var/nix/db/db.sqlite");
        free(p);
}

static void exec_ok(sqlite3 *db, const char *sql) {
        char *err = NULL;
        int code = sqlite3_exec(db, sql, NULL, NULL, &err);
        if (code != SQLITE_OK)
                fail_msg("%s: %s", sql, err ? err : "?");
}

static void test_valid_paths(void **state) {
        char *dir = test_mkdtemp();
        char path[512];
        snprintf(path, sizeof(path), "%s/db.sqlite", dir);

        /* Not there (yet): the database cannot tell. */
        StoreDb *db = NULL;
        assert_int_equal(store_db_new(path, &db), 0);
        assert_int_equal(store_db_path_valid(db, "/nix/store/aaaa-x"), -ENOENT);
        db = store_db_free(db);

        /* Nix's table, as far as this reader uses it; Nix's own lock held (a write). */
        sqlite3 *nix = NULL;
        assert_int_equal(sqlite3_open(path, &nix), SQLITE_OK);
        exec_ok(nix,
                "CREATE TABLE ValidPaths (id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL,"
                " registrationTime INTEGER NOT NULL);"
                "INSERT INTO ValidPaths (path, registrationTime) VALUES ('/nix/store/aaaa-x', 1700000000);");
        exec_ok(nix, "BEGIN EXCLUSIVE; INSERT INTO ValidPaths (path, registrationTime)"
                     " VALUES ('/nix/store/bbbb-y', 1700000005);");
        assert_int_equal(store_db_new(path, &db), 0);
        assert_int_equal(store_db_path_valid(db, "/nix/store/aaaa-x"), -EAGAIN); /* never waits */
        exec_ok(nix, "COMMIT;");
        assert_int_equal(store_db_path_valid(db, "/nix/store/aaaa-x"), 1);
        assert_int_equal(store_db_path_valid(db, "/nix/store/bbbb-y"), 1);
        assert_int_equal(store_db_path_valid(db, "/nix/store/cccc-z"), 0);
        /* When Nix registered it (a build that ended while the daemon was down ends then). */
        usec_t t = 0;
        assert_int_equal(store_db_path_registered(db, "/nix/store/bbbb-y", &t), 1);
        assert_int_equal(t, 1700000005 * USEC_PER_SEC);
        /* Busy again after it was open: undecided, then the answer. */
        exec_ok(nix, "BEGIN EXCLUSIVE; DELETE FROM ValidPaths WHERE path = '/nix/store/bbbb-y';");
        assert_int_equal(store_db_path_valid(db, "/nix/store/bbbb-y"), -EAGAIN);
        exec_ok(nix, "COMMIT;");
        assert_int_equal(store_db_path_valid(db, "/nix/store/bbbb-y"), 0);
        sqlite3_close(nix);
        store_db_free(db);

        /* Not Nix's database: it cannot tell. */
        test_write_file(dir, "other.sqlite", "", 0);
        snprintf(path, sizeof(path), "%s/other.sqlite", dir);
        assert_int_equal(store_db_new(path, &db), 0);
        assert_true(store_db_path_valid(db, "/nix/store/aaaa-x") < 0);
        store_db_free(db);
        test_rm_rf(dir);
        free(dir);
}

/* Which derivation has an output (a lock wait inside nix-daemon): one, none, two, busy. */
static void test_output_drv(void **state) {
        char *dir = test_mkdtemp();
        char path[512];
        snprintf(path, sizeof(path), "%s/db.sqlite", dir);
        sqlite3 *nix = NULL;
        assert_int_equal(sqlite3_open(path, &nix), SQLITE_OK);
        exec_ok(nix,
                "CREATE TABLE ValidPaths (id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL,"
                " registrationTime INTEGER NOT NULL);"
                "CREATE TABLE DerivationOutputs (drv INTEGER NOT NULL, id TEXT NOT NULL, path TEXT NOT NULL,"
                " PRIMARY KEY (drv, id));"
                "INSERT INTO ValidPaths VALUES (1, '/nix/store/aaaa-x.drv', 1), (2, "
                "'/nix/store/bbbb-f.drv', 1),"
                " (3, '/nix/store/cccc-g.drv', 1);"
                "INSERT INTO DerivationOutputs VALUES (1, 'out', '/nix/store/xxxx-x'), (1, 'dev', "
                "'/nix/store/yyyy-x-dev'),"
                " (2, 'out', '/nix/store/ffff-fixed'), (3, 'out', '/nix/store/ffff-fixed');");
        StoreDb *db = NULL;
        char *drv = NULL;
        assert_int_equal(store_db_new(path, &db), 0);
        assert_int_equal(store_db_output_drv(db, "/nix/store/yyyy-x-dev", &drv), 1);
        assert_string_equal(drv, "/nix/store/aaaa-x.drv");
        free(drv);
        drv = NULL;
        assert_int_equal(store_db_output_drv(db, "/nix/store/zzzz-none", &drv), 0);
        assert_int_equal(store_db_output_drv(db, "/nix/store/ffff-fixed", &drv), -ENOTUNIQ);
        assert_null(drv);
        /* The statement is used again after each answer. */
        assert_int_equal(store_db_output_drv(db, "/nix/store/xxxx-x", &drv), 1);
        assert_string_equal(drv, "/nix/store/aaaa-x.drv");
        free(drv);
        drv = NULL;
        exec_ok(nix, "BEGIN EXCLUSIVE; DELETE FROM DerivationOutputs WHERE drv = 1;");
        assert_int_equal(store_db_output_drv(db, "/nix/store/xxxx-x", &drv), -EAGAIN); /* never waits */
        exec_ok(nix, "COMMIT;");
        assert_int_equal(store_db_output_drv(db, "/nix/store/xxxx-x", &drv), 0);
        assert_int_equal(store_db_path_valid(db, "/nix/store/aaaa-x.drv"), 1);
        sqlite3_close(nix);
        store_db_free(db);
        test_rm_rf(dir);
        free(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_path),
                cmocka_unit_test(test_valid_paths),
                cmocka_unit_test(test_output_drv),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
