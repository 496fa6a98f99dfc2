#!/usr/bin/env bash
# Pressure, attributed (issue 19): a real Nix build under a small memory limit that writes and
# reads back a file bigger than the limit stalls for memory (its pages reclaimed all the time),
# and a quiet build beside it does not. The daemon reads each build's cgroup pressure (PSI) at
# its first two samples, then at every 4th: the quiet one's is known from its second sample;
# get-build's live usage says the hog stalled and the quiet one about never, and
# so do their timelines, their history rows once they end, the TUI's detail page, and `at` of
# that instant in the CLI and the TUI (live, then from history after a restart), which names
# the hog first among the builds that stalled most; so does status while it runs. Needs root
# (builds of nixbld users in our cgroups) and the kernel's PSI in cgroup v2 (psi=1: every CI
# machine has it).
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/tui-lib.sh"
check_binaries
check_tui
nix_setup
[[ $(id -u) == 0 ]] || skip "limiting builds of nixbld users needs root"
source "$E2E_DIR/lib-proc.sh"
trap 'rc=$?; tui_cleanup; proc_cleanup; (exit $rc); e2e_cleanup' EXIT
if [[ -e /sys/fs/cgroup/cgroup.controllers ]]; then
	V2=/sys/fs/cgroup
elif [[ -e /sys/fs/cgroup/unified/cgroup.controllers ]]; then
	V2=/sys/fs/cgroup/unified # hybrid: controllers in v1, pressure in v2 all the same
else
	skip "no cgroup v2 hierarchy on this machine"
fi
cat "$V2/memory.pressure" >/dev/null 2>&1 || skip "no pressure (PSI) in cgroup v2 (a kernel without PSI, or psi=0)"

start_daemon --cgroup-root "$CGROOT" --sample-interval 0.5
GATE="$T/gate"
chmod 755 "$T" # the builds (nixbld users) look for the gate files
nix_bg "$E2E_DIR/nix/pressure.nix" -A hog -A quiet --argstr nonce "$NONCE" --argstr gate "$GATE" \
	--arg seconds 25 -k -j2
tracked() { [[ -n "$(builder_of pressure-hog)" && -n "$(builder_of pressure-quiet)" ]]; }
wait_for 90 "both builds run with their builders found" tracked || die "builds not tracked"
ctl_ok ML mem-limit pressure-hog 24M

# Before the hog starts: pressure known (a group of its own, PSI) and about nothing.
known() { [[ "$(field pressure-quiet '.usage.pressure.memory')" =~ ^[0-9.]+$ ]]; }
wait_for 10 "pressure-quiet's pressure is known" known || die "no pressure: $(ctl get-build pressure-quiet)"
# From its second sample on: the first read of its group starts the first span, the second ends
# it (not up to 4 samples later, when the reads go on at every 4th sample).
ctl_ok GF get-build pressure-quiet
log "pressure-quiet's first timeline: $(jq -c '.timeline | {t, mem_pressure}' <<<"$GF")"
assert_json "pressure-quiet's pressure is known from its second sample on" "$GF" \
	'[.timeline.mem_pressure[] | . == null] | index(false) == 1'
touch "$GATE"

# The hog stalls for memory now: its current figure above 1 %, at an instant we note.
stalling() { jq -e '.build.usage.pressure.memory > 1' <(ctl get-build pressure-hog) >/dev/null 2>&1; }
wait_for 30 "pressure-hog stalls for memory" stalling || die "no memory pressure: $(ctl get-build pressure-hog)"
T_P=$(date +%s.%N)
ctl_ok GB get-build pressure-hog
printf '%s\n' "$GB" >"$T/hog-live.json"
log "pressure-hog live: $(jq -c .build.usage.pressure <<<"$GB")"
assert_json "get-build: pressure-hog's memory pressure > 1 %, its peak at least that" "$GB" \
	'.build.usage.pressure.memory > 1 and .build.usage.pressure.memory_peak >= .build.usage.pressure.memory and .build.usage.pressure.memory <= 100'
assert_json "get-build: cpu and io pressure are figures too" "$GB" \
	'(.build.usage.pressure.cpu | type) == "number" and (.build.usage.pressure.io | type) == "number"'
ctl_ok ST status
printf '%s\n' "$ST" >"$T/status.json"
assert_json "status: the build that stalls most for memory now is pressure-hog" "$ST" \
	'.host.pressure_top[0].name == "pressure-hog" and .host.pressure_top[0].memory > 1 and all(.host.pressure_top[]; .name != "pressure-quiet" or .memory < 1)'
sleep 3 # a few more samples of both

ctl_ok GQ get-build pressure-quiet
printf '%s\n' "$GQ" >"$T/quiet-live.json"
log "pressure-quiet live: $(jq -c .build.usage.pressure <<<"$GQ")"
assert_json "get-build: pressure-quiet beside it stalls about never (< 1 %)" "$GQ" \
	'.build.usage.pressure.memory < 1 and .build.usage.pressure.memory_peak < 1'
assert_json "get-build's timeline: the hog's memory pressure" "$GB" \
	'[.timeline.mem_pressure[] | select(. != null)] | max > 1'

# At that instant, from the builds the daemon holds.
check_at() {
	local label=$1 A
	ctl_ok A at "@$T_P"
	printf '%s\n' "$A" >"$T/at-$label.json"
	assert_json "$label: at that instant the hog stalled for memory, the quiet one not" "$A" \
		'(.builds[] | select(.name == "pressure-hog") | .then.mem_pressure > 1) and (.builds[] | select(.name == "pressure-quiet") | .then.mem_pressure < 1)'
	assert_json "$label: at names pressure-hog first among the builds that stalled" "$A" \
		'.pressure_top[0].name == "pressure-hog" and .pressure_top[0].memory > 1 and all(.pressure_top[]; .name != "pressure-quiet")'
	ctl at --table "@$T_P" >"$T/at-$label.txt" 2>&1
	assert_true "$label: at's table says who stalled for memory" grep -Eq "stalled for memory: pressure-hog [0-9.]+%" "$T/at-$label.txt"
}
check_at live

# Both end: the hog after its seconds, the quiet one at the second gate.
hog_done() { [[ "$(field pressure-hog .state)" == succeeded ]]; }
wait_for 90 "pressure-hog succeeds" hog_done || die "pressure-hog: $(ctl get-build pressure-hog)"
touch "${GATE}2"
wait_for 60 "nix-build ends" nix_done
assert_eq "nix-build succeeds" 0 "$(nix_rc)"
in_history() { ctl get-history --name "$1" 2>/dev/null | jq -e '.builds | length >= 1' >/dev/null; }
wait_for 15 "both are in history" in_history pressure-hog && wait_for 15 "" in_history pressure-quiet
ctl_ok HH get-history --name pressure-hog
ctl_ok HQ get-history --name pressure-quiet
printf '%s\n%s\n' "$HH" "$HQ" >"$T/history.json"
PEAK=$(jq .build.usage.pressure.memory_peak <<<"$(ctl get-build pressure-hog)")
assert_json "history: the hog's peak memory pressure, as the daemon had it ($PEAK)" "$HH" \
	".builds[0].usage.mem_pressure_peak > 1 and (.builds[0].usage.mem_pressure_peak - $PEAK | fabs) < 0.01"
assert_json "history: the quiet one's about none" "$HQ" '.builds[0].usage.mem_pressure_peak < 1'

# The TUI's detail page of the hog: its pressure line.
tui_start 160 40
wait_screen "daemon up" 20 "the TUI is connected" >/dev/null
tui_filtered_detail pressure-hog
wait_screen "pressure +memory [0-9.]+%, cpu [0-9.]+%, io [0-9.]+% of the last seconds stalled; most for memory [1-9][0-9.]*%" 5 \
	"the details' pressure line: the last seconds', and the most for memory"
screen >"$T/tui-detail.txt"
tui_quit

# After a restart: `at` from history (the timelines' blobs).
stop_daemon
start_daemon --cgroup-root "$CGROOT" --sample-interval 0.5
check_at history
tui_start 160 30 --at "@$T_P"
wait_screen "^at $(date -d "@${T_P%.*}" +%H:%M:%S)" 10 "tui --at: the instant in the header" >/dev/null
wait_screen "stalled for memory: pressure-hog [0-9.]+%" 10 "tui --at: who stalled for memory then"
screen >"$T/tui-at.txt"
tui_quit
stop_daemon
