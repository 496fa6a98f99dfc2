#!/usr/bin/env bash
# Issue 15, items 1 and 2: a second, unprivileged uid (na-e2e-mallory) tries to take root's
# running Nix build over through events.sock, then kill it with the CLI.
#  (a) Hijack: she sends the start record of root's .drv before root's build starts; the
#      sampler must not attach root's builder to her build (it is not her nix process's
#      child), so her kill finds no process and root's build runs on and succeeds.
#  (b) Restart takeover: the daemon is SIGKILLed mid-build and restarted; the build is
#      rediscovered from /proc; she sends the plan line and the start record of its .drv:
#      the build stays root's (requester unchanged), her kill is refused.
# The daemon must answer `status` promptly throughout.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "running an attack as a second uid against a root daemon needs root"
command -v setpriv >/dev/null || skip "setpriv is not installed"

source "$E2E_DIR/lib-proc.sh"

mallory_user

DAEMON_ARGS=(--cgroup-root "$CGROOT" --sample-interval 0.5)
start_daemon "${DAEMON_ARGS[@]}"
chmod 755 "$T" "$SOCKDIR"

# mallory_send DRV: as mallory, a connection to events.sock that announces DRV (plan line,
# then the start record of a build activity) and stays open (her "nix process" is this
# python). Runs in the background: MPID.
mallory_send() {
	setpriv --reuid="$MUID" --regid="$MGID" --clear-groups -- "$PY3" - "$SOCKDIR/events.sock" "$1" <<'PY' &
import json, socket, sys, time
sock, drv = sys.argv[1:3]
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
lines = [
    {"action": "msg", "level": 0, "msg": "this derivation will be built:"},
    {"action": "msg", "level": 0, "msg": "  " + drv},
    {"action": "start", "id": 1, "level": 3, "text": "building", "type": 105, "fields": [drv, ""]},
]
s.sendall(b"".join(json.dumps(l).encode() + b"\n" for l in lines))
time.sleep(120)
PY
	MPID=$!
	track "$MPID"
}

# her_key DRV: the key of the build of DRV requested by mallory (empty: none yet).
her_key() {
	ctl list-builds 2>/dev/null |
		jq -r --arg d "$1" --argjson u "$MUID" '[.builds[] | select(.drv == $d and .requester.uid == $u)] | first | .key // empty'
}
# root_key DRV: the key of the build of DRV requested by root.
root_key() {
	ctl list-builds 2>/dev/null |
		jq -r --arg d "$1" '[.builds[] | select(.drv == $d and .requester.uid == 0)] | first | .key // empty'
}

FILE="$E2E_DIR/nix/actions.nix"

# ---- (a) claim root's .drv before root builds it ----
D_A=$(nix-instantiate "$FILE" -A a --argstr nonce "$NONCE" --arg seconds 12 2>/dev/null)
[[ $D_A == /nix/store/*.drv ]] || die "nix-instantiate failed"
mallory_send "$D_A"
has_her_build() { [[ -n "$(her_key "$D_A")" ]]; }
wait_for 10 "mallory's fake build of root's .drv is recorded" has_her_build || die "her start was never recorded"
MKEY=$(her_key "$D_A")
log "mallory's build: key $MKEY"

nix_bg "$FILE" -A a --argstr nonce "$NONCE" --arg seconds 12
# Either build gets the builder: root's must, hers must not.
some_tracked() {
	local k
	k=$(root_key "$D_A")
	[[ -n "$(builder_of "$MKEY")" ]] || [[ -n "$k" && -n "$(builder_of "$k")" ]]
}
wait_for 60 "root's builder is found" some_tracked || die "root's builder never found"
sleep 1.5 # a few more sampler passes, each of which could attach the builder to her build
assert_eq "mallory's build has no builder (root's is not hers)" "" "$(builder_of "$MKEY")"
RKEY=$(root_key "$D_A")
BUILDER=$(builder_of "$RKEY")
[[ -n "$BUILDER" ]] || die "root's build has no builder"
assert_status_within 2000 "status answers within 2 s while mallory holds a fake build of root's .drv"
out=$(as_mallory "$NA_CTL" -s "$SOCKDIR" kill "$MKEY" 2>&1)
assert_eq "mallory's kill of her fake build fails (exit 1)" 1 "$?"
assert_contains "it finds no process" "no-process" "$out"
out=$(as_mallory "$NA_CTL" -s "$SOCKDIR" kill "$RKEY" 2>&1)
assert_contains "mallory's kill of root's build is refused" "permission-denied" "$out"
assert_true "root's builder still runs" kill -0 "$BUILDER"
ctl_ok PS ps --json "$RKEY"
assert_json "root's own record still shows its processes" "$PS" "any(.processes[]; .pid == $BUILDER)"
assert_status_within 2000 "status answers within 2 s after mallory's kills"
wait_for 60 "root's nix-build ends" nix_done
assert_eq "root's nix-build succeeds" 0 "$(nix_rc)"
succeeded() { [[ "$(field "$RKEY" .state)" == succeeded ]]; }
wait_for 10 "root's build ends succeeded" succeeded && pass "root's build succeeded"
stop_pid "$MPID" 5

# ---- (b) take a rediscovered build over after a restart ----
N2="$NONCE-restart"
D_B=$(nix-instantiate "$FILE" -A a --argstr nonce "$N2" --arg seconds 14 2>/dev/null)
nix_bg "$FILE" -A a --argstr nonce "$N2" --arg seconds 14
tracked_b() { [[ -n "$(builder_of "$D_B")" ]]; }
wait_for 60 "root's second build runs with its builder found" tracked_b || die "second build not tracked"
BUILDER=$(builder_of "$D_B")
log "SIGKILL to nix-analyticsd $DAEMON_PID mid-build"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
start_daemon "${DAEMON_ARGS[@]}"
chmod 755 "$SOCKDIR"
back() { [[ "$(builder_of "$D_B")" == "$BUILDER" ]]; }
wait_for 5 "the build is rediscovered with its builder" back || die "the build was not rediscovered"
RKEY=$(root_key "$D_B")
[[ -n "$RKEY" ]] || die "no build of $D_B with requester root after the restart"
mallory_send "$D_B"
has_her_b() { [[ -n "$(her_key "$D_B")" ]]; }
wait_for 10 "mallory's plan and start for the rediscovered .drv are applied" has_her_b ||
	fail "mallory's records made no build of her own" "builds: $(ctl list-builds | jq -c '[.builds[] | {key, drv, requester}]')"
MKEY=$(her_key "$D_B")
sleep 1
assert_status_within 2000 "status answers within 2 s after mallory's claim of the rediscovered build"
ctl_ok GB get-build "$RKEY"
assert_json "the rediscovered build's requester is still root" "$GB" '.build.requester.uid == 0'
assert_ne "mallory's records made a build of her own, not root's" "$RKEY" "$MKEY"
out=$(as_mallory "$NA_CTL" -s "$SOCKDIR" kill "$RKEY" 2>&1)
assert_contains "mallory's kill of the rediscovered build is refused" "permission-denied" "$out"
if [[ -n "$MKEY" ]]; then
	out=$(as_mallory "$NA_CTL" -s "$SOCKDIR" kill "$MKEY" 2>&1)
	assert_contains "mallory's kill of her own fake build finds no process" "no-process" "$out"
fi
assert_true "root's builder still runs" kill -0 "$BUILDER"
assert_eq "root's build still shows its builder" "$BUILDER" "$(builder_of "$RKEY")"
assert_status_within 2000 "status answers within 2 s after mallory's kills of the rediscovered build"
wait_for 60 "root's second nix-build ends" nix_done
assert_eq "root's second nix-build succeeds" 0 "$(nix_rc)"
stop_pid "$MPID" 5
stop_daemon
