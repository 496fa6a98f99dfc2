#!/usr/bin/env bash
# Nix headers for the plugin: Debian ships none, so fetch Debian's own Nix source (the
# version nix-bin was built from) with `apt-get source nix` into a fixed directory, install
# the header-only libraries its headers include, and write the config header Nix's build
# would generate. Idempotent. Prints the two meson options that point the build at it.
# usage: scripts/nix-src.sh [DIR]   (default /var/cache/nix-analytics/nix-src)
set -euo pipefail

DIR=${1:-/var/cache/nix-analytics/nix-src}
SRC_LIST=/etc/apt/sources.list.d/nix-analytics-src.sources

have_src() { compgen -G "$DIR/nix-*/src/libutil/logging.hh" >/dev/null; }

if ! have_src; then
	((EUID == 0)) || { echo "nix-src: run as root" >&2; exit 1; }
	if [[ ! -f $SRC_LIST ]] && ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d; then
		# The machine's own Debian mirror, from its existing 'deb' entry (never a fixed host).
		uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
			awk '{print $2}' | grep -m1 -E '/debian/?$' || true)
		[[ -n $uri ]] || uri=$(awk '$1 == "deb" && $2 !~ /^\[/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
		[[ -n $uri ]] || { echo "nix-src: no Debian 'deb' source found to derive a deb-src entry" >&2; exit 1; }
		suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
		printf 'Types: deb-src\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
			"$uri" "$suite" "$suite" >"$SRC_LIST"
		apt-get -q update -o Dpkg::Use-Pty=0 >/dev/null
	fi
	mkdir -p "$DIR"
	(cd "$DIR" && apt-get -q source nix >"$DIR/apt-source.log" 2>&1) || {
		apt-get -q update -o Dpkg::Use-Pty=0 >/dev/null
		(cd "$DIR" && apt-get -q source nix >"$DIR/apt-source.log" 2>&1)
	} || { tail -n 20 "$DIR/apt-source.log" >&2; echo "nix-src: apt-get source nix failed" >&2; exit 1; }
fi
have_src || { echo "nix-src: no Nix source tree in $DIR" >&2; exit 1; }
# What nix's configure would have put in config.h for this machine.
[[ -f $DIR/config.h ]] ||
	printf '#define SYSTEM "%s-linux"\n#define HAVE_STRUCT_DIRENT_D_TYPE 1\n' "$(uname -m)" >"$DIR/config.h"
src=$(compgen -G "$DIR/nix-*/src/libutil/logging.hh" | head -n1)
echo "-Dnix_src=${src%/src/libutil/logging.hh} -Dnix_config_h=$DIR/config.h"
