#!/usr/bin/env python3
"""A local user trying to take more than its share of nix-analyticsd (security-quotas.sh).

quota-hog.py SOCKDIR conns N-EVENT N-CONTROL OUT STOPFILE
    opens that many event and control connections, writes how many the daemon kept open
    to OUT ("events=E control=C"), holds them until STOPFILE exists.
quota-hog.py SOCKDIR starts N
    one event connection, N start records of distinct fake builds, then closes.
quota-hog.py SOCKDIR logline BYTES OUT STOPFILE
    one fake build whose log gets one line of BYTES bytes; writes "sent" to OUT, holds the
    connection (the build stays running) until STOPFILE exists.
quota-hog.py SOCKDIR fail N
    N fake builds, each started, reported failed by its builder and stopped.
"""
import json
import os
import select
import socket
import sys
import time

HASH_DIGITS = 32  # a store path hash: 32 characters of Nix's base-32 (digits are in it)


def drv(kind, i):
    return "/nix/store/%0*d-hog-%s-%d.drv" % (HASH_DIGITS, i + (10**9 if kind == "fail" else 0), kind, i)


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def closed_by_peer(s):
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except ConnectionResetError:
        return True


def line(obj):
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def hold(stopfile, deadline=120):
    end = time.time() + deadline
    while not os.path.exists(stopfile) and time.time() < end:
        time.sleep(0.05)


def main():
    sockdir, cmd = sys.argv[1], sys.argv[2]
    events = os.path.join(sockdir, "events.sock")
    control = os.path.join(sockdir, "control.sock")
    if cmd == "conns":
        n_ev, n_ctl, out, stop = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
        ev = [connect(events) for _ in range(n_ev)]
        ctl = [connect(control) for _ in range(n_ctl)]
        # The daemon closes a refused connection right after accepting it: give it time.
        time.sleep(1.0)
        open_ev = sum(not closed_by_peer(s) for s in ev)
        open_ctl = sum(not closed_by_peer(s) for s in ctl)
        with open(out + ".tmp", "w") as f:
            f.write("events=%d control=%d\n" % (open_ev, open_ctl))
        os.rename(out + ".tmp", out)
        hold(stop)
    elif cmd == "starts":
        n = int(sys.argv[3])
        s = connect(events)
        buf = bytearray()
        for i in range(n):
            buf += line({"action": "start", "id": i + 1, "level": 3, "type": 105, "text": "",
                         "fields": [drv("start", i), ""]})
            if len(buf) > 1 << 16:
                s.sendall(buf)
                buf.clear()
        s.sendall(buf)
        s.close()
    elif cmd == "logline":
        size, out, stop = int(sys.argv[3]), sys.argv[4], sys.argv[5]
        s = connect(events)
        s.sendall(line({"action": "start", "id": 1, "level": 3, "type": 105, "text": "",
                        "fields": [drv("log", 0), ""]}))
        s.sendall(line({"action": "result", "id": 1, "type": 101, "fields": ["L" * size]}))
        with open(out, "w") as f:
            f.write("sent\n")
        hold(stop)
        s.close()
    elif cmd == "fail":
        n = int(sys.argv[3])
        s = connect(events)
        for i in range(n):
            d = drv("fail", i)
            s.sendall(line({"action": "start", "id": i + 1, "level": 3, "type": 105, "text": "",
                            "fields": [d, ""]})
                      + line({"action": "msg", "level": 0,
                              "msg": "error: builder for '%s' failed with exit code 1" % d})
                      + line({"action": "stop", "id": i + 1}))
            # Let the daemon's views see each end before the next (finished builds are
            # dropped for new ones only once reported).
            if i % 10 == 9:
                time.sleep(0.02)
        s.close()
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
