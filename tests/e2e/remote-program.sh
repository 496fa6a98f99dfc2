#!/usr/bin/env bash
# nix-analytics-remote-daemon (src/remote), the remote program of an ssh-ng:// machine: which
# nix-daemon command line it runs for each Nix. json-log-path to the machine's events socket
# only where Nix has it (CppNix 2.30 and later, not Lix) and the socket is there; else
# nix-daemon unchanged, arguments kept. The nix-daemon here is a stand-in that prints its
# version or its arguments (every Nix version cannot run on one machine); remote-view runs the
# script for real against the Nix under test (json-log-path on 2.34 in the sid matrix).
source "$(dirname "$0")/lib.sh"
PROG=$(cd "$E2E_DIR/../.." && pwd)/src/remote/nix-analytics-remote-daemon
[[ -x $PROG ]] || die "no $PROG"
mkdir -p "$T/sock"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/sock/events.sock"

# fake VERSION-LINE: a nix-daemon whose --version prints VERSION-LINE, else its arguments.
fake() {
	cat >"$T/nix-daemon" <<FAKE
#!/bin/sh
[ "\$1" = --version ] && { echo '$1'; exit 0; }
echo "\$*"
FAKE
	chmod +x "$T/nix-daemon"
}
run() { NIX_ANALYTICS_NIX_DAEMON=$T/nix-daemon NIX_ANALYTICS_SOCKET_DIR=${WHERE:-$T/sock} sh "$PROG" --stdio; }

fake 'nix-daemon (Nix) 2.34.8'
assert_eq "2.34: json-log-path to the events socket, --stdio kept" \
	"--option json-log-path $T/sock/events.sock --stdio" "$(run)"
fake 'nix-daemon (Nix) 2.30.0'
assert_eq "2.30.0: json-log-path" "--option json-log-path $T/sock/events.sock --stdio" "$(run)"
fake 'nix-daemon (Determinate Nix 3.11.2) 2.31.1'
assert_eq "Determinate Nix (CppNix 2.31): json-log-path" "--option json-log-path $T/sock/events.sock --stdio" "$(run)"
fake 'nix-daemon (Nix) 3.0.1'
assert_eq "3.0: json-log-path" "--option json-log-path $T/sock/events.sock --stdio" "$(run)"
fake 'nix-daemon (Nix) 2.29.2'
assert_eq "2.29: unchanged" "--stdio" "$(run)"
fake 'nix-daemon (Nix) 2.8.0'
assert_eq "2.8: unchanged" "--stdio" "$(run)"
fake 'nix-daemon (Lix, like Nix) 2.93.3'
assert_eq "Lix: unchanged (no json-log-path)" "--stdio" "$(run)"
fake 'nix-daemon (Nix) garbage'
assert_eq "an unreadable version: unchanged" "--stdio" "$(run)"
fake 'nix-daemon (Nix) 2.34.8'
assert_eq "no events socket (no nix-analyticsd there): unchanged" "--stdio" "$(WHERE=$T/none run)"
mkdir -p "$T/file" && : >"$T/file/events.sock"
assert_eq "a regular file where the socket should be: unchanged" "--stdio" "$(WHERE=$T/file run)"
