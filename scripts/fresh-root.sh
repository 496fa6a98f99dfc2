#!/usr/bin/env bash
# Runs a command in a freshly made Debian root, as a new user's machine would run it: a
# minbase debootstrap of SUITE from the machine's own Debian mirror, nothing else installed,
# with a copy of this repository in /srv/nix-analytics. The project's own setup (deps.sh)
# installs everything inside it. CI runs the suite this way (.ci/run); developers run the
# same thing with one command:
#
#   bash scripts/fresh-root.sh                         # the whole suite (scripts/test.sh)
#   bash scripts/fresh-root.sh bash scripts/demo.sh    # any command, run from the copy
#
# How: the pristine debootstrap result is cached (nothing the project installs ever is) and
# used read-only as the lower layer of an overlay; each run writes into its own upper layer,
# thrown away at the end. The run lives in private mount and PID namespaces, with the root
# as the namespace's own root: /proc, /dev, /sys (cgroups included) and a private /tmp, /run
# and /dev/shm are mounted inside, the host's mount table never changes, and when the command
# ends or the run is interrupted every process of the run dies with the namespace before its
# files are removed.
#
# usage: scripts/fresh-root.sh [--suite SUITE] [--refresh] [--keep] [--] [COMMAND...]
#   --suite SUITE  Debian suite of the root (default: the machine's own, e.g. bookworm)
#   --refresh      debootstrap anew even when a cached root exists
#   --keep         keep the run's upper layer (what the command changed) and say where
# env: NA_ROOT_CACHE (default /var/cache/nix-analytics/roots), NA_ROOT_WORK (default /var/tmp)
#      CI and TERM are passed into the root.
# The command's exit status is this script's. When the command printed a test tally
# ("N passed, N failed"), that line is printed again last, after the cleanup.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

SUITE=
REFRESH=
KEEP=
while (($#)); do
	case $1 in
	--suite) SUITE=${2:?--suite needs a value}; shift 2 ;;
	--refresh) REFRESH=1; shift ;;
	--keep) KEEP=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) echo "fresh-root: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) break ;;
	esac
done
(($#)) || set -- bash scripts/test.sh

if ((EUID != 0)); then
	command -v sudo >/dev/null || { echo "fresh-root: run as root (sudo is not installed)" >&2; exit 1; }
	exec sudo bash "$0" ${SUITE:+--suite "$SUITE"} ${REFRESH:+--refresh} ${KEEP:+--keep} -- "$@"
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HOST_SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
SUITE=${SUITE:-${HOST_SUITE:-bookworm}}
CACHE=${NA_ROOT_CACHE:-/var/cache/nix-analytics/roots}
WORK=${NA_ROOT_WORK:-/var/tmp}
T0=$SECONDS

say() { printf 'fresh-root: %s\n' "$*" >&2; }

# The machine's Debian mirror: the first 'deb' URI of the main archive (not -security), from
# the deb822 sources or the one-line list. Never a fixed host.
mirror() {
	local uri
	local f
	uri=$(for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] && awk '
			/^[[:space:]]*$/ { if (deb && uri && main) { print uri; found = 1; exit } deb = uri = main = 0; next }
			tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
			tolower($1) == "uris:" { uri = $2 }
			tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i !~ /-(security|updates|backports)$/) main = 1 }
			END { if (!found && deb && uri && main) print uri }' "$f"
	done | head -n 1)
	[[ -n $uri ]] || uri=$(awk '$1 == "deb" { u = ($2 ~ /^\[/) ? $3 : $2; s = ($2 ~ /^\[/) ? $4 : $3;
		if (s !~ /-(security|updates|backports)$/) { print u; exit } }' /etc/apt/sources.list 2>/dev/null || true)
	[[ -n $uri ]] || { say "no Debian 'deb' entry in /etc/apt/sources.list{,.d}: cannot tell which mirror to use"; return 1; }
	echo "$uri"
}

apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Use-Pty=0 "$@" >/dev/null 2>&1 || {
		apt-get -q update -o Dpkg::Use-Pty=0 >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Use-Pty=0 "$@" >/dev/null
	}
}

host_tools() {
	local missing=()
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	((${#missing[@]} == 0)) && return
	say "installing ${missing[*]} on this machine"
	apt_install "${missing[@]}"
}

# The pristine root: made once, kept read-only, remade after a week (or with --refresh) so
# that it stays close to what a fresh install gets.
PRISTINE=$CACHE/$SUITE-minbase
pristine_root() {
	local uri new
	if [[ -z $REFRESH && -f $PRISTINE/.nix-analytics-pristine &&
		-n $(find "$PRISTINE/.nix-analytics-pristine" -mtime -7 -print 2>/dev/null) ]]; then
		say "pristine $SUITE root: $PRISTINE (made $(cut -d' ' -f1 "$PRISTINE/.nix-analytics-pristine"))"
		return
	fi
	uri=$(mirror)
	mkdir -p "$CACHE"
	new=$(mktemp -d "$CACHE/$SUITE-minbase.new.XXXXXX")
	say "debootstrap --variant=minbase $SUITE from the machine's mirror"
	if ! debootstrap --variant=minbase "$SUITE" "$new" "$uri" >"$new.log" 2>&1; then
		tail -n 20 "$new.log" >&2
		rm -rf --one-file-system "$new" "$new.log"
		say "debootstrap failed"
		return 1
	fi
	if [[ $SUITE == "$HOST_SUITE" ]] && compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
		# A fresh install of this release also gets its -updates and -security suites: the
		# machine's own entries for them.
		cp /etc/apt/sources.list.d/*.sources "$new/etc/apt/sources.list.d/"
		rm -f "$new/etc/apt/sources.list"
	fi
	rm -f "$new.log"
	echo "$(date -u +%FT%TZ) $SUITE $uri" >"$new/.nix-analytics-pristine"
	rm -rf --one-file-system "$PRISTINE"
	mv "$new" "$PRISTINE"
	say "pristine $SUITE root made in $((SECONDS - T0)) s"
}

host_tools
pristine_root

RUN=$(mktemp -d "$WORK/na-fresh-root.XXXXXX")
NS_PID=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [[ -n $NS_PID ]] && kill -0 "$NS_PID" 2>/dev/null; then
		# unshare --kill-child: its child, the namespace's first process, gets SIGKILL when
		# unshare goes, and every process of the run with it.
		kill -KILL "$NS_PID" 2>/dev/null || true
		wait "$NS_PID" 2>/dev/null || true
	fi
	local tally=
	[[ -s $RUN.tally ]] && tally=$(cat "$RUN.tally")
	rm -f "$RUN.tally" "$RUN.out"
	if [[ -n $KEEP ]]; then
		say "kept the run's changes in $RUN/upper"
	else
		rm -rf --one-file-system "$RUN"
	fi
	say "done in $((SECONDS - T0)) s"
	[[ -z $tally ]] || printf '%s\n' "$tally"
	exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM HUP

mkdir -p "$RUN/upper/srv/nix-analytics" "$RUN/upper/etc" "$RUN/work" "$RUN/merged"
# One thing differs from a fresh install, in the run's own layer: system users (Nix's build
# users among them) get uids 600-799. The root shares the host's kernel and PIDs, and Nix
# kills every process of a build uid before it builds with it: with the same uids as the
# host's build users, a build on the host would kill the root's builds, and the other way.
sed -E 's/^(SYS_UID_MIN|SYS_UID_MAX|SYS_GID_MIN|SYS_GID_MAX)\b.*//' "$PRISTINE/etc/login.defs" >"$RUN/upper/etc/login.defs"
printf 'SYS_UID_MIN 600\nSYS_UID_MAX 799\nSYS_GID_MIN 600\nSYS_GID_MAX 799\n' >>"$RUN/upper/etc/login.defs"
# The repository as git sees it: tracked and new files, no build directories.
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
	tar --null -T - -cf -) | tar -xf - -C "$RUN/upper/srv/nix-analytics"
CMDLINE=$(printf '%s ' "$@" | tr -s '\n\t' '  ')
((${#CMDLINE} <= 100)) || CMDLINE="${CMDLINE:0:97}..."
say "running in a fresh $SUITE root ($RUN): $CMDLINE"

# Inside the namespaces: mount the root, make it the namespace's root (pivot_root, not
# chroot: Nix returns its children to its saved mount namespace with setns(), which puts them
# at that namespace's root, outside a chroot), then run the command in it.
# shellcheck disable=SC2016
INNER='
set -e
RUN=$1
shift
R=$RUN/merged
mount -t overlay overlay -o "lowerdir=$PRISTINE,upperdir=$RUN/upper,workdir=$RUN/work" "$R"
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"
mount --rbind /sys "$R/sys"
mount -t tmpfs -o mode=1777 tmp "$R/tmp"
mount -t tmpfs -o mode=755 run "$R/run"
cp -L /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
cd "$R"
pivot_root . .
umount -l .
exec /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" CI="${CI:-}" \
	bash -c "cd /srv/nix-analytics && exec \"\$@\"" bash "$@"
'
PRISTINE=$PRISTINE unshare --mount --pid --fork --kill-child --propagation private \
	bash -c "$INNER" bash "$RUN" "$@" > >(tee "$RUN.out") 2>&1 &
NS_PID=$!
set +e
wait "$NS_PID"
rc=$?
set -e
NS_PID=
grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$RUN.out" | tail -n 1 >"$RUN.tally" || true
exit "$rc"
