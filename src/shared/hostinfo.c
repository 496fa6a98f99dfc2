/* The machine's own figures from /proc (see hostinfo.h). */
#include "shared/hostinfo.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "shared/psi.h"

#define HOST_FILE_MAX (64u << 10)

/* The line of buf (len bytes) that starts with key, as a NUL-terminated copy in line; NULL
 * when none. */
static const char *find_line(const char *buf, size_t len, const char *key, char *line, size_t size) {
        size_t kl = strlen(key);
        for (size_t at = 0; at < len;) {
                const char *start = buf + at, *nl = memchr(start, '\n', len - at);
                size_t ll = nl ? (size_t) (nl - start) : len - at;
                if (ll >= kl && memcmp(start, key, kl) == 0) {
                        size_t n = MIN(ll, size - 1);
                        memcpy(line, start, n);
                        line[n] = '\0';
                        return line;
                }
                at += ll + 1;
        }
        return NULL;
}

int hostinfo_parse_cpu(const char *buf, size_t len, HostCpuTimes *ret) {
        char line[512];
        if (!find_line(buf, len, "cpu ", line, sizeof(line)))
                return -EBADMSG;
        unsigned long long v[10] = {};
        int n = sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                       &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
        if (n < 4)
                return -EBADMSG;
        /* user nice system idle iowait irq softirq steal (guest and guest_nice are within user
         * and nice already) */
        uint64_t total = 0;
        for (int i = 0; i < MIN(n, 8); i++)
                total += v[i];
        *ret = (HostCpuTimes){.busy = total - v[3] - v[4], .total = total};
        return 0;
}

static bool meminfo_kb(const char *buf, size_t len, const char *key, uint64_t *ret) {
        char line[256];
        unsigned long long kb;
        if (!find_line(buf, len, key, line, sizeof(line)) || sscanf(line + strlen(key), " %llu", &kb) != 1 ||
            kb > UINT64_MAX / 1024)
                return false;
        *ret = kb * 1024;
        return true;
}

int hostinfo_parse_meminfo(const char *buf, size_t len, HostMemory *ret) {
        HostMemory m = {};
        if (!meminfo_kb(buf, len, "MemTotal:", &m.total))
                return -EBADMSG;
        if (!meminfo_kb(buf, len, "MemAvailable:", &m.available))
                (void) meminfo_kb(buf, len, "MemFree:", &m.available);
        (void) meminfo_kb(buf, len, "SwapTotal:", &m.swap_total);
        (void) meminfo_kb(buf, len, "SwapFree:", &m.swap_free);
        m.available = MIN(m.available, m.total);
        m.swap_free = MIN(m.swap_free, m.swap_total);
        *ret = m;
        return 0;
}

int hostinfo_parse_psi(const char *buf, size_t len, double *ret) {
        PsiSome some;
        int r = psi_parse_some(buf, len, &some);
        if (r < 0)
                return r;
        *ret = some.avg10;
        return 0;
}

static int read_proc(const char *proc_root, const char *name, char **ret, size_t *ret_len) {
        char path[PATH_MAX];
        if ((size_t) snprintf(path, sizeof(path), "%s/%s", proc_root, name) >= sizeof(path))
                return -ENAMETOOLONG;
        return read_full_file(path, HOST_FILE_MAX, ret, ret_len);
}

int hostinfo_read_cpu(const char *proc_root, HostCpuTimes *ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_proc(proc_root, "stat", &buf, &len);
        return r < 0 ? r : hostinfo_parse_cpu(buf, len, ret);
}

int hostinfo_read_memory(const char *proc_root, HostMemory *ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_proc(proc_root, "meminfo", &buf, &len);
        return r < 0 ? r : hostinfo_parse_meminfo(buf, len, ret);
}

int hostinfo_read_psi(const char *proc_root, const char *what, double *ret) {
        char name[64];
        snprintf(name, sizeof(name), "pressure/%s", what);
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_proc(proc_root, name, &buf, &len);
        return r < 0 ? r : hostinfo_parse_psi(buf, len, ret);
}
