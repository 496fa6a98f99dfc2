#!/usr/bin/env bash
# Resource limits on real Nix builds, through the cgroups the daemon adopts builds into:
# a memory limit makes the kernel OOM-kill inside that build only (reported as the failure
# reason), a CPU limit of 0.2 cores holds a busy build near 20 %, and the daemon's CPU time
# for a build agrees with the kernel's own accounting within 5 %.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "acting on builds of nixbld users needs root"
[[ -d /sys/fs/cgroup ]] || skip "no /sys/fs/cgroup on this machine"

source "$E2E_DIR/lib-proc.sh"

# --kmsg none: the OOM kill is known from the build's cgroup alone (oom.sh has the kernel log).
start_daemon --cgroup-root "$CGROOT" --sample-interval 0.25 --kmsg none
HZ=$(getconf CLK_TCK)
GATE="$T/gate"
chmod 755 "$T" # the hog (a nixbld user) looks for the gate file

nix_bg "$E2E_DIR/nix/actions.nix" -A hog -A b -A busy --argstr nonce "$NONCE" --arg seconds 24 \
	--argstr gate "$GATE" -k -j3

all_tracked() { [[ -n "$(builder_of act-hog)" && -n "$(builder_of act-b)" && -n "$(builder_of act-busy)" ]]; }
wait_for 90 "the three builds run with their builders found" all_tracked || die "builds not tracked"

# --- memory limit: OOM kill inside that build only ---
ctl_ok ML mem-limit act-hog 64M
assert_eq "mem-limit: through the v1 memory controller (hybrid host)" "cgroup-v1 memory.limit_in_bytes" \
	"$(printf '%s' "$ML" | jq -r .mechanism)"
wait_for 3 "get-build shows the memory limit" \
	bash -c "[[ \$('$NA_CTL' -s '$SOCKDIR' get-build act-hog | jq -r .build.usage.mem_limit) == 67108864 ]]"
HOG_CG=$(ctl ps --json act-hog | jq -r '.cgroup.memory')
B_CG=$(ctl ps --json act-b | jq -r '.cgroup.memory')
touch "$GATE"
# The kernel's own count, read while the group is there: the build ends once its processes
# are gone, and its group with it.
for ((i = 0; i < 3000; i++)); do
	grep -qx "oom_kill 1" "$HOG_CG/memory.oom_control" 2>/dev/null && break
	sleep 0.01
done
assert_true "the kernel killed inside act-hog's group" test "$i" -lt 3000
oom_seen() { [[ "$(field act-hog .usage.oom_killed)" == true ]]; }
wait_for 30 "the daemon sees the OOM kill in act-hog's group" oom_seen && pass "OOM kill seen in act-hog"
assert_true "and not in act-b's" grep -qx "oom_kill 0" "$B_CG/memory.oom_control"
assert_eq "act-b still runs" running "$(field act-b .state)"
OE=$(ctl oom --json)
assert_json "the kill is an event of act-hog's, from its cgroup, its victim unnamed (no kernel log)" "$OE" \
	'[.events[] | select(.build.name == "act-hog")] | length == 1 and .[0].source == "cgroup" and .[0].victim.pid == null and .[0].build.mem_limit == 67108864'
assert_json "and no event of act-b's; status says the kernel log is not read" "$OE" \
	'all(.events[]; .build.name != "act-b") and .status.kmsg == "disabled"'

# --- CPU limit of 0.2 cores on a busy build ---
BUSY=$(builder_of act-busy)
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
ctl_ok CL cpu-limit act-busy 0.2
assert_eq "cpu-limit: through the v1 CFS quota" "cgroup-v1 cpu.cfs_quota_us" "$(printf '%s' "$CL" | jq -r .mechanism)"
sleep 1
# The kernel's figure: CPU time of the build's v2 group (cpu.stat's usage_usec, kept by the
# kernel even with no v2 controller), read right beside the clock, so a slow ctl call cannot
# widen one window only.
CPUSTAT="$(ctl ps --json act-busy | jq -r '.cgroup.v2')/cpu.stat"
[[ -r "$CPUSTAT" ]] || die "no cpu.stat for the build's v2 cgroup: $CPUSTAT"
usage_us() { awk '$1 == "usage_usec" { print $2 }' "$CPUSTAT"; }
W1=$(now_ms) K1=$(usage_us)
D1=$(field act-busy '(.usage.cpu_user + .usage.cpu_system)') DW1=$(now_ms)
sleep 4
W2=$(now_ms) K2=$(usage_us)
D2=$(field act-busy '(.usage.cpu_user + .usage.cpu_system)') DW2=$(now_ms)
PCT=$(((K2 - K1) / 10 / (W2 - W1)))
log "busy build under a 0.2-core limit: ${PCT}% of a core (kernel), daemon: $D1 -> $D2 s"
assert_ge "measured CPU under 0.2 cores: >= 12 %" 12 "$PCT"
assert_le "measured CPU under 0.2 cores: <= 28 %" 28 "$PCT"
DPCT=$(jq -n "(($D2 - $D1) * 100000 / ($DW2 - $DW1)) | floor")
assert_ge "the daemon's figures agree: >= 10 %" 10 "$DPCT"
assert_le "the daemon's figures agree: <= 30 %" 30 "$DPCT"
ctl_ok CL0 cpu-limit act-busy none
assert_json "cpu-limit none lifts the limit" "$CL0" '.cores == null'
assert_eq "the quota is gone" -1 "$(cat "$(ctl ps --json act-busy | jq -r '.cgroup.cpu')/cpu.cfs_quota_us")"

# --- per-build CPU time against the kernel's accounting (frozen, so both stand still) ---
sleep 1.5 # some unthrottled CPU
ctl_ok FR freeze act-busy
frozen() { [[ "$(field act-busy .state)" == frozen ]]; }
wait_for 5 "act-busy frozen" frozen
sleep 0.8 # two samples after the freeze
KERNEL=$(cpu_ticks "$BUSY")
DAEMON=$(field act-busy '(.usage.cpu_user + .usage.cpu_system)')
ERR=$(jq -n "(($DAEMON - $KERNEL / $HZ) / ($KERNEL / $HZ) * 1000 | fabs | floor)")
log "CPU time of act-busy: daemon $DAEMON s, kernel $((KERNEL * 1000 / HZ)) ms: error ${ERR}‰"
assert_le "per-build CPU time within 5 % of the kernel's (per mille)" 50 "$ERR"
ctl_ok TH thaw act-busy

# --- the end ---
wait_for 90 "nix-build ends" nix_done
assert_true "Nix reports act-hog killed by signal 9" grep -q "act-hog.drv.*failed due to signal 9" "$T/events.raw"
hog_final() { [[ "$(field act-hog .state)" == failed ]]; }
wait_for 10 "act-hog failed" hog_final
assert_eq "act-hog: failure reason oom-killed" oom-killed "$(field act-hog .failure.kind)"
b_ok() { [[ "$(field act-b .state)" == succeeded && "$(field act-busy .state)" == succeeded ]]; }
wait_for 10 "act-b and act-busy succeed" b_ok && pass "act-b and act-busy succeeded"
assert_json "act-b: no OOM kill" "$(ctl get-build act-b)" '.build.usage.oom_killed == false and .build.failure == null'
