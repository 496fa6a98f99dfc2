#!/usr/bin/env bash
# A Nix that can load the plugin, built from Debian's own source of this release's nix-bin.
# Debian's nix-bin (2.26 in trixie, 2.34 in sid) is linked statically and exports none of
# Nix's symbols, so no plugin loads into its nix-daemon ("undefined symbol: _ZTIN3nix...").
# This builds the same source (scripts/nix-src.sh fetches it) with meson as shared
# libraries, installs it to PREFIX and prints what builds and runs against it:
#
#   eval "$(bash scripts/nix-shared-build.sh)"   # sets NIX_SHARED_OPTS and PATH
#   meson setup build/gcc -Dtests=enabled -Dplugin=enabled $NIX_SHARED_OPTS
#
# Minimal: no docs, unit or functional tests, no Perl bindings; -O1, niced. The build tree
# stays in BUILD_DIR, so a second run only rebuilds what changed. Meson 1.1+ (Nix 2.26 and
# later, whose source has a top-level meson.build: trixie's, not bookworm's 2.8). Long: 16 min
# on two busy cores for 2.26. CI runs it in its trixie root (scripts/test-nix.sh --shared-nix)
# for the plugin's tests; every other test there runs Debian's own nix-bin. Needs root.
#
# usage: scripts/nix-shared-build.sh [PREFIX]   (default /opt/nix-VERSION)
# env: NA_NIX_BUILD_DIR (default /var/tmp/nix-shared-build), NA_NIX_JOBS (default 2),
#      NA_NIX_SRC=DIR: build that Nix tree instead of Debian's source (sid's mirror serves
#      none: a 2.34 tree fetched by hand, for development only). apt-get build-dep still
#      installs this release's build dependencies (it needs the deb-src entry nix-src.sh adds).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${NA_NIX_BUILD_DIR:-/var/tmp/nix-shared-build}
JOBS=${NA_NIX_JOBS:-2}
say() { printf 'nix-shared-build: %s\n' "$*" >&2; }

((EUID == 0)) || { say "run as root (apt-get build-dep, install to PREFIX)"; exit 1; }
# Debian's source, and the two options that point the plugin's build at its headers.
if [[ -n ${NA_NIX_SRC:-} ]]; then
	SRC=$(realpath "$NA_NIX_SRC")
else
	SRC_OPTS=$(bash "$ROOT/scripts/nix-src.sh" | tail -n 1)
	SRC=$(sed -n 's/.*-Dnix_src=\([^ ]*\).*/\1/p' <<<"$SRC_OPTS")
fi
VERSION=$(cat "$SRC/.version")
PREFIX=${1:-/opt/nix-$VERSION}
[[ -f $SRC/meson.build ]] || { say "Nix $VERSION in $SRC has no meson build (2.26 and later have)"; exit 1; }

if [[ ! -f $BUILD/.build-deps ]]; then
	say "apt-get build-dep nix (Nix $VERSION)"
	mkdir -p "$BUILD"
	DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q -o Dpkg::Use-Pty=0 nix >"$BUILD/build-dep.log" 2>&1 ||
		{ tail -n 20 "$BUILD/build-dep.log" >&2; say "apt-get build-dep nix failed"; exit 1; }
	touch "$BUILD/.build-deps"
fi

# 2.33 and later: JSON schema checks, on by default, need a validator Debian does not ship.
EXTRA_OPTS=()
grep -qs "'json-schema-checks'" "$SRC/meson.options" && EXTRA_OPTS+=(-Djson-schema-checks=false)
if [[ ! -f $BUILD/build.ninja ]]; then
	# Debian's own options (debian/rules), but shared libraries, -O1 and nothing but Nix.
	CFLAGS=-O1 CXXFLAGS=-O1 meson setup "$BUILD" "$SRC" --prefix="$PREFIX" --libdir=lib \
		--buildtype=plain --localstatedir=/nix/var --sysconfdir=/etc \
		-Ddefault_library=shared -Ddoc-gen=false -Dbindings=false -Dunit-tests=false \
		-Dlibcmd:readline-flavor=readline -Dlibexpr:gc=enabled \
		-Dlibstore:sandbox-shell=/usr/bin/bash-static -Dnix:profile-dir=/etc/profile.d "${EXTRA_OPTS[@]}" \
		>"$BUILD/setup.log" 2>&1 || { tail -n 30 "$BUILD/setup.log" >&2; say "meson setup failed"; exit 1; }
fi
say "building Nix $VERSION in $BUILD (log: $BUILD/build.log)"
T0=$SECONDS
nice -n 10 ninja -C "$BUILD" -j "$JOBS" >"$BUILD/build.log" 2>&1 ||
	{ grep -A 12 '^FAILED' "$BUILD/build.log" | head -n 40 >&2; tail -n 5 "$BUILD/build.log" >&2; say "build failed"; exit 1; }
meson install -C "$BUILD" --no-rebuild >"$BUILD/install.log" 2>&1 ||
	{ tail -n 20 "$BUILD/install.log" >&2; say "meson install failed"; exit 1; }
say "built and installed to $PREFIX in $((SECONDS - T0)) s"
LIBDIR=$(find "$PREFIX" -name libnixstore.so -printf '%h\n' | head -n 1)
[[ -n $LIBDIR ]] || { say "no libnixstore.so under $PREFIX"; exit 1; }
# The installed programs find their libraries through the loader's cache.
if [[ $(cat "/etc/ld.so.conf.d/nix-$VERSION.conf" 2>/dev/null) != "$LIBDIR" ]]; then
	echo "$LIBDIR" >"/etc/ld.so.conf.d/nix-$VERSION.conf"
	ldconfig
fi
# The config headers this build generated (2.26, 2.27: what nix-src.sh can only approximate;
# 2.28 and later have none of these, src/plugin/meson.build writes their public config.hh),
# less PACKAGE_VERSION: the project's own config.h defines it too.
for f in libutil/config-util libstore/config-store libmain/config-main; do
	[[ ! -f $BUILD/src/$f.hh ]] || grep -Ev '^#pragma once|PACKAGE_VERSION' "$BUILD/src/$f.hh" || true
done >"$BUILD/nix-config.h"
"$PREFIX/bin/nix-daemon" --version >&2
printf 'NIX_SHARED_OPTS="-Dnix_src=%s -Dnix_config_h=%s -Dnix_libdir=%s"\n' "$SRC" "$BUILD/nix-config.h" "$LIBDIR"
# shellcheck disable=SC2016 # $PATH is for the eval to expand
printf 'PATH="%s/bin:$PATH"\n' "$PREFIX"
