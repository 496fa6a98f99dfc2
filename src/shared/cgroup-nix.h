/* Nix's own build cgroups (use-cgroups, sandboxed builds): recognising one from a builder's
 * /proc/<pid>/cgroup, and the group a monitor may measure and act on. Nix makes them in the
 * cgroup v2 hierarchy only, next to (2.25+: a sibling of) its daemon's group:
 *   nix-build-uid-<uid>        a build under a build user (nixbld or auto-allocate-uids)
 *   nix-build-pid-<pid>-<n>    a build without a build user
 *   nix-build@<drv hash>-<uid> Lix
 * A build may make groups of its own below its group; they stay part of it. */
#pragma once

#include <stdbool.h>

#include "shared/cgroup.h"

/* Is this one path component the name Nix gives a build's group? */
bool cg_nix_group_name(const char *name, size_t len);

/* The Nix build group a process is in, from its parsed /proc/<pid>/cgroup: the outermost v2
 * path component named like one, the path cut there. The group has the v2 directory only:
 * the v1 groups of such a process are its nix-daemon's, shared with the daemon and every
 * other build, and must never be limited, frozen or killed as the build's. Returns 1 with
 * *ret, 0 when the process is in no Nix build group (nothing set), -ENOMEM. */
int cg_nix_build_group(const CgHost *h, const CgProcPaths *paths, CgGroup *ret);
