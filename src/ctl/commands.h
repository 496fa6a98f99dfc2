/* The verbs of nix-analytics-ctl. Each takes its own argv (argv[0] names the verb), parses
 * its options, and returns the process exit code (a CtlExit). */
#pragma once

#include "ctl/ctl.h"

int verb_status(const CtlContext *ctx, int argc, char **argv);
int verb_list_builds(const CtlContext *ctx, int argc, char **argv);
int verb_get_build(const CtlContext *ctx, int argc, char **argv);
int verb_get_history(const CtlContext *ctx, int argc, char **argv);
int verb_deps(const CtlContext *ctx, int argc, char **argv);
int verb_stats(const CtlContext *ctx, int argc, char **argv);
int verb_at(const CtlContext *ctx, int argc, char **argv);
int verb_list_invocations(const CtlContext *ctx, int argc, char **argv);
int verb_snapshot(const CtlContext *ctx, int argc, char **argv);
int verb_log(const CtlContext *ctx, int argc, char **argv);
int verb_watch(const CtlContext *ctx, int argc, char **argv);
int verb_ingest(const CtlContext *ctx, int argc, char **argv);
int verb_ps(const CtlContext *ctx, int argc, char **argv);
int verb_kill(const CtlContext *ctx, int argc, char **argv);
int verb_freeze(const CtlContext *ctx, int argc, char **argv);
int verb_thaw(const CtlContext *ctx, int argc, char **argv);
int verb_nice(const CtlContext *ctx, int argc, char **argv);
int verb_cpu_limit(const CtlContext *ctx, int argc, char **argv);
int verb_mem_limit(const CtlContext *ctx, int argc, char **argv);
int verb_bridge(const CtlContext *ctx, int argc, char **argv);
int verb_list_machines(const CtlContext *ctx, int argc, char **argv);
int verb_oom(const CtlContext *ctx, int argc, char **argv);
int verb_oom_history(const CtlContext *ctx, int argc, char **argv);
int verb_complete(const CtlContext *ctx, int argc, char **argv);
