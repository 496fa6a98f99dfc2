/* The status-line editor. */
#include "tui/prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/keys.h"

struct Prompt *prompt_new(PromptKind kind, const char *label, const char *initial, BuildRef *keys,
                          size_t n_keys) {
        struct Prompt *p = calloc(1, sizeof(struct Prompt));
        if (!p) {
                free(keys);
                return NULL;
        }
        p->kind = kind;
        snprintf(p->label, sizeof(p->label), "%s", label);
        if (initial) {
                snprintf(p->text, sizeof(p->text), "%s", initial);
                p->len = strlen(p->text);
        }
        p->keys = keys;
        p->n_keys = n_keys;
        return p;
}

struct Prompt *prompt_free(struct Prompt *p) {
        if (p) {
                free(p->keys);
                free(p);
        }
        return NULL;
}

/* Bytes of a UTF-8 character given its code point. */
static size_t utf8_encode(int c, char out[4]) {
        if (c < 0x80) {
                out[0] = (char) c;
                return 1;
        }
        if (c < 0x800) {
                out[0] = (char) (0xc0 | (c >> 6));
                out[1] = (char) (0x80 | (c & 0x3f));
                return 2;
        }
        if (c < 0x10000) {
                out[0] = (char) (0xe0 | (c >> 12));
                out[1] = (char) (0x80 | ((c >> 6) & 0x3f));
                out[2] = (char) (0x80 | (c & 0x3f));
                return 3;
        }
        out[0] = (char) (0xf0 | (c >> 18));
        out[1] = (char) (0x80 | ((c >> 12) & 0x3f));
        out[2] = (char) (0x80 | ((c >> 6) & 0x3f));
        out[3] = (char) (0x80 | (c & 0x3f));
        return 4;
}

PromptResult prompt_feed(struct Prompt *p, int key) {
        if (p->kind == PROMPT_CONFIRM)
                return key == 'y' || key == 'Y' ? PROMPT_SUBMIT : PROMPT_CANCEL;
        switch (key) {
        case KC_ENTER:
                return PROMPT_SUBMIT;
        case KC_ESC:
        case KC_CTRL('c'):
        case KC_CTRL('g'):
                return PROMPT_CANCEL;
        case KC_BACKSPACE:
                /* Back over one whole UTF-8 character. */
                while (p->len > 0) {
                        p->len--;
                        if (((unsigned char) p->text[p->len] & 0xc0) != 0x80)
                                break;
                }
                p->text[p->len] = 0;
                return PROMPT_CONTINUE;
        case KC_CTRL('u'):
                p->len = 0;
                p->text[0] = 0;
                return PROMPT_CONTINUE;
        }
        if (key < 0x20 || key >= KEY_CODE_BASE)
                return PROMPT_CONTINUE;
        char enc[4];
        size_t l = utf8_encode(key, enc);
        if (p->len + l + 1 > sizeof(p->text))
                return PROMPT_CONTINUE;
        memcpy(p->text + p->len, enc, l);
        p->len += l;
        p->text[p->len] = 0;
        return PROMPT_CONTINUE;
}
