#!/usr/bin/env python3
"""P8 through the real daemon: a synthetic closure of N .drv files in a temporary store, announced
to nix-analyticsd as one build plan ("these N derivations will be built:" and N path lines) on
its event socket. While the daemon resolves the dependency graph, a control client asks for
`status` continuously; we report how long resolution took and the worst `status` round trip
(what a stall of the event loop would show, including the ingestion of the plan itself), plus the
daemon's own longest resolution turn, which the verdict is about.

usage: graph-daemon.py DAEMON [N]"""
import json, os, shutil, socket, subprocess, sys, tempfile, threading, time, random

daemon, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20000
tmp = tempfile.mkdtemp(prefix="na-graph-daemon.")
store, sock = os.path.join(tmp, "store"), os.path.join(tmp, "sock")
os.makedirs(store)
os.makedirs(sock)
random.seed(42)
# Store hashes as Nix makes them: 32 base-32 characters that differ from the first one on.
B32 = "0123456789abcdfghijklmnpqrsvwxyz"
h = lambda i: "".join(random.Random(i).choice(B32) for _ in range(32))
drv = lambda i: f"{store}/{h(i)}-pkg{i}.drv"
for i in range(n):
    k = 0 if i == 0 else random.randrange(7)
    ins = sorted({drv(i - 1 - random.randrange(min(i, 200))) for _ in range(k)})
    with open(drv(i), "w") as f:
        f.write(f'Derive([("out","{store}/{h(n + i)}-pkg{i}","","")],['
                + ",".join(f'("{p}",["out"])' for p in ins)
                + f'],[],"x86_64-linux","/bin/sh",[],[("name","pkg{i}")])')

d = subprocess.Popen([daemon, "-s", sock, "--store-dir", store, "--history-db", "none", "-q"])
try:
    ctl = socket.socket(socket.AF_UNIX)
    for _ in range(200):
        try:
            ctl.connect(os.path.join(sock, "control.sock"))
            break
        except OSError:
            time.sleep(0.02)
    f = ctl.makefile("rwb")

    def status():
        f.write(b'{"id":1,"cmd":"status"}\n')
        f.flush()
        return json.loads(f.readline())["result"]

    status()
    ev = socket.socket(socket.AF_UNIX)
    ev.connect(os.path.join(sock, "events.sock"))
    lines = [json.dumps({"action": "msg", "level": 3, "msg": f"these {n} derivations will be built:"})]
    lines += [json.dumps({"action": "msg", "level": 3, "msg": "  " + drv(i)}) for i in range(n - 1, -1, -1)]
    # The plan goes in from another thread, as fast as the daemon takes it, while this one
    # keeps asking for status: a stalled event loop shows as a slow round trip.
    sender = threading.Thread(target=lambda: ev.sendall(("\n".join(lines) + "\n").encode()))
    t0 = time.monotonic()
    sender.start()
    worst, polls, worst_after, polls_after = 0.0, 0, 0.0, 0
    while True:
        sent = not sender.is_alive()
        t = time.monotonic()
        st = status()
        rt = time.monotonic() - t
        worst, polls = max(worst, rt), polls + 1
        if sent:  # the plan is in: what remains is graph work
            worst_after, polls_after = max(worst_after, rt), polls_after + 1
        g = st["graphs"]
        if st["builds"]["queued"] == n and g["nodes"] >= n and g["resolving"] == 0:
            break
        if time.monotonic() - t0 > 60:
            print("timed out:", g)
            sys.exit(1)
    total = time.monotonic() - t0
    sender.join()
    time.sleep(2.2)  # two once-a-second ETA sweeps over the 20,000-node graph (builds queued)
    g2 = status()["graphs"]
    print(f"{n} derivations announced and resolved by the daemon in {total * 1000:.0f} ms "
          f"(plan sent, builds queued, graph read: {g['files_read']} files)")
    print(f"status round trips during that: {polls}, worst {worst * 1000:.1f} ms; "
          f"daemon's longest resolution turn {g['longest_turn_ms']:.2f} ms; "
          f"longest graph step after two ETA sweeps {g2['longest_turn_ms']:.2f} ms")
    print(f"status round trips once the plan was in (graph work only): {polls_after}, "
          f"worst {worst_after * 1000:.1f} ms")
    ok = total <= 1.0 and g2["longest_turn_ms"] <= 10
    # The round trip also covers ingesting the plan itself (thousands of records per read,
    # the event loop's design), so the verdict on stalls is the graph work's own longest turn.
    print(f"P8 (daemon) verdict: {'PASS' if ok else 'FAIL'} (target: <= 1000 ms, graph work never > 10 ms at a time)")
finally:
    d.terminate()
    d.wait()
    shutil.rmtree(tmp)
