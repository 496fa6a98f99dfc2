/* Acting on one build, through its cgroup where it has one, else by signals. */
#include "daemon/actions.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "daemon/actions-remote.h"
#include "shared/model-proc.h"
#include "shared/proto.h"

static const char *const action_names[_ACTION_MAX] = {
        [ACTION_KILL] = "kill", [ACTION_FREEZE] = "freeze",       [ACTION_THAW] = "thaw",
        [ACTION_NICE] = "nice", [ACTION_CPU_LIMIT] = "cpu-limit", [ACTION_MEM_LIMIT] = "mem-limit",
};

const char *action_kind_to_string(ActionKind k) {
        return k >= 0 && k < _ACTION_MAX ? action_names[k] : NULL;
}

void action_outcome_done(ActionOutcome *o) {
        free(o->mechanism);
        free(o->error);
        *o = (ActionOutcome){};
}

int action_fail(ActionOutcome *o, const char *code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        free(o->error);
        if (vasprintf(&o->error, fmt, ap) < 0)
                o->error = NULL;
        va_end(ap);
        o->code = code;
        return -EINVAL;
}

int action_say(ActionOutcome *o, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        free(o->mechanism);
        if (vasprintf(&o->mechanism, fmt, ap) < 0)
                o->mechanism = NULL;
        va_end(ap);
        return o->mechanism ? 0 : -ENOMEM;
}

/* The signal fallback: the builder's process group (its whole session as Nix starts it),
 * then every process of the build one by one for those that left the group. The group is
 * signalled as a whole only while its leader, the builder, is verified the same process: a
 * process group id cannot be reused while its leader lives. Otherwise (and for every
 * straggler) each process is signalled through a pidfd opened after checking its start time.
 * *ret_errno: the first error, for the message. */
static unsigned signal_build(Sampler *s, Tracked *t, int sig, int *ret_errno) {
        const char *root = sampler_proc_root(s);
        unsigned n = 0;
        int err = ESRCH;
        bool leader = !t->builder_gone && pidref_verify(&t->builder_ref, root) == 0;
        if (leader) {
                if (kill(-t->builder, sig) == 0)
                        n++;
                else
                        err = errno;
        }
        for (uint32_t i = 0; i < t->n_procs; i++) {
                const ProcStat *st = &t->procs[i].st;
                if (leader && st->pgid == t->builder)
                        continue;
                int r = pidref_kill_pid(root, st->pid, st->starttime, sig);
                if (r == 0)
                        n++;
                else if (r != -ESRCH && err == ESRCH)
                        err = -r;
        }
        *ret_errno = err;
        return n;
}

/* An action on a build whose builder is gone would hit its pid, group or session, which
 * may be someone else's by now: refused, whatever processes still carry its session id. */
static bool builder_gone(Sampler *s, Tracked *t) {
        if (!t->builder_gone && pidref_verify(&t->builder_ref, sampler_proc_root(s)) < 0) {
                t->builder_gone = true;
                pidref_done(&t->builder_ref);
        }
        return t->builder_gone;
}

/* Why a cgroup action cannot run on this build: a sentence for the user. */
static int no_controller(Sampler *s, Tracked *t, const char *what, ActionOutcome *o) {
        if (!sampler_cgroups_enabled(s))
                return action_fail(
                        o, NA_ERR_UNSUPPORTED,
                        "no writable %s controller: cgroups are disabled or absent on this host (daemon "
                        "started with --no-cgroups, or no cgroup mount)",
                        what);
        if (!t->has_group)
                return action_fail(o, NA_ERR_UNSUPPORTED,
                                   "no writable %s controller for build %" PRIu64
                                   ": it could not be given a cgroup "
                                   "(see the daemon's log)",
                                   what, t->key);
        const CgHost *h = sampler_host(s);
        return action_fail(
                o, NA_ERR_UNSUPPORTED,
                "no writable %s controller on this host: cgroup layout %s, no %s controller in the "
                "build's v2 group%s and no v1 %s hierarchy",
                what, cg_layout_to_string(h->layout), what, t->nix_group ? " (Nix's own)" : "", what);
}

static int do_kill(Daemon *d, Sampler *s, Tracked *t, Build *b, ActionOutcome *o) {
        const char *mech;
        int r = -EOPNOTSUPP;
        if (t->has_group) {
                /* A v1-frozen task dies from SIGKILL only once thawed. */
                if (!t->group.v2 && t->group.v1[CG_FREEZER])
                        (void) cg_group_freeze(&t->group, false, &mech);
                r = cg_group_kill(&t->group, &mech);
                if (r == 0) {
                        model_build_kill_requested(d->model, b);
                        return action_say(o, "%s", mech);
                }
        }
        int err, ignored;
        unsigned n = signal_build(s, t, SIGKILL, &err);
        if (t->signal_frozen)
                signal_build(s, t, SIGCONT, &ignored);
        t->signal_frozen = false;
        if (n == 0 && err == ESRCH)
                return action_fail(o, NA_ERR_NO_PROCESS, "build %" PRIu64 " has no process left to kill",
                                   t->key);
        if (n == 0)
                return action_fail(o, NA_ERR_FAILED, "SIGKILL to build %" PRIu64 " (process group %d): %s",
                                   t->key, (int) t->builder, strerror(err));
        model_build_kill_requested(d->model, b);
        return action_say(o, "SIGKILL to process group %d and its stragglers%s", (int) t->builder,
                          r == -EOPNOTSUPP && t->has_group ? " (no cgroup.kill in its group)" : "");
}

static int do_freeze(Daemon *d, Sampler *s, Tracked *t, Build *b, bool freeze, ActionOutcome *o) {
        const char *mech;
        if (t->has_group) {
                int r = cg_group_freeze(&t->group, freeze, &mech);
                if (r == 0) {
                        /* The state shown follows cgroup.events / freezer.state, read now and
                         * at every sample. */
                        CgUsage u;
                        if (cg_group_usage(&t->group, /* full= */ false, &u) == 0 &&
                            u.freeze != CG_FREEZE_UNKNOWN && u.freeze != CG_FREEZE_FREEZING)
                                model_build_set_frozen(d->model, b, u.freeze == CG_FREEZE_FROZEN);
                        sampler_kick(s);
                        return action_say(o, "%s", mech);
                }
                if (r != -EOPNOTSUPP)
                        return action_fail(o, NA_ERR_FAILED,
                                           "cannot %s build %" PRIu64 " through its cgroup: %s",
                                           freeze ? "freeze" : "thaw", t->key, strerror(-r));
        }
        int err;
        unsigned n = signal_build(s, t, freeze ? SIGSTOP : SIGCONT, &err);
        if (n == 0 && err == ESRCH)
                return action_fail(o, NA_ERR_NO_PROCESS, "build %" PRIu64 " has no process left to %s",
                                   t->key, freeze ? "freeze" : "thaw");
        if (n == 0)
                return action_fail(o, NA_ERR_FAILED, "%s to build %" PRIu64 " (process group %d): %s",
                                   freeze ? "SIGSTOP" : "SIGCONT", t->key, (int) t->builder, strerror(err));
        t->signal_frozen = freeze;
        model_build_set_frozen(d->model, b, freeze);
        sampler_kick(s);
        return action_say(o, "%s to process group %d and its stragglers", freeze ? "SIGSTOP" : "SIGCONT",
                          (int) t->builder);
}

static int do_nice(Daemon *d, Sampler *s, Tracked *t, Build *b, int nice, ActionOutcome *o) {
        unsigned done = 0, failed = 0;
        int first_errno = 0;
        for (uint32_t i = 0; i < t->n_procs; i++) {
                int r = pidref_set_nice_pid(sampler_proc_root(s), t->procs[i].st.pid,
                                            t->procs[i].st.starttime, nice);
                if (r == 0) {
                        t->procs[i].st.nice = nice;
                        done++;
                } else if (r != -ESRCH) {
                        failed++;
                        if (!first_errno)
                                first_errno = -r;
                }
        }
        if (done == 0 && failed > 0)
                return action_fail(o, NA_ERR_FAILED, "setpriority(%d) on build %" PRIu64 ": %s", nice,
                                   t->key, strerror(first_errno));
        t->has_nice = true;
        t->nice = nice;
        model_build_set_nice(d->model, b, t->nice);
        const char *mech = NULL;
        if (t->has_group)
                (void) cg_group_set_weight(&t->group, nice, &mech);
        return action_say(o, "setpriority on %u process(es), and on new ones as they appear%s%s", done,
                          mech ? ", " : "", mech ? mech : "");
}

static int do_cpu_limit(Daemon *d, Sampler *s, Tracked *t, Build *b, double cores, ActionOutcome *o) {
        if (!t->has_group)
                return no_controller(s, t, "cpu", o);
        const char *mech;
        int r = cg_group_set_cpu_limit(&t->group, cores, &mech);
        if (r == -EOPNOTSUPP)
                return no_controller(s, t, "cpu", o);
        if (r < 0)
                return action_fail(o, NA_ERR_FAILED, "cannot set the CPU limit of build %" PRIu64 ": %s",
                                   t->key, strerror(-r));
        t->cpu_limit = cores;
        model_build_set_limits(d->model, b, t->cpu_limit, t->mem_limit);
        return action_say(o, "%s", mech);
}

static int do_mem_limit(Daemon *d, Sampler *s, Tracked *t, Build *b, uint64_t bytes, ActionOutcome *o) {
        if (!t->has_group)
                return no_controller(s, t, "memory", o);
        const char *mech;
        int r = cg_group_set_mem_limit(&t->group, bytes, &mech);
        if (r == -EOPNOTSUPP)
                return no_controller(s, t, "memory", o);
        if (r == -EBUSY)
                return action_fail(o, NA_ERR_FAILED,
                                   "cannot set the memory limit of build %" PRIu64 " to %" PRIu64
                                   " bytes: it uses more and the kernel could not reclaim enough",
                                   t->key, bytes);
        if (r < 0)
                return action_fail(o, NA_ERR_FAILED, "cannot set the memory limit of build %" PRIu64 ": %s",
                                   t->key, strerror(-r));
        t->mem_limit = bytes;
        model_build_set_limits(d->model, b, t->cpu_limit, t->mem_limit);
        return action_say(o, "%s", mech);
}

int action_run(Daemon *d, Sampler *s, Tracked *t, Build *b, const ActionRequest *req, ActionOutcome *ret) {
        if (b->machine[0])
                return action_run_remote(d, b, req, ret);
        if (!t)
                return action_fail(ret, NA_ERR_NO_PROCESS, "build %" PRIu64 " (%s) has no known process",
                                   b->key, b->name);
        if (builder_gone(s, t))
                return action_fail(ret, NA_ERR_NO_PROCESS,
                                   "build %" PRIu64 " (%s): its builder (pid %d) is gone; nothing was %s",
                                   b->key, b->name, (int) t->builder,
                                   req->kind == ACTION_KILL ? "killed" : "acted on");
        switch (req->kind) {
        case ACTION_KILL:
                return do_kill(d, s, t, b, ret);
        case ACTION_FREEZE:
                return do_freeze(d, s, t, b, true, ret);
        case ACTION_THAW:
                return do_freeze(d, s, t, b, false, ret);
        case ACTION_NICE:
                return do_nice(d, s, t, b, req->nice, ret);
        case ACTION_CPU_LIMIT:
                return do_cpu_limit(d, s, t, b, req->cores, ret);
        case ACTION_MEM_LIMIT:
                return do_mem_limit(d, s, t, b, req->bytes, ret);
        default:
                return action_fail(ret, NA_ERR_BAD_REQUEST, "unknown action");
        }
}
