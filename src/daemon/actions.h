/* Acting on one build: kill, freeze, thaw, nice, CPU and memory limits, through its cgroup
 * where it has one, else by signals and setpriority on its processes. Each action says what
 * it did and by which mechanism, or exactly why it could not. */
#pragma once

#include <stdint.h>

#include "basic/macro.h"

#include "daemon/sampler.h"
#include "daemon/tracker.h"
#include "shared/proto.h" /* the error codes of actions, NA_ERR_* */

typedef enum ActionKind {
        ACTION_KILL,
        ACTION_FREEZE,
        ACTION_THAW,
        ACTION_NICE,
        ACTION_CPU_LIMIT,
        ACTION_MEM_LIMIT,
        _ACTION_MAX,
} ActionKind;

typedef struct ActionRequest {
        ActionKind kind;
        int nice;       /* ACTION_NICE: -20..19 */
        double cores;   /* ACTION_CPU_LIMIT: 0 lifts */
        uint64_t bytes; /* ACTION_MEM_LIMIT: 0 lifts */
} ActionRequest;

typedef struct ActionOutcome {
        char *mechanism;  /* what was written or sent, for the reply and the log */
        char *error;      /* on failure: why, for the user */
        const char *code; /* on failure: protocol error code */
} ActionOutcome;

const char *action_kind_to_string(ActionKind k);

/* Runs the action on a build: a tracked one (t), or one running on a remote machine (t
 * NULL, actions-remote.c). Returns 0, or < 0 with outcome->error set. */
int action_run(Daemon *d, Sampler *s, Tracked *t, Build *b, const ActionRequest *req, ActionOutcome *ret);
void action_outcome_done(ActionOutcome *o);
/* Sets the outcome's error and code; returns -EINVAL. */
_printf_(3, 4) int action_fail(ActionOutcome *o, const char *code, const char *fmt, ...);
/* Sets the outcome's mechanism; returns 0 or -ENOMEM. */
_printf_(2, 3) int action_say(ActionOutcome *o, const char *fmt, ...);
