/* Internals shared by the model's own files (model.c: sources, activities, builds;
 * model-msg.c: what Nix's messages say about builds). Not for views. */
#pragma once

#include "shared/model.h"

struct Model {
        ModelConfig config;

        Build *builds_by_key; /* hh_key */
        Build *first, *last;  /* by key */
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

        struct ModelMachine *machines; /* model-machines.c: hash by key, in display order */
        uint32_t n_discovered_machines;
};

void build_mark(Model *m, Build *b, ChangeKind k);
Build *build_new(Model *m, Invocation *inv, const char *drv, BuildState st, usec_t now);
void build_finish(Model *m, Build *b, BuildState st, usec_t now);
/* Records why a build failed: the first line of message, without Nix's trailing ';'. */
int build_set_failure(Build *b, FailureKind kind, const char *message);
Build *invocation_find_build(Invocation *inv, const char *drv);

/* A "msg" record: build plans ("these N derivations will be built:") and failures. */
int model_apply_msg(Model *m, Source *s, const NixRecord *rec, usec_t now);
