/* A small JSON writer for the plugin: appends to a caller's fixed buffer, never allocates,
 * and makes every string valid UTF-8 (U+FFFD for invalid bytes). The plugin may link nothing
 * but libc into Nix's process, hence no JSON library here. It runs once per build log line
 * inside Nix, so the common pieces are inline and strings are scanned a word at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct JsonOut {
        char *p;
        size_t len, cap;
        bool overflow; /* something did not fit: the output is incomplete */
} JsonOut;

static inline void json_out_init(JsonOut *w, char *p, size_t cap) {
        *w = (JsonOut){.p = p, .cap = cap};
}

static inline void json_out_raw(JsonOut *w, const char *s, size_t n) {
        if (w->overflow || n > w->cap - w->len) {
                w->overflow = true;
                return;
        }
        memcpy(w->p + w->len, s, n);
        w->len += n;
}

/* A NUL-terminated literal, copied as is (inline: its length is a compile-time constant). */
static inline void json_out_lit(JsonOut *w, const char *s) {
        json_out_raw(w, s, strlen(s));
}

void json_out_u64(JsonOut *w, uint64_t v);
void json_out_i64(JsonOut *w, int64_t v);
/* v < 10^digits as exactly that many digits, zero-padded (digits <= 10). */
void json_out_u64_digits(JsonOut *w, uint32_t v, unsigned digits);
/* A quoted string: escapes what JSON requires, replaces each byte that is not part of a
 * well-formed UTF-8 sequence (overlongs, surrogates, > U+10FFFF included) by U+FFFD. */
void json_out_str(JsonOut *w, const char *s, size_t n);
/* The most json_out_str() can write for n bytes of input (each byte may become \u00XX). */
static inline size_t json_out_str_bound(size_t n) {
        return 2 + 6 * n;
}
