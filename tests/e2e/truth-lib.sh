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

# ---- what Nix, its store and the daemon say about a build (truth-kinds, truth-many) ----

# nix_errors DIR: Nix's level-0 messages in DIR/raw (its records), one a line, ANSI escapes
# stripped, into DIR/errors.
nix_errors() {
	sed -n 's/^@nix //p' "$1/raw" | jq -r 'select(.action == "msg" and .level == 0) | .msg | gsub("\n"; " ")' |
		sed 's/\x1b\[[0-9;]*m//g' >"$1/errors"
}

# nix_says DIR DRV: "<state> <kind> <exit code> <signal>" as Nix and its store have it.
nix_says() {
	local dir=$1 drv=$2 m
	m=$(grep -F -- "'$drv" "$dir/errors" | grep -v '^error: build of ' | head -n 1)
	if [[ -n $m ]]; then
		if [[ $m =~ failed\ with\ exit\ code\ ([0-9]+) ]]; then
			echo "failed exit-code ${BASH_REMATCH[1]} -"
		elif [[ $m =~ failed\ due\ to\ signal\ ([0-9]+) ]]; then
			echo "failed signal - ${BASH_REMATCH[1]}"
		elif [[ $m == *"dependencies of derivation"* || $m =~ Reason:\ [0-9]+\ dependenc ]]; then
			echo "failed dependency - -"
		elif [[ $m == *"failed to produce output path"* ]]; then
			echo "failed other - -" # Nix's own words, kept as its message
		elif [[ $m == *"hash mismatch in fixed-output derivation"* ]]; then
			echo "failed hash-mismatch - -"
		elif [[ $m == *"bytes of log output"* ]]; then
			echo "failed log-limit - -"
		elif [[ $m == *"seconds of silence"* ]]; then
			echo "failed max-silent-time - -"
		elif [[ $m == *"timed out after"* ]]; then
			echo "failed timeout - -"
		else
			echo "failed unknown:$m - -"
		fi
	elif outputs_valid "$drv"; then
		echo "succeeded - - -"
	elif sed -n 's/^@nix //p' "$dir/raw" | jq -c --arg d "$drv" 'select(.action == "start" and .type == 105 and .fields[0] == $d)' | grep -q .; then
		echo "stopped - - -"
	else
		echo "unstarted - - -"
	fi
}

# outputs_valid DRV: all of its outputs are valid in the store.
outputs_valid() {
	# shellcheck disable=SC2046
	nix-store --check-validity $(nix-store -q --outputs "$1") 2>/dev/null
}
# outputs_none_valid DRV
outputs_none_valid() {
	local o
	for o in $(nix-store -q --outputs "$1"); do
		nix-store --check-validity "$o" 2>/dev/null && return 1
	done
	return 0
}

# What the daemon shows: "<state> <kind> <exit code> <signal>".
daemon_says() {
	ctl get-build "$1" 2>/dev/null |
		jq -r '.build | "\(.state) \(.failure.kind // "-") \(.failure.exit_code // "-") \(.failure.signal // "-")"'
}

# The count a build is in (docs/protocol.md, invocation counts).
count_of() {
	case $1 in
	"succeeded "*) echo succeeded ;;
	"failed dependency "*) echo dependency ;;
	"failed cancelled "*) echo cancelled ;;
	"failed not-started "*) echo not_started ;;
	failed*) echo failed ;;
	*) echo "${1%% *}" ;;
	esac
}


# What the daemon must show for what Nix says: Nix's own kinds as they are; a build Nix
# stopped or never started is cancelled.
daemon_should() {
	case $1 in
	stopped* | unstarted*) echo "failed cancelled - -" ;;
	*) echo "$1" ;;
	esac
}

# list_counts INV: the invocation's builds as list-builds shows them, counted as the
# invocation's counts are defined (zeros left out; sorted keys).
list_counts() {
	ctl list-builds --invocation "$1" | jq -cS '[.builds[] | if .state == "failed" then (if .failure.kind == "dependency" then "dependency" elif .failure.kind == "cancelled" then "cancelled" elif .failure.kind == "not-started" then "not_started" else "failed" end) else .state end] | group_by(.) | map({(.[0]): length}) | add'
}

# nonzero_counts COUNTS-JSON: an invocation's counts without builds, done and zeros.
nonzero_counts() {
	jq -cS '[to_entries[] | select(.key != "builds" and .key != "done" and .value != 0)] | from_entries' <<<"$1"
}
