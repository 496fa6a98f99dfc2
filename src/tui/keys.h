/* The keymap: key presses in, commands out. Pure (no curses calls), so the seed's keymap is
 * tested as a table. Multi-key sequences (gg, zc/zo/za, K k/f/u, y <field>) are held in a
 * small state between presses. */
#pragma once

#include <stdbool.h>

/* Keys beyond characters: the caller maps curses' KEY_* codes to these. */
enum {
        KEY_CODE_BASE = 0x110000, /* past every Unicode code point */
        KC_UP = KEY_CODE_BASE,
        KC_DOWN,
        KC_LEFT,
        KC_RIGHT,
        KC_PGUP,
        KC_PGDN,
        KC_HOME,
        KC_END,
        KC_ENTER,
        KC_ESC,
        KC_TAB,
        KC_BACKSPACE,
        KC_MOUSE,
        KC_RESIZE,
        KC_F1,
};

#define KC_CTRL(c) ((c) &0x1f)

typedef enum Cmd {
        CMD_NONE,    /* not bound here */
        CMD_PENDING, /* first key of a sequence: wait for the next */
        CMD_DOWN,
        CMD_UP,
        CMD_HALF_DOWN,
        CMD_HALF_UP,
        CMD_PAGE_DOWN,
        CMD_PAGE_UP,
        CMD_TOP,
        CMD_BOTTOM,
        CMD_KILL,
        CMD_FREEZE,
        CMD_THAW,
        CMD_VISUAL,
        CMD_YANK, /* arg: the field letter */
        CMD_PROCS,
        CMD_DEPS,
        CMD_LOG,
        CMD_HISTORY,
        CMD_MACHINES,
        CMD_FILTER,
        CMD_SEARCH,
        CMD_NICE_OR_NEXT, /* n: next match when a search is active, else the nice prompt */
        CMD_PREV_MATCH,   /* N */
        CMD_CPU_LIMIT,
        CMD_MEM_LIMIT,
        CMD_ALL_ACTIVITY,
        CMD_FOLD_CLOSE,
        CMD_FOLD_OPEN,
        CMD_FOLD_TOGGLE,
        CMD_QUIT,
        CMD_HELP,
        CMD_ENTER,
        CMD_FOCUS,
        CMD_ESCAPE,
        CMD_SORT,         /* s: next sort column */
        CMD_SORT_REVERSE, /* S */
        CMD_TREE,         /* t: tree by invocation / flat list of active builds */
        CMD_HOST,         /* H: the next host's builds alone (several hosts) */
        CMD_MOUSE,
        CMD_RESIZE,
        CMD_CANCELLED, /* Esc (or an unbound key) ended a pending sequence */
        CMD_FOLLOW,    /* F: the log panel follows its build again */
        CMD_AT,        /* @: the at view (history: at the selected build's middle; else asks a time) */
        CMD_TIME,      /* [ ] { }: the at view's instant moves by arg seconds */
        _CMD_MAX,
} Cmd;

typedef struct KeyState {
        int pending; /* first key of a sequence, 0 when none */
} KeyState;

typedef struct KeyResult {
        Cmd cmd;
        int arg; /* CMD_YANK: the field letter */
} KeyResult;

/* Feeds one key. */
KeyResult keys_feed(KeyState *ks, int key);

/* What a pending sequence waits for, for the status line ("K: k kill  f freeze  u thaw"),
 * or NULL. */
const char *keys_pending_hint(const KeyState *ks);

/* Yank fields: the letters after y and what each copies. */
typedef struct YankField {
        char key;
        const char *name;
} YankField;
extern const YankField yank_fields[];
extern const unsigned n_yank_fields;
