/* Instants as people type them (see when.h). */
#include "shared/when.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "2h", "-90m", "30s ago", "1d": an age before now. */
static int parse_age(const char *s, usec_t now, usec_t *ret) {
        if (*s == '-')
                s++;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || !isdigit((unsigned char) *s))
                return -EINVAL;
        usec_t unit;
        switch (*end) {
        case 's':
                unit = USEC_PER_SEC;
                break;
        case 'm':
                unit = 60 * USEC_PER_SEC;
                break;
        case 'h':
                unit = 3600 * USEC_PER_SEC;
                break;
        case 'd':
                unit = 86400 * USEC_PER_SEC;
                break;
        default:
                return -EINVAL;
        }
        end++;
        if (strcmp(end, " ago") != 0 && *end != '\0')
                return -EINVAL;
        if (v > now / unit)
                return -EINVAL;
        *ret = now - v * unit;
        return 0;
}

/* "HH:MM" or "HH:MM:SS" into tm's clock; the rest must be empty. */
static bool parse_clock(const char *s, struct tm *tm) {
        int h, m, sec = 0, n = 0;
        if (sscanf(s, "%2d:%2d%n", &h, &m, &n) != 2)
                return false;
        if (s[n] == ':') {
                int n2 = 0;
                if (sscanf(s + n + 1, "%2d%n", &sec, &n2) != 1)
                        return false;
                n += 1 + n2;
        }
        if (s[n] != '\0' || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60)
                return false;
        tm->tm_hour = h;
        tm->tm_min = m;
        tm->tm_sec = sec;
        return true;
}

/* A clock time on the day days_back before now's (local time). */
static int parse_day_clock(const char *s, usec_t now, int days_back, bool before_now, usec_t *ret) {
        time_t t = (time_t) (now / USEC_PER_SEC);
        struct tm tm;
        if (!localtime_r(&t, &tm))
                return -EINVAL;
        if (!parse_clock(s, &tm))
                return -EINVAL;
        tm.tm_mday -= days_back;
        tm.tm_isdst = -1;
        time_t r = mktime(&tm);
        if (r == (time_t) -1)
                return -EINVAL;
        /* "03:12" typed at 01:00 means last night's. */
        if (before_now && (usec_t) r * USEC_PER_SEC > now) {
                tm.tm_mday--;
                tm.tm_isdst = -1;
                if ((r = mktime(&tm)) == (time_t) -1)
                        return -EINVAL;
        }
        if (r < 0)
                return -EINVAL;
        *ret = (usec_t) r * USEC_PER_SEC;
        return 0;
}

/* "2026-12-07", "2026-12-07T03:12[:30]", "2026-12-07 03:12", each with an optional "Z" or
 * "+HH:MM"/"-HH:MM" zone. */
static int parse_iso(const char *s, usec_t *ret) {
        struct tm tm = {};
        const char *p = strptime(s, "%Y-%m-%d", &tm);
        if (!p)
                return -EINVAL;
        if (*p == 'T' || *p == ' ') {
                const char *q = strptime(p + 1, "%H:%M:%S", &tm);
                if (!q)
                        q = strptime(p + 1, "%H:%M", &tm);
                if (!q)
                        return -EINVAL;
                p = q;
        }
        bool utc = false;
        long offset = 0;
        if (*p == 'Z' && p[1] == '\0')
                utc = true;
        else if ((*p == '+' || *p == '-') && strlen(p) == 6 && isdigit((unsigned char) p[1]) &&
                 isdigit((unsigned char) p[2]) && p[3] == ':' && isdigit((unsigned char) p[4]) &&
                 isdigit((unsigned char) p[5])) {
                utc = true;
                offset = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600L +
                         ((p[4] - '0') * 10 + (p[5] - '0')) * 60L;
                if (*p == '-')
                        offset = -offset;
        } else if (*p != '\0')
                return -EINVAL;
        tm.tm_isdst = -1;
        time_t r = utc ? timegm(&tm) - offset : mktime(&tm);
        if (r == (time_t) -1 || r < 0)
                return -EINVAL;
        *ret = (usec_t) r * USEC_PER_SEC;
        return 0;
}

int when_parse(const char *s, usec_t now, usec_t *ret) {
        while (isspace((unsigned char) *s))
                s++;
        if (strcmp(s, "now") == 0) {
                *ret = now;
                return 0;
        }
        if (*s == '@') {
                char *end;
                errno = 0;
                double v = strtod(s + 1, &end);
                if (errno || end == s + 1 || *end || !(v >= 0) || v > 1e11)
                        return -EINVAL;
                *ret = (usec_t) (v * 1e6);
                return 0;
        }
        if (strncmp(s, "yesterday ", 10) == 0)
                return parse_day_clock(s + 10, now, 1, false, ret);
        if (strncmp(s, "today ", 6) == 0)
                return parse_day_clock(s + 6, now, 0, false, ret);
        if (strchr(s, ':') && !strchr(s, '-'))
                return parse_day_clock(s, now, 0, true, ret);
        if (parse_age(s, now, ret) == 0)
                return 0;
        return parse_iso(s, ret);
}
