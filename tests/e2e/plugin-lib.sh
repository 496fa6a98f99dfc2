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
