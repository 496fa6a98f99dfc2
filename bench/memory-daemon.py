#!/usr/bin/env python3
"""P7 memory: a real nix-analyticsd with BUILDS active builds whose log rings are full.

The builds are announced on the event socket (their .drv files written into a private
store, as bench/tui-feed.py does), then LINES log lines of 40-120 bytes each (compiler-like
output, 80 on average) go to every build, round robin, so every ring fills as on a machine
where a thousand builds each printed a long log. Once the daemon's status has counted every
record, its resident memory (VmRSS) is read from /proc, a few seconds after (it must not
have been a peak). The connection, and so the builds, stays open meanwhile: they are active.

Prints the daemon's CPU time for the log lines, RSS with no log lines yet, RSS with full rings, the high-water mark, what the daemon
reports for its log memory (`status`: logs, where the daemon has it), one build's log tail
as `get-log` gives it, and the verdict against the target: RSS <= 32 MiB (VmRSS / 1024).

usage: memory-daemon.py DAEMON [BUILDS (default 1000)] [LINES (default 1000)]
  env: HISTORY_DB (a database for --history-db, default none), DAEMON_ARGS (more options)"""
import json, os, random, shlex, shutil, socket, subprocess, sys, tempfile, time

daemon = sys.argv[1]
builds = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
lines = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
TARGET_MB = 32

tmp = tempfile.mkdtemp(prefix="na-memory.")
sock, store = os.path.join(tmp, "sock"), os.path.join(tmp, "store")
os.makedirs(sock)
os.makedirs(store)
B32 = "0123456789abcdfghijklmnpqrsvwxyz"
h = lambda i: "".join(random.Random(i).choice(B32) for _ in range(32))
drvs = []
for i in range(builds):
    d = f"{store}/{h(i)}-mem-bench-{i}.drv"
    with open(d, "w") as f:
        f.write(f'Derive([("out","{store}/{h(builds + i)}-mem-bench-{i}","","")],[],[],"x86_64-linux",'
                f'"/bin/sh",[],[("name","mem-bench-{i}")])')
    drvs.append(d)

args = [daemon, "-s", sock, "--store-dir", store, "-q",
        "--history-db", os.environ.get("HISTORY_DB") or "none", "--history-max-age", "0",
        "--history-max-rows", "0"] + shlex.split(os.environ.get("DAEMON_ARGS", ""))
d = subprocess.Popen(args)


def rss_kb(key="VmRSS"):
    with open(f"/proc/{d.pid}/status") as f:
        for l in f:
            if l.startswith(key + ":"):
                return int(l.split()[1])
    return 0


def cpu_s():
    """The daemon's CPU time (user + system, all threads), seconds."""
    with open(f"/proc/{d.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


try:
    for _ in range(500):
        if os.path.exists(os.path.join(sock, "control.sock")) and os.path.exists(os.path.join(sock, "events.sock")):
            break
        time.sleep(0.02)
    ctl = socket.socket(socket.AF_UNIX)
    ctl.connect(os.path.join(sock, "control.sock"))
    cf = ctl.makefile("rwb")
    seq = 0

    def ask(cmd, a=None):
        global seq
        seq += 1
        cf.write(json.dumps({"id": seq, "cmd": cmd, "args": a or {}}).encode() + b"\n")
        cf.flush()
        while True:
            reply = json.loads(cf.readline())
            if reply.get("id") == seq:
                break
        if "error" in reply:
            raise SystemExit(f"{cmd}: {reply['error']}")
        return reply["result"]

    def wait_events(n):
        for _ in range(6000):
            if ask("status")["events"]["total"] >= n:
                return
            time.sleep(0.05)
        raise SystemExit(f"the daemon did not count {n} records")

    ev = socket.socket(socket.AF_UNIX)
    ev.connect(os.path.join(sock, "events.sock"))
    sent = 0

    def send(records):
        global sent
        ev.sendall("".join(records).encode())
        sent += len(records)

    send([json.dumps({"action": "hello", "protocol": 1, "pid": os.getpid(), "ppid": os.getppid(), "uid": 0,
                      "role": "cli", "nix": "2.8.0",
                      "requester": {"pid": os.getpid(), "uid": 0, "cmdline": "memory-bench"}}) + "\n",
          '{"action":"start","id":1,"level":0,"text":"","type":104,"parent":0}\n'])
    send([json.dumps({"action": "start", "id": 1000 + i, "level": 3, "text": f"building '{dv}'", "type": 105,
                      "fields": [dv, "", 1, 1], "parent": 1}, separators=(",", ":")) + "\n"
          for i, dv in enumerate(drvs)])
    wait_events(sent)
    time.sleep(2)
    rss_empty = rss_kb()

    rnd = random.Random(7)
    words = ["gcc", "-O2", "-Wall", "-c", "src/module.c", "-o", "build/module.o", "-I", "include",
             "-DNDEBUG", "-fPIC", "-pipe", "-g", "CC", "LD", "libfoo.la", "warning:", "note:"]
    t0, cpu0 = time.monotonic(), cpu_s()
    for n in range(lines):
        batch = []
        for b in range(builds):
            text = f"[{n:4d}/{lines}] "
            want = rnd.randrange(40, 121)
            while len(text) < want:
                text += rnd.choice(words) + " "
            batch.append(f'{{"action":"result","id":{1000 + b},"type":101,"fields":["{text[:want]}"]}}\n')
        send(batch)
    wait_events(sent)
    feed_s, feed_cpu = time.monotonic() - t0, cpu_s() - cpu0
    time.sleep(3)
    rss, hwm = rss_kb(), rss_kb("VmHWM")
    st = ask("status")
    logs = st.get("logs")
    tail = ask("get-log", {"build": drvs[builds // 2], "tail": 3})

    print(f"nix-analyticsd: {builds} active builds, {lines} log lines each "
          f"({builds * lines} lines fed in {feed_s:.1f} s), options: {' '.join(args[6:8] + args[12:])}")
    print(f"daemon CPU for the log lines: {feed_cpu:.2f} s ({feed_cpu * 1e9 / (builds * lines):.0f} ns a line)")
    print(f"RSS with no log lines: {rss_empty / 1024:.1f} MiB")
    print(f"RSS with the rings full: {rss / 1024:.1f} MiB (high-water mark {hwm / 1024:.1f} MiB)")
    if logs:
        print(f"status logs: memory {logs['memory'] / 1048576:.1f} MiB of a budget of "
              f"{logs['budget'] / 1048576:.1f} MiB, {logs['rings']} rings, {logs['dropped']} lines dropped for it")
    print(f"get-log tail 3 of build {builds // 2}: total {tail['total']}, truncated {tail['truncated']}, "
          f"newest: {tail['lines'][-1] if tail['lines'] else None!r}")
    ok = rss / 1024 <= TARGET_MB
    print(f"P7 verdict: {'PASS' if ok else 'FAIL'} (target: RSS <= {TARGET_MB} MiB with {builds} active builds)")
    print(f"result rss_kb={rss} hwm_kb={hwm} empty_kb={rss_empty}")
    sys.exit(0 if ok else 1)
finally:
    d.terminate()
    try:
        d.wait(10)
    except subprocess.TimeoutExpired:
        d.kill()
    shutil.rmtree(tmp, ignore_errors=True)
