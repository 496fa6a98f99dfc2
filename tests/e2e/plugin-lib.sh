# Helpers for the plugin tests (tests/e2e/plugin-*.sh, run as `bash test.sh DAEMON CTL PLUGIN`).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NA_PLUGIN=${3:-${NA_PLUGIN:-}}
# Nix resolves plugin-files itself: it needs an absolute path.
[[ -n "$NA_PLUGIN" ]] && NA_PLUGIN=$(realpath -m "$NA_PLUGIN")

plugin_setup() {
	check_binaries
	nix_setup
	[[ -n "$NA_PLUGIN" && -f "$NA_PLUGIN" ]] || die "plugin missing: '$NA_PLUGIN'"
	# The plugin and everything the test users read must be reachable by them.
	chmod 755 "$T"
}

# check_graph BUILDS-JSON CLIENT LINES CODE DRVS: the clients.nix graph of one client as
# nix-analytics-ctl shows it: states, exit code and message, phases, log lines.
check_graph() {
	local builds=$1 c=$2 lines=$3 code=$4 drvs=$5 n bf
	d() { drv_by_name "$drvs" "$c-$1"; }
	b() { build_of "$builds" "$(d "$1")"; }
	for n in phases logs slow top; do
		assert_eq "client $c: $c-$n succeeded" succeeded "$(b "$n" | jq -r .state)"
	done
	bf=$(b fail)
	assert_eq "client $c: $c-fail failed with exit code $code" "failed $code" \
		"$(printf '%s' "$bf" | jq -r '"\(.state) \(.failure.exit_code)"')"
	# Nix's wording: "builder for '…' failed with exit code N" up to 2.2x, "Cannot build '…'.
	# Reason: builder failed with exit code N." in 2.34.
	assert_match "client $c: the failure's reason names its drv and exit code $code" \
		"'$(d fail)'.* failed with exit code $code" "$(printf '%s' "$bf" | jq -r .failure.message)"
	assert_eq "client $c: $c-dep failed as a dependency" "failed dependency" \
		"$(b dep | jq -r '"\(.state) \(.failure.kind)"')"
	assert_eq "client $c: phases" "[\"$c-unpack\",\"$c-build\",\"$c-install\"]" \
		"$(b phases | jq -c '[.phases[].name]')"
	assert_eq "client $c: $c-logs log_lines" "$lines" "$(b logs | jq -r .log_lines)"
	assert_eq "client $c: last log line of $c-logs" "$c line $lines" \
		"$(ctl log "$(d logs)" --json -n 1 2>&1 | jq -r '.lines[-1]')"
	assert_eq "client $c: $c-slow log" "$(printf "$c slow %s\n" 1 2 3 4)" "$(ctl log "$(d slow)" 2>&1)"
}
