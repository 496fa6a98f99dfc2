#!/usr/bin/env bash
# An invocation that never ends (a nix-daemon client connection, a json-log-path stream held
# open for days) must not hold a graph node for every derivation it ever built: once its graph
# passes 8,192 nodes, the nodes of builds the daemon no longer holds (evicted past
# --max-finished) go, and the graph goes on with the builds it still shows. 10,000 builds on
# one open connection, with --max-finished 50.
source "$(dirname "$0")/lib.sh"

check_binaries
command -v python3 >/dev/null || skip "python3 missing"

start_daemon --no-cgroups --max-finished 50
BUILDS=10000

# One connection: 10,000 builds start and stop (their .drv files do not exist: the graph
# knows them by path only), then one more once told to, then it stays open until told to close.
python3 - "$SOCKDIR/events.sock" "$BUILDS" "$T/more" "$T/close" <<'PY' &
import json, os, socket, sys, time
sock, n, more, close = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)
def rec(**r):
    s.sendall(("@nix " + json.dumps(r) + "\n").encode())
def build(i):
    drv = "/nix/store/%032d-e2e-compact-%d.drv" % (i, i)
    rec(action="start", id=i, level=3, type=105, text="building '%s'" % drv, fields=[drv, "", 1, 1])
    rec(action="stop", id=i)
for i in range(1, n + 1):
    build(i)
deadline = time.time() + 120
while not os.path.exists(more) and time.time() < deadline:
    time.sleep(0.05)
build(n + 1)
while not os.path.exists(close) and time.time() < deadline:
    time.sleep(0.05)
s.close()
PY
STREAM=$!
track "$STREAM"

nodes() { ctl status 2>/dev/null | jq -r '.graphs.nodes // 0'; }
received() { [[ $(ctl status 2>/dev/null | jq -r '.events.total') -ge $((2 * BUILDS)) ]]; }
wait_for 60 "the daemon received the 10,000 builds" received
# Below 8,192 nodes a graph is left alone: how many stay depends on how many builds were still
# held when the pass ran (50 when all but the last 50 were evicted, a few thousand when not).
small() { local n; n=$(nodes); ((n > 0 && n < 8192)); }
if wait_for 30 "the graph lets go of the evicted builds' nodes" small; then
	pass "after $BUILDS builds on one open connection the graph holds $(nodes) nodes (builds held: $(ctl status | jq '[.builds[]] | add'))"
else
	ctl status | jq -c '{graphs, builds, events}' >&2
fi
kill -0 "$STREAM" 2>/dev/null
assert_eq "the connection was still open" 0 $?

# It goes on: a new build joins it, and deps shows it.
BEFORE=$(nodes)
touch "$T/more"
LAST=$(printf '/nix/store/%032d-e2e-compact-%d.drv' $((BUILDS + 1)) $((BUILDS + 1)))
INV=$(ctl list-invocations | jq '.invocations[0].id')
in_deps() { ctl deps --invocation "$INV" 2>/dev/null | jq -e --arg d "$LAST" 'any(.nodes[]; .drv == $d)' >/dev/null; }
wait_for 10 "the build after the compaction is in the invocation's graph" in_deps &&
	pass "a build after the compaction joins the graph (nodes before it: $BEFORE)"
touch "$T/close"
wait "$STREAM"
stop_daemon
