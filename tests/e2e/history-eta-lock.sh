#!/usr/bin/env bash
# ETA lookups never run on the event loop. History holds two successful builds of pname
# lock-eta (10 s and 14 s: an ETA of 12 s). Another process then holds the database's read
# locks (the WAL read-mark bytes of its -shm file, taken for writing as SQLite's own recovery
# does), so that no connection can start a read, and a real nix-build of lock-eta-1.0 starts.
#  (a) While the lock holds, the daemon answers `status` within 500 ms every time (its ETA
#      lookup waits on a worker thread, not on the loop) and shows the running build without
#      an ETA.
#      One lookup is asked for it, however many times the build needs its ETA meanwhile.
#  (b) Once the lock is gone, the running build gets its ETA: the one history predicts.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
command -v python3 >/dev/null || skip "python3 is not installed (scripts/deps.sh installs it)"

source "$E2E_DIR/lib-proc.sh"

DB="$T/history.db"
start_daemon --cgroup-root "$CGROOT"
history_ok() { ctl status 2>/dev/null | jq -e '.history.state == "ok"' >/dev/null; }
wait_for 10 "the history database is open" history_ok

history_add_rows "$DB" lock-eta-1.0 lock-eta "" 10 14 || die "cannot add the history rows"

# ---- the lock ----
# SQLite's WAL locks are bytes 120.. of the -shm file: write, checkpoint, recovery, then the
# five read marks (123..127). A reader needs one of the read marks; with all five held for
# writing by another process it waits (SQLite retries for up to about 10 s).
[[ -e "$DB-shm" ]] || die "$DB-shm is missing: the database is not in WAL mode"
python3 - "$DB-shm" >"$T/locker.out" 2>&1 <<'PY' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX, 5, 123)
print("locked", flush=True)
time.sleep(120)
PY
LOCKER=$!
track "$LOCKER"
wait_for 10 "the locker holds the read locks" grep -q locked "$T/locker.out" || die "no lock"
timeout 2 python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1], timeout=0).execute("SELECT count(*) FROM builds").fetchall()' "$DB" 2>/dev/null
assert_eq "a reader of the database waits while the lock holds" 124 "$?"

# ---- (a) a real build starts; status keeps answering ----
FILE="$T/lock.nix"
cat >"$FILE" <<X
(import $E2E_DIR/nix/mk.nix { nonce = "$NONCE"; }).mk "lock-eta-1.0" ''
  for i in \$(seq 1 30); do echo "line \$i"; sleep 0.5; done; echo ok > \$out
'' [ ]
X
nix_bg "$FILE"
build_json() { ctl get-build lock-eta-1.0 2>/dev/null; }
running() { build_json | jq -e '.build.state == "running"' >/dev/null; }
# For 5 s from the start of the build: status every 0.2 s, each answered within 500 ms (tens
# of ms here on a quiet machine; a loop held by the lookup waits for the lock, seconds).
PROBES=0 SLOW=0 SLOWEST=0
END=$(($(now_ms) + 5000))
while (($(now_ms) < END)); do
	t0=$(now_ms)
	timeout 20 "$NA_CTL" -s "$SOCKDIR" status 2>/dev/null | jq -e .pid >/dev/null || SLOW=$((SLOW + 1))
	ms=$(($(now_ms) - t0))
	PROBES=$((PROBES + 1))
	((ms > SLOWEST)) && SLOWEST=$ms
	((ms >= 500)) && SLOW=$((SLOW + 1))
	sleep 0.2
done
log "status while locked: $PROBES probes, slowest $SLOWEST ms"
assert_eq "status answered within 500 ms each time while the database was locked ($PROBES probes, slowest $SLOWEST ms)" 0 "$SLOW"
wait_for 5 "lock-eta-1.0 runs" running || die "the build never ran"
assert_json "while the lock holds the running build has no ETA" "$(build_json)" '.build.eta == null'
ctl_ok ST status
assert_json "status: one lookup asked for lock-eta (by its plan line and its start), not answered" "$ST" \
	'.estimates.asking == 1 and .estimates.lookups == 1'

# ---- (b) the lock goes: the ETA comes ----
stop_pid "$LOCKER"
has_eta() { build_json | jq -e '.build.state == "running" and .build.eta != null' >/dev/null; }
wait_for 10 "the running build gets its ETA once the lock is gone" has_eta
B=$(build_json)
log "eta: $(jq -c .build.eta <<<"$B")"
assert_json "its ETA is the median of the two rows: 12 s" "$B" \
	'.build.eta.expected == 12 and .build.eta.samples == 2 and .build.eta.basis == "same-machine"'
ctl_ok ST status
assert_json "status: that one lookup answered, its answer cached" "$ST" \
	'.estimates.asking == 0 and .estimates.lookups == 1 and .estimates.cached == 1'

wait_for 60 "the nix-build ends" nix_done
assert_eq "the nix-build succeeds" 0 "$(nix_rc)"
stop_daemon
