#!/usr/bin/env bash
# Truth (issue 18, case 5): counts with one definition each. Nine derivations in Nix's plan
# (nix-build -k -j3): five succeed, truth-c-fail exits 3, and the three that need it
# (truth-c-dep1, truth-c-dep2, truth-c-top) fail as dependencies. Once nix-build has ended,
# the invocation's counts must be the daemon's builds counted by state and failure kind:
# 9 builds, 9 done, 5 succeeded, 1 failed, 3 dependency, nothing running, finishing or
# queued; and every count equals the builds list-builds shows in it. Nix's own progress
# counter is not what is checked (it counts what its builds activity saw). status (the TUI's
# header) counts the same outcomes over the last hour from history, also after a restart.
source "$(dirname "$0")/truth-lib.sh"

truth_drvs counts truth-c-top counts-extra truth-c-ok5
truth_build -k -j3
ended() { [[ -s "$T/nix.done" ]]; }
wait_for 120 "nix-build ends" ended || die "nix-build did not end"
settled() {
	ctl list-invocations 2>/dev/null |
		jq -e '[.invocations[] | select(.counts.builds == 9)][0].counts | .done == 9 and .running == 0 and .finishing == 0' >/dev/null
}
wait_for 15 "the invocation counts its nine builds ended" settled ||
	fail "counts never settled" "$(ctl list-invocations | jq -c '.invocations[] | {id, counts, progress}')"
ctl_ok INVS list-invocations
INV=$(jq -c '[.invocations[] | select(.counts.builds == 9)][0]' <<<"$INVS")
printf '%s\n' "$INV" >"$T/invocation.json"
assert_json "9 builds: 5 succeeded, 1 failed, 3 dependency, none queued, running, finishing, cancelled" "$INV" \
	'.counts | .builds == 9 and .done == 9 and .succeeded == 5 and .failed == 1 and .dependency == 3 and .queued == 0 and .running == 0 and .finishing == 0 and .frozen == 0 and .cancelled == 0 and .killed == 0 and .lost == 0'
ctl_ok B list-builds --invocation "$(jq .id <<<"$INV")"
# list-builds' states, counted the way the counts are defined.
BYLIST=$(jq -c '[.builds[] | if .state == "failed" then (if .failure.kind == "dependency" then "dependency" elif .failure.kind == "cancelled" then "cancelled" elif .failure.kind == "not-started" then "not_started" else "failed" end) else .state end] | group_by(.) | map({(.[0]): length}) | add' <<<"$B")
assert_json "each count is what list-builds shows ($BYLIST)" "$INV" \
	"$BYLIST as \$l | .counts as \$c | all(\$l | to_entries[]; \$c[.key] == .value) and (\$l | add) == \$c.builds"
log "Nix's own progress for the same invocation: $(jq -c .progress <<<"$INV") (it counts what its builds activity saw)"

# The same builds, as the status the header shows: how the last hour's builds ended, counted
# from history, so that a restart of the daemon does not reset it.
recent() { ctl status 2>/dev/null | jq -c '.recent.counts // empty'; }
WANT='.succeeded == 5 and .failed == 1 and .dependency == 3 and .killed == 0 and .lost == 0 and .cancelled == 0 and .not_started == 0'
counted() { jq -e "$WANT" <<<"$(recent)" >/dev/null 2>&1; }
wait_for 10 "status counts the last hour's outcomes" counted ||
	fail "status.recent never counted the builds" "$(ctl status | jq -c .recent)"
assert_json "status.recent: 5 succeeded, 1 failed, 3 dependency" "$(recent)" "$WANT"
stop_daemon
start_daemon
wait_for 10 "after a restart status counts them again" counted ||
	fail "status.recent after a restart" "$(ctl status | jq -c .recent)"
assert_json "status.recent after a restart: the same counts" "$(recent)" "$WANT"
