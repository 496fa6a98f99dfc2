/* Where the daemon puts the cgroups of the builds it adopts: the cgroup systemd delegated to
 * its service (Delegate=yes), an explicit --cgroup-root, or /nix-analytics; and, in a
 * delegated service, moving the daemon itself into <service>/daemon (cgroup v2 lets a group
 * with controllers enabled for its children hold no process) and undoing that at exit.
 *
 * Layout in a delegated service S (in v2, and in each v1 hierarchy where the daemon is in S):
 *   S/daemon            the daemon's own processes
 *   S/builds            cpu, memory, io, pids enabled for its children (v2)
 *   S/builds/build-<h>  one adopted build
 * Every path is below an injectable file-system root (CgHost.fs_root), so tests run on fake
 * trees. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "shared/cgroup.h"

#define CG_ROOT_DEFAULT_PATH "/nix-analytics"
#define CG_DELEGATE_DAEMON   "daemon"
#define CG_DELEGATE_BUILDS   "builds"

typedef enum CgRootSource {
        CG_ROOT_SOURCE_DEFAULT,   /* /nix-analytics: no delegated service found */
        CG_ROOT_SOURCE_OPTION,    /* --cgroup-root PATH */
        CG_ROOT_SOURCE_DELEGATED, /* the systemd service's delegated group */
} CgRootSource;

typedef struct CgRoots {
        CgRootSource source;
        CgProcPaths root; /* builds' parent per hierarchy, below each mount ("/nix-analytics") */

        /* delegated only */
        char *service;                         /* S, e.g. "/system.slice/nix-analyticsd.service" */
        bool started_in_daemon;                /* we began in S/daemon (DelegateSubgroup=daemon) */
        bool xattr;                            /* S carries systemd's delegate xattr */
        bool delegated_v2;                     /* S is ours in v2 */
        bool delegated_v1[_CG_CONTROLLER_MAX]; /* S is ours in this v1 hierarchy */

        /* what cg_roots_enter did, undone by cg_roots_leave */
        bool entered;
        bool daemon_created_v2; /* S/daemon is ours to remove (not systemd's) */
        bool daemon_created_v1[_CG_CONTROLLER_MAX];
        unsigned enabled; /* controllers we enabled in S's v2 cgroup.subtree_control */
} CgRoots;

const char *cg_root_source_to_string(CgRootSource s);

/* Parses a --cgroup-root value: "auto" (ret NULL), or an absolute cgroup path without "..",
 * "." components, doubled or trailing slashes. 0 or -EINVAL. */
int cg_root_option_parse(const char *s, const char **ret_path);

/* Chooses the roots. option: an explicit path (wins), or NULL for auto: the delegated service
 * group when we run as a systemd service with one (self_cgroup: the text of
 * /proc/self/cgroup; invocation_id: $INVOCATION_ID, NULL when unset), else
 * CG_ROOT_DEFAULT_PATH. On auto without delegation, *ret_why (may be NULL) says why not, for
 * the log; NULL when delegated. Returns 0 or -ENOMEM. */
int cg_roots_resolve(const CgHost *h, const char *option, const char *self_cgroup, size_t len,
                     const char *invocation_id, CgRoots *ret, const char **ret_why);

/* Delegated only (a no-op otherwise): creates S/daemon where missing and moves every process
 * of S there, in v2 and in each delegated v1 hierarchy, then enables in S's v2
 * cgroup.subtree_control the controllers builds use. 0, or the first -errno (the roots stay
 * usable: groups are made, but without the controllers that failed). */
int cg_roots_enter(CgRoots *r, const CgHost *h);

/* At exit, after the builds' groups are gone: removes the builds roots where empty, and in a
 * delegated service takes back what cg_roots_enter did (the controllers it enabled, S/daemon
 * if it made it, moving self back into S first). S itself is never removed. */
void cg_roots_leave(CgRoots *r, const CgHost *h, pid_t self);

/* The root shown as "the" root: v2's, else the first v1 hierarchy's. */
const char *cg_roots_primary(const CgRoots *r);

void cg_roots_done(CgRoots *r);
