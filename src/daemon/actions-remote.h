/* Actions on builds that run on a remote machine (docs/protocol.md "Killing a remote
 * build"): kill ends the local side of the dispatch, the build hook that serves the build
 * and its ssh, so the remote side stops too; freeze, thaw, nice and limits cannot be done
 * honestly from here and say so. */
#pragma once

#include "daemon/actions.h"

typedef struct RemoteKills RemoteKills;

/* Runs the action on b, which runs on a remote machine (b->machine is not empty). Returns
 * 0, or < 0 with outcome->error set. */
int action_run_remote(Daemon *d, Build *b, const ActionRequest *req, ActionOutcome *ret);

/* The local side of remote build b, read now: the build hook serving it (*ret_hook) and its
 * processes (the hook first, then its descendants such as ssh). Returns how many are in *ret
 * (free with remote_local_side_free); 0 with *ret_why set when the hook cannot be told (why,
 * for the user; free it); -ENOMEM. */
int remote_local_side(Daemon *d, const Build *b, pid_t *ret_hook, TrackedProc **ret, char **ret_why);
void remote_local_side_free(TrackedProc *procs, size_t n);

/* Kills waiting for their hook to exit (the build then ends "killed"). NULL-safe. */
RemoteKills *remote_kills_free(RemoteKills *k);
