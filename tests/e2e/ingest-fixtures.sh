#!/usr/bin/env bash
# Streams real Nix 2.26 and 2.34 wrote (tests/fixtures, captured in Debian roots with
# tests/fixtures/capture.sh; Nix newer than 2.8 cannot run on this host directly) and the
# Lix and Determinate streams written from their sources, each fed to the real daemon through
# `nix-analytics-ctl ingest` as a user would pipe Nix's output: list-builds and get-build must
# show each build's end as Nix reported it (exit code, signal, dependency failures, hash
# mismatch, timeouts, substitution), never a reported failure as succeeded. The live run on
# this host's Nix 2.8 is ingest.sh.
source "$(dirname "$0")/lib.sh"

check_binaries
start_daemon

FIX="$E2E_DIR/../fixtures"

# expect FIXTURE NAME STATE KIND EXIT SIGNAL: the build of <hash>-NAME.drv ingested from
# FIXTURE ended as STATE with failure KIND (null: none), exit code EXIT and signal SIGNAL.
expect() {
	local fixture=$1 name=$2 state=$3 kind=$4 exit=$5 sig=$6 drv b
	drv=$(grep -o "/nix/store/[a-z0-9]\{32\}-$name\.drv" "$FIX/$fixture.jsonl" | head -n 1)
	[[ -n $drv ]] || { fail "$fixture: $name" "no such derivation in the fixture"; return; }
	ctl_ok b get-build "$drv"
	assert_json "$fixture: $name $state ${kind/null/-} exit $exit signal $sig" "$b" \
		".build.state == \"$state\" and (.build.failure.kind // null) == $kind and
		 (.build.failure.exit_code // null) == $exit and (.build.failure.signal // null) == $sig"
}

ingest() {
	log "ingest $1"
	ctl ingest <"$FIX/$1.jsonl" >"$T/ingest.out" 2>"$T/ingest.err"
	assert_eq "$1: ingest exits 0" 0 "$?"
}

FIXTURES=(nix-2.26/exit-code nix-2.26/signal nix-2.26/max-silent-time
	nix-2.34/exit-code nix-2.34/killed nix-2.34/dep-fail-keep-going nix-2.34/hash-mismatch
	nix-2.34/timeout nix-2.34/subst-broken nix-2.34/success
	lix-2.95/hash-mismatch determinate-3.22/signal determinate-3.22/max-silent-time)
for f in "${FIXTURES[@]}"; do
	ingest "$f"
done
# The same -k graph as a 2.34 nix-daemon's json-log-path wrote it: root's connection to
# events.sock, no hello, and dep-b, dep-c only in "Cannot build … 1 dependency failed."
log "nix-2.34/dep-fail-keep-going.daemon as json-log-path sends it"
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(open(sys.argv[2], "rb").read())
s.close()' "$SOCKDIR/events.sock" "$FIX/nix-2.34/dep-fail-keep-going.daemon.jsonl"
assert_eq "the json-log-path stream was sent" 0 "$?"
all_ended() {
	ctl list-builds 2>/dev/null | jq -e '.builds | length == 21 and all(.state != "queued" and .state != "running")' >/dev/null
}
wait_for 20 "every ingested build ends" all_ended
# (the Lix and Determinate fixtures are derived from the 2.26 and 2.34 ones: only cases whose
# derivations are not ingested twice, so that each .drv names one build)

expect nix-2.26/exit-code oc-exit failed '"exit-code"' 3 null
expect nix-2.26/signal oc-signal failed '"signal"' null 9
expect nix-2.26/max-silent-time oc-silent failed '"max-silent-time"' null null
expect nix-2.34/exit-code oc-exit failed '"exit-code"' 3 null
expect nix-2.34/killed oc-killed failed '"signal"' null 9
expect nix-2.34/dep-fail-keep-going oc-dep-a failed '"exit-code"' 3 null
for d in oc-dep-b oc-dep-c oc-dep-top; do
	expect nix-2.34/dep-fail-keep-going "$d" failed '"dependency"' null null
done
expect nix-2.34/dep-fail-keep-going oc-dep-d succeeded null null null
expect nix-2.34/dep-fail-keep-going.daemon oc-dep-a failed '"exit-code"' 3 null
for d in oc-dep-b oc-dep-c; do
	expect nix-2.34/dep-fail-keep-going.daemon "$d" failed '"dependency"' null null
done
expect nix-2.34/dep-fail-keep-going.daemon oc-dep-d succeeded null null null
expect nix-2.34/hash-mismatch oc-fod failed '"hash-mismatch"' null null
expect nix-2.34/timeout oc-timeout failed '"timeout"' null null
expect nix-2.34/subst-broken oc-subst failed '"substitution"' null null
expect nix-2.34/success oc-success succeeded null null null
expect lix-2.95/hash-mismatch oc-fod failed '"hash-mismatch"' null null
expect determinate-3.22/signal oc-signal failed '"signal"' null 9
expect determinate-3.22/max-silent-time oc-silent failed '"timeout"' null null

ctl_ok BUILDS list-builds
printf '%s\n' "$BUILDS" >"$T/list-builds.json"
assert_json "no build with a failure Nix reported is shown succeeded" "$BUILDS" \
	'all(.builds[]; .state != "succeeded" or .failure == null)'
# What a user reads: 2.34's reason, not only "Cannot build '…'."
D=$(grep -o '/nix/store/[a-z0-9]\{32\}-oc-exit\.drv' "$FIX/nix-2.34/exit-code.jsonl" | head -n 1)
ctl_ok B get-build "$D"
assert_contains "get-build shows 2.34's reason" "Reason: builder failed with exit code 3." \
	"$(jq -r .build.failure.message <<<"$B")"
