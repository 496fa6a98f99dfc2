#!/usr/bin/env python3
"""Feeds nix-analyticsd's event socket for bench/tui.sh (P5): N builds started at once, then
internal-json records at RATE per second (mostly 60-120 byte log lines, some phase changes and
progress) for SECONDS, spread over the builds. The .drv files are written into STORE (the
daemon's --store-dir) so that the daemon can read them like real ones. Prints how many records
it sent and at what rate.

usage: tui-feed.py EVENTS_SOCKET STORE N RATE SECONDS
  env: FEED_PREFIX (names of the builds, default "tui-bench-"), FEED_HOLD (seconds to keep the
  connection open afterwards), FEED_CHURN (builds a second that finish, each replaced by a new
  one: the number running stays N; default 0)"""
import json, os, random, socket, sys, time

sock_path, store, n, rate, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
B32 = "0123456789abcdfghijklmnpqrsvwxyz"
rnd = random.Random(5)
prefix = os.environ.get("FEED_PREFIX", "tui-bench-")
h = lambda i: "".join(random.Random(prefix + str(i)).choice(B32) for _ in range(32))
churn = float(os.environ.get("FEED_CHURN", "0"))
extra = int(churn * seconds) + 1 if churn > 0 else 0
drvs = []
for i in range(n + extra):
    d = f"{store}/{h(i)}-{prefix}{i}.drv"
    with open(d, "w") as f:
        f.write(f'Derive([("out","{store}/{h(n + i)}-{prefix}{i}","","")],[],[],"x86_64-linux","/bin/sh",[],'
                f'[("name","{prefix}{i}")])')
    drvs.append(d)

s = socket.socket(socket.AF_UNIX)
s.connect(sock_path)
def send(records):
    s.sendall("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode())

send([{"action": "hello", "protocol": 1, "pid": os.getpid(), "ppid": os.getppid(), "uid": 0, "role": "cli",
       "nix": "2.8.0", "requester": {"pid": os.getpid(), "uid": 0, "cmdline": "tui-bench"}},
      {"action": "start", "id": 1, "level": 0, "text": "", "type": 104, "parent": 0}])
def start_build(i):
    return {"action": "start", "id": 1000 + i, "level": 3, "text": f"building '{drvs[i]}'", "type": 105,
            "fields": [drvs[i], "", 1, 1], "parent": 1}
send([start_build(i) for i in range(n)])
running = list(range(n))  # activity ids - 1000, oldest first
started_n, finished = n, 0

print(f"started {time.time():.6f}", flush=True)

phases = ["unpackPhase", "configurePhase", "buildPhase", "installPhase"]
line = "x" * 40
sent, t0 = 0, time.monotonic()
tick = 0.01
per_tick = max(1, int(rate * tick))
while time.monotonic() - t0 < seconds:
    batch = []
    # Churn: the oldest builds finish and new ones start, at FEED_CHURN a second.
    while churn > 0 and finished < (time.monotonic() - t0) * churn and started_n < len(drvs):
        done = running.pop(0)
        # Its output registered first: the daemon finds it valid and the build succeeded.
        with open(f"{store}/{h(n + done)}-{prefix}{done}", "w") as f:
            f.write("built\n")
        batch.append({"action": "stop", "id": 1000 + done})
        batch.append(start_build(started_n))
        running.append(started_n)
        started_n += 1
        finished += 1
    for _ in range(per_tick):
        b = 1000 + rnd.choice(running)
        k = rnd.random()
        if k < 0.02:
            batch.append({"action": "result", "id": b, "type": 104, "fields": [rnd.choice(phases)]})
        elif k < 0.03:
            batch.append({"action": "result", "id": 1, "type": 105, "fields": [0, n, n, 0]})
        else:
            batch.append({"action": "result", "id": b, "type": 101,
                          "fields": [f"building object {sent} of the bench {line[:rnd.randrange(20, 80)]}"]})
    send(batch)
    sent += len(batch)
    # Paced: the next batch when its time has come.
    due = t0 + sent / rate
    delay = due - time.monotonic()
    if delay > 0:
        time.sleep(delay)
el = time.monotonic() - t0
print(f"feed: {n} builds, {sent} records in {el:.1f} s ({sent / el:.0f}/s), {finished} finished and replaced",
      flush=True)
# Keep the connection (and so the builds) until told to stop.
if os.environ.get("FEED_HOLD"):
    time.sleep(float(os.environ["FEED_HOLD"]))
