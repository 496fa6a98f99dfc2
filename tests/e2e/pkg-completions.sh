#!/usr/bin/env bash
# Shell completions, as installed by meson: bash, zsh and fish each load them and complete
# nix-analytics-ctl's commands, every command's options (checked against the command's own
# --help, so a new option without completion fails here), option values, the daemon's and
# the TUI's options, and BUILD arguments with the names of the builds a real daemon knows
# after a real Nix build. Run as `bash pkg-completions.sh DAEMON CTL BUILD-ROOT SOURCE-ROOT`.
source "$(dirname "$0")/lib.sh"

BUILD_ROOT=${3:?usage: $0 DAEMON CTL BUILD-ROOT SOURCE-ROOT}
check_binaries
command -v zsh >/dev/null || skip "zsh missing (scripts/deps.sh installs it)"
command -v fish >/dev/null || skip "fish missing (scripts/deps.sh installs it)"

DEST="$T/dest"
meson install -C "$BUILD_ROOT" --destdir "$DEST" --no-rebuild >"$T/install.log" 2>&1 ||
	die "meson install failed: $(tail -n 20 "$T/install.log")"
SHARE=$(find "$DEST" -type d -name bash-completion -path '*/share/*' | head -n 1)
SHARE=${SHARE%/bash-completion}
BASHC="$SHARE/bash-completion/completions" ZSHC="$SHARE/zsh/site-functions" FISHC="$SHARE/fish/vendor_completions.d"
for f in "$BASHC"/nix-analytics{,-ctl,d} "$ZSHC"/_nix-analytics{,-ctl,d} "$FISHC"/nix-analytics{,-ctl,d}.fish; do
	assert_true "installed: ${f#"$DEST"}" test -s "$f"
done
# The dynamic completions run nix-analytics-ctl from PATH.
PATH="$(dirname "$NA_CTL"):$PATH"
export PATH

# bash_complete LINE: what bash's completion function offers for LINE (cursor at the end).
bash_complete() {
	bash --norc --noprofile -c '
		for f in "$1"/*; do source "$f"; done
		read -ra COMP_WORDS <<<"$2"
		[[ $2 == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE=$2 COMP_POINT=${#2}
		fn=$(complete -p "${COMP_WORDS[0]}" | sed -E "s/.*-F ([^ ]+).*/\1/")
		"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' bash "$BASHC" "$1" 2>"$T/bash.err" | sed '/^$/d' | sort -u
}
fish_complete() {
	fish -N -c "for f in $FISHC/*.fish; source \$f; end; complete -C '$1'" 2>"$T/fish.err" | cut -f1 | sort -u
}
zsh_complete() {
	rm -f "$T/zsh.out" "$T/zsh.out.ready"
	zsh -f "$E2E_DIR/zsh-complete.zsh" "$ZSHC" "$T/zsh.out" "$1" >/dev/null 2>&1
	sort -u "$T/zsh.out" 2>/dev/null
}
SHELLS=(bash zsh fish)
complete_in() { "$1_complete" "$2"; }

sorted() { tr ' ' '\n' | sed '/^$/d' | sort -u; }
CMDS=$("$NA_CTL" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF && !/^Commands:/ {print $1}' | sort -u)
assert_ge "ctl --help lists 19 commands" 19 "$(printf '%s\n' "$CMDS" | wc -l)"
# The long options a --help lists: its Options lines and the bracketed ones of its Usage
# line (ps [--json]), and --help, which every command takes.
long_opts() {
	{
		"$@" --help | grep -E '^ +-' | grep -oE -- '(^|[ ,])--[a-z][a-z-]+' | grep -oE -- '--[a-z-]+'
		"$@" --help | grep -E '^Usage:' | grep -oE -- '\[--[a-z][a-z-]+' | tr -d '['
		echo --help
	} | sort -u
}

# The TUI's options: from its --help once it is built, else the ones its man page documents.
TUI="$BUILD_ROOT/src/tui/nix-analytics"
if [[ -x "$TUI" ]]; then
	TUI_OPTS=$(long_opts "$TUI")
else
	TUI_OPTS=$(printf '%s\n' --ascii --fps --help --no-color --no-mouse --socket-dir --stats --version)
	log "no TUI in this build ($TUI): its completions are checked against nix-analytics(1)"
fi

for sh in "${SHELLS[@]}"; do
	assert_eq "$sh: 'nix-analytics-ctl <TAB>' offers every command" "$CMDS" "$(complete_in "$sh" 'nix-analytics-ctl ')"
	assert_eq "$sh: 'nix-analytics-ctl fr<TAB>' gives freeze" "freeze" "$(complete_in "$sh" 'nix-analytics-ctl fr')"
	for c in $CMDS; do
		want=$(long_opts "$NA_CTL" "$c")
		got=$(complete_in "$sh" "nix-analytics-ctl $c --" | grep -E '^--')
		assert_eq "$sh: 'nix-analytics-ctl $c --<TAB>' offers exactly its options" "$want" "$got"
	done
	assert_eq "$sh: 'nix-analyticsd --<TAB>' offers every daemon option" \
		"$(long_opts "$NA_DAEMON")" "$(complete_in "$sh" 'nix-analyticsd --' | grep -E '^--')"
	assert_eq "$sh: 'nix-analytics --<TAB>' offers the TUI's options" \
		"$TUI_OPTS" "$(complete_in "$sh" 'nix-analytics --' | grep -E '^--')"
	assert_eq "$sh: 'get-history --order <TAB>' offers the sort keys" "$(printf '%s\n' duration finished name started)" \
		"$(complete_in "$sh" 'nix-analytics-ctl get-history --order ')"
	assert_contains "$sh: 'list-builds --state <TAB>' offers the states" "$(printf 'frozen\nkilled')" \
		"$(complete_in "$sh" 'nix-analytics-ctl list-builds --state ')"
done
assert_eq "bash: '--state running,fa<TAB>' completes the list's last element" "running,failed" \
	"$(bash_complete 'nix-analytics-ctl list-builds --state running,fa')"
assert_eq "bash: '--order=du<TAB>' (bash splits at =) gives duration" "duration" \
	"$(bash_complete 'nix-analytics-ctl get-history --order = du')"
assert_eq "bash: loading the completions printed nothing on stderr" "" "$(cat "$T/bash.err")"

# --- BUILD arguments from a real daemon after a real Nix build ---
nix_setup
start_daemon
# one.nix: a quick build, or with kind = "run" one that runs until it is killed.
cat >"$T/one.nix" <<'NIX'
{ nonce, kind ? "" }: derivation {
  name = "pkg-compl-${kind}${builtins.substring 0 6 (builtins.hashString "sha256" nonce)}";
  system = builtins.currentSystem; builder = "/bin/sh"; PATH = "/usr/bin:/bin"; inherit nonce;
  args = [ "-c" (if kind == "run" then "echo running; sleep 120; echo done > $out" else "echo hello; echo done > $out") ];
}
NIX
nix_one() {
	nix-build "$T/one.nix" --argstr nonce "$NONCE" "$@" --no-out-link --log-format internal-json -v 2>&1 |
		ctl ingest --quiet >/dev/null
}
nix_one
NAME=$(ctl list-builds | jq -r '.builds[0].name // empty')
assert_match "the daemon knows the build" '^pkg-compl-' "$NAME"
settled() { [[ "$(ctl list-builds | jq -r '.builds[0].state')" == succeeded ]]; }
wait_for 10 "the build succeeded" settled
for sh in "${SHELLS[@]}"; do
	assert_eq "$sh: 'nix-analytics-ctl -s DIR get-build <TAB>' names the daemon's build" "$NAME" \
		"$(complete_in "$sh" "nix-analytics-ctl -s $SOCKDIR get-build ")"
	assert_eq "$sh: 'nix-analytics-ctl -s DIR freeze <TAB>' offers only active builds (none)" "" \
		"$(complete_in "$sh" "nix-analytics-ctl -s $SOCKDIR freeze ")"
done
# bash sees "--socket-dir=DIR" as three words: "--socket-dir" "=" "DIR".
assert_eq "bash: 'nix-analytics-ctl --socket-dir=DIR get-build <TAB>' names the daemon's build" "$NAME" \
	"$(bash_complete "nix-analytics-ctl --socket-dir = $SOCKDIR get-build ")"

# --- a running build: its name, its key and its .drv path, from the running daemon ---
nix_one --argstr kind run &
LONG_PID=$!
track "$LONG_PID"
running() { ctl list-builds --state running | jq -e '.builds | length == 1' >/dev/null; }
wait_for 60 "the long build runs" running || die "the long build never ran"
RUN=$(ctl list-builds --state running | jq -c '.builds[0]')
RUN_NAME=$(jq -r .name <<<"$RUN") RUN_KEY=$(jq -r .key <<<"$RUN") RUN_DRV=$(jq -r .drv <<<"$RUN")
# /nix/store/ and the first letters of its hash: one .drv in the daemon's builds
DRV_PREFIX=${RUN_DRV:0:16}
for sh in "${SHELLS[@]}"; do
	assert_eq "$sh: 'freeze <TAB>' offers the running build, by name" "$RUN_NAME" \
		"$(complete_in "$sh" "nix-analytics-ctl -s $SOCKDIR freeze ")"
	assert_eq "$sh: 'get-build <TAB>' offers both builds' names" "$(printf '%s\n' "$NAME" "$RUN_NAME" | sort)" \
		"$(complete_in "$sh" "nix-analytics-ctl -s $SOCKDIR get-build ")"
	assert_eq "$sh: 'kill $RUN_KEY<TAB>' completes the running build's key" "$RUN_KEY" \
		"$(complete_in "$sh" "nix-analytics-ctl -s $SOCKDIR kill $RUN_KEY")"
	assert_eq "$sh: 'ps ${DRV_PREFIX}<TAB>' completes its .drv path" "$RUN_DRV" \
		"$(complete_in "$sh" "nix-analytics-ctl -s $SOCKDIR ps $DRV_PREFIX")"
done
# bash sees "--color=" as two words: "--color" "=".
assert_eq "bash: 'list-builds --color=<TAB>' offers when" "$(printf '%s\n' always auto never)" \
	"$(bash_complete "nix-analytics-ctl list-builds --color = ")"
assert_eq "fish: 'list-builds --color=<TAB>' offers when" "$(printf '%s\n' always auto never)" \
	"$(fish_complete "nix-analytics-ctl list-builds --color=" | sed 's/^--color=//')"
ctl kill "$RUN_KEY" >/dev/null 2>&1
wait "$LONG_PID" 2>/dev/null || true # nix-build fails: its build was killed
