#!/usr/bin/env bash
# Formats every C/C++ source of the project in place with .clang-format
# (--check: report files that need formatting and exit 1; the meson test format-check).
# The tree is formatted with Debian 12's clang-format 14 (scripts/deps.sh installs it): other
# versions lay some lines out differently, so --check with another one exits 77 (skipped; CI,
# which runs Debian 12, counts a skip as a failure) and formatting in place warns.
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT_MAJOR=14

check=
[ "${1:-}" = "--check" ] && check=1
if ! command -v clang-format >/dev/null; then
	echo "format: clang-format is not installed (scripts/deps.sh installs it)" >&2
	exit 1
fi
major=$(clang-format --version | sed -n 's/.*clang-format version \([0-9]*\).*/\1/p')
if [ "$major" != "$CLANG_FORMAT_MAJOR" ]; then
	echo "format: clang-format $major here, the tree is formatted with $CLANG_FORMAT_MAJOR" >&2
	[ -n "$check" ] && exit 77
fi
mode=(-i)
[ -n "$check" ] && mode=(--dry-run -Werror)
# find, not git ls-files: CI's copy of the tree (scripts/fresh-root.sh) has no .git.
find src tests bench \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) -print0 | sort -z |
	xargs -0 -r clang-format "${mode[@]}"
