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

# Content-addressed derivations are experimental in every Nix tested (2.8 to 2.34).
export NIX_CONFIG="$NIX_CONFIG
extra-experimental-features = ca-derivations"
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
client() { # client N ATTR: nix-build of ATTR through the daemon, in the background
	nix-build "$NIXF" -A "$2" --argstr nonce "$NONCE" --no-out-link >"$T/out.$1" 2>&1 &
	track $!
	eval "CLIENT_$1=$!"
}
running() { # running DRV: a build of DRV runs
	ctl list-builds 2>/dev/null |
		jq -e --arg d "$1" 'any(.builds[]; .drv == $d and .state == "running")' >/dev/null
}
waiting() { # waiting DRV: a build of DRV is queued, waiting for a lock (list in $T/builds.json)
	ctl list-builds 2>/dev/null >"$T/builds.json" &&
		jq -e --arg d "$1" 'any(.builds[]; .drv == $d and .state == "queued" and .waiting_for_lock)' \
			"$T/builds.json" >/dev/null
}
no_wait() { # no_wait DRV: no build of DRV waits
	ctl list-builds 2>/dev/null |
		jq -e --arg d "$1" 'all(.builds[] | select(.drv == $d); .waiting_for_lock | not)' >/dev/null
}
both_ended() { # both_ended DRV: two builds of DRV, both ended (list in $T/ended.json)
	ctl list-builds 2>/dev/null >"$T/ended.json" && jq -e --arg d "$1" \
		'[.builds[] | select(.drv == $d)] | length == 2 and all(.state != "queued" and .state != "running")' \
		"$T/ended.json" >/dev/null
}
# one_waits NAME DRV LOCK CLIENT: CLIENT's build of DRV waits for LOCK while the other runs, in
# list-builds and get-build (its answer in $GB)
one_waits() {
	wait_for 20 "the second client's $1 waits for the lock on $3" waiting "$2" ||
		die "no build waits: $(cat "$T/builds.json" "$T/out.$4")"
	assert_json "two builds of $1: one running, one queued waiting for the lock" "$(cat "$T/builds.json")" \
		"[.builds[] | select(.drv == \"$2\")] | length == 2 and (map(select(.state == \"running\")) | length == 1 and all(.waiting_for_lock | not)) and (map(select(.state == \"queued\")) | length == 1 and all(.waiting_for_lock))"
	local key
	key=$(jq --arg d "$2" '[.builds[] | select(.drv == $d and .state == "queued")][0].key' "$T/builds.json")
	ctl_ok GB get-build "$key"
	assert_json "get-build: the queued $1 waits for the lock" "$GB" \
		".build.state == \"queued\" and .build.waiting_for_lock and .build.drv == \"$2\""
}
# both_succeed NAME DRV PID1 PID2: the lock is let go, both clients and both builds succeed (the
# waiting one: built by the other)
both_succeed() {
	wait_for 40 "once the first $1 is done, nothing waits for the lock" no_wait "$2"
	wait "$3"
	assert_eq "the first client of $1 succeeds" 0 $?
	wait "$4"
	assert_eq "the second client of $1 succeeds" 0 $?
	wait_for 30 "both $1 builds ended" both_ended "$2" || die "not ended: $(cat "$T/ended.json")"
	assert_json "both $1 builds succeeded (the waiting one: built by the other)" "$(cat "$T/ended.json")" \
		"[.builds[] | select(.drv == \"$2\") | .state] == [\"succeeded\", \"succeeded\"]"
}

client 1 lock
wait_for 60 "the first client's stall-lock runs" running "$D_LOCK" || die "stall-lock never ran: $(cat "$T/out.1")"
tui_start 160 40
client 2 lock
one_waits stall-lock "$D_LOCK" "$OUT" 2
printf '%s\n' "$GB" >"$T/waiting.json"
assert_json "from two sources, both nix-daemon workers" "$(ctl snapshot)" \
	"[.sources[] | select(.role == \"daemon-worker\")] | length >= 2"
ctl list-builds --table >"$T/list.txt" 2>&1

tui_lock_wait_detail stall-lock
screen >"$T/tui-detail.txt"
tui_quit

both_succeed stall-lock "$D_LOCK" "$CLIENT_1" "$CLIENT_2"

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

# The content-addressed one: the second client waits for the lock on "<drv>.out".
D_CA=$(nix-instantiate "$NIXF" -A lock-ca --argstr nonce "$NONCE" 2>"$T/instantiate.err") ||
	die "nix-instantiate: $(cat "$T/instantiate.err")"
client 3 lock-ca
wait_for 60 "the first client's stall-lock-ca runs" running "$D_CA" || die "stall-lock-ca never ran: $(cat "$T/out.3")"
client 4 lock-ca
one_waits stall-lock-ca "$D_CA" "$D_CA.out" 4
both_succeed stall-lock-ca "$D_CA" "$CLIENT_3" "$CLIENT_4"
stop_pid "$NIXD_PID" 10
