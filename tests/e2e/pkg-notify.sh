#!/usr/bin/env bash
# The systemd units say Type=notify and WatchdogSec=30s: the daemon must tell the service
# manager it is ready once its sockets listen (READY=1), keep petting the watchdog while it
# runs (WATCHDOG=1 about twice per WATCHDOG_USEC), and say STOPPING=1 on SIGTERM. systemd is
# not PID 1 here, so the test is the manager: it owns the $NOTIFY_SOCKET datagram socket and
# records what arrives. Run as `bash pkg-notify.sh DAEMON CTL BUILD-ROOT SOURCE-ROOT`.
source "$(dirname "$0")/lib.sh"

check_binaries
command -v python3 >/dev/null || skip "python3 missing"

NS="$T/notify.sock"
python3 - "$NS" >"$T/notify.log" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
start, deadline = time.time(), time.time() + 30
while time.time() < deadline:
    try:
        msg = s.recv(4096).decode()
    except socket.timeout:
        continue
    for line in msg.splitlines():
        print(f"{time.time() - start:.3f} {line}", flush=True)
        if line == "STOPPING=1":
            sys.exit(0)
PY
LISTENER=$!
track "$LISTENER"
wait_for 5 "the notify socket" test -S "$NS" || die "no notify socket"

mkdir -p "$SOCKDIR"
# 0.6 s: sd-event pets the watchdog every 0.3 s. WATCHDOG_PID is left unset (systemd sets it
# to the main pid; unset means "this process").
NOTIFY_SOCKET="$NS" WATCHDOG_USEC=600000 "$NA_DAEMON" --socket-dir "$SOCKDIR" --history-db none \
	--discover-scope $$ --no-cgroups >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
ready() { grep -q ' READY=1$' "$T/notify.log"; }
wait_for 20 "READY=1 from the daemon" ready && pass "the daemon notified READY=1"
assert_true "the sockets listen by the time READY=1 arrives" test -S "$SOCKDIR/control.sock" -a -S "$SOCKDIR/events.sock"
assert_true "it answers status" ctl status
assert_true "READY=1 comes with a STATUS= line" grep -q ' STATUS=' "$T/notify.log"
sleep 2.5
n=$(grep -c ' WATCHDOG=1$' "$T/notify.log")
assert_ge "WATCHDOG=1 pings while it runs (about 8 in 2.5 s at WATCHDOG_USEC=0.6 s; >= 4 on a loaded machine)" 4 "$n"
# Busy or not, the loop keeps petting: a flood of requests meanwhile.
for _ in $(seq 1 50); do ctl status >/dev/null; done
n2=$(grep -c ' WATCHDOG=1$' "$T/notify.log")
sleep 1
assert_ge "pings go on" $((n2 + 2)) "$(grep -c ' WATCHDOG=1$' "$T/notify.log")"
stop_daemon
wait "$LISTENER"
assert_eq "the manager saw STOPPING=1 and ended" 0 "$?"
assert_true "STOPPING=1 is the last message" bash -c "tail -n 1 '$T/notify.log' | grep -q ' STOPPING=1$'"
