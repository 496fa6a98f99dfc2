#!/usr/bin/env bash
# Freeze, thaw, nice, kill on a real Nix build, with cgroups disabled: signals and setpriority; see actions-common.sh.
MODE=signals
source "$(dirname "$0")/actions-common.sh"
