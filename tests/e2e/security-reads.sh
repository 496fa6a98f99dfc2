#!/usr/bin/env bash
# Issue 15, item 5 (the last part): a local user makes the root daemon read and parse big
# files she chose, to hold its event loop. Attack: a real unprivileged uid (na-e2e-mallory)
# starts a build of a real .drv on events.sock and keeps it running, then spawns wave after
# wave of fake builders (session leaders under a process she named "nix-mallory", as Nix's
# builders look) whose environment points NIX_ATTRS_JSON_FILE at a 64 MiB JSON file of hers
# (just under the daemon's cap). Each new builder-like process makes the daemon read and
# parse that file once. The reads run on a worker thread with a queue of 16: status keeps
# answering within 1 s throughout, while a single read takes longer than the slowest
# status answer; the flood fills the queue and the refusals are counted in status; memory
# stays bounded (one file at a time); the queue drains once she stops.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "a second uid and a root daemon need root"
command -v python3 >/dev/null || skip "python3 missing"
command -v runuser >/dev/null || skip "runuser missing"

MALLORY=na-e2e-mallory
system_user "$MALLORY"

start_daemon --no-cgroups --sample-interval 0.2
chmod 755 "$T" "$SOCKDIR"
M="$T/mallory"
mkdir -p "$M" && chown "$MALLORY" "$M" && chmod 755 "$M"

# A real .drv in the store (instantiated, never built): the build she starts names it, so
# the daemon has a running build without a builder and looks at every builder-like process.
DRV=$(nix-instantiate "$E2E_DIR/nix/small.nix" --argstr nonce "$NONCE" 2>"$T/inst.err" | head -n 1)
[[ $DRV == /nix/store/*.drv ]] || die "nix-instantiate failed: $(cat "$T/inst.err")"

# Her 64 MiB attrs file: valid JSON, outputs that match nothing, 4 KiB strings as padding
# (cheap for her to make, a full read and parse for the daemon).
runuser -u "$MALLORY" -- python3 - "$M/attrs.json" <<'PY' || die "mallory cannot write her attrs file"
import sys
cap = 64 << 20
pad = '"' + "x" * 4094 + '"'
with open(sys.argv[1], "w") as f:
    head = '{"outputs":{"out":"/nix/store/00000000000000000000000000000000-not-it"},"pad":['
    f.write(head)
    n = (cap - len(head) - 1024) // (len(pad) + 1)
    f.write(",".join([pad] * n))
    f.write("]}")
PY
SIZE=$(stat -c %s "$M/attrs.json")
assert_le "her attrs file is at most the daemon's 64 MiB cap" $((64 << 20)) "$SIZE"
assert_ge "and larger than 63 MiB" $((63 << 20)) "$SIZE"

# mallory: one connection holding a running build; WAVES waves of 8 fake builders, one
# wave every 0.5 s, each builder living 6 s; then she closes the connection.
cat >"$M/flood.py" <<'PY'
import ctypes, json, os, signal, socket, sys, time
sock, drv, attrs, waves = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ctypes.CDLL(None).prctl(15, b"nix-mallory", 0, 0, 0)  # PR_SET_NAME: looks like a nix process
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)
def rec(**r):
    s.sendall(("@nix " + json.dumps(r) + "\n").encode())
rec(action="start", id=9001, level=3, type=105, text="building '%s'" % drv, fields=[drv, "", 1, 1])
kids = []
env = {"NIX_ATTRS_JSON_FILE": attrs, "PATH": "/usr/bin:/bin"}
for w in range(waves):
    for i in range(8):
        pid = os.fork()
        if pid == 0:
            os.setsid()
            os.execve("/bin/sleep", ["sleep", "6"], env)
        kids.append(pid)
    time.sleep(0.5)
    for k in list(kids):
        if os.waitpid(k, os.WNOHANG)[0]:
            kids.remove(k)
print("spawned", waves * 8, flush=True)
for k in kids:
    os.kill(k, signal.SIGKILL)
    os.waitpid(k, 0)
rec(action="stop", id=9001)
s.close()
PY
WAVES=16
runuser -u "$MALLORY" -- python3 "$M/flood.py" "$SOCKDIR/events.sock" "$DRV" "$M/attrs.json" $WAVES \
	>"$T/flood.out" 2>&1 &
FLOOD=$!
track "$FLOOD"

# While she floods: status every 0.25 s, each within 1 s; the slowest kept.
probe_status_while "$FLOOD" "during the flood"
wait "$FLOOD"
assert_eq "mallory's flood ran to its end" "spawned $((WAVES * 8))" "$(cat "$T/flood.out")"
# Each probe answers within 1 s and the next starts 0.25 s later, so probes cover the flood
# without gaps; the count only shows the flood lasted (about 8 s: 10 probes even when a busy
# machine makes each answer take 500 ms).
assert_ge "status was probed throughout the flood" 10 "$PROBES"
pass "status answered $PROBES probes during the flood, the slowest in ${SLOWEST} ms"

ctl_ok ST status
log "file reads: $(jq -c .sampler.file_reads <<<"$ST")"
assert_json "the daemon read her file several times" "$ST" '.sampler.file_reads.done >= 4'
assert_json "the flood filled the read queue: refusals counted" "$ST" '.sampler.file_reads.refused >= 1'
MAX_MS=$(jq '.sampler.file_reads.max_ms | floor' <<<"$ST")
# On the event loop, status would have waited for a whole read at least once.
assert_ge "a single read took longer than the slowest status answer (${MAX_MS} ms)" "$SLOWEST" "$MAX_MS"
HWM=$(awk '/^VmHWM:/ {print $2}' "/proc/$DAEMON_PID/status")
assert_le "the daemon's peak memory stays under 1 GiB (one file at a time): ${HWM} kB" $((1 << 20)) "$HWM"
drained() { ctl status 2>/dev/null | jq -e '.sampler.file_reads.waiting == 0' >/dev/null; }
wait_for 60 "the read queue drains once she stops" drained && pass "the read queue drained"
assert_status_within 1000 "status answers within 1 s after the flood"

# Her fake builders got nothing: the build of the real .drv has no builder.
ctl_ok B get-build "$DRV"
assert_json "no fake builder was attached to her build" "$B" '(.build.builder // null) == null'
stop_daemon
