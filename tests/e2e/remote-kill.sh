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

# The TUI's remote machines view (r) while the first round's builds run on the machine: the
# machine with the three builds on it, and the one waiting for a slot.
source "$E2E_DIR/tui-lib.sh"
check_tui
while_three_remote() {
	[[ $SCHEME == ssh ]] || return 0
	tui_start 220 30
	wait_screen "rkill-[a-d] .* running " 30 "TUI: the remote builds are listed"
	keys r
	wait_screen "remote machines: [0-9]+, 1 builds waiting for a machine" 15 "TUI: r shows the remote machines and the build waiting for a slot"
	wait_screen "ssh://nixremote.* rkill-[a-d], rkill-[a-d], rkill-[a-d]" 15 "TUI: the machine's row lists the three builds running on it"
	tui_quit
}

round ssh remote-nix-store
round ssh-ng remote-nix-daemon
