/* Acting on one build, through its cgroup where it has one, else by signals. */
#include "daemon/actions.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

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
 * then every process of the build one by one for those that left the group. */
static unsigned signal_build(Tracked *t, int sig) {
        unsigned n = 0;
        if (kill(-t->builder, sig) == 0)
                n++;
        for (uint32_t i = 0; i < t->n_procs; i++)
                if (t->procs[i].st.pgid != t->builder && kill(t->procs[i].st.pid, sig) == 0)
                        n++;
        return n;
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
        if (t->n_procs == 0 && kill(t->builder, 0) < 0)
                return action_fail(o, NA_ERR_FAILED, "build %" PRIu64 " has no process left to kill",
                                   t->key);
        unsigned n = signal_build(t, SIGKILL);
        if (t->signal_frozen)
                signal_build(t, SIGCONT);
        t->signal_frozen = false;
        if (n == 0)
                return action_fail(o, NA_ERR_FAILED, "SIGKILL to build %" PRIu64 " (process group %d): %s",
                                   t->key, (int) t->builder, strerror(errno));
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
        unsigned n = signal_build(t, freeze ? SIGSTOP : SIGCONT);
        if (n == 0)
                return action_fail(o, NA_ERR_FAILED, "%s to build %" PRIu64 " (process group %d): %s",
                                   freeze ? "SIGSTOP" : "SIGCONT", t->key, (int) t->builder,
                                   strerror(errno));
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
                if (setpriority(PRIO_PROCESS, (id_t) t->procs[i].st.pid, nice) == 0) {
                        t->procs[i].st.nice = nice;
                        done++;
                } else if (errno != ESRCH) {
                        failed++;
                        if (!first_errno)
                                first_errno = errno;
                }
        }
        if (done == 0 && failed > 0)
                return action_fail(o, NA_ERR_FAILED, "setpriority(%d) on build %" PRIu64 ": %s", nice,
                                   t->key, strerror(first_errno));
        t->has_nice = true;
        t->nice = nice;
        b->usage.has_nice = true;
        b->usage.nice = nice;
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
        b->usage.cpu_limit = cores;
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
        b->usage.mem_limit = bytes;
        return action_say(o, "%s", mech);
}

int action_run(Daemon *d, Sampler *s, Tracked *t, Build *b, const ActionRequest *req, ActionOutcome *ret) {
        if (b->machine[0])
                return action_run_remote(d, b, req, ret);
        if (!t)
                return action_fail(ret, NA_ERR_NO_PROCESS, "build %" PRIu64 " (%s) has no known process",
                                   b->key, b->name);
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
