#!/usr/bin/env bash
# Two nix-build clients of one private nix-daemon build two different graphs at the same
# time, each piped through its own `ingest` into one nix-analyticsd. Nix 2.8 gives both
# clients the same activity ids (every daemon worker inherits the same counter); nothing may
# be mixed up: each graph's builds belong to its own invocation with its own states, exit
# codes, log lines and phases.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
command -v systemd-socket-activate >/dev/null ||
	skip "systemd-socket-activate missing (package systemd)"
command -v nix-daemon >/dev/null || skip "nix-daemon missing (package nix-bin)"
start_daemon

# --- a private nix-daemon, socket-activated on our own socket ---
NIXD="$T/nixd"
mkdir -p "$NIXD"
systemd-socket-activate -E NIX_CONFIG -l "$NIXD/nix.sock" nix-daemon >"$NIXD/daemon.log" 2>&1 &
NIXD_PID=$!
track "$NIXD_PID"
wait_for 10 "the private nix-daemon socket" test -S "$NIXD/nix.sock" || die "no nix-daemon socket"
export NIX_REMOTE="unix://$NIXD/nix.sock"
log "private nix-daemon (systemd-socket-activate pid $NIXD_PID) on $NIX_REMOTE"

CLIENTS="$E2E_DIR/nix/clients.nix"
declare -A LINES=([a]=300 [b]=700) CODE=([a]=3 [b]=4) DRVS

for c in a b; do
	DRVS[$c]=$(drvs_of "$CLIENTS" --argstr nonce "$NONCE" --argstr client "$c" \
		--arg lines "${LINES[$c]}" --arg failCode "${CODE[$c]}")
	assert_eq "graph $c has 6 derivations" 6 "$(printf '%s\n' "${DRVS[$c]}" | wc -l)"
done

build_client() {
	local c=$1
	nix-build "$CLIENTS" --argstr nonce "$NONCE" --argstr client "$c" \
		--arg lines "${LINES[$c]}" --arg failCode "${CODE[$c]}" --no-out-link \
		--log-format internal-json -v -k -j3 2>&1 |
		tee "$T/events.$c" |
		ctl ingest >"$T/ingest.$c.out" 2>"$T/ingest.$c.err"
	echo "${PIPESTATUS[*]}" >"$T/rc.$c"
}

log "two clients at once through $NIX_REMOTE"
build_client a &
PA=$!
build_client b &
PB=$!
wait "$PA" "$PB"
for c in a b; do
	read -r nixrc _ ingestrc <"$T/rc.$c"
	assert_ne "client $c: nix-build fails (its graph has a failing derivation)" 0 "$nixrc"
	assert_eq "client $c: ingest exits 0" 0 "$ingestrc"
	assert_true "client $c: its stream went through the private nix-daemon" \
		grep -q "accepted connection" "$NIXD/daemon.log"
done

# The test's premise: the two streams reuse each other's build activity ids.
ids_of() { grep '^@nix {"action":"start"' "$1" | sed 's/^@nix //' | jq -r 'select(.type == 105) | .id' | sort -u; }
COMMON=$(comm -12 <(ids_of "$T/events.a") <(ids_of "$T/events.b") | wc -l)
assert_ge "the two clients' build activities share ids (Nix 2.8 collision reproduced)" 1 "$COMMON"

both_done() {
	ctl list-invocations 2>/dev/null |
		jq -e '(.invocations | length) == 2 and all(.invocations[]; .state == "done")' >/dev/null
}
wait_for 15 "both invocations done" both_done

ctl_ok BUILDS list-builds || die "list-builds failed"
printf '%s\n' "$BUILDS" >"$T/list-builds.json"
ctl_ok INVS list-invocations
printf '%s\n' "$INVS" >"$T/list-invocations.json"

assert_eq "exactly the 12 derivations of both graphs" \
	"$(printf '%s\n' "${DRVS[a]}" "${DRVS[b]}" | sort)" \
	"$(printf '%s' "$BUILDS" | jq -r '.builds[].drv' | sort)"

declare -A INV
for c in a b; do
	drvs_json=$(printf '%s\n' "${DRVS[$c]}" | jq -R . | jq -sc .)
	INV[$c]=$(printf '%s' "$BUILDS" | jq -r --argjson d "$drvs_json" \
		'[.builds[] | select(.drv as $x | $d | index($x)) | .invocation] | unique |
		 if length == 1 then .[0] else "several: \(.)" end')
	assert_match "client $c: all its builds in one invocation" '^[0-9]+$' "${INV[$c]}"
	assert_eq "client $c: its invocation holds exactly its graph" "${DRVS[$c]}" \
		"$(printf '%s' "$BUILDS" | jq -r --arg i "${INV[$c]}" \
			'.builds[] | select((.invocation | tostring) == $i) | .drv' | sort)"
	inv=$(printf '%s' "$INVS" | jq -c --arg i "${INV[$c]}" '[.invocations[] | select((.id | tostring) == $i)] | first // null')
	assert_json "client $c: invocation done and complete" "$inv" \
		'.state == "done" and .progress.running == 0 and (.progress.done + .progress.failed) >= .progress.expected'
	assert_json "client $c: progress: 4 done, 1 failed" "$inv" '.progress.done == 4 and .progress.failed >= 1'

	d() { drv_by_name "${DRVS[$c]}" "$c-$1"; }
	b() { build_of "$BUILDS" "$(d "$1")"; }
	for n in phases logs slow top; do
		assert_eq "client $c: $c-$n succeeded" succeeded "$(b "$n" | jq -r .state)"
	done
	bf=$(b fail)
	assert_eq "client $c: $c-fail failed" failed "$(printf '%s' "$bf" | jq -r .state)"
	assert_eq "client $c: $c-fail exit code" "${CODE[$c]}" "$(printf '%s' "$bf" | jq -r .failure.exit_code)"
	assert_contains "client $c: failure message names its own drv" "$(d fail)" \
		"$(printf '%s' "$bf" | jq -r .failure.message)"
	assert_eq "client $c: $c-dep failed as a dependency" "failed dependency" \
		"$(b dep | jq -r '"\(.state) \(.failure.kind)"')"
	assert_eq "client $c: phases" "[\"$c-unpack\",\"$c-build\",\"$c-install\"]" \
		"$(b phases | jq -c '[.phases[].name]')"
	assert_eq "client $c: $c-logs log_lines" "${LINES[$c]}" "$(b logs | jq -r .log_lines)"
	assert_eq "client $c: $c-slow log_lines" 4 "$(b slow | jq -r .log_lines)"
	if ctl_ok LOG log "$(d logs)" --json -n 10; then
		assert_eq "client $c: last log line" "$c line ${LINES[$c]}" "$(printf '%s' "$LOG" | jq -r '.lines[-1]')"
		assert_json "client $c: log tail holds only its own lines" "$LOG" \
			"(.lines | length) == 10 and all(.lines[]; startswith(\"$c line \"))"
		assert_eq "client $c: log total" "${LINES[$c]}" "$(printf '%s' "$LOG" | jq -r '.total')"
	fi
	assert_eq "client $c: $c-slow log" "$(printf "$c slow %s\n" 1 2 3 4)" "$(ctl log "$(d slow)" 2>&1)"
done
assert_ne "the two clients got different invocations" "${INV[a]}" "${INV[b]}"

# They really built at the same time: some build of a overlapped some build of b.
assert_json "builds of a and b overlapped in time" "$BUILDS" '
	[.builds[] | select(.started != null and .finished != null)] as $b |
	[$b[] | select(.name | startswith("a-"))] as $a |
	[$b[] | select(.name | startswith("b-"))] as $bb |
	any($a[]; . as $x | any($bb[]; .started < $x.finished and $x.started < .finished))'

ctl_ok STATUS status
assert_json "status: 8 succeeded, 4 failed, nothing running" "$STATUS" \
	'.builds.succeeded == 8 and .builds.failed == 4 and .builds.running == 0'
N=$(cat "$T/events.a" "$T/events.b" | grep -c '^@nix ')
NPLAIN=$(cat "$T/events.a" "$T/events.b" | grep -vc '^@nix ')
assert_json "status.events.total counts the $N records of both streams" "$STATUS" \
	".events.total >= $N and .events.total <= $N + $NPLAIN + 2 and .events.bad == 0"

# The private nix-daemon goes first (and needs ~1 s after SIGTERM).
stop_pid "$NIXD_PID" 10
