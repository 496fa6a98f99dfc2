#!/usr/bin/env bash
# Nix headers for the plugin: Debian ships none, so fetch Debian's own Nix source (the
# version nix-bin was built from) with `apt-get source nix` into a fixed directory, install
# the header-only libraries its headers include, and write the config header Nix's build
# would generate. Idempotent. Prints the two meson options that point the build at it.
# Works in bookworm (Nix 2.8) and trixie (2.26); the mirror serves no source for sid's 2.34.
# usage: scripts/nix-src.sh [DIR]   (default /var/cache/nix-analytics/nix-src)
set -euo pipefail

DIR=${1:-/var/cache/nix-analytics/nix-src}
SRC_LIST=/etc/apt/sources.list.d/nix-analytics-src.sources

have_src() { compgen -G "$DIR/nix-*/src/libutil/logging.hh" >/dev/null; }

# sid (os-release without a VERSION_ID): a mirror's frozen snapshot of it has an expired
# Release file, which apt refuses unless told not to check.
apt_update() {
	local opts=(-q -o Dpkg::Use-Pty=0)
	(. /etc/os-release && [[ -n ${VERSION_ID:-} ]]) || opts+=(-o Acquire::Check-Valid-Until=false)
	apt-get "${opts[@]}" update >/dev/null
}

# deb_entry: "URI SUITE..." of the machine's Debian archive, from its first 'deb' entry (never
# a fixed host; the suites are apt's own, since os-release calls sid by the next release's name).
deb_entry() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] && awk '
			/^[[:space:]]*$/ { if (deb && uri && s) { print uri s; found = 1; exit } deb = 0; uri = s = ""; next }
			tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
			tolower($1) == "uris:" && $2 ~ /\/debian\/?$/ { uri = $2 }
			tolower($1) == "suites:" { s = ""; for (i = 2; i <= NF; i++) if ($i !~ /-security$/) s = s " " $i }
			END { if (!found && deb && uri && s) print uri s }' "$f"
	done | head -n 1 | grep . ||
		awk '$1 == "deb" && $2 !~ /^\[/ && $2 ~ /\/debian\/?$/ && $3 !~ /-security$/ { print $2, $3; exit }' \
			/etc/apt/sources.list 2>/dev/null
}

if ! have_src; then
	((EUID == 0)) || { echo "nix-src: run as root" >&2; exit 1; }
	if [[ ! -f $SRC_LIST ]] && ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d; then
		read -r uri suites < <(deb_entry || true) || true
		[[ -n ${uri:-} && -n ${suites:-} ]] || { echo "nix-src: no Debian 'deb' source found to derive a deb-src entry" >&2; exit 1; }
		printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
			"$uri" "$suites" >"$SRC_LIST"
		apt_update
	fi
	mkdir -p "$DIR"
	(cd "$DIR" && apt-get -q source nix >"$DIR/apt-source.log" 2>&1) || {
		apt_update
		(cd "$DIR" && apt-get -q source nix >"$DIR/apt-source.log" 2>&1)
	} || {
		tail -n 20 "$DIR/apt-source.log" >&2
		echo "nix-src: apt-get source nix failed (the mirror serves no Nix source for sid)" >&2
		exit 1
	}
fi
have_src || { echo "nix-src: no Nix source tree in $DIR" >&2; exit 1; }
src=$(compgen -G "$DIR/nix-*/src/libutil/logging.hh" | head -n1)
src=${src%/src/libutil/logging.hh}
# What Nix's configure (to 2.25) or its meson build (2.26, 2.27: config-util.hh,
# config-store.hh) would have written for this machine.
[[ -f $DIR/config.h ]] ||
	printf '#define SYSTEM "%s-linux"\n#define HAVE_STRUCT_DIRENT_D_TYPE 1\n' \
		"$(uname -m)" >"$DIR/config.h"
echo "-Dnix_src=$src -Dnix_config_h=$DIR/config.h"
