#!/usr/bin/env bash
# Nix's invocation-level errors are the truth on screen (issue 14, item 3): a real nix-build
# that fails before any build runs (build-users-group names a group that does not exist),
# piped through `nix-analytics-ctl ingest`. The invocation must be failed with Nix's message,
# every build Nix announced must say "not started: <that message>", nothing may say
# "cancelled", and history and the TUI must say the same.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
start_daemon

SMALL="$E2E_DIR/nix/small.nix"
EXPECTED=$(drvs_of "$SMALL" -A root --argstr nonce "$NONCE" --argstr prefix nixerr)
assert_eq "the graph has 2 derivations" 2 "$(printf '%s\n' "$EXPECTED" | wc -l)"

log "nix-build with build-users-group = nosuch-group | ingest"
NIX_CONFIG="$NIX_CONFIG
build-users-group = nosuch-group" \
	nix-build "$SMALL" -A root --argstr nonce "$NONCE" --argstr prefix nixerr --no-out-link \
	--log-format internal-json -v 2>&1 |
	tee "$T/events.raw" |
	ctl ingest >"$T/ingest.out" 2>"$T/ingest.err"
RCS=("${PIPESTATUS[@]}")
log "nix-build exit ${RCS[0]}, ingest exit ${RCS[2]}"
assert_ne "nix-build fails" 0 "${RCS[0]}"
assert_eq "ingest exits 0" 0 "${RCS[2]}"
# The precondition of everything below: Nix really failed that way, before building.
assert_contains "Nix reported the missing group as an error" \
	"specified in 'build-users-group' does not exist" "$(grep '"level":0' "$T/events.raw" | grep 'error:')"
assert_eq "Nix started no build activity" 0 "$(grep '"action":"start"' "$T/events.raw" | grep -c '"type":105')"

inv_ended() {
	ctl list-invocations 2>/dev/null | jq -e '.invocations | length == 1 and all(.state != "running")' >/dev/null
}
wait_for 15 "the invocation ends" inv_ended
builds_ended() {
	ctl list-builds 2>/dev/null | jq -e '.builds | length == 2 and all(.state != "queued")' >/dev/null
}
wait_for 15 "both announced builds end" builds_ended

# Filters below read it as $ENV.MSG.
export MSG="the group 'nosuch-group' specified in 'build-users-group' does not exist"

# --- list-invocations ---
ctl_ok INVS list-invocations
printf '%s\n' "$INVS" >"$T/list-invocations.json"
assert_json "the invocation is failed" "$INVS" '.invocations[0].state == "failed"'
assert_json "the invocation carries Nix's message, without colours" "$INVS" \
	'.invocations[0].error == $ENV.MSG'
assert_json "the message names build-users-group and says it does not exist" "$INVS" \
	'.invocations[0].error | contains("build-users-group") and contains("does not exist")'
INV_ID=$(jq -r '.invocations[0].id' <<<"$INVS")

# --- list-builds, get-build ---
ctl_ok BUILDS list-builds
printf '%s\n' "$BUILDS" >"$T/list-builds.json"
assert_eq "list-builds shows exactly the announced derivations" "$EXPECTED" \
	"$(jq -r '.builds[].drv' <<<"$BUILDS" | sort)"
assert_json "every build belongs to that invocation" "$BUILDS" "all(.builds[]; .invocation == $INV_ID)"
assert_json "every build failed as not-started with Nix's message" "$BUILDS" \
	'all(.builds[]; .state == "failed" and .started == null and .failure.kind == "not-started" and .failure.message == "not started: " + $ENV.MSG)'
for d in $EXPECTED; do
	ctl_ok B get-build "$d"
	assert_json "get-build ${d:44}: not started: <Nix's message>" "$B" \
		'.build.failure.kind == "not-started" and .build.failure.message == "not started: " + $ENV.MSG'
done
# No build is called cancelled (the invocation's counts have a "cancelled": 0 of their own).
for what in list-builds list-invocations; do
	out=$(ctl "$what" 2>&1 | jq -c 'del(.invocations[]?.counts)')
	if grep -qi cancel <<<"$out"; then
		fail "$what says cancelled" "$(grep -i -m 3 cancel <<<"$out")"
	else
		pass "$what never says cancelled"
	fi
done
assert_json "the invocation counts both builds not started, none cancelled" "$(ctl list-invocations)" \
	'.invocations[0].counts | .not_started == 2 and .cancelled == 0 and .builds == 2 and .done == 2'

# --- history ---
hist_rows() { ctl get-history --count 2>/dev/null | jq -e '.total == 2' >/dev/null; }
wait_for 15 "both builds are in history" hist_rows
ctl_ok H get-history
printf '%s\n' "$H" >"$T/history.json"
assert_json "history keeps not-started with Nix's message" "$H" \
	'all(.builds[]; .state == "failed" and .failure.kind == "not-started" and .failure.message == "not started: " + $ENV.MSG)'
if grep -qi cancel <<<"$H"; then fail "get-history says cancelled" "$(head -c 1000 <<<"$H")"; else pass "get-history never says cancelled"; fi

# --- watch: the invocation line shows the error ---
ctl watch >"$T/watch.txt" 2>/dev/null &
WATCH=$!
track "$WATCH"
# A second, successful nix-build: its invocation is "done" with no error, beside the failed one.
nix-build "$SMALL" -A leaf --argstr nonce "$NONCE-ok" --argstr prefix nixok --no-out-link \
	--log-format internal-json 2>&1 | ctl ingest >/dev/null 2>&1
ok_done() {
	ctl list-invocations 2>/dev/null | jq -e '.invocations | length == 2 and any(.state == "done")' >/dev/null
}
wait_for 15 "the successful invocation is done" ok_done
ctl_ok INVS2 list-invocations
assert_json "a successful invocation is done, without an error" "$INVS2" \
	"[.invocations[] | select(.id != $INV_ID)][0] | .state == \"done\" and .error == null"
assert_json "the failed one is still failed" "$INVS2" "[.invocations[] | select(.id == $INV_ID)][0].state == \"failed\""
stop_pid "$WATCH"

# --- the TUI: the invocation row and the builds ---
if [[ -n "${NA_TUI:-}" ]] && command -v tmux >/dev/null; then
	source "$E2E_DIR/tui-lib.sh"
	trap 'rc=$?; tui_cleanup; (exit $rc); e2e_cleanup' EXIT
	check_tui
	tui_start 220 30
	wait_screen "#$INV_ID .*failed: the group 'nosuch-group' specified in 'build-users-group' does not exist" 15 \
		"the TUI's invocation row shows Nix's error"
	# An ended invocation folds itself: open it (the failed one is the first row).
	wait_screen "^▸ #$INV_ID " 5 "the ended invocation is the first row, folded" >/dev/null
	keys g g z o
	wait_screen "nixerr-leaf +- +not started" 10 "the TUI's build list says not started"
	if screen | grep -qi cancel; then fail "the TUI says cancelled" "$(screen)"; else pass "the TUI never says cancelled"; fi
	# Enter on the build: its failure in full.
	keys / && type_text nixerr-leaf && keys Enter Enter
	wait_screen "^why +not started: the group 'nosuch-group'" 10 "the build's details show Nix's message"
	tui_quit
else
	log "no TUI binary or no tmux: the TUI part is left out"
fi
