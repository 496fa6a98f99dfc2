/* Values of resource limits as people type them, and sizes as people read them. */
#include "shared/units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/string-util.h"

int units_parse_cores(const char *s, double *ret) {
        if (!s || !*s || isspace((unsigned char) s[0]) || s[0] == '-' || s[0] == '+')
                return -EINVAL;
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || *end || !isfinite(v) || v < 0.01 || v > 4096)
                return -EINVAL;
        /* "0x1p3" and "inf" are numbers to strtod, not to people. */
        for (const char *p = s; *p; p++)
                if (!isdigit((unsigned char) *p) && *p != '.')
                        return -EINVAL;
        *ret = v;
        return 0;
}

int units_parse_bytes(const char *s, uint64_t *ret) {
        if (!s)
                return -EINVAL;
        const char *end;
        uint64_t v;
        int r = parse_u64_prefix(s, strlen(s), &end, &v);
        if (r < 0)
                return r;
        unsigned shift = 0;
        const char *u = end;
        if (*u) {
                switch (toupper((unsigned char) *u)) {
                case 'B':
                        shift = 0;
                        break;
                case 'K':
                        shift = 10;
                        break;
                case 'M':
                        shift = 20;
                        break;
                case 'G':
                        shift = 30;
                        break;
                case 'T':
                        shift = 40;
                        break;
                default:
                        return -EINVAL;
                }
                u++;
                if (shift && (strcasecmp(u, "iB") == 0 || strcasecmp(u, "B") == 0))
                        u += strlen(u);
                if (*u)
                        return -EINVAL;
        }
        if (shift && v > (UINT64_MAX >> shift))
                return -ERANGE;
        uint64_t bytes = (uint64_t) v << shift;
        if (bytes < (1u << 20))
                return -ERANGE;
        *ret = bytes;
        return 0;
}

char *units_format_bytes(char *buf, size_t n, double bytes) {
        static const char units[] = "BKMGTPE";
        if (!(bytes >= 0) || bytes > 1e30) {
                snprintf(buf, n, "-");
                return buf;
        }
        unsigned u = 0;
        while (bytes >= 1024 && u + 1 < sizeof(units) - 1) {
                bytes /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, n, "%.0fB", bytes);
        else if (bytes < 10)
                snprintf(buf, n, "%.1f%c", bytes, units[u]);
        else
                snprintf(buf, n, "%.0f%c", bytes, units[u]);
        return buf;
}
