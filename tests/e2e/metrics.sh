#!/usr/bin/env bash
# The metrics endpoint, scraped by a real Prometheus (Debian's package) every second while
# real Nix builds run (tests/e2e/nix/metrics.nix: metrics-slow runs about 8 s holding 64 MiB,
# metrics-fail exits 3, two quick builds). Asserted through Prometheus's HTTP API, as a
# dashboard or an alert would see them:
#   - the running build's series appear, labelled by pname and short hash, with its start time,
#     memory, processes and log lines agreeing with what nix-analytics-ctl says of it;
#   - they vanish once it has ended;
#   - builds finished by result and system, failures by kind, the duration histogram;
#   - Prometheus scraped in OpenMetrics (what it asks for first) without error, and
#     `promtool check metrics` passes on the classic text format.
# Then the endpoint's HTTP answers (404, 405, content negotiation) and its refusals at start
# (a bad address, a port in use).
source "$(dirname "$0")/lib.sh"

check_binaries
command -v prometheus >/dev/null || skip "prometheus is not installed (scripts/deps.sh installs it)"
command -v promtool >/dev/null || skip "promtool is not installed (Debian's prometheus package has it)"
command -v curl >/dev/null || skip "curl is not installed"
nix_setup

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
MPORT=$(free_port)
PPORT=$(free_port)
METRICS="http://127.0.0.1:$MPORT/metrics"
start_daemon --metrics-listen "127.0.0.1:$MPORT"
grep -q "metrics: serving /metrics on 127.0.0.1:$MPORT" "$T/daemon.log" ||
	fail "the daemon says where it serves metrics" "$(tail -n 5 "$T/daemon.log")"

# ---- Prometheus on loopback, scraping every second ----
cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: nix-analytics
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
EOF
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prometheus" \
	--web.listen-address="127.0.0.1:$PPORT" >"$T/prometheus.log" 2>&1 &
track $!
PROM="http://127.0.0.1:$PPORT"
prom_ready() { curl -sf "$PROM/-/ready" >/dev/null; }
wait_for 30 "prometheus is ready" prom_ready || die "prometheus did not start: $(tail -n 20 "$T/prometheus.log")"

# promq EXPR: the instant vector's result array, as JSON.
promq() { curl -sf --get "$PROM/api/v1/query" --data-urlencode "query=$1" | jq -c '.data.result'; }
# promv EXPR: the single value of EXPR ("" when it has no series).
promv() { promq "$1" | jq -r '.[0].value[1] // empty'; }
target_up() { [[ $(promv "up{job=\"nix-analytics\"}") == 1 ]]; }
wait_for 20 "prometheus scrapes the daemon (up == 1)" target_up || die "target never up"

# ---- a build running ----
GRAPH="$E2E_DIR/nix/metrics.nix"
SLOW_DRV=$(nix-instantiate "$GRAPH" -A slow --argstr nonce "$NONCE" 2>/dev/null)
HASH=$(basename "$SLOW_DRV" | cut -c1-8)
(nix-build "$GRAPH" --argstr nonce "$NONCE" --no-out-link --log-format internal-json -v -k -j3 2>&1 |
	"$NA_CTL" -s "$SOCKDIR" ingest >/dev/null 2>"$T/ingest.err") &
NIXPID=$!
track "$NIXPID"

slow_sampled() {
	[[ $(promv "nix_analytics_build_memory_bytes{pname=\"metrics-slow\"}") =~ ^[0-9]+$ ]] &&
		(($(promv "nix_analytics_build_memory_bytes{pname=\"metrics-slow\"}") > 64 * 1024 * 1024))
}
wait_for 30 "Prometheus has metrics-slow's memory past its 64 MiB" slow_sampled ||
	fail "no memory series for metrics-slow" "$(promq '{__name__=~"nix_analytics_build_.*"}' | head -c 2000)"

INFO=$(promq 'nix_analytics_build_info{pname="metrics-slow"}')
assert_json "build_info: pname, short hash, name, state running, the requester" "$INFO" \
	".[0].metric | .hash == \"$HASH\" and .name == \"metrics-slow\" and .state == \"running\" and .user == \"root\""
ctl_ok B list-builds
KEY=$(jq -r '.builds[] | select(.name == "metrics-slow") | .key' <<<"$B")
STARTED=$(jq -r '.builds[] | select(.name == "metrics-slow") | .started' <<<"$B")
PSTART=$(promv "nix_analytics_build_start_time_seconds{pname=\"metrics-slow\",hash=\"$HASH\"}")
assert_true "start time is the one nix-analytics-ctl shows (within 1 ms)" \
	python3 -c "import sys; sys.exit(abs($PSTART - $STARTED) > 0.001)"
assert_ge "processes of the running build" 1 "$(promv 'nix_analytics_build_processes{pname="metrics-slow"}')"
PEAK=$(promv 'nix_analytics_build_memory_peak_bytes{pname="metrics-slow"}')
assert_ge "peak memory at least 64 MiB" $((64 * 1024 * 1024)) "$PEAK"
# Its own cgroup gives its pressure, from its second read on (read every 4th sample): a share
# between 0 and 1.
has_psi() { [[ -n $(promv 'nix_analytics_build_memory_pressure_ratio{pname="metrics-slow"}') ]]; }
wait_for 15 "Prometheus has metrics-slow's memory pressure" has_psi
MPSI=$(promv 'nix_analytics_build_memory_pressure_ratio{pname="metrics-slow"}')
assert_true "memory pressure of the running build, a share in [0, 1] (got '$MPSI')" \
	python3 -c "import sys; v = float('$MPSI' or 'nan'); sys.exit(not (0 <= v <= 1))"
assert_match "CPU and I/O pressure series too" '^[0-9.e+-]+ [0-9.e+-]+$' \
	"$(promv 'nix_analytics_build_cpu_pressure_ratio{pname="metrics-slow"}') $(promv 'nix_analytics_build_io_pressure_ratio{pname="metrics-slow"}')"
lines_moving() { (($(promv 'nix_analytics_build_log_lines_total{pname="metrics-slow"}' || echo 0) >= 4)); }
wait_for 15 "log lines counted as they come (4 ticks)" lines_moving || fail "log lines do not move"
ctl_ok L list-builds
CTL_LINES=$(jq -r ".builds[] | select(.key == $KEY) | .log_lines" <<<"$L")
PROM_LINES=$(promv 'nix_analytics_build_log_lines_total{pname="metrics-slow"}')
assert_true "log lines agree with the daemon's (Prometheus lags at most a few lines: $PROM_LINES vs $CTL_LINES)" \
	test "$PROM_LINES" -le "$CTL_LINES" -a "$PROM_LINES" -ge $((CTL_LINES - 6))
assert_ge "builds running gauge counts it" 1 "$(promv 'nix_analytics_builds{state="running"}')"

# ---- after the end ----
wait_pid_exit() { ! kill -0 "$NIXPID" 2>/dev/null; }
wait_for 60 "nix-build ends" wait_pid_exit || die "nix-build did not end"
history_written() { ctl status 2>/dev/null | jq -e '.history.rows >= 4 and .history.queued == 0' >/dev/null; }
wait_for 20 "the four builds are in history" history_written || die "history has not the 4 builds"
slow_gone() { [[ $(promq 'nix_analytics_build_info{pname="metrics-slow"}') == "[]" ]]; }
wait_for 10 "metrics-slow's series vanish once it ended" slow_gone ||
	fail "series still there" "$(promq 'nix_analytics_build_info')"
assert_eq "no build series are left" "[]" "$(promq '{__name__=~"nix_analytics_build_(info|memory_bytes|cpu_seconds_total|processes)"}')"

SYSTEM=$(nix-instantiate --eval -E builtins.currentSystem | tr -d '"')
counted() { [[ $(promv "sum(nix_analytics_builds_finished_total{result=\"succeeded\"})") == 3 ]]; }
wait_for 5 "three builds counted succeeded" counted
assert_eq "finished{result=succeeded,system=$SYSTEM,machine=local}" 3 \
	"$(promv "nix_analytics_builds_finished_total{result=\"succeeded\",system=\"$SYSTEM\",machine=\"local\"}")"
assert_eq "finished{result=failed}" 1 "$(promv 'sum(nix_analytics_builds_finished_total{result="failed"})')"
assert_eq "failed by kind: exit-code" 1 "$(promv 'nix_analytics_builds_failed_total{kind="exit-code"}')"
assert_eq "duration histogram: 3 succeeded" 3 "$(promv 'nix_analytics_build_duration_seconds_count{result="succeeded"}')"
assert_eq "duration histogram: metrics-slow (about 8 s) is above 5 s, within 15 s" "1 3" \
	"$(promv 'sum(nix_analytics_build_duration_seconds_bucket{result="succeeded",le="15"}) - sum(nix_analytics_build_duration_seconds_bucket{result="succeeded",le="5"})') $(promv 'nix_analytics_build_duration_seconds_bucket{result="succeeded",le="+Inf"}')"
ctl_ok H get-history
HSUM=$(jq '[.builds[] | select(.state == "succeeded") | .duration] | add' <<<"$H")
PSUM=$(promv 'nix_analytics_build_duration_seconds_sum{result="succeeded"}')
assert_true "histogram sum is history's durations summed ($PSUM vs $HSUM, within 0.01 s)" \
	python3 -c "import sys; sys.exit(abs($PSUM - $HSUM) > 0.01)"
assert_ne "events counted" "" "$(promv 'nix_analytics_events_total > 20')"

# ---- formats: what Prometheus negotiated, and the classic text ----
HEALTH=$(curl -sf "$PROM/api/v1/targets" | jq -c '.data.activeTargets[0] | {health, lastError}')
assert_eq "Prometheus scrapes without error" '{"health":"up","lastError":""}' "$HEALTH"
curl -s -D "$T/om.hdr" -H 'Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' \
	"$METRICS" >"$T/om.txt"
assert_match "OpenMetrics when asked for" 'Content-Type: application/openmetrics-text; version=1.0.0' "$(cat "$T/om.hdr")"
assert_eq "OpenMetrics ends with # EOF" "# EOF" "$(tail -n 1 "$T/om.txt")"
assert_match "OpenMetrics: a counter family without _total, its sample with it" \
	'# TYPE nix_analytics_events counter' "$(grep '^# TYPE nix_analytics_events ' "$T/om.txt")"
curl -s -D "$T/txt.hdr" "$METRICS" >"$T/metrics.txt"
assert_match "the classic text format by default" 'Content-Type: text/plain; version=0.0.4' "$(cat "$T/txt.hdr")"
assert_true "promtool check metrics passes" promtool check metrics <"$T/metrics.txt"
assert_eq "GET /other is 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/other")"
assert_eq "POST /metrics is 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$METRICS")"

# ---- docs/metrics.md: its scrape configuration and alert rules are valid ----
DOC="$E2E_DIR/../../docs/metrics.md"
# yaml_block HEADING: the first ```yaml block after the heading.
yaml_block() { awk -v h="$1" '$0 == h { s = 1 } s && /^```yaml$/ { y = 1; next } y && /^```$/ { exit } y' "$DOC"; }
yaml_block "## Scrape configuration" >"$T/doc-scrape.yml"
yaml_block "## Alert rules" >"$T/doc-rules.yml"
assert_match "docs: the scrape configuration is there" "job_name: nix-analytics" "$(cat "$T/doc-scrape.yml")"
assert_true "docs: promtool check config passes on the scrape configuration" \
	promtool check config --syntax-only "$T/doc-scrape.yml"
assert_true "docs: promtool check rules passes on the alert rules" promtool check rules "$T/doc-rules.yml"
assert_eq "docs: seven alert rules" 7 "$(grep -c '^      - alert: ' "$T/doc-rules.yml")"
# Every family the daemon serves is documented in a table, and every one a table names is served.
SERVED=$(awk '/^# TYPE / { print $3 }' "$T/metrics.txt" | sort -u)
DOCUMENTED=$(grep -E '^\| `nix_analytics_' "$DOC" | cut -d'|' -f2 | grep -oE 'nix_analytics_[a-z_]+' | sort -u)
assert_eq "docs/metrics.md's tables name exactly the families served" "$SERVED" "$DOCUMENTED"

# ---- refusals at start ----
"$NA_DAEMON" --socket-dir "$T/s2" --history-db none --metrics-listen 'nonsense' >"$T/bad.log" 2>&1
RC=$?
"$NA_DAEMON" --socket-dir "$T/s3" --history-db none --discover-scope $$ --no-cgroups \
	--metrics-listen "127.0.0.1:$MPORT" >"$T/inuse.log" 2>&1
RC2=$?
assert_eq "a bad --metrics-listen is a usage error (exit 2)" 2 "$RC"
assert_match "... saying what it takes" "invalid value for --metrics-listen: 'nonsense'" "$(cat "$T/bad.log")"
assert_eq "a port in use: the daemon does not start (exit 1)" 1 "$RC2"
assert_match "... saying why" "cannot listen for metrics on 127.0.0.1:$MPORT: Address already in use" "$(cat "$T/inuse.log")"

stop_daemon
