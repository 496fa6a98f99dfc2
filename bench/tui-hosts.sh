#!/usr/bin/env bash
# P12 (targets and latest figures: docs/performance.md): the TUI's cost with three hosts of
# 1,000 builds each. A release build of nix-analyticsd, nix-analytics and nix-analytics-ctl;
# three daemons, each on a private socket directory and store, each behind a loopback sshd of
# its own (its logins get that socket directory, as tests/e2e/hosts-many.sh does), so the TUI
# reaches them as it reaches any host: `nix-analytics -H h1 -H h2 -H h3`, ssh running
# `nix-analytics-ctl bridge` on the far side. The TUI runs in a private tmux (160x50); then
#   idle      no build at all, for IDLE seconds                           P5: <= 0.2 % of a core
#   loaded    1,000 active builds on each host, RATE records/s to each daemon (bench/tui-feed.py;
#             default 3,400: 10,200 in all, P5's 10,000), CHURN builds/s per host finishing and
#             replaced, the log panel open, for LOAD seconds                P5: <= 5 % of a core
#   listed    the 3,000 builds listed, no events, for IDLE seconds (clocks redrawn once a second)
#   stopped   one host's daemon stopped (SIGSTOP): a key's effect on screen must not wait for it
#   down      one host's sshd gone (its 1,000 rows greyed, clocks stopped), for IDLE seconds
#   frames    the TUI's own frame times (--stats)                         P5: p99 <= 5 ms
# CPU from /proc/<pid>/schedstat (time on a CPU, in ns) over each phase; the ssh clients' CPU is given
# apart (they carry the bytes; the TUI's figure is the TUI's alone). Needs root (sshd).
#
# usage: bench/tui-hosts.sh [BUILDS (1000)] [RATE (3400)] [LOAD (30)] [IDLE (10)] [CHURN (10)]
#   env: BUILD_DIR (default build/release), SKIP_DEPS=1, TUI_BIN (the TUI to measure instead
#        of the build's: another build of it, to compare)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILDS=${1:-1000}
RATE=${2:-3400}
LOAD=${3:-30}
IDLE=${4:-10}
CHURN=${5:-10}
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}
HOSTS=(h1 h2 h3)

[[ $(id -u) == 0 ]] || { echo "bench/tui-hosts.sh: run as root (it starts sshd)" >&2; exit 1; }
[[ -x /usr/sbin/sshd ]] || { echo "bench/tui-hosts.sh: sshd is missing (scripts/deps.sh)" >&2; exit 1; }
source "$ROOT/bench/lib-build.sh"
source "$ROOT/bench/lib-tui.sh"
bench_build -- src/daemon/nix-analyticsd src/tui/nix-analytics src/ctl/nix-analytics-ctl || exit 1
DAEMON=$BUILD_DIR/src/daemon/nix-analyticsd
CTL=$BUILD_DIR/src/ctl/nix-analytics-ctl
TUI_BIN=${TUI_BIN:-$BUILD_DIR/src/tui/nix-analytics}

T=$(mktemp -d /tmp/na-bench-th.XXXXXX)
SOCK="na-bench-tui-hosts-$$"
PIDS=()
declare -A SSHD DAEMONS
cleanup() {
	tmux -L "$SOCK" kill-server 2>/dev/null || true
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT

# ---- three hosts: a daemon and an sshd each ----
ssh-keygen -q -t ed25519 -N '' -f "$T/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$T/id"
cp "$T/id.pub" "$T/authorized_keys"
chmod 600 "$T/authorized_keys"
printf 'benchhost %s\n' "$(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"
mkdir -p /run/sshd
: >"$T/ssh_config"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=2400
for h in "${HOSTS[@]}"; do
	mkdir -p "$T/sock-$h" "$T/store-$h"
	"$DAEMON" --socket-dir "$T/sock-$h" --store-dir "$T/store-$h" --history-db none \
		--discover-scope $$ --no-cgroups -q >"$T/daemon-$h.log" 2>&1 &
	DAEMONS[$h]=$!
	PIDS+=($!)
	while ! port_free "$port"; do port=$((port + 1)); done
	cat >"$T/sshd_config-$h" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $T/host_key
PidFile $T/sshd-$h.pid
AuthorizedKeysFile $T/authorized_keys
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
MaxStartups 100:30:200
MaxSessions 100
SetEnv NIX_ANALYTICS_SOCKET_DIR=$T/sock-$h
EOF
	cat >>"$T/ssh_config" <<EOF
Host $h
  HostName 127.0.0.1
  Port $port
  User root
  IdentityFile $T/id
  IdentitiesOnly yes
  HostKeyAlias benchhost
  UserKnownHostsFile $T/known_hosts
  StrictHostKeyChecking yes
EOF
	/usr/sbin/sshd -D -e -f "$T/sshd_config-$h" >"$T/sshd-$h.log" 2>&1 &
	SSHD[$h]=$!
	PIDS+=($!)
	port=$((port + 1))
done
for h in "${HOSTS[@]}"; do
	for _ in $(seq 100); do
		ssh -F "$T/ssh_config" -o BatchMode=yes "$h" "$CTL" status >/dev/null 2>&1 && break
		sleep 0.1
	done
	ssh -F "$T/ssh_config" -o BatchMode=yes "$h" "$CTL" status >/dev/null ||
		{ echo "bench/tui-hosts.sh: $h does not answer through ssh: $(tail -n 5 "$T/sshd-$h.log")" >&2; exit 1; }
done

# ---- the TUI ----
HOST_ARGS=()
for h in "${HOSTS[@]}"; do HOST_ARGS+=(-H "$h"); done
bench_tui_start "$SOCK" 160 50 \
	"LANG=C.UTF-8 NIX_SSHOPTS='-F $T/ssh_config' $TUI_BIN ${HOST_ARGS[*]} --remote-ctl $CTL --stats $T/stats.json" ||
	exit 1
echo "TUI pid $TUI: $(tr '\0' ' ' <"/proc/$TUI/cmdline" | cut -c1-120)"
screen_has() { tmux -L "$SOCK" capture-pane -p -t b | grep -Eq -- "$1"; }
wait_screen() {
	local i
	for ((i = 0; i < 600; i++)); do
		screen_has "$1" && return 0
		sleep 0.1
	done
	echo "bench/tui-hosts.sh: timed out waiting for /$1/ on the screen:" >&2
	tmux -L "$SOCK" capture-pane -p -t b | head -n 8 >&2
	exit 1
}
wait_screen "3 hosts, 3 up"

# The TUI's ssh clients (and the ControlMaster ones they start).
ssh_pids() { pgrep -f "ssh .*nix-analytics-ssh-" | tr '\n' ' '; }
# ns_of PID...: "PID NS" lines.
ns_of() {
	local p ns
	for p in "$@"; do
		read -r ns _ <"/proc/$p/schedstat" 2>/dev/null && echo "$p $ns"
	done
}
# measure SECONDS: "TUI% SSH%": percent of one core the TUI, and its ssh clients together (those
# alive from start to end), used over that time
measure() {
	local t0 t1
	# shellcheck disable=SC2046
	ns_of "$TUI" $(ssh_pids) >"$T/ns0"
	t0=$(date +%s%N)
	sleep "$1"
	# shellcheck disable=SC2046
	ns_of "$TUI" $(ssh_pids) >"$T/ns1"
	t1=$(date +%s%N)
	awk -v tui="$TUI" -v wall=$((t1 - t0)) 'NR == FNR { a[$1] = $2; next }
		$1 in a { d = $2 - a[$1]; if ($1 == tui) t += d; else s += d }
		END { printf "%.2f %.2f", 100 * t / wall, 100 * s / wall }' "$T/ns0" "$T/ns1"
}

sleep 2
read -r IDLE_PCT IDLE_SSH <<<"$(measure "$IDLE")"
echo "idle (3 hosts up, no build, ${IDLE} s): TUI CPU ${IDLE_PCT} % of a core (P5 target <= 0.2 %); its ssh clients ${IDLE_SSH} %"

FEEDS=()
for h in "${HOSTS[@]}"; do
	FEED_PREFIX="$h-build-" FEED_CHURN=$CHURN FEED_HOLD=3600 \
		python3 "$ROOT/bench/tui-feed.py" "$T/sock-$h/events.sock" "$T/store-$h" "$BUILDS" "$RATE" \
		"$((LOAD + 5))" >"$T/feed-$h.out" &
	FEEDS+=($!)
	PIDS+=($!)
done
wait_screen "3 hosts, 3 up \| $((3 * BUILDS)) running"
# The log panel open on a build, as a user watching would have it.
tmux -L "$SOCK" send-keys -t b j l
sleep 2
read -r LOAD_PCT LOAD_SSH <<<"$(measure "$LOAD")"
for h in "${HOSTS[@]}"; do
	until grep -q '^feed:' "$T/feed-$h.out"; do sleep 0.1; done
	echo "$h $(grep '^feed:' "$T/feed-$h.out")"
done
echo "loaded (3 hosts x $BUILDS active builds, $RATE records/s and $CHURN builds/s finishing on each, ${LOAD} s): TUI CPU ${LOAD_PCT} % of a core (P5 target <= 5 %); its ssh clients ${LOAD_SSH} %"
tmux -L "$SOCK" capture-pane -p -t b | head -n 5 | sed 's/^/  screen: /'

sleep 2
read -r LISTED_PCT LISTED_SSH <<<"$(measure "$IDLE")"
echo "listed ($((3 * BUILDS)) active builds, no events, ${IDLE} s; clocks redrawn once a second): TUI CPU ${LISTED_PCT} % of a core; its ssh clients ${LISTED_SSH} %"

# key_ms: from a key to its effect on the screen (the help opens), in ms; polled with
# capture-pane, so an upper bound.
key_ms() {
	local k0 k1
	k0=$(date +%s%N)
	tmux -L "$SOCK" send-keys -t b '?'
	wait_screen "^nix-analytics help"
	k1=$(date +%s%N)
	tmux -L "$SOCK" send-keys -t b Escape
	echo $(((k1 - k0) / 1000000))
}

# One host stops answering (its daemon stopped with SIGSTOP: the connection stays, nothing
# comes back): the screen must not wait for it.
kill -STOP "${DAEMONS[h3]}"
sleep 3
STOPPED_MS=$(key_ms)
read -r STOPPED_PCT STOPPED_SSH <<<"$(measure 5)"
kill -CONT "${DAEMONS[h3]}"
echo "h3's daemon stopped (SIGSTOP), 3 s in: a key's effect on screen after ${STOPPED_MS} ms (includes capture-pane polling); TUI CPU over the next 5 s ${STOPPED_PCT} %"

# One host goes down: its sshd and sessions end; its rows stay greyed.
pkill -P "${SSHD[h2]}" || true
kill -TERM "${SSHD[h2]}"
wait_screen "^ h2: DOWN \\([0-9]+ builds greyed"
sleep 2
read -r DOWN_PCT DOWN_SSH <<<"$(measure "$IDLE")"
echo "one host down (h2's $BUILDS rows greyed, clocks stopped; it is retried every 5 s), ${IDLE} s: TUI CPU ${DOWN_PCT} % of a core; its ssh clients ${DOWN_SSH} %"
echo "a key with h2 down: its effect on screen after $(key_ms) ms (includes capture-pane polling)"

tmux -L "$SOCK" send-keys -t b q
for _ in $(seq 100); do [[ -s "$T/stats.json" ]] && break; sleep 0.05; done
STATS=$(cat "$T/stats.json")
echo "TUI stats: $STATS"
AVG=$(jq -r .frame_avg_ms <<<"$STATS")
P99=$(jq -r .frame_p99_ms <<<"$STATS")
MAX=$(jq -r .frame_max_ms <<<"$STATS")
echo "frames: average ${AVG} ms, 99th percentile ${P99} ms, longest ${MAX} ms (P5 target <= 5 ms)"

verdict() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }' && echo PASS || echo FAIL; }
echo "P12 verdict (P5's bars): loaded CPU $(verdict "$LOAD_PCT" 5), idle CPU $(verdict "$IDLE_PCT" 0.2), frame p99 $(verdict "$P99" 5) (longest $MAX ms on a shared machine; target: docs/performance.md P12)"
