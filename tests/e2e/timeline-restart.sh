#!/usr/bin/env bash
# A build's CPU and memory over its whole life, across daemon restarts and after it ended
# (issue 19). A real nix-build (through ingest) holds 64 MiB for 30 s; meanwhile the daemon is
# stopped (SIGTERM) and started again, then killed (SIGKILL) and started again. Each time the
# build comes back with its timeline and phases from before: get-build has points older than
# the restart with MEM >= 60 MiB, and its growPhase. Once it ended, its history row has that timeline too (get-history --id
# --timeline; another user sees it without the requester's command line), and the TUI's detail of the row, opened from the history view, draws its CPU
# and memory sparklines and lists its phases with their durations; so does the detail of the
# ended build opened from the builds view once the daemon, restarted, no longer holds it.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/tui-lib.sh"

check_binaries
check_tui
nix_setup
[[ $(id -u) == 0 ]] || skip "reading builders of nixbld users needs root"

source "$E2E_DIR/lib-proc.sh"
trap 'rc=$?; tui_cleanup; proc_cleanup; (exit $rc); e2e_cleanup' EXIT

MiB60=62914560
DAEMON_ARGS=(--cgroup-root "$CGROOT")
start_daemon "${DAEMON_ARGS[@]}"

FILE="$E2E_DIR/nix/at.nix"
ARGS=(--argstr nonce "$NONCE" --argstr name tl-restart --arg hold 30)
DRV=$(nix-instantiate "$FILE" "${ARGS[@]}" 2>/dev/null)
nix_bg "$FILE" "${ARGS[@]}"
holding() { grep -q 'holding 67108864' "$T/events.raw" 2>/dev/null; }
wait_for 60 "the build holds its 64 MiB" holding || die "the build never got to hold its memory"
# its timeline has 8 s of the memory phase (a sample a second; history keeps a point per 4 s
# or more: some wholly before the restart)
sampled_mem() {
	ctl get-build "$DRV" 2>/dev/null | jq -e --argjson m "$MiB60" '[.timeline.mem[] | select(. >= $m)] | length >= 8' >/dev/null
}
wait_for 25 "the timeline has 8 s of the memory phase" sampled_mem || die "no sample of the memory phase"

# back LABEL: the build is running again, held by the new daemon run
back() {
	local b
	b=$(ctl list-builds --state running 2>/dev/null | jq -c --arg d "$DRV" '[.builds[] | select(.drv == $d)]')
	[[ "$(printf '%s' "$b" | jq length)" == 1 ]]
}
# before LABEL T: get-build's timeline has points older than T, some of them of the memory phase
before() {
	local label=$1 t=$2 GB
	ctl_ok GB get-build "$DRV"
	printf '%s\n' "$GB" >"$T/get-build-$label.json"
	assert_json "$label: the timeline has points from before it ($t)" "$GB" \
		"[.timeline.t[] | select(. < $t)] | length >= 2"
	assert_json "$label: with MEM >= 60 MiB then" "$GB" \
		"[.timeline.t, .timeline.mem] | transpose | map(select(.[0] < $t and .[1] >= $MiB60)) | length >= 1"
	assert_json "$label: and points since (sampling goes on)" "$GB" \
		"([.timeline.t[] | select(. > $t)] | length) >= 1"
	assert_json "$label: its phase from before it" "$GB" \
		"[.build.phases[] | select(.name == \"growPhase\" and .time < $t)] | length == 1"
}

# --- SIGTERM: the state file written at shutdown carries the timeline ---
T_TERM=$(date +%s.%N)
log "SIGTERM to nix-analyticsd $DAEMON_PID mid-build"
stop_daemon
start_daemon "${DAEMON_ARGS[@]}"
wait_for 10 "the build is back after SIGTERM" back || die "the build did not come back after SIGTERM"
after_term() { ctl get-build "$DRV" 2>/dev/null | jq -e --argjson t "$T_TERM" '[.timeline.t[] | select(. > $t)] | length >= 1' >/dev/null; }
wait_for 10 "a sample since the restart" after_term
before sigterm "$T_TERM"

# --- SIGKILL: the state file written every 3 s carries it ---
sleep 4 # a periodic write of the state file after the restart
T_KILL=$(date +%s.%N)
log "SIGKILL to nix-analyticsd $DAEMON_PID mid-build"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
start_daemon "${DAEMON_ARGS[@]}"
wait_for 10 "the build is back after SIGKILL" back || die "the build did not come back after SIGKILL"
after_kill() { ctl get-build "$DRV" 2>/dev/null | jq -e --argjson t "$T_KILL" '[.timeline.t[] | select(. > $t)] | length >= 1' >/dev/null; }
wait_for 10 "a sample since the restart" after_kill
before sigkill "$T_KILL"
ctl_ok GB get-build "$DRV"
assert_json "sigkill: the points from before the first restart are still there" "$GB" \
	"[.timeline.t, .timeline.mem] | transpose | map(select(.[0] < $T_TERM and .[1] >= $MiB60)) | length >= 1"

wait_for 90 "nix-build ends" nix_done
assert_eq "nix-build succeeds" 0 "$(nix_rc)"
ok_state() { [[ "$(ctl get-build "$DRV" 2>/dev/null | jq -r .build.state)" == succeeded ]]; }
wait_for 10 "the build ends succeeded" ok_state

# --- its history row, with its timeline ---
in_history() { ctl get-history --name tl-restart 2>/dev/null | jq -e '.builds | length == 1' >/dev/null; }
wait_for 15 "the build's history row" in_history || die "no history row"
ctl_ok H get-history --name tl-restart
printf '%s\n' "$H" >"$T/history.json"
assert_json "a history page has no timelines (they are asked for)" "$H" '.builds[0] | has("timeline") | not'
ID=$(printf '%s' "$H" | jq .builds[0].id)
ctl_ok H get-history --id "$ID" --timeline --json
printf '%s\n' "$H" >"$T/history-timeline.json"
assert_json "get-history --id: that row alone" "$H" ".builds | length == 1 and .[0].id == $ID and .[0].name == \"tl-restart\""
assert_json "its timeline from before the first restart, MEM >= 60 MiB then" "$H" \
	".builds[0].timeline | [.t, .mem] | transpose | map(select(.[0] < $T_TERM and .[1] >= $MiB60)) | length >= 1"
assert_json "its timeline to its end (points after the second restart)" "$H" \
	".builds[0].timeline | [.t[] | select(. > $T_KILL)] | length >= 2"
assert_json "with CPU and processes, as get-build's" "$H" \
	'.builds[0].timeline | (.cpu_percent | length) == (.t | length) and (.procs | length) == (.t | length) and .step >= 4'
assert_json "and its phases with their durations" "$H" \
	'.builds[0].phases | length >= 1 and all(.[]; (.name | type) == "string" and .duration >= 0)'
assert_json "growPhase (from before the restarts) lasted about 30 s, quietPhase about 6 s" "$H" \
	'.builds[0].phases | map({(.name): .duration}) | add | (.growPhase > 28 and .growPhase < 40) and (.quietPhase > 4 and .quietPhase < 10)'
# what another user sees of the row: its figures over time, not the requester's command line
# (protocol.md "What each client sees", as for every history row)
mallory_user
chmod 755 "$T" "$SOCKDIR"
assert_json "root sees the requester's command line" "$H" '(.builds[0].requester.cmdline | type) == "string"'
MH=$(as_mallory "$NA_CTL" -s "$SOCKDIR" get-history --id "$ID" --timeline --json) || die "mallory cannot ask get-history"
printf '%s
' "$MH" >"$T/history-mallory.json"
assert_json "another user sees the row and its timeline, not its command line" "$MH" \
	".builds[0].id == $ID and (.builds[0].timeline.mem | max) >= $MiB60 and .builds[0].requester.uid == 0 and .builds[0].requester.cmdline == null"
ctl_ok N get-history --id 999999 --timeline
assert_json "get-history --id of no row: none" "$N" '.builds == []'
ERR=$(ctl get-history --id 0 2>&1)
assert_ne "--id 0: refused" 0 "$?"

# --- the TUI: Enter on the history row draws its graphs and phases ---
tui_start 160 45
keys h
wait_screen '^history' 10 "tui: the history view"
wait_screen 'succeeded .*tl-restart' 10 "tui: the build's row"
keys Enter
wait_screen '^details: tl-restart' 10 "tui: its detail page"
BLOCK='(▁|▂|▃|▄|▅|▆|▇|█)'
# The top: the 64 MiB it holds, or more if a sample caught the instant bash's $(...) held the
# text twice (its buffer and the copy).
TOP='\(top (6[4-9]|[7-9][0-9]|1[0-3][0-9])(\.[0-9])?M'
wait_screen "^cpu +$BLOCK{2,}.*\(top " 10 "tui: the CPU sparkline of the history row"
wait_screen "^memory +$BLOCK{2,}.*$TOP" 10 "tui: the memory sparkline, its top >= 64 MiB"
wait_screen '^phases +growPhase [34][0-9]s, quietPhase [0-9]s' 10 "tui: its phases with their durations"
screen >"$T/tui-detail.txt"
tui_quit

# --- the detail of an ended build the TUI still shows once the daemon holds it no more (it
# restarted): the build's history row, with its graphs ---
tui_start 160 45
keys t # the flat list
keys a # with the finished builds
wait_screen 'tl-restart' 10 "tui: the ended build in the builds view"
screen >"$T/tui-builds.txt"
keys /
type_text tl-restart
keys Enter
keys Enter
wait_screen '^details: tl-restart' 10 "tui: its detail page (the daemon holds it)"
wait_screen '^key: [0-9]+' 10 "tui: the daemon's build (it has a key)"
stop_daemon
start_daemon "${DAEMON_ARGS[@]}"
wait_screen '^kind: build' 20 "tui: after the restart, its history row (a row's kind)"
wait_screen '^details: tl-restart' 10 "tui: the same build's"
wait_screen "^memory +$BLOCK{2,}.*$TOP" 10 "tui: with its memory sparkline"
wait_screen '^phases +growPhase [34][0-9]s, quietPhase [0-9]s' 10 "tui: and its phases"
screen >"$T/tui-detail-restarted.txt"
tui_quit
