#!/usr/bin/env bash
# Truth (issue 18): every failure kind Nix 2.8 words, with `-k` and without, against what Nix
# and the store say. One nix-build per scenario (tests/e2e/nix/truth-kinds.nix): `fail` fails
# with the kind, `dep` needs it, `long` -> `after` -> `last` is a chain of good builds. Each is
# piped through `nix-analytics-ctl ingest` into the real daemon.
#
# What Nix says about each build, from its own records and its store (the truth):
#  - a level-0 `msg` naming the .drv: its words give the kind (and the exit code or signal);
#  - else all its outputs valid (`nix-store --check-validity`): succeeded;
#  - else its `build` activity started: Nix stopped it while it ran (another build failed,
#    no `-k`); else it never started. The daemon counts both `cancelled` (docs/protocol.md).
# First check: Nix did what the scenario means (so a timing drift is reported as such). Then,
# once nix-build has ended and the daemon shows nothing active: each build's state, failure
# kind and exit code or signal equal Nix's; a build shown succeeded has all outputs valid and
# a failed one none; no build was ever seen `succeeded` (sampled every 0.3 s) unless Nix built
# it; the invocation's counts equal Nix's and list-builds'; history keeps the same ends.
source "$(dirname "$0")/truth-lib.sh"

KINDS_NIX="$E2E_DIR/nix/truth-kinds.nix"
KINDS=(exit segv sigkill noout hash loglimit timeout silent)
ROLES=(fail dep long after last)
declare -A OPTS=([loglimit]="--option max-build-log-size 4000" [timeout]="--timeout 4" [silent]="--max-silent-time 3")
PARALLEL=3

# ---- the scenarios ----

# scenario_start KIND TAG: its nix-build in the background (TAG k: with -k, n: without), in
# $T/TAG-KIND: drvs ("ROLE DRV" lines), raw (Nix's records), rc (nix-build's status).
scenario_start() {
	local kind=$1 tag=$2 dir="$T/$2-$1" role drv keep=()
	local args=(--argstr nonce "$NONCE" --argstr kind "$kind" --argstr tag "$tag")
	mkdir -p "$dir"
	for role in fail dep last; do
		drv=$(nix-instantiate "$KINDS_NIX" -A "$role" "${args[@]}" 2>>"$dir/instantiate.err") ||
			die "nix-instantiate $kind $tag $role: $(cat "$dir/instantiate.err")"
		printf '%s %s\n' "$role" "$drv" >>"$dir/drvs"
	done
	# `long` and `after` are `last`'s inputs.
	for role in long after; do
		drv=$(nix-store -q --requisites "$(drv_of "$dir" last)" | grep -E -- "-truth-$tag-$kind-$role\.drv$")
		[[ -n $drv ]] || die "no $role in last's closure ($kind $tag)"
		printf '%s %s\n' "$role" "$drv" >>"$dir/drvs"
	done
	[[ $tag == k ]] && keep=(-k)
	# shellcheck disable=SC2086
	(
		nix-build "$KINDS_NIX" -A fail -A dep -A last "${args[@]}" "${keep[@]}" -j4 --no-out-link \
			--log-format internal-json -v ${OPTS[$kind]:-} 2>&1 |
			tee "$dir/raw" | ctl ingest >"$dir/ingest.out" 2>&1
		echo "${PIPESTATUS[0]}" >"$dir/rc"
	) &
	track $!
}

# drv_of DIR ROLE
drv_of() { awk -v r="$2" '$1 == r { print $2; exit }' "$1/drvs"; }

# running_scenarios: how many nix-builds have not ended.
running_scenarios() {
	local n=0 d
	for d in "$T"/[kn]-*/; do [[ -e $d/rc ]] || n=$((n + 1)); done
	echo "$n"
}

# Every 0.3 s, every build the daemon lists: "<drv> <state>" (a build never seen succeeded
# unless Nix built it).
while :; do
	ctl list-builds 2>/dev/null | jq -r '.builds[] | "\(.drv) \(.state)"' 2>/dev/null
	sleep 0.3
done >"$T/seen.txt" &
POLLER=$!
track "$POLLER"

START_MS=$(now_ms)
for tag in k n; do
	for kind in "${KINDS[@]}"; do
		while (($(running_scenarios) >= PARALLEL)); do sleep 0.2; done
		log "scenario $kind, $([[ $tag == k ]] && echo with || echo without) -k"
		scenario_start "$kind" "$tag"
	done
done
wait_for 100 "every nix-build ends" eval '(( $(running_scenarios) == 0 ))' || die "nix-builds still running"
log "all 16 nix-builds ended after $(($(now_ms) - START_MS)) ms"

# What each scenario means Nix to do: "<state> <kind> <exit code> <signal>" by role.
designed() {
	local kind=$1 tag=$2 role=$3 k
	case $kind in
	exit) k="exit-code 3 -" ;;
	segv) k="signal - 11" ;;
	sigkill) k="signal - 9" ;;
	noout) k="other - -" ;;
	hash) k="hash-mismatch - -" ;;
	loglimit) k="log-limit - -" ;;
	timeout) k="timeout - -" ;;
	silent)
		# Nix 2.34+ words it as it words a timeout ("timed out after 3 seconds", no "of
		# silence"), its BuildResult status TimedOut for both: nothing tells them apart.
		if ((NIX_NUM >= 234)); then k="timeout - -"; else k="max-silent-time - -"; fi ;;
	esac
	case $tag/$role in
	*/fail) echo "failed $k" ;;
	k/dep) echo "failed dependency - -" ;;
	k/*) echo "succeeded - - -" ;;
	n/long) [[ $kind == timeout ]] && echo "succeeded - - -" || echo "stopped - - -" ;;
	n/after) [[ $kind == timeout ]] && echo "stopped - - -" || echo "unstarted - - -" ;;
	n/*) echo "unstarted - - -" ;;
	esac
}

# ---- the checks ----

# nix_errors_drvless DIR: Nix 2.34+ words both timeouts "timed out after N seconds" and names
# no derivation. It ends the build in this order: it counts the failure, stops the build's
# activity, then logs the words (its streams show it: tests/fixtures/nix-2.34/timeout-waited.jsonl).
# So the words are about the build whose activity stopped right before them (no other activity started or stopped
# in between); said again later (for each goal that waited on it, and at the very end) they
# are about the same build, not the one that stopped last. Appended to DIR/errors as Nix's
# words followed by that build, for nix_says.
nix_errors_drvless() {
	sed -n 's/^@nix //p' "$1/raw" | jq -rn '
		foreach (inputs | select(.action == "start" or .action == "stop" or (.action == "msg" and .level == 0))) as $r (
			{ids: {}, last: null, said: {}, out: null};
			.out = null
			| if $r.action == "start" then
				(if $r.type == 105 then .ids[$r.id | tostring] = $r.fields[0] else . end) | .last = null
			elif $r.action == "stop" then .last = .ids[$r.id | tostring]
			else ($r.msg | gsub("\u001b\\[[0-9;]*m"; "")) as $m
				| if ($m | test("^error: timed out after [0-9]+ seconds$")) and .last != null and .said[$m] == null then
					.out = "\($m) (the build stopped right before: \u0027\(.last)\u0027)" | .said[$m] = .last
				else . end
			end;
			.out // empty)' >>"$1/errors"
}

settled() {
	local dir=$1 role
	for role in "${ROLES[@]}"; do
		[[ $(ctl get-build "$(drv_of "$dir" "$role")" 2>/dev/null | jq -r .build.state) =~ ^(succeeded|failed|killed|lost)$ ]] || return 1
	done
}

TABLE="$T/table.txt"
printf '%-9s %-4s %-6s | %-28s | %-28s | %-28s\n' kind mode role "Nix (and the store)" "daemon should" "daemon shows" >"$TABLE"
for tag in k n; do
	for kind in "${KINDS[@]}"; do
		dir="$T/$tag-$kind"
		mode=$([[ $tag == k ]] && echo "-k" || echo "no-k")
		nix_errors "$dir"
		nix_errors_drvless "$dir"
		read -r rc <"$dir/rc"
		assert_ne "$kind $mode: nix-build fails" 0 "$rc"
		wait_for 20 "$kind $mode: the daemon shows every build ended" settled "$dir"
		declare -A want_counts=()
		inv=
		for role in "${ROLES[@]}"; do
			drv=$(drv_of "$dir" "$role")
			nix=$(nix_says "$dir" "$drv")
			assert_eq "$kind $mode: $role: Nix did what the scenario means" "$(designed "$kind" "$tag" "$role")" "$nix"
			should=$(daemon_should "$nix")
			shows=$(daemon_says "$drv")
			printf '%-9s %-4s %-6s | %-28s | %-28s | %-28s\n' "$kind" "$mode" "$role" "$nix" "$should" "$shows" >>"$TABLE"
			assert_eq "$kind $mode: $role: the daemon's state, kind, exit code, signal are Nix's" "$should" "$shows"
			case $shows in
			succeeded*) assert_true "$kind $mode: $role shown succeeded has its outputs valid" outputs_valid "$drv" ;;
			failed*) assert_true "$kind $mode: $role shown failed has no output valid" outputs_none_valid "$drv" ;;
			esac
			if [[ $nix != succeeded* ]] && grep -q -- "^$drv succeeded$" "$T/seen.txt"; then
				fail "$kind $mode: $role was seen succeeded while Nix did not build it"
			fi
			if [[ $role == fail ]]; then
				# Nix's words for it as the daemon keeps them (docs/protocol.md): its first line,
				# and 2.29+'s "Reason: …" line after it, joined by one space.
				words=$(grep -F -- "'$drv" "$dir/errors" | grep -v '^error: build of ' | head -n 1 |
					sed 's/^error: //; s/[[:space:]]\+/ /g')
				said=$(ctl get-build "$drv" | jq -r '.build.failure.message // ""')
				assert_true "$kind $mode: fail's reason is Nix's words ($said)" test -n "$said" -a "${words#"$said"}" != "$words"
			fi
			c=$(count_of "$should")
			want_counts[$c]=$((${want_counts[$c]:-0} + 1))
			[[ -n $inv ]] || inv=$(ctl get-build "$drv" | jq .build.invocation)
		done
		# The invocation's counts: Nix's, and what list-builds shows.
		want=$(for c in "${!want_counts[@]}"; do printf '{"%s": %s}\n' "$c" "${want_counts[$c]}"; done | jq -sc add)
		ctl_ok INVS list-invocations
		counts=$(jq -c --argjson i "$inv" '.invocations[] | select(.id == $i) | .counts' <<<"$INVS")
		printf '%s %s: counts %s, Nix %s\n' "$kind" "$mode" "$counts" "$want" >>"$T/counts.txt"
		assert_eq "$kind $mode: the invocation's counts are Nix's" "$(jq -cS . <<<"$want")" "$(nonzero_counts "$counts")"
		assert_json "$kind $mode: 5 builds, 5 done" "$counts" '.builds == 5 and .done == 5'
		assert_eq "$kind $mode: list-builds shows the same counts" "$(jq -cS . <<<"$want")" "$(list_counts "$inv")"
	done
done
log "expected (Nix) vs observed (daemon):"
cat "$TABLE" >&2
cat "$T/counts.txt" >&2

# History keeps each build's end: state and kind as get-build shows them.
ctl_ok H get-history --limit 500
for tag in k n; do
	for kind in "${KINDS[@]}"; do
		for role in "${ROLES[@]}"; do
			drv=$(drv_of "$T/$tag-$kind" "$role")
			assert_eq "history: $kind $tag $role ends as the daemon showed it" \
				"$(daemon_says "$drv" | cut -d' ' -f1-2)" \
				"$(jq -r --arg d "$drv" '[.builds[] | select(.drv == $d)][0] | "\(.state) \(.failure.kind // "-")"' <<<"$H")"
		done
	done
done
stop_pid "$POLLER"
stop_daemon
