/* Each running local build's temporary build directory (where its builder works: /tmp/
 * nix-build-<name>-<n>, <build-dir>/nix-<pid>-<n>, /build in a sandbox), found through the
 * builder's cwd (the highest directory of its user above it) and measured
 * every few seconds on a worker thread of its own: the bytes under it (no symbolic link
 * followed, its filesystem only, bounded: shared/dirsize.h) and its filesystem's free space.
 * The builder chooses its cwd and what is under it: nothing here trusts either. */
#pragma once

#include "daemon/daemon.h"

typedef struct BuildDirs BuildDirs;

int build_dirs_new(Daemon *d, BuildDirs **ret);
BuildDirs *build_dirs_free(BuildDirs *bd);
