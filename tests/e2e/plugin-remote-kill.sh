#!/usr/bin/env bash
# Killing a remote build as in remote-kill.sh, through a private nix-daemon with the plugin
# (the route of a real installation): the builds' source is the daemon worker serving the
# client, whose children are the build hooks; the client's nix-build runs nothing itself.
source "$(dirname "$0")/plugin-lib.sh"
# The first free port from 2270, and build users named after it: other trees' runs of the
# remote tests may run at the same time.
REMOTE_PORT=${REMOTE_PORT:-2270}
REMOTE_BUILD_GROUP_PREFIX=nixp
source "$E2E_DIR/remote-lib.sh"

plugin_setup
[[ $(id -u) == 0 ]] || skip "a loopback remote builder with its own store needs root"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate missing (package systemd)"
remote_setup
source "$E2E_DIR/lib-proc.sh"
start_daemon --machines-poll-interval 0 --history-db none

NIXD="$T/nixd"
mkdir -p "$NIXD"
# The worker runs the build hooks: it needs the ssh options (NIX_SSHOPTS) to reach the remote.
systemd-socket-activate -E NIX_CONFIG -E NIX_SSHOPTS -l "$NIXD/nix.sock" nix-daemon \
	--option plugin-files "$NA_PLUGIN" --option analytics-socket "$SOCKDIR/events.sock" \
	>"$NIXD/daemon.log" 2>&1 &
track $!
wait_for 10 "the private nix-daemon socket" test -S "$NIXD/nix.sock" || die "no nix-daemon socket"
export NIX_REMOTE="unix://$NIXD/nix.sock"

ROUTE="nix-build through a nix-daemon with the plugin"
DISPATCHER=nix-daemon
NIX_OUT="$T/nix.out"
start_builds() {
	rm -f "$T/nix.rc"
	(
		nix-build "$FILE" "$@" --no-out-link >"$T/nix.out" 2>&1
		echo $? >"$T/nix.rc"
	) &
	NIXBG=$!
	track "$NIXBG"
}
builds_done() { stop_pid "$NIXBG"; }
source "$E2E_DIR/remote-kill-lib.sh"

round ssh remote-nix-store
# systemd-socket-activate names the plugin in its own line: 'Execing …', in sid's systemd 262
# 'Executing: …'.
assert_true "the plugin patched TunnelLogger without a warning" \
	test -z "$(grep libnix-analytics "$NIXD/daemon.log" | grep -Ev '^Exec(ing|uting)')"
