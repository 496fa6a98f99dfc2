#!/usr/bin/env python3
"""A misbehaving peer for the bad-input and cli end-to-end tests.

Each subcommand does one kind of abuse against a nix-analyticsd socket and prints what it
observed (JSON on stdout) for the calling shell test to assert on. Deterministic: the
"random" garbage comes from a fixed seed.
"""

import json
import os
import random
import signal
import socket
import sys
import time


def connect(path, timeout=10.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def read_line(s, limit=16 << 20):
    """One response line, or None on EOF/timeout before a newline."""
    buf = b""
    while b"\n" not in buf and len(buf) < limit:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return None
        if not chunk:
            return None
        buf += chunk
    return buf.split(b"\n", 1)[0]


def garbage_lines(n):
    """n non-empty lines that are certainly not JSON: binary bytes, no newline inside."""
    rnd = random.Random(4242)
    out = []
    for _ in range(n):
        body = bytes(rnd.choice([b for b in range(256) if b != 0x0A])
                     for _ in range(rnd.randint(1, 400)))
        out.append(b"\x01garbage" + body + b"\n")
    return out


def cmd_garbage(sock):
    """Certainly-unparsable lines on the event socket; prints how many were sent."""
    lines = garbage_lines(50)
    lines += [
        b"this is not json\n",
        b"{\"action\":\"start\",\n",          # truncated object
        b"{\"action\":\"result\" \"id\":1}\n",  # missing comma
        b"}}}}{{{{\n",
        b"@nix not json either\n",
        b"\xff\xfe\xfd\xfc\n",
    ]
    s = connect(sock)
    s.sendall(b"".join(lines))
    s.close()
    print(json.dumps({"definitely_bad": len(lines)}))


def cmd_wrongtypes(sock, ids_csv="", drvs_csv=""):
    """Well-formed JSON with wrong types, invalid UTF-8, deep nesting, and records that name
    another connection's activity ids and drvs (must not touch that connection's builds)."""
    recs = [
        b"[]", b"42", b"\"a string\"", b"null", b"{}",
        b"{\"action\":123}",
        b"{\"action\":\"start\",\"id\":\"abc\",\"type\":\"105\",\"fields\":\"x\"}",
        b"{\"action\":\"start\",\"id\":-1,\"type\":105,\"level\":3,\"text\":\"\",\"fields\":[1,2,3,4]}",
        b"{\"action\":\"start\",\"id\":1e300,\"type\":105,\"fields\":[{\"a\":1},null,\"x\",[]]}",
        b"{\"action\":\"result\",\"id\":7,\"type\":101,\"fields\":[{\"nested\":[1,2]}]}",
        b"{\"action\":\"result\",\"id\":7,\"type\":105,\"fields\":[\"a\",\"b\",-5,1e99]}",
        b"{\"action\":\"result\",\"id\":7,\"type\":104,\"fields\":[]}",
        b"{\"action\":\"stop\",\"id\":[1]}",
        b"{\"action\":\"msg\",\"level\":\"zero\",\"msg\":{}}",
        b"{\"action\":\"dropped\",\"count\":\"many\"}",
        b"{\"action\":\"dropped\",\"count\":-3}",
        b"{\"action\":\"setPhase\",\"phase\":[]}",
        b"{\"action\":\"hello\",\"protocol\":\"one\"}",
        # invalid UTF-8 inside otherwise valid records
        b"{\"action\":\"msg\",\"level\":0,\"msg\":\"bad \xff\xfe utf8 \xc3\x28 \xed\xa0\x80\"}",
        b"{\"action\":\"start\",\"id\":99,\"type\":105,\"level\":3,\"text\":\"building \xff\","
        b"\"fields\":[\"/nix/store/00000000000000000000000000000000-bad\xff\xfeutf8.drv\",\"\",1,1]}",
        b"{\"action\":\"result\",\"id\":99,\"type\":101,\"fields\":[\"log \xf0\x28\x8c\x28 line\"]}",
        b"{\"action\":\"stop\",\"id\":99}",
        # deep nesting
        b"[" * 100000 + b"]" * 100000,
        b"{\"action\":\"result\",\"id\":7,\"type\":101,\"fields\":" + b"[" * 5000 + b"]" * 5000 + b"}",
        # keys repeated, NUL bytes
        b"{\"action\":\"stop\",\"action\":\"start\",\"id\":8}",
        b"{\"action\":\"msg\",\"level\":0,\"msg\":\"nul \x00 byte\"}",
    ]
    ids = [i for i in ids_csv.split(",") if i]
    drvs = [d for d in drvs_csv.split(",") if d]
    for i in ids:
        recs += [
            b"{\"action\":\"result\",\"id\":%s,\"type\":101,\"fields\":[\"INJECTED LINE\"]}" % i.encode(),
            b"{\"action\":\"result\",\"id\":%s,\"type\":104,\"fields\":[\"injectedPhase\"]}" % i.encode(),
            b"{\"action\":\"stop\",\"id\":%s}" % i.encode(),
        ]
    for d in drvs:
        recs.append(b"{\"action\":\"msg\",\"level\":0,\"msg\":\"builder for '%s' failed with exit code 9\"}"
                    % d.encode())
    s = connect(sock)
    s.sendall(b"\n".join(recs) + b"\n")
    s.close()
    print(json.dumps({"sent": len(recs)}))


def cmd_bigline(sock, size):
    """One line of `size` bytes (no newline until the end), then a valid record after it."""
    size = int(size)
    chunk = b"x" * (1 << 20)
    s = connect(sock, timeout=60)
    t0 = time.monotonic()
    sent = 0
    closed_early = False
    try:
        while sent < size:
            n = min(len(chunk), size - sent)
            s.sendall(chunk[:n])
            sent += n
        s.sendall(b"\n{\"action\":\"msg\",\"level\":5,\"msg\":\"after the big line\"}\n")
    except (BrokenPipeError, ConnectionResetError):
        closed_early = True
    s.close()
    print(json.dumps({"sent": sent, "closed_early": closed_early,
                      "seconds": round(time.monotonic() - t0, 3)}))


def cmd_midline(sock):
    """Connections dropped in the middle of a line, at several points."""
    for part in (b"{\"action\":\"start\",\"id\":5,\"ty", b"{\"action\":\"result\",\"id\":5,\"type\":101,\"fields\":[\"half",
                 b"{\"id\":1,\"cmd\":\"sta", b"\xe2\x82"):
        s = connect(sock)
        s.sendall(part)
        s.shutdown(socket.SHUT_RDWR)
        s.close()
    # and one dropped with unread data pending in the other direction (RST-like on AF_UNIX)
    s = connect(sock)
    s.sendall(b"{\"id\":1,\"cmd\":\"status\"}\n{\"id\":2,\"cmd\":\"snap")
    s.close()
    print(json.dumps({"dropped": 5}))


def cmd_flood(sock, seconds, conns="2"):
    """Valid records as fast as the socket takes them for `seconds`, on `conns` connections at
    once (so one of them always has data waiting): each streams one build's log lines.
    Prints how many records and log lines went out (the daemon must count every one)."""
    import threading
    line = b"{\"action\":\"result\",\"fields\":[\"flood line: a peer that never pauses\"],\"id\":4242,\"type\":101}\n"
    per_buf = (4 << 20) // len(line)
    buf = line * per_buf
    deadline = time.monotonic() + float(seconds)
    results = []

    def one(i):
        drv = "/nix/store/%032d-flood-%d.drv" % (i, i)
        s = connect(sock, timeout=120)
        s.sendall(b"{\"action\":\"start\",\"id\":4242,\"level\":3,\"type\":105,\"text\":\"building\","
                  b"\"fields\":[\"" + drv.encode() + b"\",\"\",1,1]}\n")
        lines = 0
        while time.monotonic() < deadline:
            s.sendall(buf)
            lines += per_buf
        s.sendall(b"{\"action\":\"stop\",\"id\":4242}\n")
        s.close()
        results.append(lines)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(int(conns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"records": sum(results) + 2 * len(results), "log_lines": results}))


def cmd_idle(count, readyfile, *socks):
    """Hold `count` idle connections to each socket until SIGTERM."""
    conns = []
    errors = 0
    for path in socks:
        for _ in range(int(count)):
            try:
                conns.append(connect(path))
            except OSError:
                errors += 1
    with open(readyfile + ".tmp", "w") as f:
        json.dump({"open": len(conns), "errors": errors}, f)
    os.rename(readyfile + ".tmp", readyfile)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


CONTROL_CASES = [
    # (name, request line without newline, acceptable error codes, echoed id or None)
    ("not-json", b"this is not json", ["bad-request"], None),
    ("binary", b"\x01\x02\xff\xfe garbage \x00\x7f", ["bad-request"], None),
    ("array", b"[1,2,3]", ["bad-request"], None),
    # (a daemon may refuse such a line before parsing it, so the id need not come back)
    ("invalid-utf8-cmd", b"{\"id\":11,\"cmd\":\"st\xff\xfeatus\"}", ["bad-request", "unknown-command"], None),
    ("cmd-number", b"{\"id\":12,\"cmd\":5}", ["bad-request"], 12),
    ("cmd-missing", b"{\"id\":13}", ["bad-request"], 13),
    ("id-object", b"{\"id\":{\"x\":1},\"cmd\":\"status\"}", ["bad-request"], None),
    ("args-string", b"{\"id\":14,\"cmd\":\"list-builds\",\"args\":\"x\"}", ["bad-request"], 14),
    ("state-number", b"{\"id\":15,\"cmd\":\"list-builds\",\"args\":{\"state\":42}}", ["bad-request"], 15),
    ("build-array", b"{\"id\":16,\"cmd\":\"get-build\",\"args\":{\"build\":[1,2]}}", ["bad-request"], 16),
    ("tail-string", b"{\"id\":17,\"cmd\":\"get-log\",\"args\":{\"build\":\"1\",\"tail\":\"many\"}}",
     ["bad-request"], 17),
    ("limit-string", b"{\"id\":18,\"cmd\":\"get-history\",\"args\":{\"limit\":\"all\"}}", ["bad-request"], 18),
    ("unknown-cmd", b"{\"id\":19,\"cmd\":\"no-such-command\"}", ["unknown-command"], 19),
    ("bad-protocol", b"{\"id\":20,\"cmd\":\"hello\",\"args\":{\"protocol\":99,\"client\":\"badpeer\"}}",
     ["unsupported-protocol"], 20),
    ("deep-nesting", b"{\"id\":21,\"cmd\":\"status\",\"args\":" + b"[" * 100000 + b"]" * 100000 + b"}",
     ["bad-request"], None),
    ("get-build-missing", b"{\"id\":22,\"cmd\":\"get-build\",\"args\":{\"build\":\"no-such-build-xyz\"}}",
     ["not-found"], 22),
]


def cmd_control(sock):
    """Each bad request on its own connection; prints one JSON result per case."""
    for name, line, codes, echo_id in CONTROL_CASES:
        t0 = time.monotonic()
        s = connect(sock)
        try:
            s.sendall(line + b"\n")
            resp = read_line(s)
        except OSError as e:
            resp = None
            name += " (" + e.__class__.__name__ + ")"
        s.close()
        ms = round((time.monotonic() - t0) * 1000, 1)
        parsed = None
        if resp is not None:
            try:
                parsed = json.loads(resp)
            except ValueError:
                parsed = None
        print(json.dumps({"case": name, "codes": codes, "echo_id": echo_id, "ms": ms,
                          "raw": None if resp is None else resp[:500].decode("utf-8", "replace"),
                          "response": parsed}))


def cmd_control_big(sock, size):
    """A request line of `size` bytes: expect a too-large error, then the connection closed."""
    size = int(size)
    s = connect(sock, timeout=30)
    chunk = b"{\"id\":1,\"cmd\":\"status\",\"args\":{\"pad\":\"" + b"y" * (1 << 20)
    sent = 0
    broke = False
    try:
        s.sendall(chunk)
        sent += len(chunk)
        while sent < size:
            s.sendall(b"y" * (1 << 20))
            sent += 1 << 20
        s.sendall(b"\"}}\n")
    except (BrokenPipeError, ConnectionResetError):
        broke = True
    resp = read_line(s)
    eof = False
    if resp is not None:
        try:
            rest = s.recv(1)
            eof = rest == b""
        except ConnectionResetError:
            eof = True  # closed with our unread request bytes still queued on its side
        except socket.timeout:
            eof = False
    s.close()
    parsed = None
    try:
        parsed = json.loads(resp) if resp else None
    except ValueError:
        pass
    print(json.dumps({"sent": sent, "write_failed": broke, "response": parsed, "eof_after": eof,
                      "raw": None if resp is None else resp[:300].decode("utf-8", "replace")}))


def cmd_fake_server(path, reply):
    """A control socket answering every line with `reply` (to provoke ctl's protocol error)."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        c, _ = srv.accept()
        c.settimeout(5)
        try:
            while read_line(c) is not None:
                c.sendall(reply.encode() + b"\n")
        except OSError:
            pass
        c.close()


def cmd_stale_socket(path):
    """A socket file nobody listens on."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()


def main():
    cmds = {
        "garbage": cmd_garbage, "wrongtypes": cmd_wrongtypes, "bigline": cmd_bigline,
        "midline": cmd_midline, "idle": cmd_idle, "flood": cmd_flood, "control": cmd_control,
        "control-big": cmd_control_big, "fake-server": cmd_fake_server,
        "stale-socket": cmd_stale_socket,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit("usage: badpeer.py {%s} ARGS..." % ",".join(cmds))
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
