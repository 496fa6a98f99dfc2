# shellcheck shell=bash
# The TUI under measure, in a private tmux server: sourced by bench/tui.sh and
# bench/tui-hosts.sh.
# bench_tui_start SOCK COLS ROWS COMMAND: COMMAND (a shell command line running the TUI) in
# the session "b" of a tmux server of its own on SOCK; TUI is set to the TUI's pid.
bench_tui_start() {
	local sock=$1 cols=$2 rows=$3 pane
	tmux -L "$sock" -f /dev/null new-session -d -s b -x "$cols" -y "$rows" "$4; sleep 600"
	pane=$(tmux -L "$sock" display-message -p -t b '#{pane_pid}')
	TUI=
	for _ in $(seq 100); do
		TUI=$(ps -o pid= --ppid "$pane" | tr -d ' ' | head -n 1)
		[[ -n "$TUI" ]] && return 0
		sleep 0.05
	done
	echo "$0: the TUI did not start" >&2
	return 1
}
