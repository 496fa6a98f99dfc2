#!/usr/bin/env bash
# Install everything the build, the tests, the fuzzers, the benchmark and the demo need, from
# Debian's archive: bookworm, and trixie and sid for the Nix version matrix (scripts/test-nix.sh
# runs there; a few package names differ per release). Idempotent: installs only what is missing and refreshes the
# package lists only when something is missing and the lists are absent or older than a day
# (or an install fails on stale lists). Needs root (CI runs it on a fresh machine).
#
# Nix comes from Debian as Debian sets it up: nix-bin alone has no build users and no
# nix.conf (every build then fails), nix-setup-systemd brings them. Its postinst adds only the
# users and groups that are missing, and dpkg is told to keep a nix.conf the machine already
# has (--force-confold). The check at the end says in one line what is still wrong.
set -euo pipefail

PKGS=(
	build-essential meson ninja-build pkg-config clang
	clang-format # scripts/format.sh; its --check is the test format-check (suite rules)
	llvm               # llvm-symbolizer: readable sanitizer reports
	libsystemd-dev libcjson-dev uthash-dev libcmocka-dev
	libncurses-dev # ncursesw for the TUI
	libsqlite3-dev # history store
	libmicrohttpd-dev # the metrics endpoint's HTTP server
	prometheus curl   # the metrics e2e test: a real Prometheus (and promtool) scrapes the daemon; curl asks it
	jq tmux python3 procps
	nix-bin nix-setup-systemd # Nix, and what Debian's packaging sets it up with: the nixbld group,
	                          # build users nixbld1..10 and /etc/nix/nix.conf (sandbox = false)
	nlohmann-json3-dev libboost-dev # header-only libraries the Nix headers include (plugin)
	dpkg-dev                       # apt-get source (scripts/nix-src.sh)
	openssh-server openssh-client # the loopback remote builder of the remote-* e2e tests
	systemd # systemd-socket-activate, for the private nix-daemon in the e2e tests
	scdoc man-db zsh fish # man pages (built from scdoc), their rendering and the completions' tests (suite pkg)
)
case $(. /etc/os-release && echo "${VERSION_CODENAME:-}") in
bookworm) PKGS+=(libclang-rt-14-dev) ;; # ASan/UBSan/libFuzzer runtimes for clang 14
*) PKGS+=(libclang-rt-dev) ;;           # the same for the release's default clang (19 in trixie)
esac
# sid (os-release without a VERSION_ID, like testing): a mirror's snapshot of it keeps a
# Release file past its Valid-Until date, which apt refuses unless told not to check.
APT_UPDATE_OPTS=(-q -o Dpkg::Use-Pty=0)
(. /etc/os-release && [[ -n ${VERSION_ID:-} ]]) || APT_UPDATE_OPTS+=(-o Acquire::Check-Valid-Until=false)

# nix_ready: Nix can build here the way Debian sets it up. Mends what Debian's packaging would
# have made (a nix.conf, the build users) when it is missing, never what the machine has.
nix_ready() {
	local conf=/etc/nix/nix.conf group
	if [[ ! -e $conf ]]; then
		((EUID == 0)) || { echo "deps: $conf is missing; run as root (or: sudo $0)" >&2; return 1; }
		# dpkg does not bring back a conffile that was deleted: write what nix-setup-systemd ships.
		mkdir -p /etc/nix
		printf '# written by nix-analytics scripts/deps.sh, as nix-setup-systemd ships it:\n# the sandbox does not work with Debian'"'"'s Nix (no /bin/sh in it)\nsandbox = false\n' >"$conf"
		echo "deps: wrote $conf (sandbox = false)"
	fi
	group=$(sed -n 's/^[[:space:]]*build-users-group[[:space:]]*=[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$conf" | tail -n 1)
	grep -Eq '^[[:space:]]*build-users-group[[:space:]]*=' "$conf" || group=nixbld # Nix's default as root
	[[ -n $group ]] || return 0 # build-users-group = (empty): builds run as the caller
	if ! getent group "$group" >/dev/null; then
		((EUID == 0)) || { echo "deps: Nix's build-users-group '$group' does not exist; run as root (or: sudo $0)" >&2; return 1; }
		if [[ $group == nixbld ]]; then
			dpkg-reconfigure -f noninteractive nix-setup-systemd >/dev/null 2>&1 || true
		fi
		getent group "$group" >/dev/null || {
			echo "deps: Nix's build-users-group '$group' (from $conf) does not exist: create it and its users, or change $conf" >&2
			return 1
		}
		echo "deps: made Nix's build users (group $group)"
	fi
}

missing=()
for p in "${PKGS[@]}"; do
	if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
		missing+=("$p")
	fi
done
if ((${#missing[@]} == 0)); then
	echo "deps: all ${#PKGS[@]} packages present"
	nix_ready
	exit
fi

if ((EUID != 0)); then
	echo "deps: missing packages: ${missing[*]}; run as root (or: sudo $0)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q -o Dpkg::Use-Pty=0 -o APT::Install-Recommends=false
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

lists_fresh() {
	# Any Packages index younger than a day counts as fresh.
	[[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mtime -1 -print -quit 2>/dev/null)" ]]
}

update() {
	echo "deps: apt-get update"
	apt-get "${APT_UPDATE_OPTS[@]}" update >/dev/null
}

echo "deps: installing ${missing[*]}"
lists_fresh || update
if ! apt-get install "${APT_OPTS[@]}" "${missing[@]}" >/tmp/deps-apt.log 2>&1; then
	# Stale lists (404s) or a package unknown to them: refresh once and retry.
	update
	if ! apt-get install "${APT_OPTS[@]}" "${missing[@]}" >/tmp/deps-apt.log 2>&1; then
		tail -n 30 /tmp/deps-apt.log >&2
		echo "deps: apt-get install failed" >&2
		exit 1
	fi
fi
# Debian starts and enables the prometheus service it installs, listening on every address
# (:9090). The tests start their own on loopback: a service this script brought is stopped and
# disabled (one the machine had already is left alone).
if [[ " ${missing[*]} " == *" prometheus "* ]]; then
	if [[ -d /run/systemd/system ]]; then
		systemctl disable --now prometheus.service >/dev/null 2>&1 || true
	else
		invoke-rc.d prometheus stop >/dev/null 2>&1 || true
		update-rc.d prometheus disable >/dev/null 2>&1 || true
	fi
	echo "deps: installed prometheus for the tests; its system service is stopped and disabled"
fi
nix_ready
echo "deps: done"
