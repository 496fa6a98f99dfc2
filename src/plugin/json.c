/* The plugin's JSON writer (see json.h). */
#include "plugin/json.h"

#define U64_DIGITS_MAX 20

/* "00" "01" ... "99": two digits per division. */
static const char digit_pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";

void json_out_u64(JsonOut *w, uint64_t v) {
        char tmp[U64_DIGITS_MAX];
        size_t i = sizeof(tmp);
        while (v >= 100) {
                unsigned d = (unsigned) (v % 100);
                v /= 100;
                tmp[--i] = digit_pairs[2 * d + 1];
                tmp[--i] = digit_pairs[2 * d];
        }
        if (v >= 10) {
                tmp[--i] = digit_pairs[2 * v + 1];
                tmp[--i] = digit_pairs[2 * v];
        } else
                tmp[--i] = (char) ('0' + v);
        json_out_raw(w, tmp + i, sizeof(tmp) - i);
}

void json_out_u64_digits(JsonOut *w, uint32_t v, unsigned digits) {
        char tmp[10];
        size_t i = digits < sizeof(tmp) ? digits : sizeof(tmp);
        size_t n = i;
        while (i >= 2) {
                unsigned d = v % 100;
                v /= 100;
                tmp[--i] = digit_pairs[2 * d + 1];
                tmp[--i] = digit_pairs[2 * d];
        }
        if (i > 0)
                tmp[--i] = (char) ('0' + v % 10);
        json_out_raw(w, tmp, n);
}

void json_out_i64(JsonOut *w, int64_t v) {
        if (v < 0) {
                json_out_raw(w, "-", 1);
                json_out_u64(w, (uint64_t) 0 - (uint64_t) v);
        } else
                json_out_u64(w, (uint64_t) v);
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

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Whether the 8 bytes at s are all printable ASCII other than '"' and '\\', i.e. copied as
 * they are. Bit tricks on one 64-bit word: (x - ONES) & ~x & HIGHS is non-zero exactly when
 * some byte of x is 0, and (x - ONES * 0x20) & ~x & HIGHS when some byte is < 0x20. */
static inline bool word_is_plain(const unsigned char *s) {
        uint64_t x, q, b;
        memcpy(&x, s, sizeof(x));
        q = x ^ (ONES * '"');
        b = x ^ (ONES * '\\');
        return (((x - ONES * 0x20) & ~x) | ((q - ONES) & ~q) | ((b - ONES) & ~b) | x) & HIGHS ? false : true;
}

static void json_out_escape(JsonOut *w, unsigned char c) {
        static const char hex[] = "0123456789abcdef";
        char esc[6] = {'\\', 0};

        switch (c) {
        case '"':
        case '\\':
                esc[1] = (char) c;
                json_out_raw(w, esc, 2);
                break;
        case '\n':
                json_out_raw(w, "\\n", 2);
                break;
        case '\r':
                json_out_raw(w, "\\r", 2);
                break;
        case '\t':
                json_out_raw(w, "\\t", 2);
                break;
        default:
                if (c < 0x20) {
                        memcpy(esc, "\\u00", 4);
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 0xf];
                        json_out_raw(w, esc, 6);
                } else
                        json_out_raw(w, "\xef\xbf\xbd", 3); /* U+FFFD */
                break;
        }
}

/* One pass: runs of bytes that need nothing are found a word at a time and copied in one
 * piece; escapes and UTF-8 checks happen only at the bytes that need them. */
void json_out_str(JsonOut *w, const char *s, size_t n) {
        const unsigned char *u = (const unsigned char *) s;
        size_t i = 0, run = 0; /* run: bytes before i that need no escaping, not yet copied */

        json_out_raw(w, "\"", 1);
        while (i < n) {
                if (i + 8 <= n && word_is_plain(u + i)) {
                        i += 8;
                        run += 8;
                        continue;
                }
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
                json_out_raw(w, (const char *) u + i - run, run);
                run = 0;
                json_out_escape(w, c);
                i++;
        }
        json_out_raw(w, (const char *) u + i - run, run);
        json_out_raw(w, "\"", 1);
}
