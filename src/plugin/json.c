/* The plugin's JSON writer (see json.h). */
#include "plugin/json.h"

#include <string.h>

void json_raw(JsonOut *w, const char *s, size_t n) {
        if (w->overflow || n > w->cap - w->len) {
                w->overflow = true;
                return;
        }
        memcpy(w->p + w->len, s, n);
        w->len += n;
}

void json_lit(JsonOut *w, const char *s) {
        json_raw(w, s, strlen(s));
}

void json_u64(JsonOut *w, uint64_t v) {
        char tmp[20];
        size_t i = sizeof(tmp);
        do {
                tmp[--i] = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        json_raw(w, tmp + i, sizeof(tmp) - i);
}

void json_i64(JsonOut *w, int64_t v) {
        if (v < 0) {
                json_raw(w, "-", 1);
                json_u64(w, (uint64_t) 0 - (uint64_t) v);
        } else
                json_u64(w, (uint64_t) v);
}

/* Length of the well-formed UTF-8 sequence at s (n bytes available), or 0 when the first
 * byte does not start one (RFC 3629 table 3-7). */
static size_t utf8_valid_len(const unsigned char *s, size_t n) {
        unsigned char c = s[0];
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf;

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                if (c == 0xe0)
                        lo = 0xa0; /* no overlongs */
                else if (c == 0xed)
                        hi = 0x9f; /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                if (c == 0xf0)
                        lo = 0x90;
                else if (c == 0xf4)
                        hi = 0x8f; /* <= U+10FFFF */
        } else
                return 0;
        if (len > n)
                return 0;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return len;
}

void json_str(JsonOut *w, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *u = (const unsigned char *) s;
        size_t i = 0, run = 0; /* run: bytes before i that need no escaping, not yet copied */

        json_raw(w, "\"", 1);
        while (i < n) {
                unsigned char c = u[i];
                if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                        i++;
                        run++;
                        continue;
                }
                size_t l = c >= 0x80 ? utf8_valid_len(u + i, n - i) : 0;
                if (l > 0) {
                        i += l;
                        run += l;
                        continue;
                }
                json_raw(w, (const char *) u + i - run, run);
                run = 0;
                char esc[6] = {'\\', 0};
                switch (c) {
                case '"':
                case '\\':
                        esc[1] = (char) c;
                        json_raw(w, esc, 2);
                        break;
                case '\n':
                        json_raw(w, "\\n", 2);
                        break;
                case '\r':
                        json_raw(w, "\\r", 2);
                        break;
                case '\t':
                        json_raw(w, "\\t", 2);
                        break;
                default:
                        if (c < 0x20) {
                                memcpy(esc, "\\u00", 4);
                                esc[4] = hex[c >> 4];
                                esc[5] = hex[c & 0xf];
                                json_raw(w, esc, 6);
                        } else
                                json_raw(w, "\xef\xbf\xbd", 3); /* U+FFFD */
                        break;
                }
                i++;
        }
        json_raw(w, (const char *) u + i - run, run);
        json_raw(w, "\"", 1);
}
