#!/usr/bin/env bash
# Formats every C/C++ source of the project in place with .clang-format
# (--check: report files that need formatting and exit 1).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=(-i)
[ "${1:-}" = "--check" ] && mode=(--dry-run -Werror)
git ls-files '*.c' '*.h' '*.cc' | xargs -r clang-format "${mode[@]}"
