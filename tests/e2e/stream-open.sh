#!/usr/bin/env bash
# A build stopped while its nix process keeps streaming: its end state comes from the daemon's
# own re-checks, not from the stream closing. Nix sends some failures after the build's stop
# record (2.29 and later), so a stop that leaves the outputs missing is looked at again a few
# times before it counts as a failure without a reason; those looks run on a timer the model
# asks for, while the connection stays open (a long `nix build`, a nix-daemon's plugin or
# json-log-path stream). Checked on real derivations: one built for real (succeeded at once),
# one instantiated and never built (outputs missing: failed, "no-outputs", within seconds).
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
command -v python3 >/dev/null || skip "python3 missing"

start_daemon --no-cgroups
BUILT=$(nix-instantiate "$E2E_DIR/nix/small.nix" --argstr nonce "$NONCE-built" 2>"$T/inst.err" | head -n 1)
MISSING=$(nix-instantiate "$E2E_DIR/nix/small.nix" --argstr nonce "$NONCE-missing" 2>>"$T/inst.err" | head -n 1)
[[ $BUILT == /nix/store/*.drv && $MISSING == /nix/store/*.drv ]] || die "nix-instantiate failed: $(cat "$T/inst.err")"
nix-store --realise "$BUILT" >/dev/null 2>"$T/build.err" || die "nix-store --realise failed: $(tail -n 5 "$T/build.err")"

# One connection: both builds start and stop; it stays open until told to close.
python3 - "$SOCKDIR/events.sock" "$BUILT" "$MISSING" "$T/close" <<'PY' &
import json, os, socket, sys, time
sock, built, missing, close = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)
def rec(**r):
    s.sendall(("@nix " + json.dumps(r) + "\n").encode())
for i, drv in ((1, built), (2, missing)):
    rec(action="start", id=i, level=3, type=105, text="building '%s'" % drv, fields=[drv, "", 1, 1])
    rec(action="msg", level=3, msg="a line of %d" % i)
for i in (1, 2):
    rec(action="stop", id=i)
deadline = time.time() + 60
while not os.path.exists(close) and time.time() < deadline:
    time.sleep(0.05)
s.close()
PY
STREAM=$!
track "$STREAM"

state_is() { [[ $(ctl get-build "$1" 2>/dev/null | jq -r .build.state) == "$2" ]]; }
wait_for 10 "the built derivation ends succeeded" state_is "$BUILT" succeeded &&
	pass "a build whose outputs exist ends succeeded at its stop"
T0=$(now_ms)
wait_for 10 "the never-built derivation ends failed while the stream stays open" state_is "$MISSING" failed &&
	pass "a build stopped with its outputs missing ends failed after the re-checks ($(($(now_ms) - T0)) ms more)"
kill -0 "$STREAM" 2>/dev/null
assert_eq "the stream was still open when it ended" 0 $?
ctl_ok B get-build "$MISSING"
assert_json "its failure says no outputs and no reason" "$B" '.build.failure.kind == "no-outputs"'
touch "$T/close"
wait "$STREAM"
stop_daemon
