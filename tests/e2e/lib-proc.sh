# Helpers for the tests of builds as processes (actions-*, limits, restart): a real
# nix-build in the background piped through ingest, and our own cgroups cleaned up.
# Sourced after lib.sh.

CGROOT="/nix-analytics-e2e-$$"

# nix_bg ARGS...: nix-build ARGS with internal-json on stderr, through tee (kept in
# $T/events.raw) into `ctl ingest`, in the background. Its exit status lands in $T/nix.rc.
nix_bg() {
	rm -f "$T/nix.rc"
	(
		nix-build "$@" --no-out-link --log-format internal-json -v 2>&1 &
		echo $! >"$T/nix.pid"
		wait $!
		echo $? >"$T/nix.rc"
	) | tee "$T/events.raw" | ctl ingest >"$T/ingest.out" 2>"$T/ingest.err" &
	NIXPIPE=$!
	track "$NIXPIPE"
}
nix_done() { [[ -s "$T/nix.rc" ]]; }
nix_rc() { cat "$T/nix.rc"; }

# Our cgroups go when the test ends, whatever happened (only ours, under $CGROOT), once
# the builds we started are gone.
proc_cleanup() {
	local d pid
	if [[ -s "$T/nix.pid" ]] && ! nix_done; then
		pid=$(cat "$T/nix.pid")
		kill "$pid" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
	fi
	for d in /sys/fs/cgroup/*"$CGROOT" /sys/fs/cgroup/"$CGROOT"; do
		[[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	return 0
}
trap 'rc=$?; proc_cleanup; (exit $rc); e2e_cleanup' EXIT

# field BUILD JQ: one value from get-build
field() { ctl get-build "$1" 2>/dev/null | jq -r ".build | $2" 2>/dev/null; }
builder_of() { ctl ps --json "$1" 2>/dev/null | jq -r '.builder // empty'; }
