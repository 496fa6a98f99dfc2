#!/usr/bin/env bash
# Compiles the plugin's shim (src/plugin/shim.cc) with -fsyntax-only against the headers of
# other Nix releases than the one the build uses: the NA_NIX_VERSION branches for Nix 2.11 to
# 2.35 (and the 2.36 development branch), and the NA_LIX_VERSION branch for Lix 2.95, are
# checked without building any Nix. Reads the headers straight from a git checkout of Nix or
# Lix (nothing is copied into this tree). The headers their builds generate are made in a
# temporary directory: for Nix 2.28+ minimal nix/<lib>/config.hh stand-ins; for Lix the real
# *.gen.inc, by Lix's own generators (lix/code-generation, Python with python3-frontmatter).
# Each release is compiled with the C++ standard it uses itself (C++17 to 2.13, C++20, C++23
# from Nix 2.31 and in Lix), so a release needing more than this compiler, this Boost or this
# machine has is reported as skipped with the reason, not as a failure.
#
# usage: scripts/check-nix-headers.sh [--lix] GIT-DIR [REV...]
#   Nix (default): REVs default to 2.11.0 .. 2.35.0; any rev works (master: the version in its
#                  .version, e.g. 2.36.0 for the development branch).
#   --lix:         GIT-DIR is a Lix checkout (headers under lix/<lib>/, version.json); REVs
#                  default to 2.95.0.
# env: CXX (default g++)
# What a machine needs: Nix 2.11 to 2.30 compile with Debian 12's g++ 12 and Boost 1.74. From
# 2.31 the headers use C++23 library features g++ 12's libstdc++ lacks (std::views::zip; clang
# 14 uses the same library) and from 2.32 Boost's concurrent_flat_map (Boost >= 1.83); Lix 2.95
# needs C++23, kj (libcapnp-dev) and a Python >= 3.12 for its generators. A Debian sid root has
# all of it: g++ libboost-dev nlohmann-json3-dev libcapnp-dev python3-yaml git.
# Exits 1 when the shim fails to compile against a release this machine can check.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIX=
if [[ ${1:-} == --lix ]]; then
	LIX=1
	shift
fi
GIT_DIR=${1:?usage: scripts/check-nix-headers.sh [--lix] GIT-DIR [REV...]}
shift
REVS=("$@")
if ((${#REVS[@]} == 0)); then
	if [[ -n $LIX ]]; then
		REVS=(2.95.0)
	else
		for m in $(seq 11 35); do REVS+=("2.$m.0"); done
	fi
fi
what=Nix
[[ -z $LIX ]] || what=Lix
git -C "$GIT_DIR" rev-parse --git-dir >/dev/null 2>&1 || { echo "$GIT_DIR: not a git checkout of $what" >&2; exit 2; }
CXX=${CXX:-g++}

W=$(mktemp -d /tmp/na-nix-headers.XXXXXX)
trap 'rm -rf "$W"' EXIT
printf '#define PACKAGE_VERSION "check"\n' >"$W/na-config.h"

# The version a rev's tree calls itself: "2.35.0" (Nix .version, Lix version.json).
tree_version() {
	if [[ -n $LIX ]]; then
		git -C "$GIT_DIR" show "$1:version.json" 2>/dev/null | sed -nE 's/^ *"version": *"([0-9.]+)[^"]*".*/\1/p'
	else
		git -C "$GIT_DIR" show "$1:.version" 2>/dev/null | sed -nE 's/^([0-9]+\.[0-9]+)(\.[0-9]+)?.*/\1\2/p'
	fi
}

# Nix: what its configure or meson would generate.
nix_generated() {
	local d=$1
	mkdir -p "$d/gen/nix/store" "$d/gen/nix/util" "$d/gen/nix/main" "$d/gen/nix/expr"
	printf '#define SYSTEM "%s-linux"\n#define HAVE_STRUCT_DIRENT_D_TYPE 1\n' \
		"$(uname -m)" >"$d/gen/config.h"
	printf '#pragma once\n#define NIX_LOCAL_SYSTEM "%s-linux"\n#define NIX_SUPPORT_ACL 0\n#define NIX_WITH_AWS_AUTH 0\n#define NIX_WITH_S3_SUPPORT 0\n' \
		"$(uname -m)" >"$d/gen/nix/store/config.hh"
	printf '#pragma once\n#define HAVE_LIBCPUID 0\n#define NIX_UBSAN_ENABLED 0\n' >"$d/gen/nix/util/config.hh"
	printf '#pragma once\n' >"$d/gen/nix/main/config.hh"
	printf '#pragma once\n' >"$d/gen/nix/expr/config.hh"
}

# Lix's generators read YAML front matter with the python-frontmatter module, which Debian
# does not package: without it they get this stand-in for the one call they make,
# frontmatter.load(path).to_dict(), on top of python3-yaml.
frontmatter_standin() {
	mkdir -p "$W/py"
	cat >"$W/py/frontmatter.py" <<'PY'
import re

import yaml


class _Post:
    def __init__(self, metadata, content):
        self.metadata, self.content = metadata, content

    def to_dict(self):
        return {**self.metadata, "content": self.content}


def load(path):
    text = open(path, encoding="utf-8").read()
    m = re.match(r"---[ \t]*\n(.*?)\n---[ \t]*(?:\n|$)(.*)", text, re.S)
    if not m:
        return _Post({}, text.strip())
    return _Post(yaml.safe_load(m.group(1)) or {}, m.group(2).strip())
PY
	export PYTHONPATH=$W/py${PYTHONPATH:+:$PYTHONPATH}
}

# Lix: the headers its meson makes from the settings and feature descriptions (the same
# generator calls as lix/lib*/meson.build).
lix_generated() {
	local d=$1 gen=$1/lix/code-generation out=$1/gen/lix
	mkdir -p "$out/libutil" "$out/libstore"
	printf '#define SYSTEM "%s-linux"\n' "$(uname -m)" >"$d/gen/config.h"
	python3 "$gen/build_extra_features.py" --header "$out/libutil/experimental-features.gen.inc" \
		--impl-header "$W/xp-impl.inc" --shortlist "$W/xp.md" --docs "$W/xp-docs.md" \
		"$d"/lix/libutil/experimental-features/*.md || return
	python3 "$gen/build_extra_features.py" --deprecated --header "$out/libutil/deprecated-features.gen.inc" \
		--impl-header "$W/dp-impl.inc" --shortlist "$W/dp.md" --docs "$W/dp-docs.md" \
		"$d"/lix/libutil/deprecated-features/*.md || return
	local lib set
	for set in libutil/archive-settings libutil/feature-settings libutil/logging-settings \
		libstore/file-transfer-settings libstore/settings:libstore-settings; do
		lib=${set%%/*}
		local src=${set%%:*} name=${set##*/}
		name=${name##*:}
		compgen -G "$d/lix/$src/*.md" >/dev/null || continue
		python3 "$gen/build_settings.py" --kernel linux --header "$out/$lib/$name.gen.inc" \
			--experimental-features "$d/lix/libutil/experimental-features" "$d/lix/$src"/*.md || return
	done
}

failed=0
for rev in "${REVS[@]}"; do
	d="$W/$rev"
	mkdir -p "$d/gen"
	version=$(tree_version "$rev")
	if [[ -z $version ]]; then
		echo "$rev: SKIP (no such rev, or no version in it, in $GIT_DIR)"
		continue
	fi
	major=$(cut -d. -f1 <<<"$version")
	minor=$(cut -d. -f2 <<<"$version")
	num=$((major * 100 + minor))
	label="$rev ($what $version)"
	[[ $rev == "$version" ]] && label=$rev
	[[ -z $LIX ]] || label="Lix $label"
	inc=(-isystem "$d/gen")
	if [[ -n $LIX ]]; then
		git -C "$GIT_DIR" archive "$rev" lix | tar -x -C "$d"
		std=c++23
		define=-DNA_LIX_VERSION=$num
		inc+=(-isystem "$d")
		if ! python3 -c 'import frontmatter' 2>/dev/null && ! python3 -c 'import yaml' 2>/dev/null; then
			echo "$label: SKIP (Lix's header generators need Python's yaml module: python3-yaml)"
			continue
		fi
		python3 -c 'import frontmatter' 2>/dev/null || frontmatter_standin
		if ! out=$(lix_generated "$d" 2>&1); then
			echo "$label: SKIP (Lix's header generators failed: $(tail -n1 <<<"$out"))"
			continue
		fi
	else
		git -C "$GIT_DIR" archive "$rev" src/libutil src/libstore src/libmain | tar -x -C "$d"
		std=c++17
		((num >= 214)) && std=c++20
		((num >= 231)) && std=c++23
		define=-DNA_NIX_VERSION=$num
		nix_generated "$d"
		for lib in libutil libstore libmain; do
			for sub in "" /include /unix /unix/include /linux /linux/include; do
				[[ -d $d/src/$lib$sub ]] && inc+=(-isystem "$d/src/$lib$sub")
			done
		done
	fi
	if ! "$CXX" -std="$std" -fsyntax-only -x c++ /dev/null 2>/dev/null; then
		echo "$label: SKIP ($CXX lacks -std=$std)"
		continue
	fi
	# The warnings of the real build (meson's warning_level=2, -Wshadow, -Werror) on the shim
	# only: the Nix headers are system headers here, as in the build.
	if out=$("$CXX" -std="$std" -fsyntax-only -Wall -Wextra -Wshadow -Wundef -Werror \
		-Wno-unused-parameter -Wno-missing-field-initializers "$define" -include "$d/gen/config.h" \
		-include "$W/na-config.h" -I"$ROOT" -I"$ROOT/src" "${inc[@]}" "$ROOT/src/plugin/shim.cc" 2>&1); then
		echo "$label: ok ($std, $CXX $("$CXX" -dumpversion))"
		continue
	fi
	first=$(grep -m1 -E 'error' <<<"$out" || true)
	# Headers this machine cannot read at all (a newer Boost, a library it lacks, C++23
	# features the compiler lacks) say nothing about the shim; an #error of the shim's own
	# (the refusal of a layout it does not know) is reported as such.
	if grep -qE '#error "libnix-analytics' <<<"$out"; then
		echo "$label: REFUSED ($std): ${first##*error: }"
	elif grep -qE 'boost/.*: No such file|concurrent_flat_map' <<<"$out"; then
		echo "$label: SKIP (needs a newer Boost than this machine's: ${first##*/})"
	elif grep -qE '(kj|capnp|nlohmann)/[^ ]*: No such file' <<<"$out"; then
		echo "$label: SKIP (a header library this machine lacks: ${first##*/})"
	elif [[ $std == c++23 ]] && grep -qE "is not a member of 'std::views'|‘zip’ is not a member|expected identifier before ‘this’|deducing this|explicit object|‘(expected|unexpected)’ in namespace ‘std’ does not name|‘std::(expected|unexpected)’ has not been declared|is not a member of ‘std::ranges’" <<<"$out"; then
		echo "$label: SKIP (its headers use C++23 features $CXX $("$CXX" -dumpversion) lacks: ${first##*error: })"
	else
		echo "$label: FAIL ($std): $first"
		failed=1
	fi
done
exit $failed
