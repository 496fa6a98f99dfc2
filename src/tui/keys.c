/* The seed's keymap, exactly: one table for single keys, one switch per sequence prefix. */
#include "tui/keys.h"

#include <stddef.h>

#include "basic/macro.h"

const YankField yank_fields[] = {
        {'d', "drv path"},  {'n', "name"},         {'o', "output path"}, {'p', "pid"},
        {'r', "requester"}, {'c', "command line"}, {'l', "log"},
};
const unsigned n_yank_fields = ELEMENTSOF(yank_fields);

static const struct {
        int key;
        Cmd cmd;
} single[] = {
        {'j', CMD_DOWN},
        {KC_DOWN, CMD_DOWN},
        {'k', CMD_UP},
        {KC_UP, CMD_UP},
        {KC_CTRL('d'), CMD_HALF_DOWN},
        {KC_CTRL('u'), CMD_HALF_UP},
        {KC_PGDN, CMD_PAGE_DOWN},
        {KC_PGUP, CMD_PAGE_UP},
        {KC_HOME, CMD_TOP},
        {'G', CMD_BOTTOM},
        {'F', CMD_FOLLOW},
        {'@', CMD_AT},
        {KC_END, CMD_BOTTOM},
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
        {KC_F1, CMD_HELP},
        {KC_ENTER, CMD_ENTER},
        {KC_TAB, CMD_FOCUS},
        {KC_ESC, CMD_ESCAPE},
        {'s', CMD_SORT},
        {'S', CMD_SORT_REVERSE},
        {'t', CMD_TREE},
        {'H', CMD_HOST},
        {KC_MOUSE, CMD_MOUSE},
        {KC_RESIZE, CMD_RESIZE},
};

static KeyResult key_result(Cmd cmd, int arg) {
        return (KeyResult){.cmd = cmd, .arg = arg};
}

static KeyResult keys_second(int first, int key) {
        switch (first) {
        case 'g':
                if (key == 'g')
                        return key_result(CMD_TOP, 0);
                break;
        case 'z':
                if (key == 'c')
                        return key_result(CMD_FOLD_CLOSE, 0);
                if (key == 'o')
                        return key_result(CMD_FOLD_OPEN, 0);
                if (key == 'a')
                        return key_result(CMD_FOLD_TOGGLE, 0);
                break;
        case 'K':
                if (key == 'k')
                        return key_result(CMD_KILL, 0);
                if (key == 'f')
                        return key_result(CMD_FREEZE, 0);
                if (key == 'u')
                        return key_result(CMD_THAW, 0);
                break;
        case 'y':
                for (unsigned i = 0; i < n_yank_fields; i++)
                        if (yank_fields[i].key == key)
                                return key_result(CMD_YANK, key);
                break;
        }
        return key_result(CMD_CANCELLED, 0);
}

KeyResult keys_feed(KeyState *ks, int key) {
        if (ks->pending) {
                int first = ks->pending;
                ks->pending = 0;
                if (key == KC_RESIZE || key == KC_MOUSE) {
                        /* Not an answer to the sequence: keep waiting. */
                        ks->pending = first;
                        return key_result(key == KC_RESIZE ? CMD_RESIZE : CMD_NONE, 0);
                }
                return keys_second(first, key);
        }
        if (key == 'g' || key == 'z' || key == 'K' || key == 'y') {
                ks->pending = key;
                return key_result(CMD_PENDING, 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(single); i++)
                if (single[i].key == key)
                        return key_result(single[i].cmd, 0);
        switch (key) {
        case '[':
                return key_result(CMD_TIME, -60);
        case ']':
                return key_result(CMD_TIME, 60);
        case '{':
                return key_result(CMD_TIME, -600);
        case '}':
                return key_result(CMD_TIME, 600);
        }
        return key_result(CMD_NONE, 0);
}

const char *keys_pending_hint(const KeyState *ks) {
        switch (ks->pending) {
        case 'g':
                return "g: g top";
        case 'z':
                return "z: c close fold  o open fold  a toggle fold";
        case 'K':
                return "action: k kill  f freeze  u unfreeze  (Esc: cancel)";
        case 'y':
                return "yank: d drv  n name  o output  p pid  r requester  c command  l log  (Esc)";
        }
        return NULL;
}
