/* One-line prompts in the status line: nice, CPU limit, memory limit, filter, search, and
 * yes/no confirmations. Editing is pure (prompt_feed); what a submitted prompt does is the
 * caller's (tui.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tui/store.h"

typedef enum PromptKind {
        PROMPT_NICE,
        PROMPT_CPU,
        PROMPT_MEM,
        PROMPT_FILTER,
        PROMPT_SEARCH,
        PROMPT_CONFIRM, /* y/n: an action on several builds */
        PROMPT_AT,      /* a time for the at view */
} PromptKind;

#define PROMPT_MAX 256

struct Prompt {
        PromptKind kind;
        char label[256];
        char text[PROMPT_MAX];
        size_t len;
        /* For PROMPT_CONFIRM and the value prompts: the action and its targets. */
        char action[32];
        char value[PROMPT_MAX];
        BuildRef *keys;
        size_t n_keys;
};

typedef enum PromptResult {
        PROMPT_CONTINUE,
        PROMPT_SUBMIT,
        PROMPT_CANCEL,
} PromptResult;

/* A new prompt; keys (may be NULL) are taken over. */
struct Prompt *prompt_new(PromptKind kind, const char *label, const char *initial, BuildRef *keys,
                          size_t n_keys);
struct Prompt *prompt_free(struct Prompt *p);

/* Feeds a key (the KC_* codes of keys.h, or a character). Confirmations submit on 'y' and
 * cancel on anything else. */
PromptResult prompt_feed(struct Prompt *p, int key);
