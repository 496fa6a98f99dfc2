#!/usr/bin/env bash
# The OOM killer, attributed (issue 19): a real Nix build limited to 64M that reads 200 MB is
# OOM-killed, and the CLI, history and the TUI say oom-killed with its limit and peak; the
# kill is an event naming its victim (pid, command) and its build. A process outside every
# build, in a cgroup of its own with a small limit, killed by the OOM killer, is an event of
# "not a build" from the kernel log, with the builds that held the most memory then. What an
# unprivileged client sees of the victims follows the privacy rules.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/tui-lib.sh"

check_binaries
check_tui
nix_setup
[[ $(id -u) == 0 ]] || skip "limiting builds of nixbld users and reading /dev/kmsg need root"
[[ -d /sys/fs/cgroup ]] || skip "no /sys/fs/cgroup on this machine"
source "$E2E_DIR/lib-proc.sh"

# The transient group of the victim outside builds: v1 memory where the host has it, else v2.
if [[ -d /sys/fs/cgroup/memory ]]; then
	LONE_CG=/sys/fs/cgroup/memory/na-e2e-oom-$$ LONE_MAX=memory.limit_in_bytes
else
	LONE_CG=/sys/fs/cgroup/na-e2e-oom-$$ LONE_MAX=memory.max
fi
LONE_PID=
# Is this test (and the daemon) in a pid namespace other than the initial one (whose inode the
# kernel fixes)? Then (a container, the CI's fresh root) the kernel log's pids are not ours:
# each victim's pid is ours and its host_pid the kernel's.
in_child_pidns() { [[ $(readlink /proc/self/ns/pid) != "pid:[4026531836]" ]]; }
PIDNS=initial
in_child_pidns && PIDNS=child
lone_cleanup() {
	[[ -n $LONE_PID ]] && kill -9 "$LONE_PID" 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10; do rmdir "$LONE_CG" 2>/dev/null && break; sleep 0.2; done
}
trap 'rc=$?; tui_cleanup; lone_cleanup; proc_cleanup; (exit $rc); e2e_cleanup' EXIT

MPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_daemon --cgroup-root "$CGROOT" --sample-interval 0.25 --metrics-listen "127.0.0.1:$MPORT"
ctl_ok ST status
assert_json "status: the kernel log is read (root)" "$ST" '.oom.kmsg == "reading" and .oom.kmsg_error == null'
assert_json "status: the daemon knows its pid namespace ($PIDNS)" "$ST" ".oom.pid_namespace == \"$PIDNS\""

GATE="$T/gate"
chmod 755 "$T" # the hog (a nixbld user) looks for the gate file
nix_bg "$E2E_DIR/nix/oom.nix" -A hog -A bystander --argstr nonce "$NONCE" --arg seconds 90 \
	--argstr gate "$GATE" -k -j2
tracked() { [[ -n "$(builder_of oom-hog)" && -n "$(builder_of oom-bystander)" ]]; }
wait_for 90 "both builds run with their builders found" tracked || die "builds not tracked"

# --- a build past its memory limit ---
ctl_ok ML mem-limit oom-hog 64M
HOG_BUILDER=$(builder_of oom-hog)
touch "$GATE"
hog_failed() { [[ "$(field oom-hog .state)" == failed ]]; }
wait_for 60 "oom-hog fails" hog_failed || die "oom-hog did not fail: $(ctl get-build oom-hog)"
ctl_ok GB get-build oom-hog
printf '%s\n' "$GB" >"$T/hog.json"
assert_json "get-build: failure kind oom-killed" "$GB" '.build.failure.kind == "oom-killed"'
assert_json "get-build: the limit in force (64M)" "$GB" '.build.failure.mem_limit == 67108864'
assert_json "get-build: the peak, the kernel's at the kill: the limit, not past it by much" "$GB" \
	'.build.failure.mem_peak >= 60*1048576 and .build.failure.mem_peak <= 72*1048576'
PEAK=$(printf '%s' "$GB" | jq -r .build.failure.mem_peak)
log "oom-hog: limit 64M, peak $PEAK bytes"
ctl_ok LB list-builds
assert_json "list-builds: oom-killed too" "$LB" \
	'any(.builds[]; .name == "oom-hog" and .failure.kind == "oom-killed" and .failure.mem_limit == 67108864)'
ctl list-builds --table >"$T/list.txt" 2>&1
assert_true "the table's state says oom-killed" grep -Eq "oom-hog .*oom-killed" "$T/list.txt"

# --- its OOM event: victim and build ---
hog_event() { ctl oom --json | jq -e 'any(.events[]; .build.name == "oom-hog" and .victim.pid != null)' >/dev/null; }
wait_for 10 "the OOM event of oom-hog names its victim" hog_event
# The builder's pid here, and the kernel's: the same in the initial pid namespace; in a child
# one the kernel's is another (the daemon told ours by the build's processes).
HOG_HOST=$(ctl oom --json | jq '[.events[] | select(.build.name == "oom-hog")][0].victim.host_pid')
log "the kernel log names the builder (pid $HOG_BUILDER here) as host pid $HOG_HOST"
if [[ $PIDNS == child ]]; then
	HOG_COLS="$HOG_BUILDER +$HOG_HOST +sh" HOG_WORDS="pid $HOG_BUILDER, host pid $HOG_HOST"
	assert_true "a child namespace: the kernel's pid is another" test "$HOG_HOST" -gt 0 -a "$HOG_HOST" -ne "$HOG_BUILDER"
else
	HOG_COLS="$HOG_BUILDER +sh" HOG_WORDS="pid $HOG_BUILDER"
	assert_eq "the initial namespace: the kernel's pid is ours" "$HOG_BUILDER" "$HOG_HOST"
fi
ctl_ok OE oom
printf '%s\n' "$OE" >"$T/oom-1.json"
EV='.events[] | select(.build.name == "oom-hog")'
assert_json "one event for the one kill" "$OE" "[$EV] | length == 1"
assert_json "its victim: the builder (pid $HOG_BUILDER, host pid $HOG_HOST), a shell" "$OE" \
	"[$EV][0] | .victim.pid == $HOG_BUILDER and .victim.host_pid == $HOG_HOST and .victim.command == \"sh\""
assert_json "its build: limit, peak, requester root" "$OE" \
	"[$EV][0] | .build.mem_limit == 67108864 and .build.mem_peak > 0 and .build.requester.uid == 0"
assert_json "seen by both witnesses (cgroup count and kernel log)" "$OE" \
	"[$EV][0] | (.source == \"cgroup+kmsg\" or .source == \"kmsg\") and (.victim.memcg | test(\"/build-\"))"
ctl oom --table >"$T/oom.txt" 2>&1
assert_true "ctl oom's table names the build and the victim" grep -Eq "$HOG_COLS +oom-hog +64M" "$T/oom.txt"
if [[ $PIDNS == child ]]; then
	assert_true "ctl oom says which pid is which" grep -q "HOST PID the kernel's" "$T/oom.txt"
else
	assert_true "no HOST PID column where the pids are the kernel's" test "$(grep -c "HOST PID" "$T/oom.txt")" = 0
fi

# --- a process outside every build ---
mkdir -p "$LONE_CG" || die "cannot create $LONE_CG"
echo $((32 * 1048576)) >"$LONE_CG/$LONE_MAX"
sh -c "echo \$\$ > '$LONE_CG/cgroup.procs' && exec tail /dev/zero" &
LONE_PID=$!
LONE_MEMCG="/${LONE_CG##*/}"
lone_event() { ctl oom --json | jq -e --arg m "$LONE_MEMCG" 'any(.events[]; .victim.memcg == $m)' >/dev/null; }
wait_for 30 "the kill outside builds is recorded" lone_event || die "no event for pid $LONE_PID: $(ctl oom --json)"
wait "$LONE_PID" 2>/dev/null
LONE_RC=$?
assert_eq "tail was SIGKILLed" 137 "$LONE_RC"
ctl_ok OE2 oom
printf '%s\n' "$OE2" >"$T/oom-2.json"
LONE_HOST=$(jq --arg m "$LONE_MEMCG" '[.events[] | select(.victim.memcg == $m)][0].victim.host_pid' <<<"$OE2")
# A victim of no build in a child namespace: no build's processes to tell its pid by.
if [[ $PIDNS == child ]]; then
	LONE_VICTIM=null LONE_COLS="\\? +$LONE_HOST +tail"
else
	LONE_VICTIM=$LONE_PID LONE_COLS="$LONE_PID +tail"
	assert_eq "the initial namespace: tail's pid is the kernel's" "$LONE_PID" "$LONE_HOST"
fi
LE=".events[] | select(.victim.host_pid == $LONE_HOST)"
assert_json "its pid here ($LONE_VICTIM) and the kernel's ($LONE_HOST)" "$OE2" "[$LE][0] | .victim.pid == $LONE_VICTIM"
assert_json "not a build, from the kernel log" "$OE2" \
	"[$LE][0] | .build == null and .source == \"kmsg\" and .victim.command == \"tail\" and .victim.memcg == \"/${LONE_CG##*/}\""
assert_json "with the builds that held the most memory then: the bystander first" "$OE2" \
	"[$LE][0] | (.top | length) >= 1 and .top[0].name == \"oom-bystander\" and .top[0].mem >= 20000000"
ctl oom --table >"$T/oom2.txt" 2>&1
assert_true "ctl oom: not a build, the bystander beside it" grep -Eq "$LONE_COLS +not a build .*oom-bystander" "$T/oom2.txt"

kills() { curl -sf "http://127.0.0.1:$MPORT/metrics" | awk -v v="$1" '$1 == "nix_analytics_oom_kills_total{victim=\"" v "\"}" { print $2 }'; }
assert_eq "metrics: one kill of a build's process" 1 "$(kills build)"
assert_eq "metrics: one kill of another process" 1 "$(kills other)"

# --- what an unprivileged client sees ---
mallory_user
chmod 755 "$SOCKDIR"
MOE=$(as_mallory "$NA_CTL" -s "$SOCKDIR" oom --json) || die "mallory cannot list OOM kills"
assert_json "another user sees the kills but not their commands nor cgroups" "$MOE" \
	"all(.events[]; .victim.command == null and .victim.memcg == null) and any(.events[]; .victim.host_pid == $LONE_HOST)"

# --- a daemon that may not read the kernel log (an unprivileged one) says so, and runs ---
MSOCK="$T/msock"
mkdir -p "$MSOCK" && chown "$MUID:$MGID" "$MSOCK"
# (setpriv itself, not the as_mallory function: a function in the background is a subshell,
# and the pid to stop must be the daemon's.)
setpriv --reuid="$MUID" --regid="$MGID" --clear-groups -- "$NA_DAEMON" --socket-dir "$MSOCK" --history-db none --no-cgroups --discover-scope $$ \
	>>"$T/mallory-daemon.log" 2>&1 &
MDAEMON=$!
track "$MDAEMON"
m_ready() { as_mallory "$NA_CTL" -s "$MSOCK" status --json >/dev/null 2>&1; }
wait_for 20 "the unprivileged daemon answers" m_ready || die "$(tail -n 20 "$T/mallory-daemon.log")"
MST=$(as_mallory "$NA_CTL" -s "$MSOCK" status --json)
assert_json "its status: the kernel log unavailable, and why" "$MST" \
	'.oom.kmsg == "unavailable" and (.oom.kmsg_error | test("/dev/kmsg: (Operation not permitted|Permission denied)"))'
as_mallory "$NA_CTL" -s "$MSOCK" status --table >"$T/mallory-status.txt" 2>&1
assert_true "ctl status says the kernel log is not read" grep -Eq "oom kills.*kernel log unavailable: /dev/kmsg" "$T/mallory-status.txt"
as_mallory "$NA_CTL" -s "$MSOCK" oom --table >"$T/mallory-oom.txt" 2>&1
assert_true "ctl oom says kills outside builds are not seen" grep -q "OOM kills outside builds are not seen" "$T/mallory-oom.txt"
stop_pid "$MDAEMON" 10
assert_eq "the unprivileged daemon exits 0" 0 "$STOP_RC"

# --- the TUI: the state word and the detail's outcome line ---
tui_start 160 40
wait_screen "oom-hog .*oom-killed" 20 "the build list says oom-killed"
tui_filtered_detail oom-hog
wait_screen "outcome: oom-killed at its memory limit \\(limit 64M, peak [0-9.]+M\\)" 5 \
	"the details say oom-killed with the limit and the peak"
screen >"$T/tui-detail.txt"
tui_quit

# --- history: the row keeps the kind, the limit and the peak; the kills are kept ---
wait_for 150 "nix-build ends" nix_done
in_history() { ctl get-history --name oom-hog 2>/dev/null | jq -e '.builds | length >= 1' >/dev/null; }
wait_for 15 "oom-hog is in history" in_history
ctl_ok GH get-history --name oom-hog
assert_json "get-history: oom-killed with its limit and peak" "$GH" \
	".builds[0].failure.kind == \"oom-killed\" and .builds[0].failure.mem_limit == 67108864 and .builds[0].failure.mem_peak == $PEAK"
stop_daemon
# After a restart the kills are still there, through the daemon (newest first).
start_daemon --cgroup-root "$CGROOT" --sample-interval 0.25
ctl_ok OH oom-history
printf '%s\n' "$OH" >"$T/oom-history-ctl.json"
assert_json "oom-history after a restart: both kills, newest first" "$OH" \
	".events[0].victim.pid == $LONE_VICTIM and .events[0].victim.host_pid == $LONE_HOST and .events[0].build == null and .events[0].top[0].name == \"oom-bystander\" and .events[1].build.name == \"oom-hog\" and .events[1].victim.pid == $HOG_BUILDER and .events[1].victim.host_pid == $HOG_HOST and .events[1].build.mem_limit == 67108864 and .events[1].build.mem_peak == $PEAK"
assert_json "oom-history --since: only what came after" "$(ctl oom-history --since "$(jq -r '.events[0].time' <<<"$OH")")" \
	".events | length == 1 and .[0].victim.host_pid == $LONE_HOST"
# `at` the build's kill: the kills around that instant, the build oom-killed with its limit.
KILL_T=$(jq -r '.events[1].time' <<<"$OH")
ctl_ok AT at "@$KILL_T"
printf '%s\n' "$AT" >"$T/at-kill.json"
assert_json "at the kill: both kills around it, the build's victim named" "$AT" \
	"(.oom | length) == 2 and any(.oom[]; .victim.pid == $HOG_BUILDER and .build.name == \"oom-hog\")"
assert_json "at the kill: oom-hog ran then and is oom-killed, with its limit" "$AT" \
	'any(.builds[]; .name == "oom-hog" and .failure.kind == "oom-killed" and .failure.mem_limit == 67108864)'
ctl at --table "@$KILL_T" >"$T/at-kill.txt" 2>&1
assert_true "at's table: the kill in words" grep -Eq "OOM kill: $HOG_WORDS \(sh\) of oom-hog" "$T/at-kill.txt"
ctl oom-history --table >"$T/oom-history.txt" 2>&1
assert_true "oom-history's table" grep -Eq "$HOG_COLS +oom-hog +64M +64M" "$T/oom-history.txt"
MOH=$(as_mallory "$NA_CTL" -s "$SOCKDIR" oom-history --json) || die "mallory cannot read the OOM history"
assert_json "another user: the kills, not their commands" "$MOH" \
	'(.events | length) == 2 and all(.events[]; .victim.command == null and .victim.memcg == null)'
stop_daemon
ROWS=$(python3 -c 'import sqlite3,sys,json; c=sqlite3.connect(sys.argv[1]); print(json.dumps([dict(zip([d[0] for d in r.description], x)) for r in [c.execute("SELECT * FROM oom_events ORDER BY id")] for x in r]))' "$T/history.db")
printf '%s\n' "$ROWS" >"$T/oom-history.json"
assert_json "history keeps the build's kill" "$ROWS" \
	"any(.[]; .name == \"oom-hog\" and .pid == $HOG_BUILDER and .host_pid == $HOG_HOST and .command == \"sh\" and .mem_limit == 67108864)"
assert_json "and the kill outside builds, with the builds that held the most memory" "$ROWS" \
	"any(.[]; .pid == $LONE_VICTIM and .host_pid == $LONE_HOST and .drv == null and .command == \"tail\" and (.top | fromjson | .[0].name) == \"oom-bystander\")"

# --- a pipe for the kernel log: hostile records, and the log's word after the cgroup's ---
# /dev/kmsg cannot be written with the kernel's facility (that is the point), so a pipe stands
# in for it here: the daemon reads it as it reads the log (a record per line).
FIFO="$T/kmsg.fifo"
mkfifo "$FIFO"
exec 9<>"$FIFO" # a writer held open: the daemon sees the end only when we close it
FSOCK="$T/fsock"
mkdir -p "$FSOCK"
"$NA_DAEMON" --socket-dir "$FSOCK" --history-db none --cgroup-root "$CGROOT" --sample-interval 0.25 \
	--discover-scope $$ --kmsg "$FIFO" \
	>>"$T/fifo-daemon.log" 2>&1 9>&- & # (not holding the pipe's writer itself)
FDAEMON=$!
track "$FDAEMON"
f_ctl() { "$NA_CTL" -s "$FSOCK" "$@"; }
f_ready() { f_ctl status --json >/dev/null 2>&1; }
wait_for 20 "the daemon on the pipe answers" f_ready || die "$(tail -n 20 "$T/fifo-daemon.log")"
{
	printf '6,1,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=,task=x,pid=1\n'
	printf '3,2,1,-;Out of memory: Killed process 99999999999 (a) total-vm:1kB\n'
	printf '3,3,1,-;Out of memory: Killed process 77 (abc\n'
	printf '14,4,1,-;Out of memory: Killed process 1 (init) total-vm:1kB\n'
	printf '6,5,1,-;%s\n' "$(head -c 3000 /dev/zero | tr '\0' x)"
	printf '3,6,1,-;Out of memory: Killed process 4242 (\033[2Jevil) total-vm:1kB\n'
	printf '6,7,1,-;oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/x,y,task=big,pid=31337,uid=0\n'
	printf '3,8,1,-;Out of memory: Killed process 31337 (big) total-vm:1kB, anon-rss:1kB\n'
} >&9
f_events() { f_ctl oom --json | jq -e '.events | length == 2' >/dev/null; }
wait_for 10 "the two well-formed kills are recorded" f_events
FOE=$(f_ctl oom --json)
printf '%s\n' "$FOE" >"$T/fifo-oom.json"
assert_json "malformed and cut records are counted, not recorded" "$FOE" '.status.kmsg_bad >= 3'
assert_json "a record without the kernel's facility is ignored" "$FOE" 'all(.events[]; .victim.host_pid != 1)'
assert_json "a command's escape bytes never reach clients" "$FOE" \
	'any(.events[]; .victim.host_pid == 4242 and .victim.command == "?[2Jevil")'
assert_json "fields from the end: a memcg with a comma, the constraint, the command" "$FOE" \
	'any(.events[]; .victim.host_pid == 31337 and .victim.memcg == "/x,y" and .victim.constraint == "CONSTRAINT_NONE" and .victim.command == "big" and .build == null)'

# The OOM killer in a child of a build, seen first in the build's cgroup: an event with no
# victim; the kernel's record of it then names the victim in that event (not a second one).
rm -f "$GATE" "${GATE}2"
CTL_SOCK=$SOCKDIR
SOCKDIR=$FSOCK # ctl (and so nix_bg's ingest), field, builder_of: the daemon on the pipe
nix_bg "$E2E_DIR/nix/oom.nix" -A child --argstr nonce "$NONCE" --argstr gate "$GATE"
c_tracked() { [[ -n "$(builder_of oom-child)" ]]; }
wait_for 90 "oom-child runs with its builder found" c_tracked || die "oom-child not tracked"
ctl_ok ML2 mem-limit oom-child 64M
PSJ=$(ctl ps --json oom-child)
if [[ -d /sys/fs/cgroup/memory ]]; then
	MEMCG=$(printf '%s' "$PSJ" | jq -r .cgroup.memory) MEMCG=${MEMCG#/sys/fs/cgroup/memory}
else
	MEMCG=$(printf '%s' "$PSJ" | jq -r .cgroup.v2) MEMCG=${MEMCG#/sys/fs/cgroup}
fi
touch "$GATE"
c_event() { ctl oom --json | jq -e 'any(.events[]; .build.name == "oom-child")' >/dev/null; }
wait_for 30 "the kill in oom-child's group is an event" c_event || die "no event: $(ctl oom --json)"
ctl_ok CE oom
assert_json "from the cgroup's count, its victim not named yet" "$CE" \
	'[.events[] | select(.build.name == "oom-child")] | length == 1 and .[0].source == "cgroup" and .[0].victim.pid == null and .[0].victim.host_pid == null'
assert_eq "the builder lives on" running "$(field oom-child .state)"
# The kernel's two records of that kill, as the kernel words them (the pid is made up: the
# victim is known by its memory cgroup).
{
	printf '6,9,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=%s,task_memcg=%s,task=sh,pid=4123456,uid=30001\n' "$MEMCG" "$MEMCG"
	printf '3,10,1,-;Memory cgroup out of memory: Killed process 4123456 (sh) total-vm:1kB, anon-rss:1kB\n'
} >&9
c_named() { ctl oom --json | jq -e 'any(.events[]; .build.name == "oom-child" and .victim.host_pid == 4123456)' >/dev/null; }
wait_for 10 "the kernel's record names the victim" c_named
ctl_ok CE2 oom
assert_json "in the same event: one kill, both witnesses" "$CE2" \
	"[.events[] | select(.build.name == \"oom-child\")] | length == 1 and .[0].source == \"cgroup+kmsg\" and .[0].victim.command == \"sh\" and .[0].victim.memcg == \"$MEMCG\""
touch "${GATE}2"
wait_for 60 "nix-build of oom-child ends" nix_done
c_done() { [[ "$(field oom-child .state)" == succeeded ]]; }
wait_for 10 "oom-child succeeds: the builder survived its child's kill" c_done
assert_json "and its usage says the OOM killer struck in it" "$(ctl get-build oom-child)" \
	'.build.usage.oom_killed == true and .build.failure == null'
SOCKDIR=$CTL_SOCK

exec 9>&-
f_eof() { f_ctl status --json | jq -e '.oom.kmsg == "unavailable" and (.oom.kmsg_error | test("end of file"))' >/dev/null; }
wait_for 10 "the end of the pipe: no longer read, said in status, the daemon runs on" f_eof
stop_pid "$FDAEMON" 10
assert_eq "the daemon on the pipe exits 0" 0 "$STOP_RC"
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined)' "$T/fifo-daemon.log"; then
	fail "sanitizer report in the pipe daemon's log" "$(grep -m 5 -E 'ERROR:|runtime error:|SUMMARY:' "$T/fifo-daemon.log")"
fi
