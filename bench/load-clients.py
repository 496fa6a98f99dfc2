#!/usr/bin/env python3
"""Control clients for bench/load.sh (R5): N connections to nix-analyticsd's control.sock,
served by one select loop. Each client sends one request at a time, a mix of `status`,
`list-builds` and `get-build` (a random name of NAMES), waits for its reply, then waits a
random think time (THINK_MS, uniform from half to one and a half of it) before the next.
The round trip is taken per request, from just before send() to the moment the loop finds
the reply line; the loop is otherwise idle, so that is the daemon's latency plus a few tens
of microseconds of ours. How late the loop was for its scheduled sends is reported too (the
measurement's own noise). The first SUBS clients also `subscribe` to build and invocation
events; the first LOGSUBS of them to every build's log as well, and count the log lines they
receive per build key (and the `skipped` ones).

Runs until SIGUSR1 (or SIGTERM), then writes a JSON summary to stdout.

usage: load-clients.py SOCKET_DIR N SUBS LOGSUBS THINK_MS NAMES (comma-separated)"""
import json, os, random, selectors, signal, socket, sys, time

sock_dir, n, subs, logsubs, think_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
names = sys.argv[6].split(",")
rnd = random.Random(os.getpid())
MIX = ["status"] * 4 + ["list-builds"] * 3 + ["get-build"] * 3
now = time.perf_counter

stop = False
def on_signal(*_):
    global stop
    stop = True
signal.signal(signal.SIGUSR1, on_signal)
signal.signal(signal.SIGTERM, on_signal)


class Client:
    def __init__(self, i):
        self.i = i
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(os.path.join(sock_dir, "control.sock"))
        self.s.setblocking(False)
        self.buf = b""
        self.next_id = 1
        self.waiting = None  # (id, cmd, t_sent) of the request in flight
        self.due = now() + rnd.uniform(0, think_ms / 1000)
        self.closed = False


rtts = {}  # cmd -> [seconds]
errors = {}  # error code -> count
late = []  # how late the loop sent scheduled requests (s)
log_lines = {}  # build key -> lines received by the first log subscriber
skipped_with = set()  # how many lines the events that skipped some carried
log_skipped = {}  # build key -> lines the first log subscriber was told it missed
events = 0
closed = 0


def send(c, cmd, args=None):
    rid = c.next_id
    c.next_id += 1
    req = {"id": rid, "cmd": cmd}
    if args is not None:
        req["args"] = args
    data = (json.dumps(req, separators=(",", ":")) + "\n").encode()
    t = now()
    c.s.sendall(data)  # tiny: fits the socket buffer
    c.waiting = (rid, cmd, t)


def on_line(c, line, t):
    global events
    if line.startswith(b'{"event"'):
        events += 1
        if c.i == 0 and line.startswith(b'{"event":"log"'):
            ev = json.loads(line)
            k = ev.get("build")
            log_lines[k] = log_lines.get(k, 0) + len(ev.get("lines", []))
            if ev.get("skipped"):
                log_skipped[k] = log_skipped.get(k, 0) + ev["skipped"]
                skipped_with.add(len(ev.get("lines", [])))
        return
    if c.waiting is None:
        return
    rid, cmd, t0 = c.waiting
    head = line[:80]
    if not head.startswith(b'{"id":%d,' % rid):
        msg = json.loads(line)
        if "event" in msg:
            return
        if msg.get("id") != rid:
            errors["mismatched-id"] = errors.get("mismatched-id", 0) + 1
    if b'"error":{' in head:
        code = json.loads(line).get("error", {}).get("code", "?")
        errors[f"{cmd}:{code}"] = errors.get(f"{cmd}:{code}", 0) + 1
    rtts.setdefault(cmd, []).append(t - t0)
    c.waiting = None
    c.due = t + rnd.uniform(0.5, 1.5) * think_ms / 1000


sel = selectors.DefaultSelector()
clients = []
for i in range(n):
    c = Client(i)
    clients.append(c)
    sel.register(c.s, selectors.EVENT_READ, c)
for c in clients[:subs]:
    args = {"builds": True, "invocations": True}
    if c.i < logsubs:
        args["logs"] = "all"
    send(c, "subscribe", args)

t_start = now()
while not stop:
    t = now()
    soonest = t + 0.05
    for c in clients:
        if c.closed or c.waiting is not None:
            continue
        if c.due <= t:
            late.append(t - c.due)
            cmd = rnd.choice(MIX)
            send(c, cmd, {"build": rnd.choice(names)} if cmd == "get-build" else None)
        elif c.due < soonest:
            soonest = c.due
    try:
        ready = sel.select(max(0.0, soonest - now()))
    except InterruptedError:
        continue
    for key, _ in ready:
        c = key.data
        try:
            data = c.s.recv(1 << 20)
        except BlockingIOError:
            continue
        t = now()
        if not data:
            sel.unregister(c.s)
            c.closed = True
            closed += 1
            continue
        c.buf += data
        while True:
            nl = c.buf.find(b"\n")
            if nl < 0:
                break
            line, c.buf = c.buf[:nl], c.buf[nl + 1 :]
            on_line(c, line, t)
t_end = now()


def pct(v, p):
    if not v:
        return None
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]


all_rtts = [x for v in rtts.values() for x in v]
summary = {
    "seconds": t_end - t_start,
    "requests": len(all_rtts),
    "in_flight": sum(1 for c in clients if c.waiting is not None),
    "closed": closed,
    "errors": errors,
    "events": events,
    "log_lines": log_lines,
    "log_skipped": sum(log_skipped.values()),
    "log_skipped_builds": len(log_skipped),
    "log_skipped_with_lines": sorted(skipped_with),
    "late_p99_ms": (pct(late, 99) or 0) * 1000,
    "late_max_ms": (max(late) if late else 0) * 1000,
}
for name, v in [("all", all_rtts)] + sorted(rtts.items()):
    summary["rtt_" + name] = {
        "n": len(v),
        **{k: (pct(v, p) or 0) * 1000 for k, p in [("p50", 50), ("p95", 95), ("p99", 99)]},
        "max": (max(v) if v else 0) * 1000,
    }
json.dump(summary, sys.stdout)
print()
