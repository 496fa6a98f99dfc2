#!/usr/bin/env bash
# Truth (issue 18, case 1): a failed build must not look running. Under `nix-build -k`, Nix 2.8
# keeps a failed top-level build's activity open, and words its failure, only when the whole
# invocation ends. A builder that exits 3 beside a 20 s build must leave `running` within a
# few seconds of its exit (its processes are gone) and end `failed`, with a reason, well before
# nix-build ends; once Nix words it, the reason is Nix's (exit code 3). Real Nix through
# `nix-analytics-ctl ingest`, the real daemon and its sampler.
source "$(dirname "$0")/truth-lib.sh"

truth_drvs fail truth-fail long truth-long
D_FAIL=$D1 D_LONG=$D2
# What the daemon says about truth-fail: "<ms> <state> <failure kind>".
truth_poll "$D_FAIL" '"\(.build.state) \(.build.failure.kind)"'
log "nix-build -k -j3 (truth-fail beside truth-long) | ingest"
START_MS=$(now_ms)
truth_build -k -j3

# The builder's exit: it prints "exiting 3" as its last line (Nix passes it on at once).
exited() { grep -q 'exiting 3' "$T/events.raw" 2>/dev/null; }
wait_for 60 "truth-fail's builder prints its last line" exited || die "truth-fail never ran"
EXIT_MS=$(now_ms)
log "truth-fail's builder exits ($((EXIT_MS - START_MS)) ms after nix-build started)"

not_running() {
	[[ $(ctl get-build "$D_FAIL" 2>/dev/null | jq -r .build.state) != running ]]
}
wait_for 6 "truth-fail leaves running within 6 s of its builder's exit" not_running
LEFT_MS=$(now_ms)
is_failed() {
	ctl get-build "$D_FAIL" 2>/dev/null | jq -e '.build.state == "failed" and .build.failure.kind != null' >/dev/null
}
wait_for 8 "truth-fail is failed with a reason" is_failed
ctl_ok GB get-build "$D_FAIL"
printf '%s\n' "$GB" >"$T/fail-before-end.json"
FAILED_MS=$(now_ms)
assert_true "nix-build still runs when truth-fail is failed (truth-long keeps it busy)" \
	test ! -e "$T/nix.done"
ctl_ok GL get-build "$D_LONG"
assert_json "truth-long is still running then" "$GL" '.build.state == "running"'
assert_json "truth-fail's failure has a message" "$GB" '.build.failure.message | length > 0'
assert_json "truth-fail's duration is its builder's (under 10 s), not the invocation's" "$GB" \
	'.build.duration > 1 and .build.duration < 10'
log "truth-fail: left running $((LEFT_MS - EXIT_MS)) ms and was failed $((FAILED_MS - EXIT_MS)) ms after its builder's exit"

wait_for 120 "nix-build ends" test -e "$T/nix.done"
read -r NIX_RC END_MS <"$T/nix.done"
assert_ne "nix-build fails (truth-fail exits 3)" 0 "$NIX_RC"
assert_ge "truth-fail was failed at least 8 s before nix-build ended" 8000 $((END_MS - FAILED_MS))
# Nix's own words came at the end: its reason replaces the guess.
nix_reason() {
	ctl get-build "$D_FAIL" 2>/dev/null | jq -e '.build.failure.kind == "exit-code" and .build.failure.exit_code == 3' >/dev/null
}
wait_for 10 "truth-fail's reason becomes Nix's: exit code 3" nix_reason
long_ok() { ctl get-build "$D_LONG" 2>/dev/null | jq -e '.build.state == "succeeded"' >/dev/null; }
wait_for 10 "truth-long succeeds" long_ok
sleep 1 # the poller's next look
stop_pid "$POLLER"

# Never running again after it left, never succeeded.
AFTER=$(awk -v t="$LEFT_MS" '$1 >= t { print $2 }' "$T/states.txt" | sort -u | tr '\n' ' ')
assert_match "truth-fail is only finishing or failed once it left running (seen: $AFTER)" \
	'^((finishing|failed) )+$' "$AFTER"

# History keeps the final state (never finishing) with Nix's reason, which came after it.
hist() {
	ctl get-history --name truth-fail 2>/dev/null |
		jq -e '.builds | length == 1 and .[0].failure.kind == "exit-code"' >/dev/null
}
wait_for 15 "truth-fail is in history with Nix's reason" hist
ctl_ok H get-history --name truth-fail
assert_json "history: truth-fail failed, exit code 3, its builder's duration" "$H" \
	'.builds[0].state == "failed" and .builds[0].failure.exit_code == 3 and .builds[0].duration < 10'
stop_daemon
