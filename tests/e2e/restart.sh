#!/usr/bin/env bash
# The daemon is killed (SIGKILL) in the middle of a real Nix build and started again: the
# build reappears from /proc alone (its nix process, its builder, the .drv from the build
# log Nix holds open) with its processes within 2 s, in the cgroup the first run adopted it
# into, and ends when its builder does.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "reading builders of nixbld users needs root"

CGROOT="/nix-analytics-e2e-$$"
cg_cleanup() {
	local d
	for d in /sys/fs/cgroup/*"$CGROOT" /sys/fs/cgroup/"$CGROOT"; do
		[[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	return 0
}
trap 'rc=$?; [[ -n "${NIXBUILD:-}" ]] && kill "$NIXBUILD" 2>/dev/null; sleep 0.3; cg_cleanup; (exit $rc); e2e_cleanup' EXIT

# Only builds under this test: other Nix builds on the machine are not ours to show.
DAEMON_ARGS=(--cgroup-root "$CGROOT" --discover-scope $$ --sample-interval 0.5)
start_daemon "${DAEMON_ARGS[@]}"

FILE="$E2E_DIR/nix/actions.nix"
D_A=$(nix-instantiate "$FILE" -A a --argstr nonce "$NONCE" --arg seconds 12 2>/dev/null)
nix-build "$FILE" -A a --argstr nonce "$NONCE" --arg seconds 12 --no-out-link \
	--log-format internal-json -v >"$T/events.raw" 2>&1 &
NIXBUILD=$!
track "$NIXBUILD"
tail -n +1 -f --pid="$NIXBUILD" "$T/events.raw" | ctl ingest >"$T/ingest.out" 2>"$T/ingest.err" &
track $!

builder_of() { ctl ps --json "$1" 2>/dev/null | jq -r '.builder // empty'; }
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

nix_done() { ! kill -0 "$NIXBUILD" 2>/dev/null || [[ "$(awk '{print $3}' "/proc/$NIXBUILD/stat" 2>/dev/null)" == Z ]]; }
wait_for 60 "nix-build ends" nix_done
wait "$NIXBUILD"
assert_eq "nix-build succeeds" 0 "$?"
ok_state() { [[ "$(ctl get-build "$D_A" 2>/dev/null | jq -r .build.state)" == succeeded ]]; }
wait_for 10 "the rediscovered build ends succeeded when its builder exits" ok_state &&
	pass "the rediscovered build succeeded"
ctl_ok ALL list-builds
assert_eq "no duplicate of the build" 1 "$(printf '%s' "$ALL" | jq --arg d "$D_A" '[.builds[] | select(.drv == $d)] | length')"
assert_ne "a new key in the new daemon run (keys are per run)" "" "$KEY1"
