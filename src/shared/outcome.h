/* How Nix says a derivation's goal ended, in every wording from Nix 2.8 to 2.35 and Lix, and
 * in Determinate Nix's structured build result. A parser: text in, an outcome out; what the
 * outcome does to a build is the model's (model-msg.c). */
#pragma once

#include "shared/model.h"
#include "shared/nixlog.h"

typedef struct NixOutcome {
        FailureKind kind; /* FAILURE_NONE: it succeeded (structured results only) */
        char *drv;        /* the .drv it is about, a whole store path; NULL when not named */
        int exit_code;    /* -1 unknown */
        int signal;       /* 0 none */
        char *message;    /* Nix's words in one line (2.29+: "Cannot build '…'. Reason: …");
                           * NULL: none (a success) */
} NixOutcome;

#define NIX_OUTCOME_NULL ((NixOutcome){.kind = FAILURE_NONE, .exit_code = -1})

/* Reads one of Nix's error messages (ANSI escapes stripped, with or without "error: "):
 *   2.8-2.28, Lix   builder for '<drv>' failed with exit code N / failed due to signal N (…)
 *                   N dependencies of derivation '<drv>' failed to build
 *   2.29+           Cannot build '<drv>'.\nReason: builder failed with exit code N.
 *                   Cannot build '<drv>'.\nReason: N dependency failed. / N dependencies failed.
 *   all             hash mismatch in fixed-output derivation '<drv>':
 *                   <goal> timed out after N seconds [of silence] (2.34+: without the goal)
 *                   <goal> killed after writing more than N bytes of log output
 *                   some substitutes for the outputs of derivation '<drv>' failed …
 * Only the message's own lines are read, never the build log tail Nix may append. Returns 1
 * and a failure (drv NULL when the message names none), 0 for anything else, -ENOMEM. */
int outcome_from_message(const char *store_dir, const char *text, NixOutcome *ret);

/* Reads Determinate Nix's build result: its status decides the kind, its errorMsg gives the
 * exit code or signal. Returns 1 and the outcome, 0 when the path is not a .drv in store_dir
 * (a substitution goal's result: not a build), -ENOMEM. */
int outcome_from_build_result(const char *store_dir, const NixBuildResult *br, NixOutcome *ret);

void outcome_done(NixOutcome *o);
