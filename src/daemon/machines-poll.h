/* Polls each configured ssh machine in the background: reachable or not and why, ssh
 * latency, load, CPUs, memory, and the remote nix-analyticsd's running builds when the
 * remote has nix-analytics-ctl. ssh runs as a child watched by the event loop (a pidfd and
 * its output pipes), with BatchMode, a deadline and backoff: nothing here ever blocks. */
#pragma once

#include <cjson/cJSON.h>

#include "basic/time-util.h"
#include "daemon/daemon.h"
#include "shared/model-machines.h"

typedef struct MachinesPoll MachinesPoll;

typedef struct MachinesPollConfig {
        usec_t interval;        /* between polls of an up machine */
        usec_t timeout;         /* for one poll (ssh connect and commands) */
        const char *remote_ctl; /* the command run on the remote ("nix-analytics-ctl") */
} MachinesPollConfig;

int machines_poll_new(Daemon *d, const MachinesPollConfig *c, MachinesPoll **ret);
MachinesPoll *machines_poll_free(MachinesPoll *p);
/* Brings the polled set in line with the model's configured ssh machines. */
void machines_poll_sync(MachinesPoll *p);
/* Build b runs here, maybe on a polled machine (its changes call this): while the machine's
 * next poll is more than a busy interval (5 s) away, it is brought forward, so that b's remote
 * view (model_build_set_remote_view) comes soon after its dispatch. */
void machines_poll_build_running(MachinesPoll *p, const Build *b);
typedef enum MachinePollState {
        MACHINE_POLL_NONE, /* not polled (not an ssh machine, polling off, or not yet) */
        MACHINE_POLL_UNKNOWN,
        MACHINE_POLL_UP,
        MACHINE_POLL_DOWN,
} MachinePollState;
MachinePollState machines_poll_state(MachinesPoll *p, const ModelMachine *mm);
/* The poll state of a machine as JSON ({"state":"unknown"} before the first answer). */
cJSON *machines_poll_to_json(MachinesPoll *p, const ModelMachine *mm);
