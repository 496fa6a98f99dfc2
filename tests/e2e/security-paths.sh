#!/usr/bin/env bash
# Issue 15, item 3 and 6: a local user names paths in events.sock records to hang the root
# daemon or make it read what she may not, and a socket directory owned by someone else.
#
# A root daemon, started in a session of its own without a terminal (as systemd runs it), on
# a private socket directory. A real unprivileged uid (na-e2e-mallory) sends build start and
# stop records naming, in turn:
#   (i)   a FIFO x.drv in a directory she owns        -> a blocking open() hung the event loop
#   (ii)  the slave of a pty she opened, then closes the master
#                                                     -> the daemon's controlling tty, SIGHUP
#   (iii) a store path that is a symbolic link: evil.drv -> /etc/shadow, and one to her FIFO
#   (iv)  "/nix/store/../..<her dir>/x.drv": ".." out of the store to the FIFO
#   (v)   a 20 MiB regular file <hash>-big.drv in the store
# After each: status answers within 2 s, the daemon lives, has no controlling terminal, and
# read next to nothing (its /proc/PID/io rchar). Then SIGHUP, and a real Nix build still
# works. Last, a daemon pointed at a socket directory mallory owns (or may write, or that is
# a symbolic link) refuses to start, naming the directory, its owner and its mode.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
command -v python3 >/dev/null || skip "python3 missing"
command -v setsid >/dev/null || skip "setsid missing"
command -v runuser >/dev/null || skip "runuser missing"

MALLORY=na-e2e-mallory
system_user "$MALLORY"
as_mallory() { runuser -u "$MALLORY" -- "$@"; }

chmod 755 "$T" # mallory reaches the sockets and her own directory
M="$T/mallory"
mkdir -p "$M" && chown "$MALLORY" "$M" && chmod 755 "$M"
as_mallory mkfifo "$M/x.drv" || die "mallory cannot make a FIFO"

# What a user of a multi-user store could get there (a symbolic link, a big file: any name
# through nix-daemon, even if Nix refuses to add those named .drv), planted directly under
# fresh hashes nobody uses and removed at exit.
h() { printf '%s' "$NONCE-$1" | sha256sum | tr -dc '0-9a-df-np-sv-z' | head -c 32; }
EVIL=/nix/store/$(h evil)-evil.drv
EVIL_FIFO=/nix/store/$(h evil-fifo)-evil-fifo.drv
BIG=/nix/store/$(h big)-big.drv
trap 'rc=$?; rm -f "$EVIL" "$EVIL_FIFO" "$BIG"; (exit $rc); e2e_cleanup' EXIT
[[ ${#EVIL} == $((11 + 32 + 9)) ]] || die "bad fake hash: $EVIL"
ln -s /etc/shadow "$EVIL" && ln -s "$M/x.drv" "$EVIL_FIFO" && head -c $((20 << 20)) /dev/zero >"$BIG" ||
	die "cannot plant the store objects"

# The daemon as systemd runs it: a session leader without a terminal, which open() of a
# tty without O_NOCTTY would make its controlling terminal.
mkdir -p "$SOCKDIR"
setsid "$NA_DAEMON" --socket-dir "$SOCKDIR" --history-db "$T/history.db" -v --discover-scope $$ \
	--no-cgroups --sample-interval 0.2 >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
wait_for 20 "nix-analyticsd answers status" daemon_ready || die "daemon did not come up"
stat_field() { awk -v f="$1" '{sub(/^.*\) /, ""); print $(f - 2)}' "/proc/$DAEMON_PID/stat"; }
assert_eq "the daemon leads its own session" "$DAEMON_PID" "$(stat_field 6)"
assert_eq "the daemon starts without a controlling terminal" 0 "$(stat_field 7)"

rchar() { awk '/^rchar:/ {print $2}' "/proc/$DAEMON_PID/io"; }

# after ATTACK: status within 2 s, alive, still no terminal, less than 1 MiB read meanwhile.
after() {
	assert_status_within 2000 "status answers within 2 s after $1"
	kill -0 "$DAEMON_PID" 2>/dev/null || die "nix-analyticsd died after $1"
	assert_eq "no controlling terminal after $1" 0 "$(stat_field 7)"
}

# attack LABEL PATH [pty]: mallory starts a build of PATH and stops it (the daemon reads a
# build's .drv for its graph, its system and, at its end, its outputs); with "pty" PATH is
# ignored: she opens a pty, names its slave and closes the master once the daemon had time.
attack() {
	local label=$1 path=$2 mode=${3:-} r0 r1
	r0=$(rchar)
	as_mallory python3 - "$SOCKDIR/events.sock" "$path" "$mode" >"$T/attack.out" 2>&1 <<'PY'
import json, os, socket, sys, time
sock, path, mode = sys.argv[1:4]
master = None
if mode == "pty":
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)
def rec(**r):
    s.sendall(("@nix " + json.dumps(r) + "\n").encode())
rec(action="msg", level=0, msg="these 1 derivations will be built:")
rec(action="msg", level=0, msg="  " + path)
rec(action="start", id=7001, level=3, type=105, text="building '%s'" % path, fields=[path, "", 1, 1])
rec(action="msg", level=0, msg="waiting for a machine to build '%s'" % path)
time.sleep(1.0)
rec(action="stop", id=7001)
time.sleep(1.0)
if master is not None:
    os.close(master)  # a terminal that is the daemon's hangs up its session
    time.sleep(0.5)
s.close()
print("sent", path)
PY
	(($? == 0)) || fail "mallory's sender failed for $label" "$(cat "$T/attack.out")"
	after "$label"
	r1=$(rchar)
	assert_le "the daemon read less than 1 MiB during $label" $((1 << 20)) $((r1 - r0))
}

attack "(i) a FIFO x.drv of mallory's" "$M/x.drv"
attack "(ii) a pty slave whose master mallory closes" "" pty
attack "(iii) a store symlink evil.drv -> /etc/shadow" "$EVIL"
attack "(iii) a store symlink to mallory's FIFO" "$EVIL_FIFO"
attack "(iv) .. out of the store to the FIFO" "/nix/store/../..$M/x.drv"
attack "(v) a 20 MiB big.drv in the store" "$BIG"

# None of those paths became a build: paths from the wire are store paths or nothing, and
# the store ones were never read (no dependencies, no system).
ctl_ok BUILDS list-builds
assert_json "no build of a path outside the store" "$BUILDS" \
	'all(.builds[]; .drv | startswith("/nix/store/") and (contains("..") | not))'
assert_json "the store symlinks and the big file show nothing read from them" "$BUILDS" \
	'all(.builds[]; (.system // null) == null)'

kill -HUP "$DAEMON_PID"
after "SIGHUP"
assert_true "the daemon logged that it ignored SIGHUP" grep -q 'ignoring SIGHUP' "$T/daemon.log"

# --- the daemon still works on a real build ---
nix-build "$E2E_DIR/nix/small.nix" --argstr nonce "$NONCE" --no-out-link --log-format internal-json -v 2>&1 |
	ctl ingest >"$T/ingest.out" 2>&1
assert_eq "a real build and its ingest succeed" "0 0" "${PIPESTATUS[*]}"
small_done() {
	ctl list-builds 2>/dev/null |
		jq -e '[.builds[] | select((.drv | test("-small-(leaf|root)[.]drv$")) and .state == "succeeded")] |
			length == 2' >/dev/null
}
wait_for 20 "the real build's 2 builds succeeded" small_done && pass "the real build is listed as succeeded"
stop_daemon

# --- item 6: socket directories that are not the daemon's alone ---
refused() {
	local label=$1 dir=$2 want=$3 out rc
	out=$(timeout 10 "$NA_DAEMON" --socket-dir "$dir" --history-db "$T/refused.db" --no-cgroups 2>&1)
	rc=$?
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if ((rc != 0 && rc != 124)); then
		pass "the daemon refuses $label (exit $rc)"
	else
		fail "the daemon refuses $label" "exit $rc" "output: $out"
	fi
	assert_contains "the refusal names $label and why" "refusing socket directory $dir" "$out"
	assert_match "the refusal says $want" "$want" "$out"
	[[ ! -S "$dir/control.sock" ]] || fail "a control socket was made in $label"
}
mkdir -p "$M/sock" && chown "$MALLORY" "$M/sock"
refused "a directory mallory owns" "$M/sock" "owner uid $(id -u "$MALLORY"), mode 0755.*another user"
mkdir -p "$T/gw" && chmod 0777 "$T/gw"
refused "a directory others may write" "$T/gw" "mode 0777.*may write"
mkdir -p "$T/good" && ln -s "$T/good" "$T/sock-link"
refused "a symbolic link to a good directory" "$T/sock-link" "symbolic link"
# A socket of mallory's where the daemon would bind (left from a time the directory was not
# safe): not a stale socket of ours, never removed nor replaced.
mkdir -p "$T/planted"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/planted/control.sock" &&
	chown "$MALLORY" "$T/planted/control.sock" || die "cannot plant mallory's socket"
out=$(timeout 10 "$NA_DAEMON" --socket-dir "$T/planted" --history-db "$T/refused.db" --no-cgroups 2>&1)
assert_ne "the daemon does not take over a stale socket of another uid" 0 "$?"
assert_contains "it says why" "planted/control.sock" "$out"
assert_eq "mallory's socket is still hers" "$MALLORY" "$(stat -c %U "$T/planted/control.sock")"
