/* The targeted look at ended builds (see sampler-ended.h): a build's builder and its last
 * known processes are checked by pid and start time, its group by its pid list. */
#include "daemon/sampler-ended.h"

#include <errno.h>

#include "daemon/notify.h"
#include "daemon/sampler-internal.h"
#include "shared/pidref.h"

/* Are all the processes t had at its last sample gone (exited, zombies, or pids reused)? */
static bool known_procs_gone(Sampler *s, const Tracked *t) {
        for (uint32_t i = 0; i < t->n_procs; i++)
                if (pidref_check_pid(s->cfg.proc_root, t->procs[i].st.pid, t->procs[i].st.starttime) == 0)
                        return false;
        return true;
}

void sampler_check_ended(Sampler *s) {
        Model *m = s->d->model;
        bool full = false;
        for (Tracked *t = s->tracked; t; t = t->next) {
                Build *b = model_build_by_key(m, t->key);
                if (!b || b->state != BUILD_RUNNING)
                        continue;
                if (!t->builder_gone) {
                        if (pidref_verify(&t->builder_ref, s->cfg.proc_root) != -ESRCH)
                                continue;
                        t->builder_gone = true;
                        pidref_done(&t->builder_ref);
                }
                /* Without a group of its own, a process forked since the last sample is seen
                 * only in the whole table. */
                if (!t->has_group || t->adopt_failed) {
                        full = true;
                        continue;
                }
                if (!known_procs_gone(s, t) || sampler_group_populated(t))
                        continue;
                /* Its last sample, with nothing left: the group's final figures, and its end. */
                t->n_next = 0;
                t->gather_failed = false;
                sampler_sample_build(s, t, b, now_monotonic());
                notify_processes(s->d, b);
        }
        if (!full)
                return;
        if (now_monotonic() >= s->last_run + FAST_INTERVAL)
                sampler_run(s);
        else
                sampler_kick(s);
}
