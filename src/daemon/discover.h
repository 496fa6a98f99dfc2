/* Discovery: which process is the builder of a build, and which builds run already (after a
 * restart), from the sample's /proc table and the files of nix processes. */
#pragma once

#include <sys/types.h>

#include <systemd/sd-event.h>

#include "daemon/tracker.h"
#include "daemon/work-queue.h"
#include "shared/drv.h"

typedef struct Discovery Discovery;

/* A running build found: nix_pid builds drv in builder. outs: its outputs as the builder's
 * environment names them (n_outs 0 when the .drv is what tells them), for a build whose .drv
 * the store here may not hold (a remote client's). */
typedef void (*DiscoveryFound)(void *userdata, pid_t nix_pid, pid_t builder, const char *drv,
                               const DrvOutput *outs, size_t n_outs);
/* event: where answers of the file-read worker come back (NULL: files are read inline, for
 * unit tests on fake trees). */
int discovery_new(const char *proc_root, const char *store_dir, sd_event *event, Discovery **ret);
Discovery *discovery_free(Discovery *dsc);
/* Finds the builder of drv among the builder-like processes of the table (session leaders
 * under a nix process). rank (NULL: any is best) says whether the build may have that
 * process (0: never, trust_may_attach), and which to prefer (2: a descendant of the build's
 * own nix process, 1: another); the best ranked wins. Returns 1 with *ret_pid, 0 not (yet)
 * found, -errno. */
int discovery_find_builder(Discovery *dsc, ProcTable *t, const char *drv,
                           int (*rank)(void *userdata, pid_t pid), void *userdata, pid_t *ret_pid);
/* The file-read worker's figures (all 0 when reading inline). */
void discovery_read_stats(Discovery *dsc, WorkQueueStats *ret);
/* Forgets candidates whose processes are gone. */
void discovery_prune(Discovery *dsc, ProcTable *t);
/* Every running builder of the table whose .drv can be told (from its nix process's open
 * build log): calls cb(nix_pid, builder_pid, drv, NULL, 0). scope: only under this pid (0: any).
 * Returns the number found, or -EAGAIN when some file is still being read: call it again
 * later (cb may then see the builders found already once more). */
int discovery_rediscover(Discovery *dsc, ProcTable *t, pid_t scope, DiscoveryFound cb, void *userdata);
/* Builds of remote clients: every builder of the table under a root-owned `nix-daemon
 * --stdio` or `nix-store --serve` whose .drv that process's open build logs tell (the one log
 * whose derivation name the builder's outputs carry), each handed to cb once with those
 * outputs. scope as above.
 * Returns how many serving processes the table holds (the sampler looks every pass while
 * there are some), or -ENOMEM. */
int discovery_find_served(Discovery *dsc, ProcTable *t, pid_t scope, DiscoveryFound cb, void *userdata);
/* Whose serving processes count (default root): for tests on fake trees, which the test's
 * user owns. */
void discovery_set_serve_owner(Discovery *dsc, uid_t uid);
