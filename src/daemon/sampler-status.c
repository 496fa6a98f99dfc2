/* The sampler's settings and costs, as the status command shows them (see sampler-status.h). */
#include "daemon/sampler-status.h"

#include "daemon/sampler.h"
#include "shared/cgroup-delegate.h"
#include "shared/cgroup.h"

/* cgroup_root (v2's, else the first v1 hierarchy's), cgroup_roots (per hierarchy),
 * cgroup_root_source, cgroup_service (the delegated service group). NULL roots: no cgroups. */
static void roots_to_json(cJSON *o, const CgRoots *r) {
        const char *primary = r ? cg_roots_primary(r) : NULL;
        if (primary)
                cJSON_AddStringToObject(o, "cgroup_root", primary);
        else
                cJSON_AddNullToObject(o, "cgroup_root");
        cJSON *per = cJSON_AddObjectToObject(o, "cgroup_roots");
        if (per && r && r->root.v2)
                cJSON_AddStringToObject(per, "v2", r->root.v2);
        for (int c = 0; per && r && c < _CG_CONTROLLER_MAX; c++)
                if (r->root.v1[c])
                        cJSON_AddStringToObject(per, cg_controller_to_string(c), r->root.v1[c]);
        if (r)
                cJSON_AddStringToObject(o, "cgroup_root_source", cg_root_source_to_string(r->source));
        else
                cJSON_AddNullToObject(o, "cgroup_root_source");
        if (r && r->service)
                cJSON_AddStringToObject(o, "cgroup_service", r->service);
        else
                cJSON_AddNullToObject(o, "cgroup_service");
}

cJSON *sampler_status_json(Daemon *d) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !d->sampler)
                return o;
        SamplerStats st;
        sampler_stats(d->sampler, &st);
        const CgHost *h = sampler_host(d->sampler);
        cJSON_AddNumberToObject(o, "interval", usec_to_sec(d->config.sample_interval));
        cJSON_AddStringToObject(o, "cgroups",
                                sampler_cgroups_enabled(d->sampler) ? cg_layout_to_string(h->layout)
                                                                    : "disabled");
        roots_to_json(o, sampler_cgroups_enabled(d->sampler) ? sampler_roots(d->sampler) : NULL);
        cJSON_AddNumberToObject(o, "builds", st.tracked);
        cJSON_AddNumberToObject(o, "processes_scanned", (double) st.last_procs);
        cJSON_AddNumberToObject(o, "samples", (double) st.ticks);
        cJSON_AddNumberToObject(o, "last_ms", (double) st.last_tick_usec / 1000.0);
        cJSON_AddNumberToObject(o, "max_ms", (double) st.max_tick_usec / 1000.0);
        cJSON_AddNumberToObject(o, "total_ms", (double) st.total_usec / 1000.0);
        /* .drv and structured-attrs files read off the event loop (discover.c) */
        WorkQueueStats ws;
        sampler_read_stats(d->sampler, &ws);
        cJSON *reads = cJSON_AddObjectToObject(o, "file_reads");
        if (reads) {
                cJSON_AddNumberToObject(reads, "waiting", ws.waiting);
                cJSON_AddNumberToObject(reads, "done", (double) ws.done);
                cJSON_AddNumberToObject(reads, "refused", (double) ws.refused);
                cJSON_AddNumberToObject(reads, "max_ms", (double) ws.max_run_usec / 1000.0);
        }
        return o;
}
