/* Remote builders in the model: the configured machines (from the builders setting) and
 * those seen only in events, which builds run on each, which wait for a machine, and the
 * copies to and from each. Nix names a machine by its store URI; matching goes through
 * machine_uri_key so that "ssh://h?remote-program=…" (build activities) and "ssh://h"
 * (copyPath activities) are one machine. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/time-util.h"
#include "shared/machines.h"
#include "shared/model.h"

#define MODEL_MACHINES_MAX_DISCOVERED 256

typedef struct ModelMachine {
        char *key;        /* machine_uri_key of the URI */
        char *uri;        /* the configured URI, or the first one seen in events */
        bool configured;  /* in the builders setting (spec valid) */
        MachineSpec spec; /* when configured (owned) */
        unsigned refs;    /* activities pointing at it */
        uint32_t copies_to,
                copies_from; /* transfers under way ("copying dependencies to", "copying outputs from") */
        uint64_t paths_to, paths_from; /* store paths copied (copyPath activities seen) */
        uint64_t builds_total;         /* builds dispatched to it */
        usec_t last_build;             /* realtime of the last dispatch; 0 never */
        UT_hash_handle hh;
} ModelMachine;

/* Replaces the configured machines (the list's machines are copied). Machines no longer
 * configured stay while something refers to them, as discovered ones. 0 or -ENOMEM. */
int model_set_machines(Model *m, const MachineList *l);

/* Configured machines in configuration order, then discovered ones. */
ModelMachine *model_machines_first(Model *m);
ModelMachine *model_machine_next(ModelMachine *mm);
/* The machine a URI names (exact key match), or NULL. */
ModelMachine *model_machine_find(Model *m, const char *uri);

/* True when build b runs (or ran) on machine mm. */
bool model_machine_has_build(const ModelMachine *mm, const Build *b);
/* True when b waits for a machine and mm could take it (its system is one of mm's, or
 * unknown; an unconfigured machine takes anything). */
bool model_machine_could_take(const ModelMachine *mm, const Build *b);
/* A build queued because every machine slot is busy (activity 111). */
bool build_waiting_for_machine(const Build *b);
/* A build not started because Nix waits for the lock on an output of it (activity 111). */
bool build_waiting_for_lock(const Build *b);

/* The view of build b from its machine's daemon (v copied), or none (v NULL or not present).
 * Reported as a change when it differs, seen time included. 0 or -ENOMEM (b unchanged). */
int model_build_set_remote_view(Model *m, Build *b, const BuildRemoteView *v);

/* For the model's own files (model.c). */
int model_machines_activity_start(Model *m, Source *s, Activity *a, const NixRecord *rec, usec_t now);
void model_machines_activity_release(Model *m, Activity *a);
/* The derivation drv outputs the path activity_id of source_id waits for the lock on
 * (ModelConfig.lock_wait_unplanned): its build in the source's invocation, made queued if there
 * is none yet, waits for the lock while that activity is open. 0, or -ENOMEM. Nothing when the
 * activity ended meanwhile or drv is no derivation's path. */
int model_lock_wait_found(Model *m, uint64_t source_id, uint64_t activity_id, const char *drv, usec_t now);
void model_machines_build_dispatched(Model *m, Build *b, usec_t now);
void model_machines_build_release(Build *b);
void model_machines_free(Model *m);
