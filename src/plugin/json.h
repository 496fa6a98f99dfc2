/* A small JSON writer for the plugin: appends to a caller's fixed buffer, never allocates,
 * and makes every string valid UTF-8 (U+FFFD for invalid bytes). The plugin may link nothing
 * but libc into Nix's process, hence no JSON library here. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct JsonOut {
        char *p;
        size_t len, cap;
        bool overflow; /* something did not fit: the output is incomplete */
} JsonOut;

static inline void json_out_init(JsonOut *w, char *p, size_t cap) {
        *w = (JsonOut){.p = p, .cap = cap};
}

void json_raw(JsonOut *w, const char *s, size_t n);
void json_lit(JsonOut *w, const char *s); /* a NUL-terminated literal, copied as is */
void json_u64(JsonOut *w, uint64_t v);
void json_i64(JsonOut *w, int64_t v);
/* A quoted string: escapes what JSON requires, replaces each byte that is not part of a
 * well-formed UTF-8 sequence (overlongs, surrogates, > U+10FFFF included) by U+FFFD. */
void json_str(JsonOut *w, const char *s, size_t n);
