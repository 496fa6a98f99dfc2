#!/usr/bin/env bash
# A lock wait seen from inside nix-daemon (the plugin loaded into a real nix-daemon): two
# clients build the same derivation through the daemon at once. The second one's worker
# waits for the lock on the output the first one builds (activity 111, "waiting for lock on
# '<output>'"). Inside the daemon Nix tells no plan, so nix-analyticsd finds the derivation of
# that output in Nix's database: the second client's build is queued and waiting_for_lock
# (list-builds, get-build, the TUI's detail panel) until the first one is done; then both
# succeeded. A lock wait naming a path that no derivation has, or no store path at all, shows
# nothing and breaks nothing. A content-addressed output has no path before it is built: Nix
# locks "<drv path>.out", which names the derivation itself; its waiting build shows the same.
source "$(dirname "$0")/plugin-lib.sh"
source "$E2E_DIR/tui-lib.sh"

plugin_setup
check_tui
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate missing (package systemd)"
trap 'rc=$?; tui_cleanup; (exit $rc); e2e_cleanup' EXIT
start_daemon
source "$E2E_DIR/lock-lib.sh"

NIXD="$T/nixd"
mkdir -p "$NIXD"
systemd-socket-activate -E NIX_CONFIG -l "$NIXD/nix.sock" nix-daemon \
	--option plugin-files "$NA_PLUGIN" --option analytics-socket "$SOCKDIR/events.sock" \
	>"$NIXD/daemon.log" 2>&1 &
NIXD_PID=$!
track "$NIXD_PID"
wait_for 10 "the private nix-daemon socket" test -S "$NIXD/nix.sock" || die "no nix-daemon socket"
export NIX_REMOTE="unix://$NIXD/nix.sock"

# While the second client waits: both are nix-daemon workers, and the TUI's detail panel says
# it waits for a lock.
tui_waiting() {
	printf '%s\n' "$LOCK_GB" >"$T/waiting.json"
	assert_json "from two sources, both nix-daemon workers" "$(ctl snapshot)" \
		"[.sources[] | select(.role == \"daemon-worker\")] | length >= 2"
	ctl list-builds --table >"$T/list.txt" 2>&1
	tui_start 160 40
	tui_lock_wait_detail stall-lock
	screen >"$T/tui-detail.txt"
	tui_quit
}
# Inside the daemon Nix tells no plan: the output is looked up in Nix's database.
lock_pair lock tui_waiting
D_LOCK=$LOCK_DRV

# A peer's lock waits whose text names no derivation's output, or no store path: nothing waits,
# the daemon runs on (the text only ever becomes a store path looked up in Nix's database).
{
	id=1
	for what in "/nix/store/00000000000000000000000000000000-none" /etc/passwd /nix/store/../../etc/shadow \
		"/nix/store/$(printf 'x%.0s' {1..300})" "$D_LOCK"; do
		printf '@nix {"action":"start","id":%d,"level":0,"type":111,"text":"waiting for lock on \x27%s\x27","fields":[],"parent":0}\n' \
			$((id++)) "$what"
	done
} >"$T/hostile.jsonl"
ctl ingest <"$T/hostile.jsonl" >/dev/null 2>&1
sleep 1 # (the lookups, on the worker thread, have had their second)
assert_json "no build waits for a lock from those" "$(ctl list-builds)" 'all(.builds[]; .waiting_for_lock | not)'
assert_json "the daemon answers" "$(ctl status)" '.pid > 0'

# A content-addressed output's lock, "<drv>.out", names the derivation itself.
lock_pair lock-ca
stop_pid "$NIXD_PID" 10
