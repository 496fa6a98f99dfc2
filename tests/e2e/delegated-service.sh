#!/usr/bin/env bash
# The daemon as a systemd service with Delegate=yes, simulated (systemd is not PID 1 here): a
# group named like a service, made by the test in v2 and, as systemd does on a hybrid host, in
# the v1 hierarchies it manages (cpu, cpuacct, memory, pids); the daemon started inside it
# with $INVOCATION_ID and the default --cgroup-root (auto). It must move itself into
# <service>/daemon, adopt real Nix builds under <service>/builds/, act on them there, find them
# there again after a crash, and at stop hand the still-running builds back to their nix
# process's groups and remove only what it made: the service group stays, empty of our
# children, and the builds finish.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "making cgroups and acting on builds of nixbld users needs root"

source "$E2E_DIR/lib-proc.sh"

# The v2 mount (/sys/fs/cgroup/unified on a hybrid host, /sys/fs/cgroup on a pure v2 one).
V2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
	/proc/self/mountinfo | head -n 1)
[[ -n "$V2" && -f "$V2/cgroup.procs" ]] || skip "no cgroup v2 mount on this machine"

SVC="/na-test-$$.service"
SVC_DIRS=("$V2$SVC")
V1_DIRS=()
for c in cpu cpuacct memory pids; do
	# A hybrid host's v1 controller hierarchies (the same mount may hold two controllers).
	d=/sys/fs/cgroup/$c
	[[ -f "$d/cgroup.procs" && "$(stat -f -c %T "$d" 2>/dev/null)" == cgroupfs ]] || continue
	d=$(readlink -f "$d")
	[[ " ${V1_DIRS[*]} " == *" $d$SVC "* ]] && continue
	V1_DIRS+=("$d$SVC")
done
SVC_DIRS+=("${V1_DIRS[@]}")

# Only what this test made: the service group in each hierarchy, with anything left in it.
svc_cleanup() {
	local d pid
	for d in "${SVC_DIRS[@]}"; do
		[[ -d "$d" ]] || continue
		# Processes still inside (a failed run): back to the hierarchy's root group.
		while read -r pid; do
			[[ -n "$pid" ]] && echo "$pid" >"${d%"$SVC"}/cgroup.procs" 2>/dev/null
		done < <(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	return 0
}
trap 'rc=$?; [[ -n "${DAEMON_PID:-}" ]] && stop_daemon; proc_cleanup; svc_cleanup; (exit $rc); e2e_cleanup' EXIT

for d in "${SVC_DIRS[@]}"; do
	mkdir "$d" || die "cannot make the service group $d"
done
log "service group $SVC in: ${SVC_DIRS[*]}"

# start_service: as systemd would, in the service group, with an invocation id (no
# --cgroup-root: the default, auto).
start_service() {
	mkdir -p "$SOCKDIR"
	(
		for d in "${SVC_DIRS[@]}"; do echo "$BASHPID" >"$d/cgroup.procs" || exit 97; done
		export INVOCATION_ID=0123456789abcdef0123456789abcdef
		exec "$NA_DAEMON" --socket-dir "$SOCKDIR" --history-db "$T/history.db" -v --discover-scope $$ \
			--sample-interval 0.5
	) >>"$T/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_for 20 "nix-analyticsd answers status" daemon_ready || die "daemon did not come up"
}

# --- --cgroup-root: auto or an absolute path, anything else refused with a clear error ---
for bad in /a/../b relative /x/ ""; do
	out=$("$NA_DAEMON" --socket-dir "$T/unused" --cgroup-root "$bad" 2>&1)
	assert_eq "--cgroup-root '$bad' is refused (exit 2)" 2 "$?"
	assert_contains "--cgroup-root '$bad': says what it wants" "must be 'auto' or an absolute cgroup path" "$out"
done
assert_contains "--help documents auto" "default auto" "$("$NA_DAEMON" --help)"

# --- start ---
start_service

ctl_ok ST status
printf '%s\n' "$ST" >"$T/status.json"
assert_json "status: root chosen from the delegated service" "$ST" \
	'.sampler.cgroup_root_source == "delegated-service"'
assert_json "status: the service group" "$ST" ".sampler.cgroup_service == \"$SVC\""
assert_json "status: builds go under <service>/builds in v2" "$ST" \
	".sampler.cgroup_root == \"$SVC/builds\" and .sampler.cgroup_roots.v2 == \"$SVC/builds\""
for c in cpu cpuacct memory pids; do
	[[ -d "/sys/fs/cgroup/$c$SVC" ]] || continue
	assert_json "status: builds go under <service>/builds in the v1 $c hierarchy" "$ST" \
		".sampler.cgroup_roots.$c == \"$SVC/builds\""
done
# systemd never manages the v1 freezer: a hierarchy where the daemon is not in the service
# group keeps the default root.
if [[ -d /sys/fs/cgroup/freezer ]]; then
	assert_json "status: the v1 freezer (not the service's) keeps the default root" "$ST" \
		'.sampler.cgroup_roots.freezer == "/nix-analytics"'
fi
assert_true "the daemon is in <service>/daemon (v2)" grep -qx "0::$SVC/daemon" "/proc/$DAEMON_PID/cgroup"
for d in "${V1_DIRS[@]}"; do
	assert_true "the daemon is in $d/daemon" grep -qx "$DAEMON_PID" "$d/daemon/cgroup.procs"
done
assert_eq "no process left in the service group itself (v2)" "" "$(cat "$V2$SVC/cgroup.procs")"
for c in cpu memory io pids; do
	if grep -qw "$c" "$V2$SVC/cgroup.controllers"; then
		assert_true "controller $c enabled for the service's children" grep -qw "$c" "$V2$SVC/cgroup.subtree_control"
	fi
done

# --- a real Nix build, adopted under <service>/builds ---
nix_bg "$E2E_DIR/nix/actions.nix" -A a -A b --argstr nonce "$NONCE" --arg seconds 40 -k -j2
both_tracked() { [[ -n "$(builder_of act-a)" && -n "$(builder_of act-b)" ]]; }
wait_for 90 "both builds run with their builders found" both_tracked || die "builds not tracked"
ctl_ok PA ps --json act-a
printf '%s\n' "$PA" >"$T/ps-a.json"
BUILDER_A=$(printf '%s' "$PA" | jq -r .builder)
BUILDER_B=$(builder_of act-b)
CG=$(printf '%s' "$PA" | jq -r .cgroup.v2)
assert_json "get-processes: acted on through a cgroup of ours" "$PA" \
	'.control == "cgroup" and .cgroup.owner == "nix-analyticsd"'
assert_match "get-processes: act-a's v2 group is under <service>/builds" "^$V2$SVC/builds/build-[a-z0-9]+$" "$CG"
assert_true "the builder really is in it" grep -qx "0::${CG#"$V2"}" "/proc/$BUILDER_A/cgroup"
if [[ -d "/sys/fs/cgroup/memory$SVC" ]]; then
	MEMCG=$(printf '%s' "$PA" | jq -r .cgroup.memory)
	assert_match "get-processes: its memory group is under <service>/builds too" \
		"^/sys/fs/cgroup/memory$SVC/builds/build-[a-z0-9]+$" "$MEMCG"
fi
assert_true "the daemon is not in a build's group" grep -qx "0::$SVC/daemon" "/proc/$DAEMON_PID/cgroup"

# --- actions there ---
ctl_ok FR freeze act-a
assert_eq "freeze: through cgroup.freeze" "cgroup-v2 cgroup.freeze" "$(printf '%s' "$FR" | jq -r .mechanism)"
is_state() { [[ "$(field "$1" .state)" == "$2" ]]; }
wait_for 5 "act-a shows frozen" is_state act-a frozen && pass "act-a is frozen"
assert_true "the kernel says frozen (cgroup.events)" grep -qx "frozen 1" "$CG/cgroup.events"
LB1=$(field act-b .log_lines)
sleep 2
assert_ge "act-b goes on meanwhile" $((LB1 + 2)) "$(field act-b .log_lines)"
ctl_ok TH thaw act-a
wait_for 5 "act-a runs again" is_state act-a running && pass "act-a thawed"

ctl_ok ML mem-limit act-a 512M
MECH=$(printf '%s' "$ML" | jq -r .mechanism)
case $MECH in
"cgroup-v2 memory.max") LIMIT_FILE="$CG/memory.max" ;;
"cgroup-v1 memory.limit_in_bytes") LIMIT_FILE="$(printf '%s' "$PA" | jq -r .cgroup.memory)/memory.limit_in_bytes" ;;
*) LIMIT_FILE= ;;
esac
assert_ne "mem-limit: through a memory controller ($MECH)" "" "$LIMIT_FILE"
assert_match "mem-limit: the limit file is under <service>/builds" "$SVC/builds/build-" "$LIMIT_FILE"
[[ -n "$LIMIT_FILE" ]] && assert_eq "mem-limit: the kernel holds 512M" 536870912 "$(cat "$LIMIT_FILE")"
ctl_ok CL cpu-limit act-a 0.5
assert_match "cpu-limit: through a cpu controller" "^cgroup-v[12] cpu" "$(printf '%s' "$CL" | jq -r .mechanism)"

# --- a crash mid-build: the builds stay in <service>/builds, limits included, and the
# restarted daemon finds them there again ---
log "SIGKILL to nix-analyticsd $DAEMON_PID mid-build"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
assert_true "after the crash act-a's builder is still in its group" grep -qx "0::${CG#"$V2"}" "/proc/$BUILDER_A/cgroup"
T0=$(now_ms)
start_service
again() { [[ "$(ctl ps --json act-a 2>/dev/null | jq -r '.builder // empty')" == "$BUILDER_A" ]]; }
wait_for 10 "act-a reappears with its builder after the restart" again && pass "act-a found again"
log "act-a found again $(($(now_ms) - T0)) ms after the restart began"
ctl_ok PA2 ps --json act-a
assert_eq "found again in the same group under <service>/builds" "$CG" "$(printf '%s' "$PA2" | jq -r .cgroup.v2)"
assert_true "the restarted daemon is in <service>/daemon" grep -qx "0::$SVC/daemon" "/proc/$DAEMON_PID/cgroup"
[[ -n "$LIMIT_FILE" ]] && assert_eq "the memory limit survived the crash" 536870912 "$(cat "$LIMIT_FILE")"
wait_for 10 "act-b reappears too" bash -c "[[ \$('$NA_CTL' -s '$SOCKDIR' ps --json act-b | jq -r '.builder // empty') == $BUILDER_B ]]"

# Freeze act-b before the stop: the hand-back must thaw it.
ctl_ok FRB freeze act-b
wait_for 5 "act-b shows frozen" is_state act-b frozen

# --- stop mid-build: builds handed back, only our children removed ---
NIXPID=$(cat "$T/nix.pid")
stop_daemon
for d in "${SVC_DIRS[@]}"; do
	assert_true "the service group stays: $d" test -d "$d"
	assert_eq "none of our children left in $d" "" "$(find "$d" -mindepth 1 -type d)"
done
PARENT_A=$(awk '{print $4}' "/proc/$BUILDER_A/stat" 2>/dev/null)
assert_true "act-a's builder still runs after the stop" kill -0 "$BUILDER_A"
assert_eq "act-a's builder is back in its nix process's v2 group" \
	"$(grep '^0::' "/proc/$PARENT_A/cgroup")" "$(grep '^0::' "/proc/$BUILDER_A/cgroup")"
assert_eq "and in its memory group" "$(grep ':memory:' "/proc/$PARENT_A/cgroup")" \
	"$(grep ':memory:' "/proc/$BUILDER_A/cgroup")"
assert_ne "act-b's builder is not stopped (thawed before the hand-back)" T \
	"$(awk '{print $3}' "/proc/$BUILDER_B/stat" 2>/dev/null)"
log "nix pid $NIXPID: waiting for the builds to finish without the daemon"
wait_for 120 "nix-build ends" nix_done
assert_eq "both builds succeed: stopping the service took no build with it" 0 "$(nix_rc)"
grep -q 'handed back' "$T/daemon.log" && pass "the daemon logged the hand-back"
