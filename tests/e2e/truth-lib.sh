# Shared by the truth tests (tests/e2e/truth-*.sh, scenarios in nix/truth.nix): a private
# daemon, two derivations of truth.nix built by a real nix-build piped through ingest in the
# background, and a poller of what the daemon says about one of them.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
start_daemon
TRUTH="$E2E_DIR/nix/truth.nix"

# truth_drvs ATTR NAME ATTR NAME: D1 and D2, the .drv of each (derivation names NAME).
truth_drvs() {
	local drvs
	drvs=$(drvs_of "$TRUTH" -A "$1" -A "$3" --argstr nonce "$NONCE")
	D1=$(drv_by_name "$drvs" "$2")
	D2=$(drv_by_name "$drvs" "$4")
	[[ -n $D1 && -n $D2 ]] || die "truth.nix: no $2 or $4 derivation in: $drvs"
	TRUTH_ATTRS=(-A "$1" -A "$3")
}

# truth_poll DRV JQ: every 0.2 s, "<ms> <the filter on get-build's result>" into $T/states.txt.
truth_poll() {
	local drv=$1 filter=$2
	while :; do
		printf '%s %s\n' "$(now_ms)" "$(ctl get-build "$drv" 2>/dev/null | jq -r "$filter" 2>/dev/null)"
		sleep 0.2
	done >"$T/states.txt" &
	POLLER=$!
	track "$POLLER"
}

# truth_build NIX-BUILD-OPTIONS...: the two derivations built in the background, Nix's records
# in $T/events.raw; $T/nix.done says "<nix-build's exit status> <ms>" once it ended.
truth_build() {
	(
		nix-build "$TRUTH" "${TRUTH_ATTRS[@]}" --argstr nonce "$NONCE" --no-out-link \
			--log-format internal-json -v "$@" 2>&1 |
			tee "$T/events.raw" |
			ctl ingest >"$T/ingest.out" 2>"$T/ingest.err"
		echo "${PIPESTATUS[0]} $(now_ms)" >"$T/nix.done"
	) &
	track $!
}
