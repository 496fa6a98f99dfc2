#!/usr/bin/env bash
# Continuity across daemon restarts (issue 18, case 3), against real Nix builds whose
# builders write their own start and end times (tests/e2e/nix/truth-restart.nix):
#  (a) the daemon is killed (SIGKILL) mid-build and started again: the build's start (so its
#      elapsed time), its log line count (also counting on when its stream connects again) and
#      its invocation (progress, running, and its counts: a build of it that ended before the
#      kill stays counted) continue, and its history row has the real duration;
#  (c) the same without the daemon's state file (lost): the build starts at its builder's start;
#  (b) the daemon is killed, builds end while it is down (one succeeds, one fails, and one that
#      was still queued at the kill runs and succeeds), it is started again: all three are in
#      history with the right outcome, marked approximate, with a plausible duration (the
#      queued one's start is when Nix made its build log, where the filesystem keeps that).
# Tolerances (seconds), against the builder's own timestamps:
#  - start after the restart: within START_TOL of the builder's start (Nix starts the build a
#    moment before it execs the builder; the state file keeps the daemon's own record; without
#    it, the builder's start from /proc, in clock ticks);
#  - history duration of (a) and (c): within DUR_TOL of the builder's (end - start) (the daemon sees the
#    builder's exit at its next sample, every 0.5 s here);
#  - history duration of (b): at least the builder's minus DUR_TOL and at most its plus
#    DOWN_TOL (the end is the mtime of the build log Nix keeps, written until the build ends).
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "reading builders of nixbld users needs root"
source "$E2E_DIR/lib-proc.sh"

START_TOL=1.5
DUR_TOL=1.5
DOWN_TOL=3
ELAPSED_TOL=2 # the start tolerance, plus the time between reading the clock and the answer
STATE="$T/running-builds.json"
STAMPS="$T/stamps"
mkdir -p "$STAMPS" && chmod 1777 "$STAMPS" "$T"

DAEMON_ARGS=(--cgroup-root "$CGROOT" --sample-interval 0.5)
start_daemon "${DAEMON_ARGS[@]}"
FILE="$E2E_DIR/nix/truth-restart.nix"
ARGS=(--argstr nonce "$NONCE" --argstr stamps "$STAMPS")
D_SLOW=$(nix-instantiate "$FILE" -A slow "${ARGS[@]}" --arg seconds 20 2>/dev/null)
D_QUICK=$(nix-instantiate "$FILE" -A quick "${ARGS[@]}" --arg seconds 16 2>/dev/null)
D_BAD=$(nix-instantiate "$FILE" -A bad "${ARGS[@]}" --arg seconds 16 2>/dev/null)
D_AFTER=$(nix-instantiate "$FILE" -A after "${ARGS[@]}" --arg seconds 16 2>/dev/null)
[[ -n "$D_SLOW" && -n "$D_QUICK" && -n "$D_BAD" && -n "$D_AFTER" ]] || die "nix-instantiate failed"

# within A B TOL: |A - B| <= TOL (floats)
within() { jq -en --argjson a "$1" --argjson b "$2" --argjson t "$3" '($a - $b) | fabs <= $t' >/dev/null; }
build_json() { ctl get-build "$1" 2>/dev/null; }
# history_row DRV: its row, or null (never empty: jq -e passes on no input at all)
history_row() {
	local r
	r=$(ctl get-history --limit 50 2>/dev/null | jq -c --arg d "$1" '[.builds[] | select(.drv == $d)] | .[0]')
	printf '%s' "${r:-null}"
}
has_row() { [[ "$(history_row "$1")" != null ]]; }
in_state_file() { [[ -s "$STATE" ]] && jq -e --arg d "$1" --argjson n "$2" 'any(.builds[]; .drv == $d and .log_lines >= $n)' "$STATE" >/dev/null 2>&1; }
# settle CMD...: waits (at most 5 s) until the daemon's state file says CMD. Not an assertion:
# the file is how, not what; what is checked is what the user sees after the restart.
settle() {
	local end=$(($(now_ms) + 5000))
	while ! "$@" && (($(now_ms) < end)); do sleep 0.1; done
	return 0
}
kill_daemon() {
	log "SIGKILL to nix-analyticsd $DAEMON_PID"
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}

# ---- (a) killed mid-build, restarted while it runs ----
D_PRE=$(nix-instantiate "$FILE" -A pre "${ARGS[@]}" 2>/dev/null)
nix_bg "$FILE" -A slow -A pre "${ARGS[@]}" --arg seconds 20 -j2
wait_for 60 "the build runs with its builder found" eval '[[ -n "$(builder_of "$D_SLOW")" ]]' || die "build not tracked"
wait_for 15 "the other build of the invocation succeeded" eval '[[ "$(build_json "$D_PRE" | jq -r .build.state)" == succeeded ]]' ||
	die "truth-pre did not end"
wait_for 10 "a few log lines" eval '(( $(build_json "$D_SLOW" | jq ".build.log_lines // 0") >= 6 ))'
B1=$(build_json "$D_SLOW")
LINES1=$(jq .build.log_lines <<<"$B1")
INV1=$(jq .build.invocation <<<"$B1")
ctl_ok SNAP snapshot
PROG1=$(jq -c --argjson i "$INV1" '.invocations[] | select(.id == $i) | .progress' <<<"$SNAP")
log "before the kill: $LINES1 log lines, invocation progress $PROG1"
settle in_state_file "$D_SLOW" "$LINES1"
kill_daemon
sleep 2 # the build goes on meanwhile
start_daemon "${DAEMON_ARGS[@]}"
back() { [[ "$(build_json "$D_SLOW" | jq -r .build.state)" == running ]]; }
wait_for 5 "the build is back, running" back
REAL_START=$(cat "$STAMPS/slow.start")
B2=$(build_json "$D_SLOW")
NOW=$(date +%s.%N)
STARTED=$(jq .build.started <<<"$B2")
ELAPSED=$(jq .build.duration <<<"$B2")
log "after the restart: started $STARTED (builder $REAL_START), elapsed $ELAPSED s (real $(jq -n "$NOW - $REAL_START"))"
assert_true "its start is the builder's, within ${START_TOL}s" within "$STARTED" "$REAL_START" "$START_TOL"
assert_true "ELAPSED continues: within ${ELAPSED_TOL}s of the time since the builder started" \
	within "$ELAPSED" "$(jq -n "$NOW - $REAL_START")" "$ELAPSED_TOL"
assert_json "its log line count continues (>= $LINES1 seen before the kill)" "$B2" ".build.log_lines >= $LINES1"
# The stream (ctl ingest) connects again and its records for the build's activity count on.
LINES2=$(jq .build.log_lines <<<"$B2")
wait_for 10 "log lines printed after the restart are counted ($LINES2 at the restart)" \
	eval '(( $(build_json "$D_SLOW" | jq ".build.log_lines // 0") >= LINES2 + 4 ))'
# The build and its invocation in one answer: the stream, connecting again, may take the build
# over between two requests.
ctl_ok SNAP snapshot
INV=$(jq -c --arg d "$D_SLOW" '(.builds[] | select(.drv == $d) | .invocation) as $i | .invocations[] | select(.id == $i)' <<<"$SNAP")
log "its invocation after the restart: $INV"
assert_json "its invocation is running, not ended" "$INV" '.state == "running" and .finished == null'
assert_json "its invocation shows its true progress (1 expected, 1 running), as before the kill ($PROG1)" "$INV" \
	".progress.expected >= 1 and .progress.running >= 1 and .progress == $PROG1"
assert_json "its invocation keeps its requester" "$INV" '.requester.uid == 0 and (.requester.cmdline // "" | test("nix-build"))'
assert_json "its counts keep the build that ended before the kill: 2 builds, 1 succeeded, 1 running" "$INV" \
	'.counts | .builds == 2 and .succeeded == 1 and .running == 1 and .done == 1'

wait_for 60 "nix-build ends" nix_done
assert_eq "nix-build succeeds" 0 "$(nix_rc)"
ended_both() {
	ctl list-invocations 2>/dev/null | jq -e --argjson i "$(build_json "$D_SLOW" | jq .build.invocation)" \
		'.invocations[] | select(.id == $i) | .counts | .builds == 2 and .succeeded == 2 and .done == 2' >/dev/null
}
wait_for 10 "its invocation counts both builds succeeded" ended_both ||
	fail "counts at the end" "$(ctl list-invocations | jq -c '.invocations[] | {id, counts}')"
wait_for 15 "its history row" has_row "$D_SLOW" || die "no history row"
ROW=$(history_row "$D_SLOW")
REAL=$(jq -n "$(cat "$STAMPS/slow.end") - $REAL_START")
log "history: $(jq -c '{state, duration, approximate, started}' <<<"$ROW"), builder's real duration $REAL s"
assert_json "history: succeeded, exact (not approximate)" "$ROW" '.state == "succeeded" and .approximate == false'
assert_true "history duration within ${DUR_TOL}s of the builder's $REAL s" within "$(jq .duration <<<"$ROW")" "$REAL" "$DUR_TOL"

# ---- (c) no record of the build (the state file lost): its builder's start, from /proc ----
D_LOST=$(nix-instantiate "$FILE" -A lost "${ARGS[@]}" --arg seconds 10 2>/dev/null)
nix_bg "$FILE" -A lost "${ARGS[@]}" --arg seconds 10
wait_for 60 "the build runs with its builder found" eval '[[ -n "$(builder_of "$D_LOST")" ]]' || die "build not tracked"
wait_for 10 "a few log lines" eval '(( $(build_json "$D_LOST" | jq ".build.log_lines // 0") >= 4 ))'
kill_daemon
rm -f "$STATE"
sleep 2 # the build goes on meanwhile: a start taken at the restart would be seconds late
start_daemon "${DAEMON_ARGS[@]}"
wait_for 5 "the build is back, running" eval '[[ "$(build_json "$D_LOST" | jq -r .build.state)" == running ]]'
STARTED=$(build_json "$D_LOST" | jq .build.started)
log "without a record: started $STARTED (builder $(cat "$STAMPS/lost.start"))"
assert_true "without a record its start is its builder's (/proc), within ${START_TOL}s" \
	within "$STARTED" "$(cat "$STAMPS/lost.start")" "$START_TOL"
wait_for 60 "nix-build ends" nix_done
wait_for 15 "its history row" has_row "$D_LOST"
ROW=$(history_row "$D_LOST")
REAL=$(jq -n "$(cat "$STAMPS/lost.end") - $(cat "$STAMPS/lost.start")")
log "history: $(jq -c '{state, duration, approximate}' <<<"$ROW"), builder's real duration $REAL s"
assert_json "history: its duration from the builder's start, within ${DUR_TOL}s of $REAL s" "$ROW" \
	".state == \"succeeded\" and .approximate == false and .duration >= $REAL - $DUR_TOL and .duration <= $REAL + $DUR_TOL"

# ---- (b) builds that end while the daemon is down ----
nix_bg "$FILE" -A quick -A bad -A after "${ARGS[@]}" --arg seconds 16 -k -j2
wait_for 60 "both builds run with their builders found" \
	eval '[[ -n "$(builder_of "$D_QUICK")" && -n "$(builder_of "$D_BAD")" ]]' || die "builds not tracked"
assert_eq "truth-after waits, queued" queued "$(build_json "$D_AFTER" | jq -r .build.state)"
settle eval 'in_state_file "$D_QUICK" 0 && in_state_file "$D_BAD" 0 && in_state_file "$D_AFTER" 0'
kill_daemon
wait_for 60 "nix-build ends while the daemon is down" nix_done
assert_eq "nix-build fails (one build fails)" 100 "$(nix_rc)"
start_daemon "${DAEMON_ARGS[@]}"
wait_for 15 "all three are in history" eval 'has_row "$D_QUICK" && has_row "$D_BAD" && has_row "$D_AFTER"'
BORN=$(stat -c %W "$(find /nix/var/log/nix/drvs -name "$(basename "$D_AFTER")*" | head -n 1)")
for b in quick bad after; do
	d=$D_QUICK want=succeeded
	[[ $b == bad ]] && d=$D_BAD want=failed
	[[ $b == after ]] && d=$D_AFTER
	if [[ $b == after && $BORN == 0 ]]; then
		# The filesystem keeps no birth time: the start is unknown, so is the duration.
		assert_json "after: recorded succeeded, approximate, start and duration unknown" "$(history_row "$d")" \
			'.state == "succeeded" and .approximate == true and .started == null and .duration == null'
		continue
	fi
	ROW=$(history_row "$d")
	REAL=$(jq -n "$(cat "$STAMPS/$b.end") - $(cat "$STAMPS/$b.start")")
	log "history of $b: $(jq -c '{state, duration, approximate, failure}' <<<"$ROW"), builder's real duration $REAL s"
	assert_json "$b: recorded $want, approximate" "$ROW" ".state == \"$want\" and .approximate == true"
	assert_json "$b: duration plausible ($REAL s real, -${DUR_TOL}/+${DOWN_TOL} s)" "$ROW" \
		".duration >= $REAL - $DUR_TOL and .duration <= $REAL + $DOWN_TOL"
done
assert_json "the failed one says why" "$(history_row "$D_BAD")" '.failure.kind == "no-outputs"'
assert_true "the daemon logged what it recorded" grep -q "ended while the daemon was down" "$T/daemon.log"
