/* The builds' side of OOM kills (see sampler-oom.h): matching the kernel's memory cgroup
 * path, or the victim's pid, to a tracked build, and reading its group's memory peak. */
#include "daemon/sampler-oom.h"

#include <string.h>

#include "basic/macro.h"
#include "daemon/sampler-internal.h"
#include "shared/cgroup.h"
#include "shared/model-proc.h"

void sampler_note_oom(Sampler *s, Tracked *t, Build *b) {
        CgUsage cu;
        if (!t->has_group || cg_group_usage(&t->group, /* full= */ true, &cu) < 0 || !cu.has_mem)
                return;
        t->mem_cgroup_peak = MAX(t->mem_cgroup_peak, cu.has_peak ? cu.mem_peak : cu.mem_current);
        BuildUsage u = b->usage;
        u.has_mem_cgroup = true;
        u.mem_cgroup_peak = t->mem_cgroup_peak;
        model_build_set_usage(s->d->model, b, &u);
}

/* memcg names path's group when path is <fs_root><mount><memcg>, or a group below it. */
static bool memcg_is(const CgHost *h, const char *mount, const char *path, const char *memcg) {
        const char *p = path, *root = h->fs_root ? h->fs_root : "";
        if (!mount || !p || strncmp(p, root, strlen(root)) != 0)
                return false;
        p += strlen(root);
        if (strncmp(p, mount, strlen(mount)) != 0)
                return false;
        p += strlen(mount);
        size_t n = strlen(p);
        return n > 0 && strncmp(memcg, p, n) == 0 && (memcg[n] == '\0' || memcg[n] == '/');
}

Tracked *sampler_find_victim(Sampler *s, const char *memcg, pid_t pid) {
        for (Tracked *t = s->tracked; memcg && t; t = t->next) {
                if (!t->has_group)
                        continue;
                if (s->host.v1[CG_MEMORY]
                            ? memcg_is(&s->host, s->host.v1[CG_MEMORY], t->group.v1[CG_MEMORY], memcg)
                            : memcg_is(&s->host, s->host.v2, t->group.v2, memcg))
                        return t;
        }
        for (Tracked *t = s->tracked; pid > 0 && t; t = t->next)
                if (t->builder == pid || sampler_find_proc(t->procs, t->n_procs, pid))
                        return t;
        return NULL;
}
