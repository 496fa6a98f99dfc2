#!/usr/bin/env bash
# The daemon is killed (SIGKILL) in the middle of a real Nix build and started again: the
# build reappears from /proc alone (its nix process, its builder, the .drv from the build
# log Nix holds open) with its processes within 2 s, in the cgroup the first run adopted it
# into, and ends when its builder does.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "reading builders of nixbld users needs root"

source "$E2E_DIR/lib-proc.sh"

# (start_daemon limits rediscovery to builds under this test: --discover-scope.)
DAEMON_ARGS=(--cgroup-root "$CGROOT" --sample-interval 0.5)
start_daemon "${DAEMON_ARGS[@]}"

FILE="$E2E_DIR/nix/actions.nix"
D_A=$(nix-instantiate "$FILE" -A a --argstr nonce "$NONCE" --arg seconds 12 2>/dev/null)
nix_bg "$FILE" -A a --argstr nonce "$NONCE" --arg seconds 12

tracked() { [[ -n "$(builder_of "$D_A")" ]]; }
wait_for 60 "the build runs with its builder found" tracked || die "build not tracked"
BUILDER=$(builder_of "$D_A")
CG1=$(ctl ps --json "$D_A" | jq -r '.cgroup.v2')
KEY1=$(ctl get-build "$D_A" | jq -r .build.key)
sleep 1

log "SIGKILL to nix-analyticsd $DAEMON_PID mid-build"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
assert_true "the builder survives the daemon" kill -0 "$BUILDER"

T0=$(now_ms)
start_daemon "${DAEMON_ARGS[@]}"
back() {
	local b
	b=$(ctl list-builds --state running 2>/dev/null | jq -c --arg d "$D_A" '[.builds[] | select(.drv == $d)]')
	[[ "$(printf '%s' "$b" | jq length)" == 1 ]] && [[ "$(builder_of "$D_A")" == "$BUILDER" ]]
}
wait_for 2 "the build reappears, running, with its builder (2 s)" back && pass "the build reappeared"
log "rediscovered $(($(now_ms) - T0)) ms after the restart began"
assert_le "rediscovered within 2 s of starting the daemon (ms)" 2000 $(($(now_ms) - T0))
ctl_ok PS ps --json "$D_A"
assert_json "its processes are listed" "$PS" "any(.processes[]; .pid == $BUILDER) and (.processes | length) >= 1"
if [[ -n "$CG1" && "$CG1" != null ]]; then
	assert_eq "found again in the cgroup of the first run" "$CG1" "$(printf '%s' "$PS" | jq -r .cgroup.v2)"
fi
ctl_ok GB get-build "$D_A"
assert_json "shown with what is known: name, requester uid 0, a start time" "$GB" \
	'.build.name == "act-a" and .build.requester.uid == 0 and (.build.started | type) == "number"'
assert_true "the daemon logged the rediscovery" grep -q "rediscovered build .* of nix pid" "$T/daemon.log"

wait_for 60 "nix-build ends" nix_done
assert_eq "nix-build succeeds" 0 "$(nix_rc)"
ok_state() { [[ "$(ctl get-build "$D_A" 2>/dev/null | jq -r .build.state)" == succeeded ]]; }
wait_for 10 "the rediscovered build ends succeeded when its builder exits" ok_state &&
	pass "the rediscovered build succeeded"
ctl_ok ALL list-builds
assert_eq "no duplicate of the build" 1 "$(printf '%s' "$ALL" | jq --arg d "$D_A" '[.builds[] | select(.drv == $d)] | length')"
assert_ne "a new key in the new daemon run (keys are per run)" "" "$KEY1"
