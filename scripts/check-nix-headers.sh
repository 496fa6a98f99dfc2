#!/usr/bin/env bash
# Compiles the plugin's shim (src/plugin/shim.cc) with -fsyntax-only against the headers of
# other Nix releases than the one the build uses: the NA_NIX_VERSION branches for Nix 2.11 to
# 2.34 are checked without building any Nix. Reads the headers straight from a Nix git
# checkout (nothing is copied into this tree); the few headers Nix's own build generates
# (2.28+: nix/<lib>/config.hh) are stood in for by minimal ones in a temporary directory.
# Each release is compiled with the C++ standard Nix itself uses (C++17 to 2.13, C++20, C++23
# from 2.31), so a release needing more than this compiler or this Boost has is reported as
# skipped with the reason, not as a failure.
#
# usage: scripts/check-nix-headers.sh NIX-GIT-DIR [TAG...]   (default: 2.11.0 .. 2.34.0)
# Exits 1 when the shim fails to compile against a release this machine can check.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NIX_GIT=${1:?usage: scripts/check-nix-headers.sh NIX-GIT-DIR [TAG...]}
shift
TAGS=("$@")
if ((${#TAGS[@]} == 0)); then
	for m in $(seq 11 34); do TAGS+=("2.$m.0"); done
fi
git -C "$NIX_GIT" rev-parse --git-dir >/dev/null 2>&1 || { echo "$NIX_GIT: not a git checkout of Nix" >&2; exit 2; }
CXX=${CXX:-g++}

W=$(mktemp -d /tmp/na-nix-headers.XXXXXX)
trap 'rm -rf "$W"' EXIT
printf '#define NA_PROTOCOL_VERSION 1\n#define PACKAGE_VERSION "check"\n' >"$W/na-config.h"

failed=0
for tag in "${TAGS[@]}"; do
	d="$W/$tag"
	mkdir -p "$d/gen/nix/store" "$d/gen/nix/util" "$d/gen/nix/main" "$d/gen/nix/expr"
	if ! git -C "$NIX_GIT" archive "$tag" src/libutil src/libstore src/libmain 2>/dev/null | tar -x -C "$d"; then
		echo "$tag: SKIP (no such tag in $NIX_GIT)"
		continue
	fi
	minor=$(cut -d. -f2 <<<"$tag")
	version=$((200 + minor))
	std=c++17
	((version >= 214)) && std=c++20
	((version >= 231)) && std=c++23
	# What Nix's configure or meson would generate.
	printf '#define SYSTEM "%s-linux"\n#define HAVE_STRUCT_DIRENT_D_TYPE 1\n#define PACKAGE_VERSION "%s"\n' \
		"$(uname -m)" "$tag" >"$d/gen/config.h"
	printf '#pragma once\n#define NIX_LOCAL_SYSTEM "%s-linux"\n#define NIX_SUPPORT_ACL 0\n#define NIX_WITH_AWS_AUTH 0\n#define NIX_WITH_S3_SUPPORT 0\n' \
		"$(uname -m)" >"$d/gen/nix/store/config.hh"
	printf '#pragma once\n#define HAVE_LIBCPUID 0\n#define NIX_UBSAN_ENABLED 0\n' >"$d/gen/nix/util/config.hh"
	printf '#pragma once\n' >"$d/gen/nix/main/config.hh"
	printf '#pragma once\n' >"$d/gen/nix/expr/config.hh"
	inc=(-I"$d/gen")
	for lib in libutil libstore libmain; do
		for sub in "" /include /unix /unix/include /linux /linux/include; do
			[[ -d $d/src/$lib$sub ]] && inc+=(-I"$d/src/$lib$sub")
		done
	done
	if ! "$CXX" -std="$std" -fsyntax-only -x c++ /dev/null 2>/dev/null; then
		echo "$tag: SKIP ($CXX lacks -std=$std)"
		continue
	fi
	if out=$("$CXX" -std="$std" -fsyntax-only -DNA_NIX_VERSION="$version" -include "$d/gen/config.h" \
		-include "$W/na-config.h" -I"$ROOT" -I"$ROOT/src" "${inc[@]}" "$ROOT/src/plugin/shim.cc" 2>&1); then
		echo "$tag: ok ($std)"
		continue
	fi
	first=$(grep -m1 -E 'error' <<<"$out" || true)
	# Headers this machine cannot read at all (a newer Boost, C++23 features the compiler
	# lacks) say nothing about the shim.
	if grep -qE 'boost/.*: No such file|concurrent_flat_map' <<<"$out"; then
		echo "$tag: SKIP (needs a newer Boost than this machine's: ${first##*/})"
	elif [[ $std == c++23 ]] && grep -qE "is not a member of 'std::views'|‘zip’ is not a member|expected identifier before ‘this’|deducing this" <<<"$out"; then
		echo "$tag: SKIP (its headers use C++23 features $CXX $("$CXX" -dumpversion) lacks)"
	else
		echo "$tag: FAIL ($std): $first"
		failed=1
	fi
done
exit $failed
