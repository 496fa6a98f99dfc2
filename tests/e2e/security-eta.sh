#!/usr/bin/env bash
# Issue 15, item 5 (the ETA part): a second, unprivileged uid (na-e2e-mallory) sends many fake
# finished builds of a package name root builds with real Nix, to move root's ETAs and stats.
#  (a) Root builds eta-a twice with real Nix: two trusted history rows of a few seconds.
#  (b) Mallory sends 40 fake builds of it (a start and a stop each, of root's own .drv, whose
#      outputs exist: they end "succeeded" in a few microseconds) from her own connections.
#      History lists them, each with "trusted": false.
#  (c) Root builds eta-a again: its ETA, as nix-analytics-ctl shows it, rests on root's two
#      rows alone (2 samples, their median), not on her 40; root's `stats` counts none of them.
#  (d) Mallory's own running build of eta-a does see her rows (her 10 newest), and so do her
#      `stats`: her fakes move her own figures only.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "running an attack as a second uid against a root daemon needs root"
command -v setpriv >/dev/null || skip "setpriv is not installed"

source "$E2E_DIR/lib-proc.sh"

mallory_user

start_daemon --cgroup-root "$CGROOT" --sample-interval 0.5
chmod 755 "$T" "$SOCKDIR"

FILE="$E2E_DIR/nix/actions.nix"
PNAME=eta-a
N_FAKES=40

# root_build NONCE SECONDS: a real nix-build of eta-a as root, to its end.
root_build() {
	nix_bg "$FILE" -A a --arg prefix '"eta"' --argstr nonce "$1" --arg seconds "$2"
	wait_for 90 "root's nix-build of $PNAME ($1) ends" nix_done || die "root's nix-build did not end"
	assert_eq "root's nix-build of $PNAME ($1) succeeds" 0 "$(nix_rc)"
}
# rows FILTER: the history rows of eta-a (newest first) selected by the jq FILTER.
rows() { ctl get-history --pname "$PNAME" --limit 1000 2>/dev/null | jq -c "[.builds[] | $1]"; }

# ---- (a) root's real builds ----
D1=$(nix-instantiate "$FILE" -A a --arg prefix '"eta"' --argstr nonce "$NONCE-1" --arg seconds 2 2>/dev/null)
[[ $D1 == /nix/store/*-$PNAME.drv ]] || die "nix-instantiate failed: $D1"
root_build "$NONCE-1" 2
root_build "$NONCE-2" 3
two_rows() { [[ "$(rows 'select(.state == "succeeded")' | jq length)" == 2 ]]; }
wait_for 15 "root's two builds are in history" two_rows || die "root's builds never reached history"
ROOT_ROWS=$(rows 'select(.state == "succeeded")')
assert_json "root's rows are trusted, requested by root" "$ROOT_ROWS" \
	'all(.[]; .trusted == true and .requester.uid == 0 and .duration >= 1.5)'
# The ETA two samples give: their median (the mean of the two).
WANT=$(printf '%s' "$ROOT_ROWS" | jq '[.[].duration] | add / 2')
log "root's rows: $(printf '%s' "$ROOT_ROWS" | jq -c '[.[].duration]'), expected ETA $WANT s"

# ---- (b) mallory's fake finished builds of root's .drv ----
# One connection per fake (one build per .drv per connection): a start record of a build
# activity, then its stop. Her connections are her own uid's: untrusted.
as_mallory "$PY3" - "$SOCKDIR/events.sock" "$D1" "$N_FAKES" <<'PY' || fail "mallory's fakes could not be sent"
import json, socket, sys, time
sock, drv, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    lines = [
        {"action": "start", "id": 1, "level": 3, "text": "building", "type": 105, "fields": [drv, ""]},
        {"action": "stop", "id": 1},
    ]
    s.sendall(b"".join(json.dumps(l).encode() + b"\n" for l in lines))
    time.sleep(0.05)  # the daemon reads both before the end of the stream
    s.close()
PY
her_rows() { [[ "$(rows "select(.requester.uid == $MUID and .state == \"succeeded\")" | jq length)" == "$N_FAKES" ]]; }
wait_for 20 "mallory's $N_FAKES fake builds are in history, succeeded" her_rows ||
	fail "mallory's fakes did not all reach history" "$(rows "select(.requester.uid == $MUID) | {state, duration}")"
HER=$(rows "select(.requester.uid == $MUID)")
assert_json "history lists her rows as untrusted" "$HER" 'length > 0 and all(.[]; .trusted == false)'
assert_json "her fakes are far from root's durations" "$HER" 'all(.[]; .duration < 0.5)'

# ---- (c) root's next build of eta-a: its ETA, as nix-analytics-ctl shows it ----
nix_bg "$FILE" -A a --arg prefix '"eta"' --argstr nonce "$NONCE-3" --arg seconds 6
# running_eta UID: ETA gets the ETA of UID's running build of $PNAME, as list-builds shows it.
running_eta() {
	ETA=$(ctl list-builds 2>/dev/null |
		jq -c --arg p "$PNAME" --argjson u "$1" '[.builds[] | select(.name == $p and .requester.uid == $u and .state == "running")] | first | .eta // empty')
	[[ -n "$ETA" ]]
}
wait_for 60 "root's third build of $PNAME runs with an ETA" running_eta 0 || die "root's build never showed an ETA"
ROOT_ETA=$ETA
log "root's ETA: $ROOT_ETA"
assert_json "root's ETA rests on root's 2 rows, none of mallory's $N_FAKES" "$ROOT_ETA" \
	".samples == 2 and (.expected - $WANT | fabs) < 0.01"
ctl_ok STATS stats --pname "$PNAME" --since 0
assert_json "root's stats count root's builds only" "$STATS" '.totals.builds == 2 and .totals.succeeded == 2'

# ---- (d) mallory's own build of eta-a sees her rows ----
# setpriv itself in the background (not the function): $! is then her python, which stop_pid ends.
setpriv --reuid="$MUID" --regid="$MGID" --clear-groups -- "$PY3" - "$SOCKDIR/events.sock" "$D1" <<'PY' &
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
l = {"action": "start", "id": 1, "level": 3, "text": "building", "type": 105, "fields": [sys.argv[2], ""]}
s.sendall(json.dumps(l).encode() + b"\n")
time.sleep(120)
PY
MPID=$!
track "$MPID"
wait_for 15 "mallory's running build shows an ETA" running_eta "$MUID" || fail "mallory's build has no ETA (her own rows unseen)"
HER_ETA=$ETA
log "mallory's ETA: $HER_ETA"
assert_json "mallory's ETA rests on her own 10 newest rows" "$HER_ETA" '.samples == 10 and .expected < 0.5'
HER_STATS=$(as_mallory "$NA_CTL" -s "$SOCKDIR" stats --pname "$PNAME" --since 0)
assert_json "mallory's stats count her builds and root's" "$HER_STATS" ".totals.builds == $((N_FAKES + 2))"
assert_status_within 2000 "status answers within 2 s after the fakes"

wait_for 60 "root's third nix-build ends" nix_done
assert_eq "root's third nix-build succeeds" 0 "$(nix_rc)"
stop_pid "$MPID" 5
stop_daemon
