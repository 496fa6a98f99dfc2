/* A build's processes as the protocol shows them (see processes.h). */
#include "daemon/processes.h"

#include <math.h>
#include <stdlib.h>

#include "basic/macro.h"
#include "daemon/actions-remote.h"
#include "daemon/sampler.h"
#include "daemon/tracker.h"
#include "shared/cgroup.h"

static cJSON *proc_to_json(Daemon *d, const TrackedProc *p) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddNumberToObject(o, "pid", p->st.pid);
        cJSON_AddNumberToObject(o, "ppid", p->st.ppid);
        cJSON_AddNumberToObject(o, "pgid", p->st.pgid);
        cJSON_AddNumberToObject(o, "sid", p->st.sid);
        cJSON_AddNumberToObject(o, "uid", p->uid);
        cJSON_AddStringToObject(o, "comm", p->st.comm);
        if (p->cmdline)
                cJSON_AddStringToObject(o, "cmdline", p->cmdline);
        else
                cJSON_AddNullToObject(o, "cmdline");
        char state[2] = {p->st.state, '\0'};
        cJSON_AddStringToObject(o, "state", state);
        cJSON_AddNumberToObject(o, "cpu_user", usec_to_sec(p->st.utime));
        cJSON_AddNumberToObject(o, "cpu_system", usec_to_sec(p->st.stime));
        cJSON_AddNumberToObject(o, "cpu_percent", round(p->cpu_percent * 10) / 10);
        cJSON_AddNumberToObject(o, "rss", (double) p->st.rss);
        cJSON_AddNumberToObject(o, "threads", p->st.threads);
        cJSON_AddNumberToObject(o, "nice", p->st.nice);
        cJSON_AddNumberToObject(o, "io_read", (double) p->io_read);
        cJSON_AddNumberToObject(o, "io_write", (double) p->io_write);
        return o;
}

/* A get-processes object for b with its (empty) process list in *ret_arr. NULL on OOM. */
static cJSON *processes_new(const Build *b, cJSON **ret_arr) {
        cJSON *o = cJSON_CreateObject();
        cJSON *arr = o ? cJSON_AddArrayToObject(o, "processes") : NULL;
        if (!arr) {
                cJSON_Delete(o);
                return NULL;
        }
        cJSON_AddNumberToObject(o, "build", (double) b->key);
        *ret_arr = arr;
        return o;
}

/* The list is ordered by pid (ppid gives the tree). */
cJSON *processes_to_json(Daemon *d, const Build *b) {
        Tracked *t = d->sampler ? sampler_find(d->sampler, b->key) : NULL;
        cJSON *arr, *o = processes_new(b, &arr);
        if (!o)
                return NULL;
        if (!t) {
                cJSON_AddNullToObject(o, "builder");
                cJSON_AddNullToObject(o, "cgroup");
                cJSON_AddStringToObject(o, "control", "none");
                return o;
        }
        cJSON_AddNumberToObject(o, "builder", t->builder);
        if (t->has_group) {
                cJSON *cg = cJSON_AddObjectToObject(o, "cgroup");
                if (cg) {
                        if (t->group.v2)
                                cJSON_AddStringToObject(cg, "v2", t->group.v2);
                        for (int i = 0; i < _CG_CONTROLLER_MAX; i++)
                                if (t->group.v1[i])
                                        cJSON_AddStringToObject(cg, cg_controller_to_string(i),
                                                                t->group.v1[i]);
                        cJSON_AddStringToObject(cg, "owner", t->nix_group ? "nix" : "nix-analyticsd");
                }
        } else
                cJSON_AddNullToObject(o, "cgroup");
        cJSON_AddStringToObject(o, "control", t->has_group ? "cgroup" : "signals");
        for (uint32_t i = 0; i < t->n_procs; i++) {
                cJSON *p = proc_to_json(d, &t->procs[i]);
                if (!p || !cJSON_AddItemToArray(arr, p)) {
                        cJSON_Delete(p);
                        cJSON_Delete(o);
                        return NULL;
                }
        }
        return o;
}

cJSON *processes_remote_to_json(Daemon *d, const Build *b) {
        cJSON *arr, *o = processes_new(b, &arr);
        if (!o)
                return NULL;
        cJSON_AddNullToObject(o, "builder");
        cJSON_AddNullToObject(o, "cgroup");
        cJSON_AddStringToObject(o, "control", "remote-hook");
        pid_t hook = 0;
        TrackedProc *procs = NULL;
        _cleanup_free_ char *why = NULL;
        int n = build_state_is_active(b->state) ? remote_local_side(d, b, &hook, &procs, &why) : 0;
        if (n < 0) {
                cJSON_Delete(o);
                return NULL;
        }
        if (hook > 0)
                cJSON_AddNumberToObject(o, "hook", hook);
        else
                cJSON_AddNullToObject(o, "hook");
        if (why)
                cJSON_AddStringToObject(o, "hook_error", why);
        for (int i = 0; i < n; i++) {
                cJSON *p = proc_to_json(d, &procs[i]);
                if (!p || !cJSON_AddItemToArray(arr, p)) {
                        cJSON_Delete(p);
                        cJSON_Delete(o);
                        o = NULL;
                        break;
                }
        }
        remote_local_side_free(procs, (size_t) MAX(n, 0));
        return o;
}
