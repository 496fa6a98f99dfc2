#!/usr/bin/env bash
# Truth (issue 18, case 6): MEM is one figure, defined, and every view agrees with it. A build
# of three processes that each hold 8 MiB (allocated at once, so most of it may be charged to
# the cgroup the build was in before the daemon adopted it) beside a quick one: the build's
# MEM (usage.mem_current) must be the sum of its processes' resident sizes as `ps` lists them
# (within 1 %: both read the same /proc figures, a second apart), at least 24 MiB, with its
# peak next to it; the cgroup's own charge is reported apart (usage.mem_cgroup), never as MEM.
# Real Nix through `nix-analytics-ctl ingest`, the real daemon, its sampler and its cgroups.
source "$(dirname "$0")/truth-lib.sh"

truth_drvs mem truth-mem quick truth-quick
D_MEM=$D1
truth_build -j3

ready() { (($(grep -c 'child [123] ready' "$T/events.raw" 2>/dev/null) >= 3)); }
wait_for 60 "truth-mem's three processes hold their memory" ready || die "truth-mem never got ready"
sleep 2.5 # a sample or two after the last allocation (the sampler runs every second)

ctl_ok GB get-build "$D_MEM"
ctl_ok PS ps --json "$D_MEM"
printf '%s\n' "$GB" >"$T/mem-build.json"
printf '%s\n' "$PS" >"$T/mem-ps.json"
MEM=$(jq '.build.usage.mem_current' <<<"$GB")
PEAK=$(jq '.build.usage.mem_peak' <<<"$GB")
SUM=$(jq '[.processes[].rss] | add' <<<"$PS")
log "MEM $MEM, sum of the processes' RSS $SUM, cgroup charge $(jq '.build.usage.mem_cgroup' <<<"$GB")"
assert_ge "the processes hold at least 24 MiB together" $((24 << 20)) "$SUM"
assert_true "MEM is the sum of the processes' RSS as ps lists them ($MEM vs $SUM, within 1 %)" \
	python3 -c "import sys; sys.exit(abs($MEM - $SUM) > 0.01 * $SUM)"
assert_true "the peak is shown next to it and is not below it ($PEAK >= $MEM)" test "$PEAK" -ge "$MEM"
assert_json "the cgroup's charge is reported apart (a number with a cgroup, null without)" "$GB" \
	'.build.usage | (.mem_cgroup == null) or (.mem_cgroup | type == "number")'
assert_json "list-builds says the same MEM" "$(ctl list-builds)" \
	"[.builds[] | select(.drv == \"$D_MEM\")][0].usage.mem_current as \$m | ((\$m - $MEM) | if . < 0 then -. else . end) <= 0.01 * $SUM"
