#!/usr/bin/env bash
# A real nix-build of an 8-derivation graph (-k -j3: parallel builds, a failure with exit
# code 3, two dependency failures, 5,000 log lines, four phases) piped through
# `nix-analytics-ctl ingest`; then everything the CLI reports about it is checked against
# what Nix did. A second, successful build checks that ingest passes Nix's plain output on.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
start_daemon

GRAPH="$E2E_DIR/nix/graph.nix"
EXPECTED=$(drvs_of "$GRAPH" --argstr nonce "$NONCE")
assert_eq "the graph has 8 derivations" 8 "$(printf '%s\n' "$EXPECTED" | wc -l)"
D_FAIL=$(drv_by_name "$EXPECTED" e2e-fail)
D_AFTER=$(drv_by_name "$EXPECTED" e2e-after-fail)
D_AFTER2=$(drv_by_name "$EXPECTED" e2e-after-after)
D_PHASES=$(drv_by_name "$EXPECTED" e2e-phases)
D_SEQ=$(drv_by_name "$EXPECTED" e2e-seq5000)
D_SLOWA=$(drv_by_name "$EXPECTED" e2e-slow-a)

# A live subscriber sees the builds come and go.
ctl watch --json >"$T/watch.jsonl" 2>"$T/watch.err" &
WATCH=$!
track "$WATCH"
# subscribed: the daemon counts it besides the client asking
watch_connected() { ctl status 2>/dev/null | jq -e '.control.clients >= 2' >/dev/null; }
wait_for 10 "watch is connected" watch_connected

# A client following every build's log receives every line, the last ones of a build that has
# just ended included (they reach followers before the finished build's log is cut).
python3 - "$SOCKDIR/control.sock" "$T/follower.stop" "$T/follower.ready" >"$T/follower.json" 2>"$T/follower.err" <<'PY' &
import json, os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"id":1,"cmd":"subscribe","args":{"builds":true,"logs":"all"}}\n')
lines, skipped, names, buf = {}, {}, {}, b""
deadline = time.time() + 240
s.settimeout(1)
while time.time() < deadline:
    if os.path.exists(sys.argv[2]):  # the test saw the stream end: read what is left, then stop
        deadline = min(deadline, time.time() + 1)
    try:
        chunk = s.recv(1 << 16)
    except socket.timeout:
        continue
    if not chunk:
        break
    buf += chunk
    *done, buf = buf.split(b"\n")
    for raw in done:
        m = json.loads(raw)
        if m.get("id") == 1:  # subscribed: the test may start Nix
            open(sys.argv[3], "w").close()
        ev, d = m.get("event"), m.get("data") or m
        if ev == "log":
            k = d["build"]
            lines[k] = lines.get(k, 0) + len(d["lines"])
            skipped[k] = skipped.get(k, 0) + d.get("skipped", 0)
        elif ev == "build":
            b = d.get("build", d)
            names[b["key"]] = b["name"]
print(json.dumps({names.get(k, str(k)): [lines[k], skipped.get(k, 0)] for k in lines}))
PY
FOLLOWER=$!
track "$FOLLOWER"
wait_for 10 "the log follower is subscribed" test -e "$T/follower.ready"

# Poll the running builds while Nix works: several must be seen running at once.
poll_running() {
	while :; do
		ctl list-builds --state running 2>/dev/null | jq -r '.builds | length' 2>/dev/null
		sleep 0.1
	done >"$T/running.txt"
}
poll_running &
POLLER=$!
track "$POLLER"

log "nix-build $GRAPH -k -j3 | ingest"
nix-build "$GRAPH" --argstr nonce "$NONCE" --no-out-link \
	--log-format internal-json -v -k -j3 2>&1 |
	tee "$T/events.raw" |
	ctl ingest >"$T/ingest.out" 2>"$T/ingest.err"
RCS=("${PIPESTATUS[@]}")
log "nix-build exit ${RCS[0]}, ingest exit ${RCS[2]}"
assert_ne "nix-build fails (one derivation exits 3)" 0 "${RCS[0]}"
assert_eq "ingest exits 0" 0 "${RCS[2]}"
[[ -s "$T/ingest.err" ]] && log "ingest stderr: $(head -c 500 "$T/ingest.err")"

# The invocation is the one all our builds belong to; wait until the daemon has it done.
inv_done() {
	local inv
	inv=$(ctl list-invocations 2>/dev/null) || return 1
	printf '%s' "$inv" | jq -e '.invocations | length >= 1 and all(.state == "done")' >/dev/null
}
wait_for 15 "the invocation turns done" inv_done
stop_pid "$POLLER"

ctl_ok BUILDS list-builds || die "list-builds failed"
watch_saw_all() {
	[[ "$(jq -r 'select(.event == "build" and .build.state != "running" and .build.state != "queued") | .build.drv' \
		"$T/watch.jsonl" 2>/dev/null | sort -u)" == "$EXPECTED" ]]
}
wait_for 10 "watch --json shows every build of the graph ending" watch_saw_all &&
	pass "watch --json showed every build of the graph ending"
assert_json "watch --json: the failure event carries exit code 3" "$(jq -s -c . "$T/watch.jsonl")" \
	"any(.[]; .event == \"build\" and .build.drv == \"$D_FAIL\" and .build.failure.exit_code == 3)"
stop_pid "$WATCH"
printf '%s\n' "$BUILDS" >"$T/list-builds.json"

# --- exactly the graph's derivations, each once ---
GOT=$(printf '%s' "$BUILDS" | jq -r '.builds[].drv' | sort)
assert_eq "list-builds shows exactly the graph's derivations" "$EXPECTED" "$GOT"
assert_eq "no derivation listed twice" 8 "$(printf '%s' "$BUILDS" | jq '.builds | length')"

# --- final states ---
for d in $EXPECTED; do
	b=$(build_of "$BUILDS" "$d")
	case $d in
	"$D_FAIL" | "$D_AFTER" | "$D_AFTER2") want=failed ;;
	*) want=succeeded ;;
	esac
	assert_eq "state of ${d:44}" "$want" \
		"$(printf '%s' "$b" | jq -r '.state')"
	if [[ $want == succeeded ]]; then
		assert_json "succeeded ${d:44} has no failure, start and end times" "$b" \
			'.failure == null and (.started | type) == "number" and (.finished | type) == "number" and .finished >= .started'
	fi
	base=${d:44}
	assert_eq "name of ${base%.drv}" "${base%.drv}" "$(printf '%s' "$b" | jq -r '.name')"
done

# --- the failure ---
B_FAIL=$(build_of "$BUILDS" "$D_FAIL")
assert_eq "fail: failure.kind" exit-code "$(printf '%s' "$B_FAIL" | jq -r '.failure.kind')"
assert_eq "fail: failure.exit_code" 3 "$(printf '%s' "$B_FAIL" | jq -r '.failure.exit_code')"
assert_match "fail: failure.message mentions exit code 3" 'exit code 3' \
	"$(printf '%s' "$B_FAIL" | jq -r '.failure.message')"
assert_json "fail: failure.message carries no ANSI escapes" "$B_FAIL" \
	'.failure.message | test("\u001b") | not'
assert_json "fail: it ran (start and end times)" "$B_FAIL" \
	'(.started | type) == "number" and (.finished | type) == "number"'

for d in "$D_AFTER" "$D_AFTER2"; do
	b=$(build_of "$BUILDS" "$d")
	assert_eq "${d:44}: failure.kind" dependency "$(printf '%s' "$b" | jq -r '.failure.kind')"
	assert_json "${d:44}: never started" "$b" '.started == null'
done

# --- phases ---
B_PHASES=$(build_of "$BUILDS" "$D_PHASES")
assert_eq "phases recorded in order" '["unpackPhase","configurePhase","buildPhase","installPhase"]' \
	"$(printf '%s' "$B_PHASES" | jq -c '[.phases[].name]')"
assert_json "phase times are non-decreasing" "$B_PHASES" \
	'[.phases[].time] as $t | $t == ($t | sort) and ($t | all(type == "number"))'
assert_eq "phases: log lines (setPhase lines are not log lines)" 4 \
	"$(printf '%s' "$B_PHASES" | jq -r '.log_lines')"

# --- 5,000 log lines ---
touch "$T/follower.stop"
wait "$FOLLOWER"
FOLLOWED=$(cat "$T/follower.json")
LB=$(ctl list-builds)
# Every line reached the follower, the last ones of a build that has just ended included, or
# (seq5000: a burst of 5,000 lines overruns the 1,000-line live ring between two deliveries)
# it was told how many it skipped.
for name in e2e-phases e2e-slow-a e2e-slow-b e2e-fail e2e-seq5000; do
	n=$(printf '%s' "$LB" | jq --arg n "$name" '[.builds[] | select(.name == $n)][0].log_lines')
	assert_json "a follower of every log got each of $name's $n lines or was told it skipped them" \
		"$FOLLOWED" ".[\"$name\"] | .[0] + .[1] == $n"
	((n < 1000)) && assert_json "a follower of every log got all $n lines of $name" "$FOLLOWED" ".[\"$name\"] == [$n, 0]"
done

B_SEQ=$(build_of "$BUILDS" "$D_SEQ")
assert_eq "seq5000: log_lines" 5000 "$(printf '%s' "$B_SEQ" | jq -r '.log_lines')"
LOGTXT=$(ctl log "$D_SEQ" -n 3 2>&1)
assert_eq "log -n 3: the last three lines, as the builder wrote them" \
	"$(printf 'seq line %s\n' 4998 4999 5000)" "$LOGTXT"
if ctl_ok LOG log "$D_SEQ" --json; then
	assert_eq "log --json: the last line" "seq line 5000" "$(printf '%s' "$LOG" | jq -r '.lines[-1]')"
	assert_eq "log --json: total" 5000 "$(printf '%s' "$LOG" | jq -r '.total')"
	assert_json "log --json: truncated + kept lines == total" "$LOG" '.truncated + (.lines | length) == .total'
fi
if ctl_ok GB get-build "$D_SEQ"; then
	assert_eq "get-build: log_tail ends with the last line" "seq line 5000" \
		"$(printf '%s' "$GB" | jq -r '.build.log_tail[-1]')"
	assert_eq "get-build: same key as list-builds" "$(printf '%s' "$B_SEQ" | jq -r .key)" \
		"$(printf '%s' "$GB" | jq -r .build.key)"
fi
B_SLOWA=$(build_of "$BUILDS" "$D_SLOWA")
assert_eq "slow-a: log_lines" 4 "$(printf '%s' "$B_SLOWA" | jq -r '.log_lines')"
assert_json "slow-a: duration covers its 2 s of sleeping" "$B_SLOWA" '.duration >= 1.5'

# --- parallelism: -j3 ran several builds at once ---
MAXRUN=$(sort -n "$T/running.txt" | tail -n 1)
assert_ge "list-builds --state running showed >= 2 builds at once" 2 "${MAXRUN:-0}"
# Every leaf takes >= 1 s, so builds started within 0.5 s of the first one ran together.
assert_json "two builds started within 0.5 s of each other (ran in parallel)" "$BUILDS" \
	'[.builds[].started | numbers] | sort | . as $s | [range(1; length) | select($s[.] - $s[. - 1] < 0.5)] | length >= 1'

# --- the invocation ---
ctl_ok INVS list-invocations
INV_ID=$(printf '%s' "$BUILDS" | jq -r '[.builds[].invocation] | unique | if length == 1 then .[0] else "several: \(.)" end')
assert_match "all builds belong to one invocation" '^[0-9]+$' "$INV_ID"
INV=$(printf '%s' "$INVS" | jq -c --arg i "$INV_ID" '[.invocations[] | select((.id | tostring) == $i)] | first // null')
assert_json "invocation is done" "$INV" '.state == "done"'
assert_json "invocation progress complete: done + failed >= expected, nothing running" "$INV" \
	'.progress.running == 0 and (.progress.done + .progress.failed) >= .progress.expected and .progress.expected >= 1'
assert_json "invocation progress counts the 5 successes and the failure" "$INV" \
	'.progress.done == 5 and .progress.failed >= 1'
assert_json "invocation .complete (when present) is true" "$INV" '(has("complete") | not) or .complete == true'
assert_eq "invocation lists the builds' keys" \
	"$(printf '%s' "$BUILDS" | jq -c '[.builds[].key] | sort')" "$(printf '%s' "$INV" | jq -c '.builds | sort')"

# --- counters: every record Nix emitted reached the daemon, none bad ---
ctl_ok STATUS status
NRECS=$(grep -c '^@nix ' "$T/events.raw")
# ingest may also forward Nix's plain lines as messages, and a hello
NPLAIN=$(grep -vc '^@nix ' "$T/events.raw")
assert_json "status.events.total counts all $NRECS records Nix emitted" "$STATUS" \
	".events.total >= $NRECS and .events.total <= $NRECS + $NPLAIN + 1"
assert_json "status.events.bad and oversized are 0" "$STATUS" '.events.bad == 0 and .events.oversized == 0'
assert_json "status.builds: 5 succeeded, 3 failed, none running" "$STATUS" \
	'.builds.succeeded == 5 and .builds.failed == 3 and .builds.running == 0 and .builds.queued == 0'

# --- history ---
# written by the daemon's history thread, a moment after the builds end
history_has_all() {
	[[ "$(ctl get-history 2>/dev/null | jq -r '.builds[].drv' | sort)" == "$EXPECTED" ]]
}
wait_for 15 "get-history has the 8 finished builds" history_has_all && pass "get-history has the 8 finished builds"

# --- a second invocation: a successful build; ingest passes Nix's plain output through ---
SMALL="$E2E_DIR/nix/small.nix"
# shellcheck disable=SC2046 # one drv path per word
SMALL_OUTS=$(nix-store -q --outputs $(nix-instantiate "$SMALL" --argstr nonce "$NONCE" 2>/dev/null) | sort)
nix-build "$SMALL" --argstr nonce "$NONCE" --no-out-link --log-format internal-json -v 2>&1 |
	ctl ingest >"$T/ingest2.out" 2>"$T/ingest2.err"
RCS=("${PIPESTATUS[@]}")
assert_eq "second nix-build succeeds" 0 "${RCS[0]}"
assert_eq "second ingest exits 0" 0 "${RCS[1]}"
for o in $SMALL_OUTS; do
	assert_true "ingest printed nix-build's out path $o" grep -qxF "$o" "$T/ingest2.out"
done
assert_true "ingest did not print @nix records as plain output" bash -c "! grep -q '^@nix ' '$T/ingest2.out'"
wait_for 15 "both invocations done" inv_done
ctl_ok INVS list-invocations
assert_eq "two invocations" 2 "$(printf '%s' "$INVS" | jq '.invocations | length')"
ctl_ok BUILDS2 list-builds --name 'small-*'
assert_eq "list-builds --name small-*: both succeeded" '["succeeded","succeeded"]' \
	"$(printf '%s' "$BUILDS2" | jq -c '[.builds[].state]')"
ctl_ok FAILED list-builds --state failed
assert_eq "list-builds --state failed: the 3 failures" "$(printf '%s\n' "$D_FAIL" "$D_AFTER" "$D_AFTER2" | sort)" \
	"$(printf '%s' "$FAILED" | jq -r '.builds[].drv' | sort)"
