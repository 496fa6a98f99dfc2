#!/usr/bin/env bash
# Truth (issue 18, case 2): a build must not look succeeded while it is not. A builder writes
# its output, starts a child that outlives it by about 12 s (the child holds the build's log
# open, so Nix waits for it, holds its lock and has not registered the output), and exits;
# meanwhile another build succeeds and moves Nix's done count. While the child runs the
# build must not be `succeeded`: it runs, with the child counted and shown as its process
# (`ps`); once the child ends, Nix registers the output and the build ends `succeeded`.
# Real Nix through `nix-analytics-ctl ingest`, the real daemon and its sampler.
source "$(dirname "$0")/truth-lib.sh"

truth_drvs leaky truth-leaky quick truth-quick
D_LEAKY=$D1 D_QUICK=$D2
OUT_LEAKY=$(nix-store -q --outputs "$D_LEAKY")
# What the daemon says about truth-leaky: "<ms> <state>".
truth_poll "$D_LEAKY" .build.state
log "nix-build -j3 (truth-leaky beside truth-quick) | ingest"
truth_build -j3

exited() { grep -q 'builder exits' "$T/events.raw" 2>/dev/null; }
wait_for 60 "truth-leaky's builder prints its last line" exited || die "truth-leaky never ran"
# Nix's done count moves when truth-quick succeeds (about 4 s in).
quick_done() { ctl get-build "$D_QUICK" 2>/dev/null | jq -e '.build.state == "succeeded"' >/dev/null; }
wait_for 20 "truth-quick succeeds" quick_done
sleep 3 # past the moment the daemon used to call truth-leaky succeeded

# The precondition: the child still runs and Nix has not registered the output.
CHILD=$(pgrep -f -x 'sleep 14' | head -n 1)
[[ -n $CHILD ]] || die "the leaked child (sleep 14) is not running: the scenario did not happen"
assert_true "the child still runs" kill -0 "$CHILD"
if nix-store --check-validity "$OUT_LEAKY" 2>/dev/null; then
	fail "precondition: the output is not valid in the store yet" "it is: $OUT_LEAKY"
else
	pass "precondition: Nix has not registered the output yet"
fi
ctl_ok GB get-build "$D_LEAKY"
printf '%s\n' "$GB" >"$T/leaky-while-child.json"
assert_json "truth-leaky is running while its child runs (not succeeded)" "$GB" '.build.state == "running"'
assert_json "its processes are counted (the child and its shell)" "$GB" '.build.usage.procs >= 1'
ctl_ok PS ps --json "$D_LEAKY"
printf '%s\n' "$PS" >"$T/ps.json"
assert_json "ps shows the child as one of its processes" "$PS" \
	"any(.processes[]; .pid == $CHILD and (.cmdline | test(\"sleep 14\")))"
TEXT=$(ctl ps "$D_LEAKY" 2>&1)
assert_contains "ps (text) lists the child" "sleep 14" "$TEXT"

wait_for 60 "nix-build ends" test -e "$T/nix.done"
read -r NIX_RC _ <"$T/nix.done"
assert_eq "nix-build succeeds" 0 "$NIX_RC"
assert_true "the output is valid now" nix-store --check-validity "$OUT_LEAKY"
ended() { ctl get-build "$D_LEAKY" 2>/dev/null | jq -e '.build.state == "succeeded"' >/dev/null; }
wait_for 10 "truth-leaky ends succeeded" ended
sleep 1 # the poller's next look
stop_pid "$POLLER"
# Never succeeded before the child ended.
CHILD_END=$(grep -n 'child done' "$T/events.raw" | head -n 1)
[[ -n $CHILD_END ]] && pass "the child's last line reached the build's log" || fail "the child's last line is missing"
ctl_ok GB get-build "$D_LEAKY"
assert_json "its duration covers the child (over 10 s)" "$GB" '.build.duration > 10'
SEEN=$(awk 'NF == 2 { print $2 }' "$T/states.txt" | uniq | tr '\n' ' ')
assert_match "truth-leaky went running to succeeded, maybe through finishing (seen: $SEEN)" \
	'^(running )+(finishing )*(succeeded )+$' "$SEEN"

hist() { ctl get-history --name truth-leaky 2>/dev/null | jq -e '.builds | length == 1' >/dev/null; }
wait_for 15 "truth-leaky is in history" hist
ctl_ok H get-history --name truth-leaky
assert_json "history: truth-leaky succeeded, lasting over 10 s" "$H" \
	'.builds[0].state == "succeeded" and .builds[0].duration > 10'
stop_daemon
