/* String helpers: prefixes, ANSI escape stripping, UTF-8 validation and repair. */
#include "basic/string-util.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        if (strncmp(s, prefix, l) != 0)
                return NULL;
        return s + l;
}

bool string_is_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

int parse_u64_prefix(const char *s, size_t len, const char **ret_end, uint64_t *ret) {
        uint64_t v = 0;
        size_t i = 0;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
                unsigned d = (unsigned) (s[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (i == 0)
                return -EINVAL;
        *ret_end = s + i;
        *ret = v;
        return 0;
}

int safe_atou64(const char *s, uint64_t *ret) {
        const char *end;
        uint64_t v;
        int r = parse_u64_prefix(s, strlen(s), &end, &v);
        if (r < 0)
                return r;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int safe_atoi64(const char *s, int64_t *ret) {
        bool neg = *s == '-';
        uint64_t v;
        int r = safe_atou64(s + neg, &v);
        if (r < 0)
                return r;
        /* -INT64_MIN is one more than INT64_MAX. */
        if (v > (uint64_t) INT64_MAX + neg)
                return -ERANGE;
        *ret = neg && v > 0 ? -(int64_t) (v - 1) - 1 : (int64_t) v;
        return 0;
}

int parse_pid(const char *s, pid_t *ret) {
        uint64_t v;
        int r = safe_atou64(s, &v);
        if (r < 0)
                return r;
        if (v == 0)
                return -EINVAL;
        if (v > INT_MAX)
                return -ERANGE;
        *ret = (pid_t) v;
        return 0;
}

const char *record_value(const char *buf, size_t len, char end, const char *key, char sep, size_t *ret_len) {
        size_t kl = strlen(key);
        const char *stop = buf + len;
        for (const char *p = buf; p < stop;) {
                const char *e = memchr(p, end, (size_t) (stop - p)) ?: stop;
                if ((size_t) (e - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == sep) {
                        *ret_len = (size_t) (e - p) - kl - 1;
                        return p + kl + 1;
                }
                p = e + 1;
        }
        return NULL;
}

int parse_size(const char *s, uint64_t *ret) {
        static const char units[] = "KMG";
        uint64_t v;
        const char *p;
        if (parse_u64_prefix(s, strlen(s), &p, &v) < 0)
                return -EINVAL;
        if (*p) {
                const char *u = strchr(units, *p);
                if (!u || p[1])
                        return -EINVAL;
                unsigned shift = 10 * (unsigned) (u - units + 1);
                if (v > UINT64_MAX >> shift)
                        return -EINVAL;
                v <<= shift;
        }
        *ret = v;
        return 0;
}

size_t ansi_strip(char *s) {
        char *w = s;
        const char *r = s;

        while (*r) {
                if (*r != '\033') {
                        *w++ = *r++;
                        continue;
                }
                r++;
                if (*r == '[') {
                        /* CSI: parameters and intermediates, then one final byte 0x40..0x7e. */
                        r++;
                        while (*r && !((unsigned char) *r >= 0x40 && (unsigned char) *r <= 0x7e))
                                r++;
                        if (*r)
                                r++;
                } else if (*r == ']') {
                        /* OSC: up to BEL or ST (ESC \). */
                        r++;
                        while (*r && *r != '\a' && !(r[0] == '\033' && r[1] == '\\'))
                                r++;
                        if (*r == '\a')
                                r++;
                        else if (*r)
                                r += 2;
                } else {
                        /* nF escape such as "ESC ( B" (what tput sgr0 prints): intermediate
                         * bytes 0x20..0x2f, then one final byte. */
                        while (*r >= 0x20 && *r <= 0x2f)
                                r++;
                        if (*r)
                                r++;
                }
        }
        *w = '\0';
        return (size_t) (w - s);
}

/* Length of the well-formed UTF-8 sequence at p (at most avail bytes), or 0 if ill-formed. */
static size_t utf8_seq_len(const unsigned char *p, size_t avail) {
        unsigned char c = p[0];

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf) {
                if (avail >= 2 && (p[1] & 0xc0) == 0x80)
                        return 2;
                return 0;
        }
        if (c >= 0xe0 && c <= 0xef) {
                if (avail < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
                        return 0;
                if (c == 0xe0 && p[1] < 0xa0)
                        return 0; /* overlong */
                if (c == 0xed && p[1] >= 0xa0)
                        return 0; /* surrogate */
                return 3;
        }
        if (c >= 0xf0 && c <= 0xf4) {
                if (avail < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
                        return 0;
                if (c == 0xf0 && p[1] < 0x90)
                        return 0; /* overlong */
                if (c == 0xf4 && p[1] >= 0x90)
                        return 0; /* > U+10FFFF */
                return 4;
        }
        return 0;
}

bool utf8_is_valid(const char *buf, size_t len) {
        const unsigned char *p = (const unsigned char *) buf;
        size_t i = 0;

        while (i < len) {
                /* Fast path for ASCII runs, the common case for Nix logs: eight bytes at a
                 * time while none has its high bit set. */
                uint64_t w;
                if (len - i >= sizeof(w)) {
                        memcpy(&w, p + i, sizeof(w));
                        if (!(w & UINT64_C(0x8080808080808080))) {
                                i += sizeof(w);
                                continue;
                        }
                }
                if (p[i] < 0x80) {
                        i++;
                        continue;
                }
                size_t n = utf8_seq_len(p + i, len - i);
                if (n == 0)
                        return false;
                i += n;
        }
        return true;
}

int utf8_sanitize(const char *buf, size_t len, char **ret, size_t *ret_len) {
        const unsigned char *p = (const unsigned char *) buf;
        /* Worst case: every byte becomes the 3-byte U+FFFD. */
        if (len > (SIZE_MAX - 1) / 3)
                return -ENOMEM;
        char *out = malloc(len * 3 + 1);
        if (!out)
                return -ENOMEM;

        size_t i = 0, o = 0;
        while (i < len) {
                size_t n = utf8_seq_len(p + i, len - i);
                if (n == 0) {
                        memcpy(out + o, "\xef\xbf\xbd", 3);
                        o += 3;
                        i++;
                        continue;
                }
                memcpy(out + o, p + i, n);
                o += n;
                i += n;
        }
        out[o] = '\0';
        *ret = out;
        if (ret_len)
                *ret_len = o;
        return 0;
}
