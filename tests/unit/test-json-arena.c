/* Unit tests for the cJSON bump arena (src/shared/json-arena.c): trees parsed in the window
 * live in the arena and need no freeing, trees outside it and on other threads use malloc
 * and free as before, a tree too big for the arena spills correctly, and records parsed
 * through it read the same as without it. Run under ASan, a use after reset is reported. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shared/json-arena.h"
#include "shared/nixlog.h"

#define LOG_LINE                                                         \
        "@nix {\"action\":\"result\",\"id\":1305670057985,\"type\":101," \
        "\"fields\":[\"bench line 1: some text\"],\"t\":1764014400123456}"

static int setup(void **state) {
        (void) state;
        /* Once per process, like the daemon; the tests below then share it. */
        static bool installed;
        if (!installed) {
                assert_int_equal(json_arena_install(), 0);
                installed = true;
        }
        json_arena_reset();
        return 0;
}

static void test_install_twice(void **state) {
        (void) state;
        assert_int_equal(json_arena_install(), -EEXIST);
}

static void test_parse_in_arena(void **state) {
        (void) state;
        for (int round = 0; round < 1000; round++) {
                NixRecord rec;
                json_arena_begin();
                assert_int_equal(nix_record_parse(LOG_LINE, strlen(LOG_LINE), &rec), 0);
                json_arena_end();
                assert_true(json_arena_contains(rec.root));
                assert_true(json_arena_holds_tree(rec.root));
                assert_true(json_arena_contains(rec.fields));
                assert_int_equal(rec.action, NIX_ACTION_RESULT);
                assert_int_equal(rec.id, 1305670057985);
                assert_int_equal(rec.time_usec, 1764014400123456);
                const char *s;
                assert_int_equal(nix_record_field_str(&rec, 0, &s), 0);
                assert_string_equal(s, "bench line 1: some text");
                nix_record_done(&rec);
                json_arena_reset();
        }
}

static void test_outside_window_uses_malloc(void **state) {
        (void) state;
        NixRecord rec;
        assert_int_equal(nix_record_parse(LOG_LINE, strlen(LOG_LINE), &rec), 0);
        assert_false(json_arena_contains(rec.root));
        assert_false(json_arena_holds_tree(rec.root));
        nix_record_done(&rec); /* freed node by node (ASan/LSan would see a leak otherwise) */

        /* Other cJSON users, e.g. printing, are unaffected and their memory goes to free(). */
        cJSON *o = cJSON_CreateObject();
        assert_non_null(cJSON_AddStringToObject(o, "k", "v"));
        char *p = cJSON_PrintUnformatted(o);
        assert_string_equal(p, "{\"k\":\"v\"}");
        assert_false(json_arena_contains(p));
        cJSON_free(p);
        cJSON_Delete(o);
}

/* A record bigger than the whole arena: its tree spills to malloc and is freed normally. */
static void test_spill(void **state) {
        (void) state;
        size_t n = 200 * 1024;
        char *line = malloc(n + 100);
        assert_non_null(line);
        int k = snprintf(line, 100, "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[\"");
        memset(line + k, 'x', n);
        strcpy(line + k + n, "\"]}");

        NixRecord rec;
        json_arena_begin();
        assert_int_equal(nix_record_parse(line, strlen(line), &rec), 0);
        json_arena_end();
        assert_false(json_arena_holds_tree(rec.root));
        const char *s;
        assert_int_equal(nix_record_field_str(&rec, 0, &s), 0);
        assert_int_equal(strlen(s), n);
        assert_false(json_arena_contains(s));
        nix_record_done(&rec);
        json_arena_reset();
        free(line);

        /* After the reset the arena holds whole trees again. */
        json_arena_begin();
        assert_int_equal(nix_record_parse(LOG_LINE, strlen(LOG_LINE), &rec), 0);
        json_arena_end();
        assert_true(json_arena_holds_tree(rec.root));
        nix_record_done(&rec);
        json_arena_reset();
}

/* Many records without a reset fill the arena; later ones spill, and every one reads right. */
static void test_fill_without_reset(void **state) {
        (void) state;
        enum { N = 500 };
        NixRecord recs[N];
        for (int i = 0; i < N; i++) {
                json_arena_begin();
                assert_int_equal(nix_record_parse(LOG_LINE, strlen(LOG_LINE), &recs[i]), 0);
                json_arena_end();
        }
        assert_true(json_arena_contains(recs[0].root));
        assert_false(json_arena_contains(recs[N - 1].root));
        for (int i = 0; i < N; i++) {
                assert_int_equal(recs[i].id, 1305670057985);
                nix_record_done(&recs[i]);
        }
        json_arena_reset();
}

/* A bad record parsed in the window leaves nothing behind. */
static void test_bad_record(void **state) {
        (void) state;
        static const char *const bad[] = {
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[\"x\"",
                "{\"action\":\"nope\",\"id\":1}",
                "[1,2,3]",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                NixRecord rec;
                json_arena_begin();
                assert_true(nix_record_parse(bad[i], strlen(bad[i]), &rec) < 0);
                json_arena_end();
                json_arena_reset();
        }
}

static void *other_thread(void *arg) {
        (void) arg;
        /* Not the owner: beginning a window here changes nothing. */
        json_arena_begin();
        NixRecord rec;
        if (nix_record_parse(LOG_LINE, strlen(LOG_LINE), &rec) < 0)
                return (void *) 1;
        json_arena_end();
        bool inside = json_arena_contains(rec.root) || json_arena_holds_tree(rec.root);
        nix_record_done(&rec);
        return inside ? (void *) 2 : NULL;
}

static void *free_on_other_thread(void *arg) {
        cJSON_Delete(arg); /* arena nodes are recognised by address on any thread */
        return NULL;
}

static void test_threads(void **state) {
        (void) state;
        pthread_t t;
        void *ret = (void *) 3;
        assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
        assert_int_equal(pthread_join(t, &ret), 0);
        assert_null(ret);

        json_arena_begin();
        cJSON *tree = cJSON_Parse("{\"a\":[1,2,\"three\"]}");
        json_arena_end();
        assert_non_null(tree);
        assert_true(json_arena_contains(tree));
        assert_int_equal(pthread_create(&t, NULL, free_on_other_thread, tree), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        json_arena_reset();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_install_twice, setup),
                cmocka_unit_test_setup(test_parse_in_arena, setup),
                cmocka_unit_test_setup(test_outside_window_uses_malloc, setup),
                cmocka_unit_test_setup(test_spill, setup),
                cmocka_unit_test_setup(test_fill_without_reset, setup),
                cmocka_unit_test_setup(test_bad_record, setup),
                cmocka_unit_test_setup(test_threads, setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
