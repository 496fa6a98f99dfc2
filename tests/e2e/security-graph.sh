#!/usr/bin/env bash
# Issue 15, item 3 (large reads), for dependency graphs: a local user makes the root daemon
# read and parse big .drv files of hers while it resolves a graph, to hold its event loop.
# Any user of a nix-daemon can instantiate such derivations into the store; here root
# instantiates her expression, as nix-daemon would for her. Attack: a real unprivileged uid
# (na-e2e-mallory) announces builds of 8 of them on events.sock. Each is under the daemon's
# 16 MiB cap for one .drv: a real derivation with 800,000 environment variables, which the
# daemon reads and parses whole. The graphs' worker thread reads them: status answers within
# 1 s throughout and never waits as long as one batch of her files took; memory stays
# bounded; the daemon answers at once when she is done.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "a second uid and a root daemon need root"
command -v python3 >/dev/null || skip "python3 missing"
command -v runuser >/dev/null || skip "runuser missing"

MALLORY=na-e2e-mallory
system_user "$MALLORY"
start_daemon --no-cgroups
chmod 755 "$T" "$SOCKDIR"
M="$T/mallory"
mkdir -p "$M" && chown "$MALLORY" "$M" && chmod 755 "$M"

# Her 8 derivations: real ones, instantiated from her expression (root does it here, as
# nix-daemon would for her); each has 800,000 environment variables, about 14 MB: a full
# read and parse for the daemon, a list of allocations per variable.
cat >"$M/big.nix" <<'NIX'
{ nonce, n ? 8, vars ? 800000 }:
let env = builtins.listToAttrs (builtins.genList (i: { name = "v${toString i}"; value = "1"; }) vars);
in builtins.genList (k: derivation (env // {
  name = "mallory-${nonce}-${toString k}";
  builder = "/bin/sh";
  system = builtins.currentSystem;
})) n
NIX
chown "$MALLORY" "$M/big.nix"
mapfile -t DRVS < <(nix-instantiate "$M/big.nix" --argstr nonce "$NONCE" 2>"$T/inst.err")
((${#DRVS[@]} == 8)) || die "nix-instantiate of her expression failed: $(tail -n 5 "$T/inst.err")"
SIZE=$(stat -c %s "${DRVS[0]}")
assert_le "her .drv files are at most the daemon's 16 MiB cap" $((16 << 20)) "$SIZE"
assert_ge "and larger than 12 MiB" $((12 << 20)) "$SIZE"

# mallory: one connection, a build of each file, held open 8 s, then closed.
cat >"$M/announce.py" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
for i, drv in enumerate(sys.argv[2:]):
    r = dict(action="start", id=9100 + i, level=3, type=105, text="building '%s'" % drv, fields=[drv, "", 1, 1])
    s.sendall(("@nix " + json.dumps(r) + "\n").encode())
time.sleep(8)
print("announced", len(sys.argv) - 2, flush=True)
s.close()
PY
runuser -u "$MALLORY" -- python3 "$M/announce.py" "$SOCKDIR/events.sock" "${DRVS[@]}" >"$T/announce.out" 2>&1 &
FLOOD=$!
track "$FLOOD"

# While her graph resolves: status every 0.25 s, each within 1 s; the slowest kept.
probe_status_while "$FLOOD" "while her graph resolves"
wait "$FLOOD"
assert_eq "mallory announced her 8 builds" "announced 8" "$(cat "$T/announce.out")"
# Each probe answers within 1 s and the next starts 0.25 s later: no gap longer than 1.25 s.
assert_ge "status was probed throughout (8 s)" 6 "$PROBES"
pass "status answered $PROBES probes while her graph resolved, the slowest in ${SLOWEST} ms"

resolved() { ctl status 2>/dev/null | jq -e '.graphs.resolving == 0' >/dev/null; }
wait_for 120 "her graph is resolved (or given up) once she stops" resolved && pass "the graphs' queue drained"
ctl_ok ST status
log "graphs: $(jq -c .graphs <<<"$ST")"
assert_json "the daemon read her 8 files" "$ST" '.graphs.files_read >= 8'
READ_MS=$(jq '.graphs.longest_read_ms | floor' <<<"$ST")
# Had the reads run on the event loop, some status would have waited for a whole batch.
assert_ge "one batch of reads took longer than the slowest status answer (${READ_MS} ms)" "$SLOWEST" "$READ_MS"
# The loop only applies parsed results, a couple of milliseconds a turn (250: preemption on
# a busy machine; a file parsed on the loop takes seconds here).
assert_json "the loop's longest graph turn stays short" "$ST" '.graphs.longest_turn_ms < 250'
HWM=$(awk '/^VmHWM:/ {print $2}' "/proc/$DAEMON_PID/status")
assert_le "the daemon's peak memory stays under 1 GiB: ${HWM} kB" $((1 << 20)) "$HWM"
assert_status_within 1000 "status answers within 1 s after her graph"
stop_daemon
# Nothing refers to her files: they go (a failed run leaves them to the next garbage collection).
nix-store --delete "${DRVS[@]}" >/dev/null 2>&1 || log "could not delete her files from the store"
