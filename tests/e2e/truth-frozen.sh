#!/usr/bin/env bash
# Truth (issue 18, case 4): frozen time is not building time. truth-frozen does 5 s of work
# in 20 steps of 0.25 s; frozen for 3 s in the middle (nix-analytics-ctl freeze, thaw) its
# wall time grows by that much, its work does not. Its duration (live and in history) must
# be its wall time minus the time frozen, within 1 s, and frozen_time the time it was frozen,
# within 0.7 s. Real Nix through ingest, the real daemon freezing the real processes.
source "$(dirname "$0")/truth-lib.sh"

truth_drvs frozen truth-frozen quick truth-quick
D_FROZEN=$D1
truth_build -j3
stepping() { grep -q '"step 4"\|step 4' "$T/events.raw" 2>/dev/null; }
wait_for 60 "truth-frozen is at work" stepping || die "truth-frozen never ran"
running() { ctl get-build "$D_FROZEN" 2>/dev/null | jq -e '.build.state == "running"' >/dev/null; }
wait_for 10 "the daemon sees it running" running || die "not running"

ctl freeze "$D_FROZEN" >/dev/null || die "freeze failed"
T0=$(now_ms)
frozen() { ctl get-build "$D_FROZEN" 2>/dev/null | jq -e '.build.state == "frozen"' >/dev/null; }
wait_for 5 "it is frozen" frozen || die "not frozen"
sleep 3
ctl thaw "$D_FROZEN" >/dev/null || die "thaw failed"
FROZE=$((($(now_ms) - T0)))
ctl_ok GB get-build "$D_FROZEN"
assert_json "frozen_time while thawed is the time it was frozen (${FROZE} ms, within 0.7 s)" "$GB" \
	".build.frozen_time | . >= ($FROZE - 700) / 1000 and . <= ($FROZE + 700) / 1000"

done_() { ctl get-build "$D_FROZEN" 2>/dev/null | jq -e '.build.state == "succeeded"' >/dev/null; }
wait_for 30 "truth-frozen succeeds" done_ || die "truth-frozen did not succeed"
ctl_ok GB get-build "$D_FROZEN"
WALL=$(jq '.build.finished - .build.started' <<<"$GB")
log "wall $WALL s, duration $(jq .build.duration <<<"$GB") s, frozen $(jq .build.frozen_time <<<"$GB") s"
assert_json "its duration is its wall time minus the time frozen (within 1 s)" "$GB" \
	".build.duration as \$d | .build.frozen_time as \$f | (\$d - ($WALL - \$f)) | (. < 1 and . > -1)"
assert_json "... which is about its 5 s of work, not its ${WALL} s of wall time" "$GB" '.build.duration < 7.5'
written() { ctl get-history --name truth-frozen 2>/dev/null | jq -e '.builds | length == 1' >/dev/null; }
wait_for 15 "history has it" written || die "no history row"
ctl_ok H get-history --name truth-frozen
assert_json "history keeps the same duration, frozen time left out" "$H" \
	"(.builds[0].duration - $(jq .build.duration <<<"$GB")) | (. < 0.01 and . > -0.01)"
