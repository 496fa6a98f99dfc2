/* What the daemon's process and cgroup sampling tells the model about builds (model-proc.c). */
#pragma once

#include "shared/model.h"

/* New figures (marks the build changed when they differ). */
void model_build_set_usage(Model *m, Build *b, const BuildUsage *u);
/* The sampler took the figures now in b->usage at at (realtime): a point of its timeline. */
void model_build_add_sample(Model *m, Build *b, usec_t at);
/* An action set the build's niceness, or its CPU (cores, 0 none) and memory (bytes, 0 none)
 * limits: shown (and reported changed) at once rather than at the next sample, which copies
 * them again from what the daemon applied. */
void model_build_set_nice(Model *m, Build *b, int nice);
void model_build_set_limits(Model *m, Build *b, double cpu_limit, uint64_t mem_limit);
/* Frozen (from cgroup.events / freezer.state, or every process stopped) or running again. */
void model_build_set_frozen(Model *m, Build *b, bool frozen);
/* A kill action hit the build: the failure Nix reports for it makes it "killed". */
void model_build_kill_requested(Model *m, Build *b);
/* The kernel's OOM killer ended one of its processes: a failure by signal is an OOM kill. */
void model_build_oom_killed(Model *m, Build *b);
/* Its builder process ended at when (realtime): the build's real end time. A rediscovered
 * build (no events) ends here, succeeded when its outputs exist. */
void model_build_builder_exited(Model *m, Build *b, usec_t when);
/* Its builder and every process of it (its cgroup's, or its session's) are gone at when
 * (realtime): it is no longer running. It is finishing until its outputs are valid
 * (succeeded) or Nix moves on without them (failed), or succeeded or failed at once when
 * that is known already. */
void model_build_processes_gone(Model *m, Build *b, usec_t when);
/* The outputs its builder's environment names (a remote client's build, whose .drv this
 * store may not hold): what decides its end when the .drv cannot. */
void model_build_builder_outputs(Model *m, Build *b, const DrvOutput *outs, size_t n);
/* A running build found in /proc after a restart: nix_pid builds drv. One source (role
 * "rediscovered") per nix process; the build is lost if that process ends first. When a
 * stream already reports an active build of drv, that build is returned instead. */
int model_rediscovered_build(Model *m, pid_t nix_pid, uid_t uid, const char *drv, usec_t started,
                             Build **ret);
/* A stream now reports a build of drv for inv: an active rediscovered build of the same drv
 * is that build, seen from /proc first. It moves to inv (same key, figures and processes)
 * and events drive it from now on. NULL when there is none. */
Build *model_claim_rediscovered(Model *m, Invocation *inv, const char *drv);
