#!/usr/bin/env bash
# The history database in trouble: locked by another process, on a file system that turns
# read-only, on a full disk, and a corrupt file. In every case live monitoring and control
# carry on (builds are seen and end in the right state), `status` says what is wrong, and
# once the trouble is gone the rows held meanwhile are written.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
command -v python3 >/dev/null || skip "python3 is not installed (scripts/deps.sh installs it)"

FS="$T/fs"
mkdir -p "$FS"
mount -t tmpfs -o size=1m tmpfs "$FS" || skip "cannot mount a tmpfs (needs root and mount rights)"
cleanup_fs() { umount -l "$FS" 2>/dev/null; }
trap 'rc=$?; cleanup_fs; (exit $rc); e2e_cleanup' EXIT
DB="$FS/history.db"
history_state() { [[ "$(ctl status 2>/dev/null | jq -r .history.state)" == "$1" ]]; }
history_rows() { [[ "$(ctl status 2>/dev/null | jq -r '.history.rows')" == "$1" ]]; }
start_daemon --history-db "$DB"
wait_for 10 "history is ok" history_state ok

ONE="$E2E_DIR/nix/history-one.nix"

# build_one NAME: one quick real build through ingest; checks that live monitoring saw it end.
build_one() {
	nix-build "$ONE" --argstr nonce "$NONCE-$1" --argstr name "$1" --no-out-link \
		--log-format internal-json -v 2>&1 | ctl ingest >/dev/null 2>>"$T/ingest.err"
	local b
	b=$(ctl list-builds --name "$1" 2>/dev/null | jq -r '.builds[0].state')
	assert_eq "$1: live monitoring shows it succeeded" succeeded "$b"
}

build_one fault-ok
wait_for 10 "the first row is written" history_rows 1

# ---- locked by another process ----
python3 - "$DB" >"$T/locker.out" 2>&1 <<'EOF' &
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(120)
EOF
LOCKER=$!
track "$LOCKER"
wait_for 10 "the locker holds the lock" grep -q locked "$T/locker.out"
build_one fault-locked
wait_for 10 "status: history unavailable while locked" history_state unavailable
ST=$(ctl status)
assert_json "status: the error says locked, one row queued" "$ST" \
	'(.history.error | test("locked")) and .history.queued == 1 and .history.rows == 1'
ctl_ok L list-builds
assert_eq "control still answers: 2 builds listed" 2 "$(jq '.builds | length' <<<"$L")"
stop_pid "$LOCKER"
wait_for 10 "history recovers once the lock is gone" history_state ok
wait_for 10 "the queued row is written" history_rows 2

# ---- disk full ----
dd if=/dev/zero of="$FS/filler" bs=4k 2>/dev/null
build_one fault-full
wait_for 10 "status: history unavailable on a full disk" history_state unavailable
assert_json "status: the error says disk full" "$(ctl status)" '.history.error | test("full")'
rm -f "$FS/filler"
wait_for 10 "history recovers once there is space" history_state ok
wait_for 10 "the row held meanwhile is written" history_rows 3
stop_daemon

# ---- read-only file system (a file system cannot turn read-only under open writers, so
# the daemon starts on one) ----
mount -o remount,ro "$FS" || die "cannot remount $FS read-only"
start_daemon --history-db "$DB"
wait_for 10 "status: history unavailable on a read-only file system" history_state unavailable
assert_json "status: the error names the read-only store" "$(ctl status)" \
	'.history.error | test("read-only|readonly")'
build_one fault-ro
mount -o remount,rw "$FS"
wait_for 10 "history recovers once writable" history_state ok
wait_for 10 "the row held meanwhile is written" history_rows 4
ctl_ok H get-history
assert_eq "history has the 4 builds, none lost" "fault-full,fault-locked,fault-ok,fault-ro" \
	"$(jq -r '[.builds[].name] | sort | join(",")' <<<"$H")"
stop_daemon

# ---- a corrupt file ----
CORRUPT="$T/corrupt.db"
head -c 65536 /dev/urandom >"$CORRUPT"
start_daemon --history-db "$CORRUPT"
wait_for 10 "history is ok with a new database" history_state ok
assert_json "status: says the corrupt file was moved aside" "$(ctl status)" \
	'.history.recovered | test("moved a corrupt database to")'
assert_true "the corrupt file is kept beside" compgen -G "$CORRUPT.corrupt-*"
build_one fault-after-corrupt
wait_for 10 "the new database gets the row" history_rows 1

# ---- a database from a newer schema: left alone, reported ----
stop_daemon
NEWER="$T/newer.db"
python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA user_version = 99'); c.commit()" "$NEWER"
start_daemon --history-db "$NEWER"
wait_for 10 "status: a newer schema makes history unavailable" history_state unavailable
assert_json "status: the error names the schema version" "$(ctl status)" '.history.error | test("schema version 99")'
build_one fault-newer
run_err=$(ctl get-history 2>&1)
assert_contains "get-history explains why it cannot answer" "schema version 99" "$run_err"
assert_eq "the newer database is untouched (version 99)" 99 \
	"$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA user_version').fetchone()[0])" "$NEWER")"

# ---- a slow query blocks nobody: 600,000 rows, stats over all of them, while another client
# asks for status and a build is ingested ----
stop_daemon
BIG="$T/big.db"
python3 - "$BIG" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("""CREATE TABLE builds (id INTEGER PRIMARY KEY, kind TEXT NOT NULL DEFAULT 'build',
  drv TEXT NOT NULL, name TEXT NOT NULL, pname TEXT NOT NULL, machine TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL, requester_uid INTEGER, requester_user TEXT, requester_cmdline TEXT,
  queued INTEGER NOT NULL, started INTEGER, finished INTEGER NOT NULL, duration INTEGER,
  failure_kind TEXT, failure_message TEXT, exit_code INTEGER, signal INTEGER, cpu_user INTEGER,
  cpu_system INTEGER, mem_peak INTEGER, io_read INTEGER, io_write INTEGER, nice INTEGER,
  cpu_limit REAL, mem_limit INTEGER, oom_killed INTEGER, log_tail TEXT, UNIQUE (drv, queued))""")
c.execute("PRAGMA user_version = 1")
t0 = 1700000000 * 10**6
c.executemany("INSERT INTO builds (drv, name, pname, state, requester_uid, queued, started, finished, duration)"
              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
              ((f"/nix/store/{i:032d}-p{i % 3000}.drv", f"p{i % 3000}", f"p{i % 3000}",
                "failed" if i % 17 == 0 else "succeeded", i % 40, t0 + i * 10**6, t0 + i * 10**6,
                t0 + i * 10**6 + (i % 900) * 10**6, (i % 900) * 10**6) for i in range(600000)))
c.commit()
PY
start_daemon --history-db "$BIG" --history-max-age 0 # its rows are from 2023: keep them
# Migrating 600,000 rows from schema 1 builds every index, the two ETA ones twice (schema 5
# rebuilds them): 25-29 s on a loaded 2-core machine (19-20 s up to schema 4).
wait_for 60 "the big database is migrated and open" history_state ok
( ctl stats --since 0 >"$T/stats.json" 2>"$T/stats.err"; echo "stats $(date +%s%N)" >>"$T/order" ) &
STATS=$!
track "$STATS"
sleep 0.05
ctl status >/dev/null && echo "status $(date +%s%N)" >>"$T/order"
build_one fault-while-querying
echo "build $(date +%s%N)" >>"$T/order"
wait "$STATS"
assert_json "stats over 600,000 rows answered" "$(cat "$T/stats.json")" '.totals.builds == 600000'
log "order of answers: $(tr '\n' ' ' <"$T/order")"
assert_eq "status and a whole build were answered while stats ran" "status build stats" \
	"$(sort -k2 -n "$T/order" | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
