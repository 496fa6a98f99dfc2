/* Internals shared by the model's own files (model.c lists them with their jobs). Not for
 * views. */
#pragma once

#include "shared/model.h"

struct Model {
        ModelConfig config;

        Build *builds_by_key; /* hh_key */
        Build *first, *last;  /* by key */
        Build *rechecks;      /* builds with an output_check_at (maybe past): model_tick's */
        uint64_t next_key;
        uint32_t n_finished;

        Source *sources; /* hh by id */
        Source *sources_first, *sources_last;
        uint64_t next_source_id;
        uint32_t sources_waiting; /* gone sources whose nix process may still run */

        ModelCounters counters;

        Build *dirty_builds;
        Invocation *dirty_invocations;
        Source *dirty_sources;

        usec_t next_lost_check; /* monotonic */
        usec_t wake_at;         /* monotonic: the earliest model_tick asked for since the last take */
        /* Nix counted a build done or failed while builds of its invocation still had
         * processes at the last sample: one of them may have just ended (model_take_sample). */
        bool sample_wanted;

        struct ModelMachine *machines; /* model-machines.c: hash by key, in display order */
        uint32_t n_discovered_machines;
        uint64_t dispatches; /* builds dispatched to a machine so far (Build.dispatch_seq) */
        Substitution *substitutions, **substitutions_tail; /* ended, not yet drained */
        uint32_t n_substitutions;
        ModelBuildQuota build_quota;
        LogBudget log_budget; /* of every build's log ring */
        /* Some rediscovered build or invocation waits for its stream to come back
         * (model-resume.c): records for unknown activities are looked at only then. */
        bool resumable;
};

/* model-changes.c: b, inv or s changed in the way k says; views hear of it at the drain. */
void build_mark(Model *m, Build *b, ChangeKind k);
void invocation_mark(Model *m, Invocation *inv, ChangeKind k);
void source_mark(Model *m, Source *s, ChangeKind k);
/* Brings b's invocation's counts up to b's state and failure (at the drain, and before b
 * leaves its invocation). */
void build_recount(Model *m, Build *b);

/* model.c: finished builds past max_finished (and sources with nothing left) are dropped. */
void model_evict(Model *m);
void model_evict_if_needed(Model *m);

/* model-resume.c: a record of s for an activity it never started here, id: an activity a
 * rediscovered build (or its invocation) had on this nix process's stream before the daemon's
 * restart, taken over by s when it may own that process; else NULL. */
Activity *activity_resume(Model *m, Source *s, uint64_t id);

/* model-apply.c */
void activity_free(Model *m, Source *s, Activity *a);
void source_free(Model *m, Source *s);

/* model-build.c */
Build *build_new(Model *m, Invocation *inv, const char *drv, BuildState st, usec_t now);
void build_finish(Model *m, Build *b, BuildState st, usec_t now);
/* b becomes a build of invocation to (its drv index, count and running list). */
void build_move(Build *b, Invocation *to);
/* Records why a build failed: the first line of message, without Nix's trailing ';'. */
int build_set_failure(Build *b, FailureKind kind, const char *message);
Build *invocation_find_build(Invocation *inv, const char *drv);
void build_set_state(Model *m, Build *b, BuildState st);
void build_free(Model *m, Build *b);
/* b leaves the list of builds model_tick looks at again (it is over, or active again). */
void build_recheck_done(Model *m, Build *b);

/* A "msg" record: build plans ("these N derivations will be built:") and failures. */
int model_apply_msg(Model *m, Source *s, const NixRecord *rec, usec_t now);
/* A structured build result (Determinate Nix's result type 110): the build's outcome. */
int model_apply_build_result(Model *m, Source *s, const NixRecord *rec, usec_t now);

/* A failure's message when the kernel's OOM killer is all that is known of it. */
#define OOM_REASON "the kernel's OOM killer ended a process of it (memory limit)"

/* model-outcome.c */
/* Decides the end state of a build whose activities all stopped (outputs present?). */
void build_decide(Model *m, Build *b, usec_t now, usec_t now_mono);
/* Outputs of b from elsewhere than its .drv (its builder's environment), taken only when the
 * .drv cannot tell them (not in this store). */
void build_outputs_offer(Model *m, Build *b, const DrvOutput *outs, size_t n);
/* No sign that b's builder ever ran. */
bool build_never_ran(const Build *b);
/* inv's progress counters moved: its finishing builds are decided again, and running builds
 * whose processes are not followed end once their outputs are valid. */
void invocation_progress_moved(Model *m, Invocation *inv, usec_t now);
/* s's nix process is gone: its builds that are still active end (lost, failed, decided). */
void source_nix_exited(Model *m, Source *s, usec_t now);
/* The invocation's builds that ran and failed as Nix counts them: those ended so, and those
 * Nix gave its reason for that have not ended yet (their processes not yet seen gone). */
int64_t invocation_failed_ran(const Invocation *inv);
/* model_tick is wanted at when (monotonic) or before. */
void model_wake_at(Model *m, usec_t when);
/* What processes tell about an ending build (model-proc.c): a requested kill makes a
 * failure "killed"; the builder's exit is the real end time. */
void build_finish_adjust(Build *b, BuildState *st, usec_t *when);
/* Substitutions (model-subst.c): an activity 108 starts and stops; ended ones are reported
 * to views by model_drain_changes. */
int subst_start(Model *m, Activity *a, const NixRecord *rec, usec_t now);
void subst_stop(Model *m, Source *s, Activity *a, usec_t now);
void subst_activity_done(Activity *a);
void subst_drain(Model *m, const ModelChangeHandler *h, void *userdata);
int requester_copy(const Requester *from, Requester *to);
void requester_done(Requester *r);
