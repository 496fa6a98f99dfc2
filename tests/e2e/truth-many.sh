#!/usr/bin/env bash
# Truth (issue 18): 36 builds (tests/e2e/nix/truth-many.nix: four layers, 0.5 to 2.5 s each,
# two fail and five need them) with `nix-build -k -j6`, piped through `nix-analytics-ctl
# ingest` into the real daemon (its default sample interval, 1 s), against the kernel, Nix
# and the builders' own clocks.
#  - Every 0.3 s while it runs: the daemon's number of running builds (list-builds) is never
#    above Nix's -j (6), and the builds it shows running are those whose builders the kernel
#    shows alive (processes carrying the scenario's marker whose parent does not: a builder,
#    not a forked child of one), within LAG_MS (1.3 s: one sample of the daemon's, which sees
#    a builder's exit at its next sample when Nix says nothing, plus one of ours) either way:
#    each build the daemon shows running at a sample, the kernel shows alive at a sample
#    within LAG_MS of it, and each builder the kernel shows, the daemon shows running within
#    LAG_MS. (Counts alone would not do: between two samples a build may end and another
#    start.)
#  - At the end: each build's state and kind are Nix's (its messages and its store: built
#    paths valid, failed ones not), and the invocation's counts are Nix's and list-builds'.
#  - History: each build that ran has the duration its builder measured itself (end - start
#    stamps) within DUR_TOL (s): Nix starts the build a moment before the builder's first
#    line, and ends it when it registers the outputs or, for a failure, at the daemon's next
#    sample.
source "$(dirname "$0")/truth-lib.sh"
[[ $(id -u) == 0 ]] || skip "reading the builders of nixbld users needs root"

JOBS=6
LAG_MS=1300
DUR_TOL=1.0
MANY_NIX="$E2E_DIR/nix/truth-many.nix"
STAMPS="$T/stamps"
DIR="$T/many"
mkdir -p "$STAMPS" "$DIR" && chmod 1777 "$STAMPS" && chmod 755 "$T"
MARK="truth-many-$NONCE"
ARGS=(--argstr nonce "$NONCE" --argstr stamps "$STAMPS")
TOP=$(nix-instantiate "$MANY_NIX" -A top "${ARGS[@]}" 2>"$DIR/instantiate.err") ||
	die "nix-instantiate: $(cat "$DIR/instantiate.err")"
nix-store -q --requisites "$TOP" | grep -E -- '-truth-many-[a-z0-9]+\.drv$' >"$DIR/drvs"
assert_eq "36 derivations to build" 36 "$(wc -l <"$DIR/drvs")"
name_of() { sed -E 's|^.*-truth-many-([a-z0-9]+)\.drv$|\1|' <<<"$1"; }

# kernel_builders: "<count> <names>" of the scenario's live builders (by the marker its
# builders' command lines start with; a forked child of one has its parent's: left out). One
# look at the kernel's process table (ps).
kernel_builders() {
	ps -e -ww -o pid=,ppid=,args= | awk -v mark="sh -c : $MARK" '
		{ pid = $1; ppid = $2; sub(/^ *[0-9]+ +[0-9]+ /, "") }
		index($0, mark) == 1 && match($0, /stamps\/[a-z0-9]+\.start/) {
			mine[pid] = 1; parent[pid] = ppid; name[pid] = "truth-many-" substr($0, RSTART + 7, RLENGTH - 13)
		}
		END {
			for (p in mine) if (!(parent[p] in mine)) { n++; list = list (list == "" ? "" : ",") name[p] }
			print n + 0, list
		}'
}

(
	nix-build "$MANY_NIX" -A top "${ARGS[@]}" -k -j"$JOBS" --no-out-link --log-format internal-json -v 2>&1 |
		tee "$DIR/raw" | ctl ingest >"$DIR/ingest.out" 2>&1
	echo "${PIPESTATUS[0]}" >"$DIR/rc"
) &
track $!
START_MS=$(now_ms)
# "D <ms> <running> <their names>" (the daemon), "K <ms> <builders> <their names>" (the
# kernel), every 0.3 s.
while [[ ! -e $DIR/rc ]]; do
	d=$(ctl list-builds 2>/dev/null | jq -r '[.builds[] | select(.state == "running") | .name] | "\(length) \(join(","))"')
	printf 'D %s %s\n' "$(now_ms)" "${d:-x}"
	printf 'K %s %s\n' "$(now_ms)" "$(kernel_builders)"
	sleep 0.3
done >"$DIR/samples"
log "nix-build ended after $(($(now_ms) - START_MS)) ms, status $(cat "$DIR/rc")"
assert_ne "nix-build fails (two leaves exit 1)" 0 "$(cat "$DIR/rc")"

# ---- every sample ----
assert_ge "at least 10 samples while it ran" 10 "$(grep -c '^D' "$DIR/samples")"
assert_eq "the daemon always answered" 0 "$(grep -c '^D [0-9]* x$' "$DIR/samples")"
MAX_D=$(awk '$1 == "D" { if ($3 > m) m = $3 } END { print m + 0 }' "$DIR/samples")
MAX_K=$(awk '$1 == "K" { if ($3 > m) m = $3 } END { print m + 0 }' "$DIR/samples")
assert_le "the daemon never shows more than -j$JOBS running (most: $MAX_D)" "$JOBS" "$MAX_D"
assert_le "the kernel never shows more than -j$JOBS builders (most: $MAX_K)" "$JOBS" "$MAX_K"
assert_ge "the kernel saw -j$JOBS builders at once (the scenario loads every slot)" "$JOBS" "$MAX_K"
# Build by build: each the daemon shows running at a sample, the kernel shows a builder of
# at a sample within LAG of it, and each builder the kernel shows, the daemon shows running
# within LAG. Offences: "<ms since the first sample> <daemon|kernel> <build>".
awk -v lag="$LAG_MS" '
	{ side[++n] = $1; t[n] = $2; split($4, names, ","); for (k in names) if (names[k] != "") has[n, names[k]] = 1; list[n] = $4 }
	END {
		for (i = 1; i <= n; i++) {
			split(list[i], names, ",")
			for (k in names) {
				if (names[k] == "") continue
				best = -1
				for (j = 1; j <= n; j++)
					if (side[j] != side[i] && has[j, names[k]]) {
						d = t[j] > t[i] ? t[j] - t[i] : t[i] - t[j]
						if (best < 0 || d < best) best = d
					}
				if (best < 0 || best > lag)
					printf "%d %s %s\n", t[i] - t[1], side[i] == "D" ? "daemon-only" : "kernel-only", names[k]
				else if (best > worst)
					worst = best
			}
		}
		printf "%d\n", worst > "/dev/stderr"
	}' "$DIR/samples" >"$DIR/off" 2>"$DIR/worst-lag"
assert_eq "each build the daemon shows running has a live builder within $LAG_MS ms, and each live builder is shown running within $LAG_MS ms ($(grep -c '^D' "$DIR/samples") samples; offences: ms side build)" \
	"" "$(head -n 10 "$DIR/off" | tr '\n' ';')"
SAME=$(awk '$1 == "D" { d = $3 } $1 == "K" { if ($3 == d) same++; all++ } END { print same + 0 "/" all + 0 }' "$DIR/samples")
log "samples where the daemon's running count is the kernel's builder count exactly: $SAME; the longest a build was seen on one side only: $(cat "$DIR/worst-lag") ms"

# ---- the end: states and counts ----
settled() {
	ctl list-builds 2>/dev/null | jq -e '(.builds | length) == 36 and all(.builds[]; .state | test("^(succeeded|failed|killed|lost)$"))' >/dev/null
}
wait_for 20 "the daemon shows the 36 builds ended" settled
nix_errors "$DIR"
declare -A want_counts=()
n_bad=0
while read -r drv; do
	nix=$(nix_says "$DIR" "$drv")
	should=$(daemon_should "$nix")
	shows=$(daemon_says "$drv")
	printf '%-8s | %-24s | %-24s\n' "$(name_of "$drv")" "$should" "$shows" >>"$DIR/table"
	if [[ $should != "$shows" ]]; then
		fail "$(name_of "$drv"): the daemon's state and kind are Nix's" "expected: $should" "actual:   $shows"
		n_bad=$((n_bad + 1))
	fi
	case $shows in
	succeeded*) outputs_valid "$drv" || fail "$(name_of "$drv") shown succeeded has outputs that are not valid" ;;
	failed*) outputs_none_valid "$drv" || fail "$(name_of "$drv") shown failed has a valid output" ;;
	esac
	c=$(count_of "$should")
	want_counts[$c]=$((${want_counts[$c]:-0} + 1))
done <"$DIR/drvs"
E2E_CHECKS=$((E2E_CHECKS + 1))
((n_bad == 0)) && pass "all 36 builds: the daemon's state and kind are Nix's"
log "Nix (and the store) vs the daemon:"
cat "$DIR/table" >&2
want=$(for c in "${!want_counts[@]}"; do printf '{"%s": %s}\n' "$c" "${want_counts[$c]}"; done | jq -scS add)
assert_eq "Nix: 29 built, 2 failed, 5 dependencies failed" '{"dependency":5,"failed":2,"succeeded":29}' "$want"
INV=$(ctl get-build "$TOP" | jq .build.invocation)
ctl_ok INVS list-invocations
COUNTS=$(jq -c --argjson i "$INV" '.invocations[] | select(.id == $i) | .counts' <<<"$INVS")
log "the invocation's counts: $COUNTS"
assert_eq "the invocation's counts are Nix's" "$want" "$(nonzero_counts "$COUNTS")"
assert_json "36 builds, 36 done" "$COUNTS" '.builds == 36 and .done == 36'
assert_eq "list-builds shows the same counts" "$want" "$(list_counts "$INV")"

# ---- history: durations against the builders' own clocks ----
hist_full() { (($(ctl get-history --limit 100 2>/dev/null | jq '[.builds[] | select(.name | startswith("truth-many-"))] | length') == 36)); }
wait_for 15 "history has the 36 builds" hist_full
ctl_ok H get-history --limit 100
n_ran=0 n_bad=0 worst=0
while read -r drv; do
	name=$(name_of "$drv")
	row=$(jq -c --arg d "$drv" '[.builds[] | select(.drv == $d)][0]' <<<"$H")
	[[ -e $STAMPS/$name.start ]] || continue # never ran (a dependency failed)
	n_ran=$((n_ran + 1))
	real=$(jq -n --argjson s "$(cat "$STAMPS/$name.start")" --argjson e "$(cat "$STAMPS/$name.end")" '$e - $s')
	dur=$(jq '.duration // "null"' <<<"$row")
	diff=$(jq -n --argjson a "$dur" --argjson b "$real" '(($a - $b) | fabs * 1000 | floor)' 2>/dev/null || echo 99999)
	printf '%-8s builder %.2f s, history %s s\n' "$name" "$real" "$dur" >>"$DIR/durations"
	((diff > worst)) && worst=$diff
	if ! jq -en --argjson a "$dur" --argjson b "$real" --argjson t "$DUR_TOL" '($a - $b) | fabs <= $t' >/dev/null 2>&1; then
		fail "$name: history's duration ($dur s) is its builder's ($real s) within $DUR_TOL s"
		n_bad=$((n_bad + 1))
	fi
	h=$(jq -r '"\(.state) \(.failure.kind // "-")"' <<<"$row")
	d=$(daemon_says "$drv" | cut -d' ' -f1-2)
	[[ $h == "$d" ]] || fail "$name: history's end ($h) is the daemon's ($d)"
done <"$DIR/drvs"
cat "$DIR/durations" >&2
assert_eq "31 builds ran (29 succeeded, 2 failed)" 31 "$n_ran"
E2E_CHECKS=$((E2E_CHECKS + 1))
((n_bad == 0)) && pass "history: every duration within $DUR_TOL s of its builder's (worst: $worst ms)"
log "worst duration difference: $worst ms; samples: $(grep -c '^D' "$DIR/samples")"
stop_daemon
