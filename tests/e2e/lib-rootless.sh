# The rootless tests' user (tests/e2e/pkg-rootless*.sh): a real unprivileged account with a
# home, its own runtime and state directories ($XDG_RUNTIME_DIR as logind makes it,
# $XDG_STATE_HOME) and a single-user Nix store under its home; commands run as it with a login-like environment, and its own
# nix-analyticsd started with the defaults a non-root daemon picks. Sourced after lib.sh.

rootless_setup() {
	RU=na-e2e-rootless
	id "$RU" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$RU" || die "cannot create user $RU"
	RUID=$(id -u "$RU") RGID=$(id -g "$RU") RHOME=$(getent passwd "$RU" | cut -d: -f6)
	[[ -d "$RHOME" ]] || die "$RU has no home directory $RHOME"
	log "user $RU (uid $RUID), home $RHOME"
	chmod 755 "$T"
	XRT="$T/run-user-$RUID"
	mkdir -m 700 "$XRT" && chown "$RU:" "$XRT"
	USOCK="$XRT/nix-analytics"
	# $XDG_STATE_HOME of its own per run: this test may run from two checkouts at once with
	# the same user, and ~/.local/state would then be shared.
	XSTATE="$T/state-$RUID"
	mkdir -m 700 "$XSTATE" && chown "$RU:" "$XSTATE"
	RSTORE="$RHOME/na-e2e-store-$$"
	trap 'rootless_cleanup; e2e_cleanup' EXIT
	# setpriv and env exec: a command started with "${AS_USER[@]}" CMD & has CMD's pid in $!.
	# The user's PATH starts with the directory of the Nix under test (the one on ours: a
	# Nix built elsewhere than /usr/bin, as scripts/nix-shared-build.sh makes, included).
	local nixbin
	nixbin=$(dirname "$(command -v nix-build)")
	AS_USER=(setpriv --reuid="$RUID" --regid="$RGID" --init-groups --reset-env --
		env HOME="$RHOME" USER="$RU" LOGNAME="$RU" XDG_RUNTIME_DIR="$XRT" XDG_STATE_HOME="$XSTATE"
		PATH="$nixbin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 NIX_CONFIG="$NIX_CONFIG"
		ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}")
	# The user's single-user store (builds run as the user, unsandboxed).
	USER_STORE_ENV=(NIX_STORE_DIR="$RSTORE/store" NIX_STATE_DIR="$RSTORE/var/nix"
		NIX_LOG_DIR="$RSTORE/var/log/nix" NIX_CONF_DIR="$RSTORE/etc")
}

rootless_cleanup() {
	# The store's files are read-only.
	[[ -n "${RSTORE:-}" && -d "$RSTORE" ]] || return 0
	chmod -R u+w "$RSTORE" 2>/dev/null
	rm -rf "$RSTORE"
}

# as_user CMD...: run CMD as the user (NIX_REMOTE passed on when set).
as_user() { "${AS_USER[@]}" ${NIX_REMOTE:+NIX_REMOTE=$NIX_REMOTE} "$@"; }
# uctl ARGS...: the user's nix-analytics-ctl, finding the daemon by itself.
uctl() { as_user "$NA_CTL" "$@"; }
ufield() { uctl get-build "$1" 2>/dev/null | jq -r ".build | $2" 2>/dev/null; }

# start_user_daemon [ARGS...]: the user's nix-analyticsd. As start_daemon in lib.sh, minus the
# socket directory, history and cgroup root: the defaults of a non-root daemon are under test
# (for the cgroup root "auto", as in the user unit; not in a delegated service, the user can
# create nothing under the default root, so it acts by signals).
start_user_daemon() {
	"${AS_USER[@]}" "$NA_DAEMON" -v --discover-scope $$ "$@" >>"$T/daemon.log" 2>&1 &
	DAEMON_PID=$!
	log "the user's nix-analyticsd: pid $DAEMON_PID"
	wait_for 20 "the user's daemon answers on $USOCK" user_daemon_ready || die "the user's daemon did not come up"
}
user_daemon_ready() {
	kill -0 "$DAEMON_PID" 2>/dev/null || die "the user's daemon exited: $(tail -n 20 "$T/daemon.log")"
	[[ -S "$USOCK/control.sock" ]] && uctl status >/dev/null 2>&1
}
