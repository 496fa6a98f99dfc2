#!/usr/bin/env bash
# Freeze, thaw, nice, kill on a real Nix build, through cgroups the daemon adopts the build into; see actions-common.sh.
MODE=cgroup
source "$(dirname "$0")/actions-common.sh"
