#!/usr/bin/env bash
# Issue 16, item 3: builds in Nix's own cgroups (use-cgroups, experimental feature "cgroups",
# Nix 2.12 and later, cgroup v2, sandboxed builds only) under allocated uids
# (auto-allocate-uids), not nixbld users.
# Nix makes <its own cgroup>/nix-build-uid-<uid> for each build. The daemon must find such a
# build, measure it from Nix's group and act on it there without moving it: freeze and thaw
# through its cgroup.freeze, kill through its cgroup.kill; never a group of ours for it,
# never a limit written to the v1 groups it shares with its nix process (on a hybrid host
# Nix's group has no memory or cpu controller: the limits are refused, saying so).
#
# Runs where the Nix on PATH has use-cgroups (2.12 and later: the Debian trixie and sid roots,
# scripts/test-nix.sh); skips (77) on an older Nix such as Debian 12's 2.8.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "Nix's build cgroups and allocated uids need root"
V=$(nix-build --version | awk '{ print $NF }')
[[ $V =~ ^([0-9]+)\.([0-9]+) ]] || die "cannot read Nix's version from: $(nix-build --version)"
(( BASH_REMATCH[1] * 100 + BASH_REMATCH[2] >= 212 )) || skip "Nix $V has no use-cgroups (2.12 and later)"
# Nix uses the first cgroup2 mount it finds in /proc/mounts.
CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[[ -n $CG2 ]] || skip "no cgroup v2 mount: Nix cannot use cgroups here"
source "$E2E_DIR/lib-proc.sh"

start_daemon --cgroup-root "$CGROOT" --sample-interval 0.5
# The features first: a setting of an experimental feature not (yet) enabled is ignored. Only
# sandboxed builds get a group of Nix's; the tests' builders are /bin/sh and the host's tools,
# so the sandbox shows them the host's /usr (and /bin, /lib, /lib64, links on merged-usr).
# sandbox-paths, not extra-sandbox-paths: Nix's default one, /bin/sh=<its sandbox shell>, would
# be bound over /bin/sh inside a /bin that is the host's /usr/bin, and Nix makes that mount
# point by writing an empty file there: through the sh link it truncates the host's dash.
paths=/usr
for d in /bin /lib /lib64; do
	[[ -e $d && $(readlink -f "$d") != /usr ]] || continue
	if [[ -L $d ]]; then paths+=" $d=$(readlink -f "$d")"; else paths+=" $d"; fi
done
export NIX_CONFIG="$NIX_CONFIG
extra-experimental-features = cgroups auto-allocate-uids
use-cgroups = true
auto-allocate-uids = true
sandbox = true
sandbox-paths = $paths"
log "nix-build -A busy with use-cgroups and auto-allocate-uids (Nix $V, cgroup2 at $CG2)"
nix_bg "$E2E_DIR/nix/actions.nix" -A busy --argstr nonce "$NONCE" --arg seconds 60
tracked() { [[ "$(builder_of act-busy)" =~ ^[0-9]+$ ]]; }
wait_for 60 "act-busy's builder is found" tracked || die "no builder: $(tail -n 5 "$T/events.raw")"
grep -i -E 'warning|cgroup' "$T/events.raw" | head -n 5 >&2
B=$(builder_of act-busy)
pass "act-busy's builder found: pid $B"

BUID=$(awk '/^Uid:/ { print $2 }' "/proc/$B/status")
assert_ge "its builder runs under an allocated uid (>= 872415232), not a nixbld user" 872415232 "$BUID"
NIXPATH=$(sed -n 's/^0:://p' "/proc/$B/cgroup")
assert_match "Nix put it in a group of its own" "/nix-build-uid-$BUID\$" "$NIXPATH"
NIXDIR="$CG2$NIXPATH"
[[ -d $NIXDIR ]] || die "Nix's group $NIXDIR is not there"

ctl_ok P ps --json act-busy
assert_json "the daemon uses Nix's group, as Nix's" "$P" \
	".cgroup.owner == \"nix\" and .cgroup.v2 == \"$NIXDIR\" and .control == \"cgroup\""
assert_json "and no v1 group (those are its nix process's)" "$P" \
	'[.cgroup | keys[] | select(IN("v2", "owner") | not)] == []'
assert_true "the daemon logged it" grep -q "in Nix's own cgroup $NIXDIR" "$T/daemon.log"

# Measured from Nix's group: CPU time from its cpu.stat keeps growing (the build is busy).
cpu_of() { field act-busy '(.usage.cpu_user + .usage.cpu_system)'; }
C0=$(cpu_of)
sleep 2
grew() { awk -v a="$C0" -v b="$(cpu_of)" 'BEGIN { exit !(b > a + 0.5) }'; }
wait_for 5 "act-busy's CPU time grows" grew && pass "act-busy's CPU time is measured ($C0 s -> $(cpu_of) s)"

# --- freeze and thaw through Nix's cgroup.freeze ---
is_state() { [[ "$(field act-busy .state)" == "$1" ]]; }
ctl_ok FR freeze act-busy
assert_eq "freeze: through cgroup.freeze" "cgroup-v2 cgroup.freeze" "$(jq -r .mechanism <<<"$FR")"
wait_for 5 "act-busy shows frozen" is_state frozen && pass "act-busy is frozen"
assert_true "the kernel says Nix's group is frozen" grep -qx "frozen 1" "$NIXDIR/cgroup.events"
ctl_ok TH thaw act-busy
wait_for 5 "act-busy runs again" is_state running && pass "act-busy is running again"
assert_true "Nix's group is thawed" grep -qx "frozen 0" "$NIXDIR/cgroup.events"

# --- limits: only through a controller of Nix's group, never its nix process's v1 groups ---
if grep -qw memory "$NIXDIR/../cgroup.subtree_control" 2>/dev/null; then
	ctl_ok ML mem-limit act-busy 1G
	assert_eq "mem-limit: Nix's group's memory.max" $((1 << 30)) "$(cat "$NIXDIR/memory.max")"
else
	out=$(ctl mem-limit act-busy 1G 2>&1)
	assert_eq "mem-limit without a memory controller in Nix's group exits 1" 1 "$?"
	assert_contains "and says why" "no writable memory controller" "$out"
	assert_contains "naming Nix's group" "(Nix's own)" "$out"
fi

# --- never moved: the builder is still where Nix put it, and no group of ours was made ---
assert_eq "the builder stays in Nix's group" "$NIXPATH" "$(sed -n 's/^0:://p' "/proc/$B/cgroup")"
assert_true "no group of ours for it" bash -c "! compgen -G '/sys/fs/cgroup/*$CGROOT/build-*' >/dev/null && ! compgen -G '/sys/fs/cgroup$CGROOT/build-*' >/dev/null"

# --- kill through Nix's cgroup.kill ---
ctl_ok KI kill act-busy
assert_eq "kill: through cgroup.kill" "cgroup-v2 cgroup.kill" "$(jq -r .mechanism <<<"$KI")"
wait_for 5 "act-busy is marked killed" is_state killed && pass "act-busy is killed"
gone() { ! kill -0 "$B" 2>/dev/null; }
wait_for 5 "its builder is gone" gone && pass "its builder is gone"
wait_for 60 "nix-build ends" nix_done
assert_ne "nix-build fails (the build was killed)" 0 "$(nix_rc)"
assert_eq "act-busy stays killed after Nix's report" killed "$(field act-busy .state)"
# Nix removes its own group at the build's end; we never do (nor need to).
nix_removed() { [[ ! -d $NIXDIR ]]; }
wait_for 10 "Nix removes its group" nix_removed && pass "Nix removed its group itself"
stop_daemon
