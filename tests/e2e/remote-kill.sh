#!/usr/bin/env bash
# Killing a build that runs on a remote machine, from this machine, over a real ssh on
# loopback (remote-lib.sh), over ssh:// and then ssh-ng://: of four builds of one nix-build,
# three are dispatched to the remote at once (three slots) and one waits for a slot (so nix
# runs an idle build hook beside the three that took builds); the one dispatched in the
# middle is killed with `nix-analytics-ctl kill`. Its build hook and ssh go, its processes on
# the remote go, it ends killed; the other two carry on and succeed, and the waiting one
# takes the freed slot and succeeds. Freeze, thaw, nice and limits answer "unsupported" for a
# remote build and change nothing.
source "$(dirname "$0")/lib.sh"
# The first free port from 2240, and build users named after it: other trees' runs of the
# remote tests may run at the same time.
REMOTE_PORT=${REMOTE_PORT:-2240}
REMOTE_BUILD_GROUP_PREFIX=nixk
source "$(dirname "$0")/remote-lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "a loopback remote builder with its own store needs root"
remote_setup
source "$E2E_DIR/lib-proc.sh"

start_daemon --machines-poll-interval 0 --history-db none

ROUTE="nix-build | ingest"
DISPATCHER=nix-build
NIX_OUT="$T/events.raw"
start_builds() { nix_bg "$FILE" "$@"; }
builds_done() { stop_pid "$NIXPIPE"; }
source "$E2E_DIR/remote-kill-lib.sh"

round ssh remote-nix-store
round ssh-ng remote-nix-daemon
