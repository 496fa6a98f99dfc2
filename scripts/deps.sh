#!/usr/bin/env bash
# Install everything the build, the tests, the fuzzers, the benchmark and the demo need, from
# Debian's archive (bookworm). Idempotent: installs only what is missing and refreshes the
# package lists only when something is missing and the lists are absent or older than a day
# (or an install fails on stale lists). Needs root (CI runs it on a fresh machine).
set -euo pipefail

PKGS=(
	build-essential meson ninja-build pkg-config clang
	libclang-rt-14-dev # ASan/UBSan/libFuzzer runtimes for clang
	llvm               # llvm-symbolizer: readable sanitizer reports
	libsystemd-dev libcjson-dev uthash-dev libcmocka-dev
	libncurses-dev # ncursesw for the TUI
	libsqlite3-dev # history store
	jq tmux python3 procps
	nix-bin
	nlohmann-json3-dev libboost-dev # header-only libraries the Nix headers include (plugin)
	dpkg-dev                       # apt-get source (scripts/nix-src.sh)
	openssh-server openssh-client # the loopback remote builder of the remote-* e2e tests
	systemd # systemd-socket-activate, for the private nix-daemon in the e2e tests
	scdoc man-db zsh fish # man pages (built from scdoc), their rendering and the completions' tests (suite pkg)
)

missing=()
for p in "${PKGS[@]}"; do
	if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
		missing+=("$p")
	fi
done
if ((${#missing[@]} == 0)); then
	echo "deps: all ${#PKGS[@]} packages present"
	exit 0
fi

if ((EUID != 0)); then
	echo "deps: missing packages: ${missing[*]}; run as root (or: sudo $0)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q -o Dpkg::Use-Pty=0 -o APT::Install-Recommends=false)

lists_fresh() {
	# Any Packages index younger than a day counts as fresh.
	[[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mtime -1 -print -quit 2>/dev/null)" ]]
}

update() {
	echo "deps: apt-get update"
	apt-get -q update -o Dpkg::Use-Pty=0 >/dev/null
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
echo "deps: done"
