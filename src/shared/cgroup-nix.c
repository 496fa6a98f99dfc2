/* Nix's own build cgroups (see the header). */
#include "shared/cgroup-nix.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool all_digits(const char *s, size_t len) {
        if (len == 0 || len > 20)
                return false;
        for (size_t i = 0; i < len; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

bool cg_nix_group_name(const char *name, size_t len) {
        static const char uid[] = "nix-build-uid-", pid[] = "nix-build-pid-", lix[] = "nix-build@";
        if (len > sizeof(uid) - 1 && strncmp(name, uid, sizeof(uid) - 1) == 0)
                return all_digits(name + sizeof(uid) - 1, len - (sizeof(uid) - 1));
        if (len > sizeof(pid) - 1 && strncmp(name, pid, sizeof(pid) - 1) == 0) {
                const char *p = name + sizeof(pid) - 1, *end = name + len;
                const char *dash = memchr(p, '-', (size_t) (end - p));
                return dash && all_digits(p, (size_t) (dash - p)) &&
                       all_digits(dash + 1, (size_t) (end - dash - 1));
        }
        if (len > sizeof(lix) - 1 && strncmp(name, lix, sizeof(lix) - 1) == 0) {
                const char *p = name + sizeof(lix) - 1, *end = name + len;
                const char *dash = memrchr(p, '-', (size_t) (end - p));
                return dash && dash > p && all_digits(dash + 1, (size_t) (end - dash - 1));
        }
        return false;
}

int cg_nix_build_group(const CgHost *h, const CgProcPaths *paths, CgGroup *ret) {
        if (!h->v2 || !paths->v2 || paths->v2[0] != '/')
                return 0;
        const char *p = paths->v2;
        while (*p == '/') {
                const char *name = p + 1;
                size_t n = strcspn(name, "/");
                if (cg_nix_group_name(name, n)) {
                        CgGroup g = {};
                        if (asprintf(&g.v2, "%s%s%.*s", h->fs_root ? h->fs_root : "", h->v2,
                                     (int) (name + n - paths->v2), paths->v2) < 0)
                                return -ENOMEM;
                        *ret = g;
                        return 1;
                }
                p = name + n;
        }
        return 0;
}
