#!/usr/bin/env bash
# A lock wait seen from inside nix-daemon (the plugin loaded into a real nix-daemon): two
# clients build the same derivation through the daemon at once. The second one's worker
# waits for the lock on the output the first one builds (activity 111, "waiting for lock on
# '<output>'"). Inside the daemon Nix tells no plan, so nix-analyticsd finds the derivation of
# that output in Nix's database: the second client's build is queued and waiting_for_lock
# (list-builds, get-build, the TUI's detail panel) until the first one is done; then both
# succeeded. A lock wait naming a path that no derivation has, or no store path at all, shows
# nothing and breaks nothing.
source "$(dirname "$0")/plugin-lib.sh"
source "$E2E_DIR/tui-lib.sh"

plugin_setup
check_tui
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate missing (package systemd)"
trap 'rc=$?; tui_cleanup; (exit $rc); e2e_cleanup' EXIT
start_daemon

NIXD="$T/nixd"
mkdir -p "$NIXD"
systemd-socket-activate -E NIX_CONFIG -l "$NIXD/nix.sock" nix-daemon \
	--option plugin-files "$NA_PLUGIN" --option analytics-socket "$SOCKDIR/events.sock" \
	>"$NIXD/daemon.log" 2>&1 &
NIXD_PID=$!
track "$NIXD_PID"
wait_for 10 "the private nix-daemon socket" test -S "$NIXD/nix.sock" || die "no nix-daemon socket"
export NIX_REMOTE="unix://$NIXD/nix.sock"

NIXF="$E2E_DIR/nix/stalls.nix"
# Through the daemon: the .drv (and which outputs it has) is in Nix's database.
D_LOCK=$(nix-instantiate "$NIXF" -A lock --argstr nonce "$NONCE" 2>"$T/instantiate.err") ||
	die "nix-instantiate: $(cat "$T/instantiate.err")"
OUT=$(nix-store -q --outputs "$D_LOCK")
client() { # client N: nix-build of stall-lock through the daemon, in the background
	nix-build "$NIXF" -A lock --argstr nonce "$NONCE" --no-out-link >"$T/out.$1" 2>&1 &
	track $!
	eval "CLIENT_$1=$!"
}

client 1
lock_running() {
	ctl list-builds 2>/dev/null |
		jq -e --arg d "$D_LOCK" 'any(.builds[]; .drv == $d and .state == "running")' >/dev/null
}
wait_for 60 "the first client's stall-lock runs" lock_running || die "stall-lock never ran: $(cat "$T/out.1")"
tui_start 160 40
client 2
waiting() {
	ctl list-builds 2>/dev/null >"$T/builds.json" &&
		jq -e --arg d "$D_LOCK" 'any(.builds[]; .drv == $d and .state == "queued" and .waiting_for_lock)' \
			"$T/builds.json" >/dev/null
}
wait_for 20 "the second client's stall-lock waits for the lock on $OUT" waiting ||
	die "no build waits: $(cat "$T/builds.json")"
assert_json "two builds of stall-lock: one running, one queued waiting for the lock" "$(cat "$T/builds.json")" \
	"[.builds[] | select(.drv == \"$D_LOCK\")] | length == 2 and (map(select(.state == \"running\")) | length == 1 and all(.waiting_for_lock | not)) and (map(select(.state == \"queued\")) | length == 1 and all(.waiting_for_lock))"
assert_json "from two sources, both nix-daemon workers" "$(ctl snapshot)" \
	"[.sources[] | select(.role == \"daemon-worker\")] | length >= 2"
KEY=$(jq --arg d "$D_LOCK" '[.builds[] | select(.drv == $d and .state == "queued")][0].key' "$T/builds.json")
ctl_ok GB get-build "$KEY"
printf '%s\n' "$GB" >"$T/waiting.json"
assert_json "get-build: the queued one waits for the lock" "$GB" \
	".build.state == \"queued\" and .build.waiting_for_lock and .build.drv == \"$D_LOCK\""
ctl list-builds --table >"$T/list.txt" 2>&1

tui_lock_wait_detail stall-lock
screen >"$T/tui-detail.txt"
tui_quit

no_wait() {
	ctl list-builds 2>/dev/null |
		jq -e --arg d "$D_LOCK" 'all(.builds[] | select(.drv == $d); .waiting_for_lock | not)' >/dev/null
}
wait_for 40 "once the first is done, nothing waits for the lock" no_wait
wait "$CLIENT_1"
assert_eq "the first client succeeds" 0 $?
wait "$CLIENT_2"
assert_eq "the second client succeeds" 0 $?
both_ended() {
	ctl list-builds 2>/dev/null >"$T/ended.json" && jq -e --arg d "$D_LOCK" \
		'[.builds[] | select(.drv == $d)] | length == 2 and all(.state != "queued" and .state != "running")' \
		"$T/ended.json" >/dev/null
}
wait_for 30 "both stall-lock builds ended" both_ended || die "not ended: $(cat "$T/ended.json")"
assert_json "both succeeded (the waiting one: built by the other)" "$(cat "$T/ended.json")" \
	"[.builds[] | select(.drv == \"$D_LOCK\") | .state] == [\"succeeded\", \"succeeded\"]"

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
stop_pid "$NIXD_PID" 10
