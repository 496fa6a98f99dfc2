#!/usr/bin/env bash
# Packaging: `meson install --destdir` gives exactly the file list documented in
# docs/install.md; the installed systemd units pass `systemd-analyze verify` (and a broken
# copy does not); the man pages render without warnings and document every option the
# programs' --help lists; every binary answers --version; the sample configuration's options
# exist. Run as `bash pkg-install.sh DAEMON CTL BUILD-ROOT SOURCE-ROOT`.
source "$(dirname "$0")/lib.sh"

BUILD_ROOT=${3:?usage: $0 DAEMON CTL BUILD-ROOT SOURCE-ROOT}
SRC_ROOT=${4:?usage: $0 DAEMON CTL BUILD-ROOT SOURCE-ROOT}
check_binaries
command -v systemd-analyze >/dev/null || skip "systemd-analyze missing (package systemd)"
command -v man >/dev/null || skip "man missing (package man-db)"

DEST="$T/dest"
log "meson install -C $BUILD_ROOT --destdir $DEST"
meson install -C "$BUILD_ROOT" --destdir "$DEST" --no-rebuild >"$T/install.log" 2>&1 ||
	die "meson install failed: $(tail -n 20 "$T/install.log")"

opt() { meson introspect "$BUILD_ROOT" --buildoptions | jq -r --arg n "$1" '.[] | select(.name == $n) | .value'; }
abs() { [[ $1 == /* ]] && printf '%s' "$1" || printf '%s/%s' "$PREFIX" "$1"; }
PREFIX=$(opt prefix)
LIBDIR=$(abs "$(opt libdir)")
SYSCONFDIR=$(abs "$(opt sysconfdir)")
VERSION=$(meson introspect "$BUILD_ROOT" --projectinfo | jq -r .version)
TARGETS=$(meson introspect "$BUILD_ROOT" --targets)
has_target() { printf '%s' "$TARGETS" | jq -e --arg n "$1" --arg t "$2" 'any(.[]; .name == $n and .type == $t and .installed)' >/dev/null; }
log "prefix $PREFIX, libdir $LIBDIR, sysconfdir $SYSCONFDIR, version $VERSION"

# --- the documented list, with the entries that depend on what this build has ---
expected=$(sed -n '/<!-- install-list -->/,/<!-- \/install-list -->/p' "$SRC_ROOT/docs/install.md" |
	grep -E '^(PREFIX|LIBDIR|SYSCONFDIR)/' | while read -r path tag; do
		case $tag in
		"[plugin]") has_target nix-analytics "shared library" || continue ;;
		"[tui]") has_target nix-analytics executable || continue ;;
		esac
		path=${path/#PREFIX/$PREFIX}
		path=${path/#LIBDIR/$LIBDIR}
		path=${path/#SYSCONFDIR/$SYSCONFDIR}
		printf '%s\n' "$path"
	done | sort)
actual=$(cd "$DEST" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort)
assert_ge "docs/install.md documents at least 18 files" 18 "$(printf '%s\n' "$expected" | wc -l)"
assert_eq "meson install --destdir gives exactly the documented files" "$expected" "$actual"
has_target nix-analytics "shared library" && log "plugin built: its line is checked too"

# --- every binary answers --version with the project version ---
for b in "$PREFIX/sbin/nix-analyticsd" "$PREFIX/bin/nix-analytics-ctl" "$PREFIX/bin/nix-analytics"; do
	[[ -e "$DEST$b" ]] || continue
	out=$("$DEST$b" --version 2>&1)
	assert_eq "$(basename "$b") --version exits 0" 0 "$?"
	assert_match "$(basename "$b") --version names itself and $VERSION" "^$(basename "$b") $VERSION( |\$)" "$out"
done

# --- systemd units ---
SYS_UNIT="$PREFIX/lib/systemd/system/nix-analytics.service"
USER_UNIT="$PREFIX/lib/systemd/user/nix-analytics.service"
unit_has() { grep -qx "$2" "$DEST$1"; }
for kv in "Type=notify" "Delegate=yes" "KillMode=process" "WatchdogSec=30s" "Restart=on-failure"; do
	assert_true "system unit: $kv" unit_has "$SYS_UNIT" "$kv"
	assert_true "user unit: $kv" unit_has "$USER_UNIT" "$kv"
done
assert_true "system unit runs the installed daemon" grep -q "^ExecStart=$PREFIX/sbin/nix-analyticsd --socket-dir /run/nix-analytics " "$DEST$SYS_UNIT"
assert_true "user unit: sockets in \$XDG_RUNTIME_DIR/nix-analytics (%t)" grep -q "^ExecStart=$PREFIX/sbin/nix-analyticsd --socket-dir %t/nix-analytics " "$DEST$USER_UNIT"
assert_true "system unit reads the installed sample configuration" grep -qx "EnvironmentFile=-$SYSCONFDIR/nix-analytics/nix-analyticsd.conf" "$DEST$SYS_UNIT"

# systemd-analyze verify --root resolves ExecStart= inside the destdir; the unit's
# dependencies (multi-user.target, ...) come from a copy of the host's unit directory; man
# pages named in Documentation= are looked up in the destdir.
mkdir -p "$DEST/lib/systemd"
cp -a /lib/systemd/system "$DEST/lib/systemd/" || die "cannot copy the host's units"
export MANPATH="$DEST$PREFIX/share/man"
verify() { systemd-analyze verify "$@" >"$T/verify.out" 2>&1; echo "rc=$?" >>"$T/verify.out"; }
verify --root="$DEST" "$SYS_UNIT"
assert_eq "systemd-analyze verify: the system unit, no complaint" "rc=0" "$(cat "$T/verify.out")"
mkdir -p "$T/user-units" "$T/xdg-runtime" && chmod 700 "$T/xdg-runtime"
# --user has no --root: the copy runs the destdir's binary.
sed "s|^ExecStart=/|ExecStart=$DEST/|" "$DEST$USER_UNIT" >"$T/user-units/nix-analytics.service"
XDG_RUNTIME_DIR="$T/xdg-runtime" verify --user "$T/user-units/nix-analytics.service"
assert_eq "systemd-analyze verify --user: the user unit, no complaint" "rc=0" "$(cat "$T/verify.out")"
# The check can fail: a unit with an unknown key and a missing binary is reported.
sed -e 's|^Delegate=yes|Delegate=yes\nNoSuchKey=1|' -e "s|/sbin/nix-analyticsd|/sbin/nix-analyticsd-missing|" \
	"$DEST$SYS_UNIT" >"$DEST$PREFIX/lib/systemd/system/na-broken.service"
verify --root="$DEST" "$PREFIX/lib/systemd/system/na-broken.service"
assert_contains "verify reports an unknown key" "Unknown key 'NoSuchKey'" "$(cat "$T/verify.out")"
assert_contains "verify reports a missing binary" "nix-analyticsd-missing is not executable" "$(cat "$T/verify.out")"
rm -f "$DEST$PREFIX/lib/systemd/system/na-broken.service"
if sec=$(systemd-analyze security --offline=true --root="$DEST" "$SYS_UNIT" 2>&1); then
	level=$(printf '%s\n' "$sec" | grep -oE 'Overall exposure level for nix-analytics.service: [0-9.]+' | grep -oE '[0-9.]+$')
	log "systemd-analyze security: exposure $level (0 best, 10 worst)"
	assert_match "the system unit's exposure is below 5 (sandboxed)" '^[0-4]\.[0-9]$' "$level"
fi

# --- man pages ---
for page in man1/nix-analytics.1 man1/nix-analytics-ctl.1 man8/nix-analyticsd.8; do
	f="$DEST$PREFIX/share/man/$page"
	MANWIDTH=80 man --warnings -l "$f" >"$T/man.out" 2>"$T/man.err"
	assert_eq "man -l $page renders (exit 0)" 0 "$?"
	assert_eq "man -l $page: no groff warnings" "" "$(cat "$T/man.err")"
	assert_true "man -l $page has NAME, SYNOPSIS and SEE ALSO" \
		bash -c "grep -q '^NAME' '$T/man.out' && grep -q '^SYNOPSIS' '$T/man.out' && grep -q '^SEE ALSO' '$T/man.out'"
done
# Rendered once into files: grep -q on a pipe would cut man off (SIGPIPE under pipefail).
for page in man1/nix-analytics-ctl.1 man8/nix-analyticsd.8; do
	MANWIDTH=200 man -l "$DEST$PREFIX/share/man/$page" 2>/dev/null | col -b >"$T/$(basename "$page").txt"
done
DMAN="$T/nix-analyticsd.8.txt" CMAN="$T/nix-analytics-ctl.1.txt"
# Every long option in --help is documented (catches a page left behind by the code).
missing=$(for o in $("$NA_DAEMON" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
	grep -q -- "$o" "$DMAN" || printf '%s ' "$o"; done)
assert_eq "nix-analyticsd(8) documents every option of --help" "" "$missing"
cmds=$("$NA_CTL" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF && !/^Commands:/ {print $1}')
assert_ge "ctl --help lists 19 commands or more" 19 "$(printf '%s\n' "$cmds" | wc -l)"
missing=$(for c in $cmds; do grep -qE "^ +$c( |\$)" "$CMAN" || printf '%s ' "$c"; done)
assert_eq "nix-analytics-ctl(1) documents every command" "" "$missing"
missing=$(for c in $cmds; do for o in $("$NA_CTL" "$c" --help | grep -oE -- '--[a-z][a-z-]+' | grep -vx -- --help); do
	grep -q -- "$o" "$CMAN" || printf '%s:%s ' "$c" "$o"; done; done)
assert_eq "nix-analytics-ctl(1) documents every command's options" "" "$missing"
if [[ -e "$DEST$PREFIX/bin/nix-analytics" ]]; then
	MANWIDTH=200 man -l "$DEST$PREFIX/share/man/man1/nix-analytics.1" 2>/dev/null | col -b >"$T/nix-analytics.1.txt"
	missing=$(for o in $("$DEST$PREFIX/bin/nix-analytics" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		grep -q -- "$o" "$T/nix-analytics.1.txt" || printf '%s ' "$o"; done)
	assert_eq "nix-analytics(1) documents every option of the TUI's --help" "" "$missing"
fi
assert_true "man finds nix-analyticsd(8) by name in the installed tree" \
	bash -c "MANWIDTH=80 man -M '$DEST$PREFIX/share/man' 8 nix-analyticsd 2>/dev/null | grep -q 'nix-analyticsd - watch every Nix build'"

# --- the sample configuration ---
CONF="$DEST$SYSCONFDIR/nix-analytics/nix-analyticsd.conf"
assert_true "the sample configuration sets NIX_ANALYTICSD_OPTIONS" bash -c "set -e; source '$CONF'; [[ -v NIX_ANALYTICSD_OPTIONS ]]"
# The help read once: `--help | grep -q` fails under pipefail when grep leaves before the
# longer help is all written (SIGPIPE).
DAEMON_HELP=$("$NA_DAEMON" --help)
missing=$(for o in $(grep -oE '^#   --[a-z-]+' "$CONF" | sed 's/^#   //'); do
	grep -q -- "$o" <<<"$DAEMON_HELP" || printf '%s ' "$o"; done)
assert_eq "every option the sample configuration shows exists" "" "$missing"
assert_true "the nix-daemon drop-in example points at the installed plugin" \
	grep -q "plugin-files = $LIBDIR/nix-analytics/libnix-analytics.so" "$DEST$PREFIX/share/doc/nix-analytics/examples/nix-daemon-analytics.conf"

# --- the units' command lines start the installed daemon ---
# ExecStart of each unit, with its directories moved under $T (and %t, %S as systemd expands
# them for a user), the sample configuration's NIX_ANALYTICSD_OPTIONS, and this test's
# private discovery scope and no cgroups (later options win): the daemon must accept every
# option the unit gives it and answer on the unit's socket directory.
run_unit_cmdline() { # DESCRIPTION UNIT-FILE SOCKET-DIR-IN-UNIT HISTORY-UNDER-$T
	local desc=$1 unit=$2 sockdir=$3 history=$4 line pid
	line=$(sed -n 's/^ExecStart=//p' "$unit")
	line=${line//\$NIX_ANALYTICSD_OPTIONS/$(bash -c "source '$CONF'; printf '%s' \"\$NIX_ANALYTICSD_OPTIONS\"")}
	line=${line//\/run\/nix-analytics/$T/run/nix-analytics}
	line=${line//\/var\/lib\/nix-analytics/$T/state}
	line=${line//%t/$T/run}
	line=${line//%S/$T/state}
	line=${line/#$PREFIX/$DEST$PREFIX}
	local -a argv
	eval "argv=($line)"
	rm -rf "$T/run" "$T/state"
	"${argv[@]}" --discover-scope $$ --no-cgroups >"$T/unit-daemon.log" 2>&1 &
	pid=$!
	up() { "$NA_CTL" -s "$T/run/nix-analytics" status >/dev/null 2>&1; }
	wait_for 20 "$desc: the daemon answers" up && pass "$desc: the daemon starts with the unit's options and answers on $sockdir"
	# (the history thread creates the file after the sockets answer)
	wait_for 10 "$desc: history where the unit puts it ($history)" test -e "$T/$history" &&
		pass "$desc: history where the unit puts it"
	stop_pid "$pid" 10
	assert_eq "$desc: it exits 0 on SIGTERM" 0 "$STOP_RC"
}
run_unit_cmdline "system unit" "$DEST$SYS_UNIT" /run/nix-analytics state/history.db
run_unit_cmdline "user unit" "$DEST$USER_UNIT" '%t/nix-analytics' state/nix-analytics/history.db
