/* What the daemon's process and cgroup sampling tells the model about builds: figures,
 * frozen or running, killed on request, killed by the OOM killer, the builder's real end,
 * and builds rediscovered from /proc after a restart (no events for them). */
#include "shared/model-proc.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "shared/model-internal.h"
#include "shared/trust.h"

void build_finish_adjust(Build *b, BuildState *st, usec_t *when) {
        if (*st == BUILD_FAILED && b->kill_requested &&
            (b->failure == FAILURE_SIGNAL || b->failure == FAILURE_NONE || b->failure == FAILURE_NO_OUTPUTS))
                *st = BUILD_KILLED;
        if (*st == BUILD_FAILED && b->usage.oom_killed &&
            (b->failure == FAILURE_SIGNAL || b->failure == FAILURE_EXIT_CODE))
                b->failure = FAILURE_OOM;
        /* Nix 2.8 may hold a build's stop until the whole invocation ends (-k): the end of its
         * processes (else its builder's exit) is when the work really ended. Processes seen
         * after Nix's stop (a child that outlived the builder) end it later. */
        usec_t ended = b->procs_gone ? b->procs_gone : b->builder_exited;
        if (ended && ended >= b->started && (ended < *when || b->procs_after_stop))
                *when = ended;
}

/* Figures change all the time; CPU % is compared at a resolution that matters to a view. */
static bool usage_differs(const BuildUsage *a, const BuildUsage *b) {
        return a->sampled != b->sampled || a->cpu_user != b->cpu_user || a->cpu_system != b->cpu_system ||
               fabs(a->cpu_percent - b->cpu_percent) >= 0.05 || a->mem_current != b->mem_current ||
               a->mem_peak != b->mem_peak || a->has_mem_cgroup != b->has_mem_cgroup ||
               a->mem_cgroup != b->mem_cgroup || a->mem_cgroup_peak != b->mem_cgroup_peak ||
               a->io_read != b->io_read || a->io_write != b->io_write || a->n_procs != b->n_procs ||
               a->n_threads != b->n_threads || a->has_nice != b->has_nice || a->nice != b->nice ||
               a->cpu_limit != b->cpu_limit || a->mem_limit != b->mem_limit ||
               a->oom_killed != b->oom_killed || a->has_pressure != b->has_pressure ||
               fabs(a->pressure[PSI_CPU] - b->pressure[PSI_CPU]) >= 0.05 ||
               fabs(a->pressure[PSI_MEMORY] - b->pressure[PSI_MEMORY]) >= 0.05 ||
               fabs(a->pressure[PSI_IO] - b->pressure[PSI_IO]) >= 0.05 ||
               a->pressure_mem_peak != b->pressure_mem_peak;
}

void model_build_set_usage(Model *m, Build *b, const BuildUsage *u) {
        /* A sample after Nix's end of it (its stop, its outputs registered) still finds processes
         * of it: they are part of the build. */
        if (u->n_procs > 0 && b->finished && !build_state_is_final(b->state))
                b->procs_after_stop = true;
        /* Failures Nix counts from now on may be this build's (build_nix_moved_on). */
        if (u->n_procs > 0)
                b->failed_base = b->invocation->progress[3] - invocation_failed_ran(b->invocation);
        if (!usage_differs(&b->usage, u))
                return;
        bool oom = !b->usage.oom_killed && u->oom_killed;
        b->usage = *u;
        if (oom)
                model_build_oom_killed(m, b);
        build_mark(m, b, CHANGE_CHANGED);
}

void model_build_add_sample(Model *m, Build *b, usec_t at) {
        const BuildUsage *u = &b->usage;
        /* Out of memory: this sample is missing from it, nothing else. */
        (void) timeline_add(&b->timeline, at, u->cpu_percent, u->mem_current, u->n_procs,
                            u->io_read + u->io_write, u->has_pressure ? u->pressure[PSI_MEMORY] : -1);
}

void model_build_set_nice(Model *m, Build *b, int nice) {
        BuildUsage u = b->usage;
        u.has_nice = true;
        u.nice = nice;
        model_build_set_usage(m, b, &u);
}

void model_build_set_limits(Model *m, Build *b, double cpu_limit, uint64_t mem_limit) {
        BuildUsage u = b->usage;
        u.cpu_limit = cpu_limit;
        u.mem_limit = mem_limit;
        model_build_set_usage(m, b, &u);
}

void model_build_set_frozen(Model *m, Build *b, bool frozen) {
        usec_t now = now_realtime();
        if (frozen && b->state == BUILD_RUNNING) {
                build_set_state(m, b, BUILD_FROZEN);
                b->frozen_since = now;
        } else if (!frozen && b->state == BUILD_FROZEN) {
                build_set_state(m, b, BUILD_RUNNING);
                b->frozen_usec = build_frozen_time(b, now);
                b->frozen_since = 0;
        } else
                return;
        build_mark(m, b, CHANGE_CHANGED);
}

void model_build_kill_requested(Model *m, Build *b) {
        b->kill_requested = true;
        model_build_set_frozen(m, b, false);
        /* Already failed by a signal (the kill raced the report): it was killed. */
        if (b->state == BUILD_FAILED && b->failure == FAILURE_SIGNAL) {
                build_set_state(m, b, BUILD_KILLED);
                build_mark(m, b, CHANGE_CHANGED);
        }
}

void model_build_oom_killed(Model *m, Build *b) {
        b->usage.oom_killed = true;
        /* The builder died of it, or failed because one of its processes did. */
        if (b->state == BUILD_FAILED && (b->failure == FAILURE_SIGNAL || b->failure == FAILURE_EXIT_CODE)) {
                b->failure = FAILURE_OOM;
                build_mark(m, b, CHANGE_CHANGED);
        } else if (b->state == BUILD_FAILED && b->failure == FAILURE_NO_OUTPUTS &&
                   build_set_failure(b, FAILURE_OOM, OOM_REASON) >= 0) {
                /* Failed before Nix's word, the group's last look found it: a better reason. */
                build_mark(m, b, CHANGE_CHANGED);
                build_mark(m, b, CHANGE_REVISED);
        }
}

void model_build_builder_exited(Model *m, Build *b, usec_t when) {
        if (b->builder_exited || build_state_is_final(b->state))
                return;
        b->builder_exited = when;
        if (b->kill_requested) {
                /* We killed it: it ends now, whenever Nix gets to say so (2.8 with -k only
                 * reports failures when the whole invocation ends). */
                if (b->failure == FAILURE_NONE) {
                        (void) build_set_failure(b, FAILURE_SIGNAL, "killed on request (nix-analytics)");
                        b->signal = 9;
                }
                build_finish(m, b, BUILD_KILLED, when);
                return;
        }
        if (!b->rediscovered)
                return;
        /* No events will ever end a rediscovered build: its builder's exit does, and its
         * outputs say how. */
        b->n_activities_open = 0;
        build_decide(m, b, when, now_monotonic());
}

void model_build_processes_gone(Model *m, Build *b, usec_t when) {
        if (b->procs_gone || (b->state != BUILD_RUNNING && b->state != BUILD_FROZEN))
                return;
        b->procs_gone = when;
        if (!b->builder_exited)
                b->builder_exited = when;
        /* Nothing of it runs any more: finishing until its outputs or Nix say how it ended. */
        build_set_state(m, b, BUILD_FINISHING);
        build_mark(m, b, CHANGE_CHANGED);
        build_decide(m, b, when, now_monotonic());
}

void model_build_builder_outputs(Model *m, Build *b, const DrvOutput *outs, size_t n) {
        build_outputs_offer(m, b, outs, n);
}

int model_rediscovered_build(Model *m, pid_t nix_pid, uid_t uid, const char *drv, usec_t started,
                             Build **ret) {
        /* A stream may already report this build (it reconnected before /proc was read):
         * that build it is, not a second one; but only a stream that may own nix_pid. */
        for (Source *i = model_sources_first(m); i; i = i->next) {
                Build *known = invocation_find_build(&i->invocation, drv);
                if (known && !known->rediscovered && build_state_is_active(known->state) &&
                    trust_may_attach(m->config.proc_root, i, nix_pid)) {
                        *ret = known;
                        return 0;
                }
        }

        /* One source per nix process, as a connection would have been. */
        Source *s = NULL;
        for (Source *i = model_sources_first(m); i; i = i->next)
                if (i->pid == nix_pid && strcmp(i->role, "rediscovered") == 0 && !i->nix_exited) {
                        s = i;
                        break;
                }
        if (!s) {
                int r = model_source_new(m, nix_pid, uid, true, started, &s);
                if (r < 0)
                        return r;
                char *role = strdup("rediscovered");
                if (!role)
                        return -ENOMEM;
                free(s->role);
                s->role = role;
                s->hello = true;
        }
        Build *b = invocation_find_build(&s->invocation, drv);
        if (b && !build_state_is_final(b->state)) {
                *ret = b;
                return 0;
        }
        b = build_new(m, &s->invocation, drv, BUILD_RUNNING, started);
        if (!b)
                return -ENOMEM;
        b->rediscovered = true;
        b->n_activities_open = 1;
        if (!s->gone)
                model_source_disconnect(m, s, started); /* no stream: lost when nix exits */
        *ret = b;
        return 0;
}

Build *model_claim_rediscovered(Model *m, Invocation *inv, const char *drv) {
        for (Source *s = model_sources_first(m); s; s = s->next) {
                if (&s->invocation == inv || !s->role || strcmp(s->role, "rediscovered") != 0)
                        continue;
                Build *b = invocation_find_build(&s->invocation, drv);
                if (!b || !b->rediscovered || build_state_is_final(b->state))
                        continue;
                /* Only the stream of the nix process that runs it (or a trusted one). */
                if (!trust_may_attach(m->config.proc_root, inv->source, s->pid))
                        continue;

                Requester req;
                if (requester_copy(&inv->requester, &req) < 0)
                        return NULL; /* out of memory: the stream's build is made anew */
                requester_done(&b->requester);
                b->requester = req;
                build_move(b, inv);
                b->rediscovered = false;
                b->n_activities_open = 0;
                build_mark(m, b, CHANGE_CHANGED);
                return b;
        }
        return NULL;
}
