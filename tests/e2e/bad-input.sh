#!/usr/bin/env bash
# Abuse both sockets of a daemon that already holds real data: binary garbage, a 100 MB
# line, invalid UTF-8, mistyped records, records naming another connection's activities,
# connections dropped mid-line, 1,000 idle connections on each socket. The daemon must stay
# responsive (status measured), keep its earlier data intact, count what it rejected, and
# answer control garbage with error responses.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
command -v python3 >/dev/null || skip "python3 missing"
PEER=(python3 "$E2E_DIR/badpeer.py")
IDLE=1000

# Room for 2 x 1,000 idle connections in the helper and in the daemon.
want=8192
hard=$(ulimit -Hn)
if [[ $hard != unlimited ]] && ((hard < want)); then
	ulimit -Hn "$want" 2>/dev/null || want=$hard
fi
ulimit -Sn "$want" || die "cannot raise the fd limit to $want"
((want >= 2 * IDLE + 200)) || skip "fd limit $want too low for $IDLE idle connections per socket"

start_daemon
EV="$SOCKDIR/events.sock"
CT="$SOCKDIR/control.sock"

# --- real data first ---
SMALL="$E2E_DIR/nix/small.nix"
nix-build "$SMALL" --argstr nonce "$NONCE" --no-out-link --log-format internal-json -v 2>&1 |
	tee "$T/events.raw" | ctl ingest >"$T/ingest.out" 2>&1
assert_eq "the real build and ingest succeed" "0 0 0" "${PIPESTATUS[*]}"
small_done() {
	ctl list-builds 2>/dev/null | jq -e '(.builds | length) == 2 and all(.builds[]; .state == "succeeded")' >/dev/null
}
wait_for 15 "the real build's 2 builds succeeded" small_done
ctl_ok BEFORE list-builds || die "list-builds failed"
KEYS=$(printf '%s' "$BEFORE" | jq -c '[.builds[].key]')
ctl_ok STATUS0 status
BAD0=$(printf '%s' "$STATUS0" | jq '.events.bad')
OVS0=$(printf '%s' "$STATUS0" | jq '.events.oversized')
# The real build's activity ids and drvs, to be named by a foreign connection.
IDS=$(sed -n 's/^@nix //p' "$T/events.raw" | jq -r 'select(.action == "start" and .type == 105) | .id' | paste -sd,)
DRVS=$(printf '%s' "$BEFORE" | jq -r '[.builds[].drv] | join(",")')

# timed_status LABEL: status must answer within 2 s; remembers the slowest answer.
SLOWEST=0
timed_status() {
	local t0 t1 ms out
	t0=$(now_ms)
	out=$(timeout 10 "$NA_CTL" -s "$SOCKDIR" status 2>&1)
	local rc=$?
	t1=$(now_ms)
	ms=$((t1 - t0))
	((ms > SLOWEST)) && SLOWEST=$ms
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if ((rc == 0)) && ((ms < 2000)) && printf '%s' "$out" | jq -e '.pid' >/dev/null 2>&1; then
		pass "status answers after $1 (${ms} ms)"
	else
		fail "status answers within 2 s after $1" "exit $rc after ${ms} ms" "output: $(printf '%s' "$out" | head -c 500)"
	fi
	kill -0 "$DAEMON_PID" 2>/dev/null || die "nix-analyticsd died after $1"
}

# --- events.sock ---
OUT=$("${PEER[@]}" garbage "$EV") || fail "badpeer garbage failed"
DEF_BAD=$(printf '%s' "$OUT" | jq '.definitely_bad')
timed_status "binary garbage on events.sock"

"${PEER[@]}" wrongtypes "$EV" "$IDS" "$DRVS" >/dev/null || fail "badpeer wrongtypes failed"
timed_status "mistyped records, invalid UTF-8, deep nesting, foreign ids on events.sock"

"${PEER[@]}" bigline "$EV" $((100 << 20)) >"$T/bigline.json" &
BIG=$!
track "$BIG"
timed_status "while a 100 MB line is being sent to events.sock"
wait "$BIG"
assert_eq "the 100 MB line was accepted by the socket (read and discarded, connection kept)" false \
	"$(jq -r '.closed_early' "$T/bigline.json")"
log "100 MB line took $(jq -r .seconds "$T/bigline.json") s to send"
timed_status "a 100 MB line on events.sock"

"${PEER[@]}" midline "$EV" >/dev/null || fail "badpeer midline (events) failed"
timed_status "connections dropped mid-line on events.sock"

# Peers that flood events.sock with valid records must not lock out control clients, and
# none of their records may be lost.
ctl_ok STATUS_F status
TOTAL_F=$(printf '%s' "$STATUS_F" | jq '.events.total')
"${PEER[@]}" flood "$EV" 5 2 >"$T/flood.json" &
FLOOD=$!
track "$FLOOD"
sleep 1
timed_status "1 s into a 5 s flood of valid records on 2 connections to events.sock"
timed_status "a second ask during (or just after) the flood"
wait "$FLOOD"
FLOODED=$(jq -r .records "$T/flood.json")
log "flood: $FLOODED records"
flood_counted() { [[ "$(ctl status 2>/dev/null | jq '.events.total')" == $((TOTAL_F + FLOODED)) ]]; }
wait_for 60 "status.events.total counts all $FLOODED flood records" flood_counted &&
	pass "status.events.total counts all $FLOODED flood records"
flood_builds() {
	ctl list-builds --name 'flood-*' 2>/dev/null |
		jq -e --argjson n "$(jq -c .log_lines "$T/flood.json")" '([.builds[].log_lines] | sort) == ($n | sort)' >/dev/null
}
wait_for 10 "the flood builds have all their log lines $(jq -c .log_lines "$T/flood.json")" flood_builds &&
	pass "the flood builds have all their log lines"

# --- control.sock ---
"${PEER[@]}" control "$CT" >"$T/control.jsonl" || fail "badpeer control failed"
while IFS= read -r r; do
	c=$(printf '%s' "$r" | jq -r .case)
	assert_json "control.sock $c: an error response with an expected code" "$r" \
		'.response.error.code as $c | .codes | index($c) != null'
	assert_json "control.sock $c: the error has a message" "$r" '.response.error.message | type == "string" and length > 0'
	assert_json "control.sock $c: the request id is echoed" "$r" '.echo_id == null or .response.id == .echo_id'
done <"$T/control.jsonl"
assert_eq "all control cases answered" "$(grep -c '"case"' "$T/control.jsonl")" \
	"$(jq -s 'map(select(.response != null)) | length' "$T/control.jsonl")"
timed_status "bad requests on control.sock"

"${PEER[@]}" control-big "$CT" $((100 << 20)) >"$T/control-big.json" || fail "badpeer control-big failed"
R=$(cat "$T/control-big.json")
assert_json "control.sock 100 MB request: too-large error" "$R" '.response.error.code == "too-large"'
assert_json "control.sock 100 MB request: connection closed after the error" "$R" '.eof_after == true'
timed_status "a 100 MB request on control.sock"

"${PEER[@]}" midline "$CT" >/dev/null || fail "badpeer midline (control) failed"
timed_status "connections dropped mid-line on control.sock"

# --- 1,000 idle connections on each socket, held while we ask for status ---
"${PEER[@]}" idle "$IDLE" "$T/idle.ready" "$EV" "$CT" &
IDLE_PID=$!
track "$IDLE_PID"
wait_for 60 "$IDLE idle connections per socket opened" test -f "$T/idle.ready"
log "idle connections: $(cat "$T/idle.ready" 2>/dev/null)"
assert_eq "all $((2 * IDLE)) idle connections were accepted by connect()" $((2 * IDLE)) \
	"$(jq -r .open "$T/idle.ready" 2>/dev/null)"
for i in 1 2 3; do
	timed_status "holding $IDLE idle connections on each socket (try $i)"
done
ctl_ok STATUS_IDLE status
log "status while idle connections held: $(printf '%s' "$STATUS_IDLE" | jq -c '{sources, control}')"
stop_pid "$IDLE_PID"
timed_status "the idle connections went away"

# --- the daemon is intact ---
ctl_ok AFTER list-builds
assert_eq "the earlier builds are unchanged" "$(printf '%s' "$BEFORE" | jq -S -c '.builds')" \
	"$(printf '%s' "$AFTER" | jq -S -c --argjson k "$KEYS" '[.builds[] | select(.key as $x | $k | index($x))]')"
ctl_ok STATUS1 status
printf '%s\n' "$STATUS1" >"$T/status-after.json"
assert_ge "status.events.bad grew by at least the $DEF_BAD garbage lines" $((BAD0 + DEF_BAD)) \
	"$(printf '%s' "$STATUS1" | jq '.events.bad')"
assert_ge "status.events.oversized counts the 100 MB line" $((OVS0 + 1)) \
	"$(printf '%s' "$STATUS1" | jq '.events.oversized')"
idle_gone() { ctl status 2>/dev/null | jq -e '.sources.connected == 0 and .control.clients <= 1' >/dev/null; }
wait_for 10 "status shows the idle connections gone (no sources, only our control client)" idle_gone
# A fresh real build still works end to end after all that.
NONCE="$NONCE-again"
nix-build "$SMALL" --argstr nonce "$NONCE" --argstr prefix again --no-out-link --log-format internal-json -v 2>&1 |
	ctl ingest >/dev/null 2>&1
again_done() {
	ctl list-builds --name 'again-*' 2>/dev/null | jq -e '(.builds | length) == 2 and all(.builds[]; .state == "succeeded")' >/dev/null
}
wait_for 15 "a new real build is recorded after the abuse" again_done && pass "a new real build is recorded after the abuse"
log "slowest status answer: ${SLOWEST} ms"
