# shellcheck shell=bash
# Paired timing for the bench scripts that compare a build with and without something
# (plugin.sh, ingest.sh): sourced. The caller defines run A-OR-B (prints one wall time in
# seconds), and LABEL_A, LABEL_B, PAIRS.

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# spread: min, first quartile, third quartile, max of the numbers on stdin.
spread() {
	sort -n | awk '{a[NR] = $1} END {q1 = a[int((NR + 3) / 4)]; q3 = a[int((3 * NR + 3) / 4)]
		printf "min %s, quartiles %s..%s, max %s", a[1], q1, q3, a[NR]}'
}
# ci95: the geometric mean of the ratios on stdin and its 95 % confidence interval (Student's
# t over the log ratios; pairs are independent runs): "1.0412 (1.0201..1.0627)".
ci95() {
	awk '{l[NR] = log($1); s += l[NR]} END {
		n = NR; m = s / n; for (i = 1; i <= n; i++) v += (l[i] - m) ^ 2; sd = n > 1 ? sqrt(v / (n - 1)) : 0
		split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262 2.228 2.201 2.179 2.160 2.145 2.131 2.120 2.110 2.101 2.093 2.086 2.080 2.074 2.069 2.064 2.060 2.056 2.052 2.048 2.045 2.042", t, " ")
		tv = n - 1 >= 1 && n - 1 <= 30 ? t[n - 1] : 1.96; h = n > 1 ? tv * sd / sqrt(n) : 0
		printf "%.4f (%.4f..%.4f)", exp(m), exp(m - h), exp(m + h)}'
}

# series NAME A B: PAIRS alternating pairs (A = the reference; which goes first alternates);
# prints the median ratio B/A on stdout, the details on stderr.
series() {
	local name=$1 da=$2 db=$3 i a b ratios=() as=() bs=()
	run "$da" warm >/dev/null
	run "$db" warm >/dev/null
	for ((i = 1; i <= PAIRS; i++)); do
		if ((i % 2)); then
			a=$(run "$da" p)
			b=$(run "$db" q)
		else
			b=$(run "$db" q)
			a=$(run "$da" p)
		fi
		as+=("$a")
		bs+=("$b")
		ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.4f\n", b / a}')")
		printf '  %s pair %d: %s %6.3f s, %s %6.3f s, ratio %s\n' "$name" "$i" "$LABEL_A" "$a" "$LABEL_B" "$b" \
			"${ratios[-1]}" >&2
	done
	local ma mb fa fb
	ma=$(printf '%s\n' "${as[@]}" | median)
	mb=$(printf '%s\n' "${bs[@]}" | median)
	fa=$(printf '%s\n' "${as[@]}" | sort -n | head -n1)
	fb=$(printf '%s\n' "${bs[@]}" | sort -n | head -n1)
	printf '  %s: ratios %s; geometric mean and 95%% interval %s; median times %.3f s and %.3f s (ratio %.4f); fastest %.3f s and %.3f s (ratio %.4f)\n' \
		"$name" "$(printf '%s\n' "${ratios[@]}" | spread)" "$(printf '%s\n' "${ratios[@]}" | ci95)" "$ma" "$mb" \
		"$(awk -v a="$ma" -v b="$mb" 'BEGIN {print b / a}')" \
		"$fa" "$fb" "$(awk -v a="$fa" -v b="$fb" 'BEGIN {print b / a}')" >&2
	printf '%s\n' "${ratios[@]}" | median
}

# cpu_ticks PID: user + system clock ticks the process used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
