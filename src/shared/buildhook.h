/* The build hooks of a nix process, and which hook serves which remote build.
 *
 * Nix dispatches a build to a remote machine through its build hook (`build-remote`, or
 * `nix __build-remote`), a child of the nix process that runs the build (nix-build, nix, a
 * nix-daemon worker). The hook that accepts a build keeps serving it until the build ends,
 * with an ssh child talking to the machine; ending that hook ends the remote build. Which
 * hook serves which build is never written anywhere Nix shows: it follows from the order of
 * dispatch (docs/protocol.md "Killing a remote build"). Readers take an injectable /proc
 * root; the matching is a pure function over what they read. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct BuildHook {
        pid_t pid, pgid;
        uint64_t starttime; /* clock ticks since boot: the order hooks were started */
        char state;         /* from stat: 'Z' for a hook that exited and is not reaped yet */
        bool accepted;      /* its nix process no longer holds the writing end of its stdin */
        char *slot_uri;     /* the machine slot it holds (current-load/<escaped uri>-<n>); NULL unknown */
        pid_t *procs;       /* its descendants (ssh, an ssh master), bounded */
        size_t n_procs;
} BuildHook;

typedef struct BuildHookScan {
        BuildHook *hooks; /* children of the nix process that are build hooks, oldest first */
        size_t n_hooks;
        char **logs; /* .drv paths whose build log the nix process holds open (its active builds) */
        size_t n_logs;
} BuildHookScan;

/* A remote build of the nix process, as the model knows it. */
typedef struct RemoteBuildRef {
        const char *drv;
        const char *machine;   /* the store URI Nix named in the build activity */
        uint64_t dispatch_seq; /* order of dispatch (later dispatches are larger) */
} RemoteBuildRef;

/* What buildhook_match can say instead of a hook. */
typedef enum BuildHookMiss {
        BUILDHOOK_MISS_NONE,
        BUILDHOOK_MISS_ENDED, /* the nix process no longer holds the build's log: it is ending */
        BUILDHOOK_MISS_COUNT, /* hooks and remote builds differ in number: a dispatch or an end under way */
        BUILDHOOK_MISS_MACHINE,  /* a hook's machine slot is not its build's machine */
        BUILDHOOK_MISS_NO_HOOKS, /* the nix process has no build hook that took a build */
} BuildHookMiss;

/* Parsers (buffers, no I/O). */

/* A command line (NUL-separated argv) of a build hook: argv[0] named build-remote, or
 * argv[1] "__build-remote" (Nix >= 2.19 runs `nix __build-remote`). */
bool buildhook_cmdline_is_hook(const char *buf, size_t len);
/* "pipe:[123]" -> 123. 0, or -EINVAL for anything else. */
int buildhook_parse_pipe(const char *target, uint64_t *ret);
/* An open file of a hook: its machine slot lock "<state>/current-load/<escaped uri>-<slot>"
 * gives the escaped URI (not main-lock, not <uri>.upload-lock). 1 with *ret, 0 not a slot
 * lock, -ENOMEM. */
int buildhook_parse_slot_lock(const char *target, char **ret);
/* A store URI as Nix escapes it in lock file names ('/' becomes '_'). NULL on OOM. */
char *buildhook_escape_uri(const char *uri);
/* A build log "<…>/log/nix/drvs/xx/<rest>.drv[.bz2]" -> "<store_dir>/xx<rest>.drv". 1 with
 * *ret, 0 not a build log, -ENOMEM. */
int buildhook_parse_log(const char *target, const char *store_dir, char **ret);

/* Reads the hooks of nix_pid from proc_root: its children that are build hooks, their stdin
 * against the nix process's open pipes, their machine slots and descendants, and the build
 * logs the nix process holds open. 0, -ESRCH (nix_pid is gone), -ENOMEM, -errno. */
int buildhook_scan(const char *proc_root, const char *store_dir, pid_t nix_pid, BuildHookScan *ret);
void buildhook_scan_done(BuildHookScan *s);

/* Which hook serves builds[target] (builds: the nix process's remote builds the model has
 * running, in any order). The k-th hook to accept a build serves the k-th build dispatched;
 * builds whose log the nix process closed are over and left out (when it holds any log).
 * The two lists must then be equally long and every hook's slot on its build's machine, or
 * nothing is said. Returns the hook's index, or -1 with *ret_miss saying why. */
ssize_t buildhook_match(const BuildHookScan *s, const RemoteBuildRef *builds, size_t n_builds, size_t target,
                        BuildHookMiss *ret_miss);
const char *buildhook_miss_to_string(BuildHookMiss m);
