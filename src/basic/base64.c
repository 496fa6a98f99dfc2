/* Base64 encoding and a strict decoder (see the header). */
#include "basic/base64.h"

#include <errno.h>
#include <stdlib.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_encode(const uint8_t *data, size_t len, char **ret) {
        char *s = malloc((len + 2) / 3 * 4 + 1), *p = s;
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < len; i += 3) {
                uint32_t v = (uint32_t) data[i] << 16;
                if (i + 1 < len)
                        v |= (uint32_t) data[i + 1] << 8;
                if (i + 2 < len)
                        v |= data[i + 2];
                *p++ = alphabet[v >> 18];
                *p++ = alphabet[(v >> 12) & 63];
                *p++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
                *p++ = i + 2 < len ? alphabet[v & 63] : '=';
        }
        *p = '\0';
        *ret = s;
        return 0;
}

/* The value of one character, -1 for anything outside the alphabet. */
static int value_of(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int base64_decode(const char *text, size_t len, uint8_t **ret, size_t *ret_len) {
        *ret = NULL;
        *ret_len = 0;
        if (len % 4 != 0)
                return -EBADMSG;
        if (len == 0)
                return 0;
        size_t pad = (text[len - 1] == '=') + (text[len - 2] == '=');
        uint8_t *out = malloc(len / 4 * 3), *p = out;
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i += 4) {
                uint32_t v = 0;
                for (size_t k = 0; k < 4; k++) {
                        /* '=' only as the last one or two characters */
                        int x = i + k >= len - pad ? 0 : value_of(text[i + k]);
                        if (x < 0) {
                                free(out);
                                return -EBADMSG;
                        }
                        v = v << 6 | (uint32_t) x;
                }
                *p++ = (uint8_t) (v >> 16);
                *p++ = (uint8_t) (v >> 8);
                *p++ = (uint8_t) v;
        }
        *ret = out;
        *ret_len = (size_t) (p - out) - pad;
        return 0;
}
