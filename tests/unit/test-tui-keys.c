/* Unit tests for src/tui/keys.c and src/tui/listnav.c: the seed's keymap, exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tui/keys.h"
#include "tui/listnav.h"

static Cmd one(int key) {
        KeyState ks = {};
        return keys_feed(&ks, key).cmd;
}

static KeyResult two(int a, int b) {
        KeyState ks = {};
        assert_int_equal(keys_feed(&ks, a).cmd, CMD_PENDING);
        assert_non_null(keys_pending_hint(&ks));
        KeyResult r = keys_feed(&ks, b);
        assert_int_equal(ks.pending, 0);
        return r;
}

static void test_single_keys(void **state) {
        static const struct {
                int key;
                Cmd cmd;
        } table[] = {
                {'j', CMD_DOWN},
                {'k', CMD_UP},
                {KC_CTRL('u'), CMD_HALF_UP},
                {KC_CTRL('d'), CMD_HALF_DOWN},
                {'G', CMD_BOTTOM},
                {'V', CMD_VISUAL},
                {'p', CMD_PROCS},
                {'d', CMD_DEPS},
                {'l', CMD_LOG},
                {'h', CMD_HISTORY},
                {'r', CMD_MACHINES},
                {'f', CMD_FILTER},
                {'/', CMD_SEARCH},
                {'n', CMD_NICE_OR_NEXT},
                {'N', CMD_PREV_MATCH},
                {'c', CMD_CPU_LIMIT},
                {'m', CMD_MEM_LIMIT},
                {'a', CMD_ALL_ACTIVITY},
                {'q', CMD_QUIT},
                {'?', CMD_HELP},
                {KC_ENTER, CMD_ENTER},
                {KC_TAB, CMD_FOCUS},
                {KC_ESC, CMD_ESCAPE},
                {KC_UP, CMD_UP},
                {KC_DOWN, CMD_DOWN},
                {KC_PGUP, CMD_PAGE_UP},
                {KC_PGDN, CMD_PAGE_DOWN},
                {'s', CMD_SORT},
                {'t', CMD_TREE},
                {'H', CMD_HOST},
                {'x', CMD_NONE},
        };
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
                if (one(table[i].key) != table[i].cmd)
                        fail_msg("key %d: expected command %d, got %d", table[i].key, table[i].cmd,
                                 one(table[i].key));
        }
}

static void test_sequences(void **state) {
        assert_int_equal(two('g', 'g').cmd, CMD_TOP);
        assert_int_equal(two('z', 'c').cmd, CMD_FOLD_CLOSE);
        assert_int_equal(two('z', 'o').cmd, CMD_FOLD_OPEN);
        assert_int_equal(two('z', 'a').cmd, CMD_FOLD_TOGGLE);
        assert_int_equal(two('K', 'k').cmd, CMD_KILL);
        assert_int_equal(two('K', 'f').cmd, CMD_FREEZE);
        assert_int_equal(two('K', 'u').cmd, CMD_THAW);
        KeyResult y = two('y', 'd');
        assert_int_equal(y.cmd, CMD_YANK);
        assert_int_equal(y.arg, 'd');
        assert_int_equal(two('y', 'l').arg, 'l');
        /* Anything else ends the sequence without acting (K then j kills nothing). */
        assert_int_equal(two('K', 'j').cmd, CMD_CANCELLED);
        assert_int_equal(two('K', KC_ESC).cmd, CMD_CANCELLED);
        assert_int_equal(two('g', 'j').cmd, CMD_CANCELLED);
        assert_int_equal(two('y', 'x').cmd, CMD_CANCELLED);
        /* A resize in the middle keeps waiting. */
        KeyState ks = {};
        keys_feed(&ks, 'K');
        assert_int_equal(keys_feed(&ks, KC_RESIZE).cmd, CMD_RESIZE);
        assert_int_equal(keys_feed(&ks, 'k').cmd, CMD_KILL);
}

static void test_listnav(void **state) {
        ListNav n = {};
        listnav_set_count(&n, 100);
        listnav_scroll(&n, 10);
        assert_true(listnav_move(&n, CMD_DOWN));
        assert_int_equal(n.cur, 1);
        listnav_move(&n, CMD_HALF_DOWN);
        assert_int_equal(n.cur, 6);
        listnav_move(&n, CMD_PAGE_DOWN);
        assert_int_equal(n.cur, 15);
        listnav_scroll(&n, 10);
        assert_int_equal(n.top, 6);
        listnav_move(&n, CMD_BOTTOM);
        listnav_scroll(&n, 10);
        assert_int_equal(n.cur, 99);
        assert_int_equal(n.top, 90);
        listnav_move(&n, CMD_DOWN);
        assert_int_equal(n.cur, 99);
        listnav_move(&n, CMD_HALF_UP);
        assert_int_equal(n.cur, 94);
        listnav_move(&n, CMD_TOP);
        listnav_move(&n, CMD_UP);
        assert_int_equal(n.cur, 0);
        assert_false(listnav_move(&n, CMD_KILL));
        listnav_set_count(&n, 0);
        assert_int_equal(n.cur, 0);
        listnav_move(&n, CMD_BOTTOM);
        assert_int_equal(n.cur, 0);
        /* Fewer rows than the window: no scrolling. */
        listnav_set_count(&n, 3);
        listnav_goto(&n, 2);
        listnav_scroll(&n, 10);
        assert_int_equal(n.top, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_single_keys),
                cmocka_unit_test(test_sequences),
                cmocka_unit_test(test_listnav),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
