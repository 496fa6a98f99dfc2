# The test tally of scripts/test.sh and scripts/test-nix.sh, sourced by both: meson test
# results counted, a skip a failure when CI=true, and the closing lines, the last of which is
# exactly "N passed, N failed" (.ci/run and fresh-root.sh read it).
# shellcheck shell=bash

PASSED=0
FAILED=0
SKIPPED=0
FAILURES=()

# failure MESSAGE: one failure, listed at the end.
failure() {
	FAILED=$((FAILED + 1))
	FAILURES+=("$*")
}

# count_testlog PREFIX TESTLOG: add one meson test run's results (meson-logs/testlog.json) to
# the totals; a failure is listed as PREFIX<test>: <result>.
count_testlog() {
	local prefix=$1 log=$2 tname result
	while IFS=$'\t' read -r tname result; do
		case $result in
		OK | EXPECTEDFAIL) PASSED=$((PASSED + 1)) ;;
		SKIP)
			if [[ ${CI:-} == true ]]; then
				failure "$prefix$tname: SKIP (a skip is a failure in CI)"
			else
				SKIPPED=$((SKIPPED + 1))
			fi
			;;
		*) failure "$prefix$tname: $result" ;;
		esac
	done < <(jq -r '[.name, .result] | @tsv' "$log")
}

# tally_finish SUMMARY: the failures, the skips, SUMMARY, then the tally; exits non-zero when
# anything failed.
tally_finish() {
	if ((${#FAILURES[@]})); then
		echo
		echo "failed:"
		printf '  %s\n' "${FAILURES[@]}"
	fi
	((SKIPPED)) && echo "$SKIPPED skipped (not counted; CI=true counts skips as failures)"
	echo "$1"
	echo "$PASSED passed, $FAILED failed"
	((FAILED == 0))
	exit
}
