/* The kernel's pressure files (see psi.h). */
#include "shared/psi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"

/* The value of " key=" in line[0..len) as a double or an unsigned decimal. */
static const char *field(const char *line, size_t len, const char *key) {
        size_t kl = strlen(key);
        for (size_t i = 0; i + kl <= len; i++)
                if ((i == 0 || line[i - 1] == ' ') && memcmp(line + i, key, kl) == 0)
                        return line + i + kl;
        return NULL;
}

int psi_parse_some(const char *buf, size_t len, PsiSome *ret) {
        /* A copy of the line, NUL-terminated: strtod and strtoull need one, and a line longer
         * than any the kernel writes is not one of its. */
        char line[256];
        const char *start = NULL;
        size_t ll = 0;
        for (size_t at = 0; at < len;) {
                const char *s = buf + at, *nl = memchr(s, '\n', len - at);
                size_t n = nl ? (size_t) (nl - s) : len - at;
                if (n >= 5 && memcmp(s, "some ", 5) == 0) {
                        start = s;
                        ll = n;
                        break;
                }
                at += n + 1;
        }
        if (!start || ll >= sizeof(line) || memchr(start, '\0', ll))
                return -EBADMSG;
        memcpy(line, start, ll);
        line[ll] = '\0';

        const char *a = field(line, ll, "avg10="), *t = field(line, ll, "total=");
        if (!a || !t || !(*t >= '0' && *t <= '9'))
                return -EBADMSG;
        char *end;
        errno = 0;
        double avg = strtod(a, &end);
        if (end == a || (*end != ' ' && *end != '\0') || !(avg >= 0) || avg > 100)
                return -EBADMSG;
        unsigned long long total = strtoull(t, &end, 10);
        if (errno != 0 || (*end != ' ' && *end != '\0'))
                return -EBADMSG;
        *ret = (PsiSome){.avg10 = avg, .total = total};
        return 0;
}

const char *psi_resource_to_string(PsiResource r) {
        static const char *const names[_PSI_RESOURCE_MAX] = {
                [PSI_CPU] = "cpu",
                [PSI_MEMORY] = "memory",
                [PSI_IO] = "io",
        };
        return r >= 0 && r < _PSI_RESOURCE_MAX ? names[r] : NULL;
}

double psi_percent(uint64_t before, uint64_t after, uint64_t span) {
        if (span == 0 || after <= before)
                return 0;
        return MIN(100.0 * (double) (after - before) / (double) span, 100.0);
}
