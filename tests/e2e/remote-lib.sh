# A real ssh remote builder on loopback for the remote-*.sh tests (sourced after lib.sh).
#
# sshd on 127.0.0.1:$REMOTE_PORT with its own host key and authorized keys (all in $T), an ssh
# client configuration naming it "nixremote" (given to ssh, Nix and the daemon through
# NIX_SSHOPTS="-F $T/ssh_config", so ~/.ssh is never touched), and remote-programs that run
# nix-store / nix-daemon over a private store ($T/rnix bind-mounted over /nix in a new mount
# namespace) with their own build users (nixrbld1..4): two stores sharing build users kill
# each other's builds. The sshd login gets NIX_ANALYTICS_SOCKET_DIR=$T/rsock, so a
# nix-analyticsd started "on the remote" (under that login) has its own socket directory.
# Everything started here is tracked by pid.

REMOTE_PORT=${REMOTE_PORT:-2222}
REMOTE_HOST=nixremote
# The remote's build users: tests that may run beside other remote tests (another tree's
# run of the same suite) take a group of their own, or each store's Nix kills the other's
# builders. With REMOTE_BUILD_GROUP_PREFIX the group is named after the port in use (one
# sshd per port at a time, so one run per group).
REMOTE_BUILD_GROUP=${REMOTE_BUILD_GROUP:-nixrbld}

# Installs the remote's build users once (idempotent; they stay, like nix-bin's nixbld users).
remote_users() {
	local g=$REMOTE_BUILD_GROUP i
	getent group "$g" >/dev/null || groupadd -r "$g" || die "groupadd $g failed"
	for i in 1 2 3 4; do
		id "$g$i" >/dev/null 2>&1 ||
			useradd -r -g "$g" -G "$g" -M -N -d /var/empty -s /usr/sbin/nologin "$g$i" ||
			die "useradd $g$i failed"
	done
}

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ssh_host_entry NAME PORT: an ssh_config entry for root on the loopback sshd at PORT (its
# host key is known as $REMOTE_HOST's).
ssh_host_entry() {
	cat <<EOF
Host $1
  HostName 127.0.0.1
  Port $2
  User root
  IdentityFile $T/id
  IdentitiesOnly yes
  HostKeyAlias $REMOTE_HOST
  UserKnownHostsFile $T/known_hosts
  StrictHostKeyChecking yes
EOF
}

remote_setup() {
	command -v sshd >/dev/null || [[ -x /usr/sbin/sshd ]] || skip "sshd is not installed (scripts/deps.sh installs openssh-server)"
	command -v ssh >/dev/null || skip "ssh is not installed (scripts/deps.sh installs openssh-client)"
	command -v unshare >/dev/null || skip "unshare is not installed"
	# The first free port from REMOTE_PORT: another tree's test may hold it.
	local first=$REMOTE_PORT
	while ! port_free "$REMOTE_PORT" || [[ $REMOTE_PORT == "$CLOSED_PORT" ]]; do
		REMOTE_PORT=$((REMOTE_PORT + 1))
		((REMOTE_PORT < first + 64)) || die "no free port on 127.0.0.1 from $first to $REMOTE_PORT for the loopback sshd"
	done
	[[ -n ${REMOTE_BUILD_GROUP_PREFIX:-} ]] && REMOTE_BUILD_GROUP=$REMOTE_BUILD_GROUP_PREFIX$REMOTE_PORT
	remote_users

	ssh-keygen -q -t ed25519 -N '' -f "$T/host_key" || die "ssh-keygen (host) failed"
	ssh-keygen -q -t ed25519 -N '' -f "$T/id" || die "ssh-keygen (client) failed"
	cp "$T/id.pub" "$T/authorized_keys"
	chmod 600 "$T/authorized_keys"
	printf '%s %s\n' "$REMOTE_HOST" "$(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"
	mkdir -p "$T/rsock" /run/sshd
	cat >"$T/sshd_config" <<EOF
Port $REMOTE_PORT
ListenAddress 127.0.0.1
HostKey $T/host_key
PidFile $T/sshd.pid
AuthorizedKeysFile $T/authorized_keys
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
MaxStartups 100:30:200
MaxSessions 100
SetEnv NIX_ANALYTICS_SOCKET_DIR=$T/rsock
EOF
	# OpenSSH 9.8 and later penalise a source address whose connections fail or go away
	# abruptly, and every loopback client of every run here is 127.0.0.1: not in a test
	# (older sshd, bookworm's 9.2, knows no such option and refuses it).
	if /usr/sbin/sshd -t -f "$T/sshd_config" -o PerSourcePenalties=no 2>/dev/null; then
		echo 'PerSourcePenalties no' >>"$T/sshd_config"
	fi
	ssh_host_entry "$REMOTE_HOST" "$REMOTE_PORT" >"$T/ssh_config"
	cat >>"$T/ssh_config" <<EOF
Host closedport
  HostName 127.0.0.1
  Port $CLOSED_PORT
  User root
  IdentityFile $T/id
  IdentitiesOnly yes
  UserKnownHostsFile $T/known_hosts
  StrictHostKeyChecking yes
EOF
	export NIX_SSHOPTS="-F $T/ssh_config"

	# The remote's own store, and remote-programs entering it: the Nix under test (the first
	# on this PATH; an ssh login's PATH is sshd's own).
	mkdir -p "$T/rnix/store" "$T/rnix/var/nix"
	local prog
	for prog in nix-store nix-daemon; do
		cat >"$T/remote-$prog" <<EOF
#!/bin/sh
export NIX_CONFIG='build-users-group = $REMOTE_BUILD_GROUP
substituters =
sandbox = false'
exec unshare -m sh -c 'mount --bind $T/rnix /nix && exec $(command -v $prog) "\$@"' $prog "\$@"
EOF
		chmod +x "$T/remote-$prog"
	done

	/usr/sbin/sshd -D -e -f "$T/sshd_config" >"$T/sshd.log" 2>&1 &
	SSHD_PID=$!
	track "$SSHD_PID"
	log "sshd pid $SSHD_PID on 127.0.0.1:$REMOTE_PORT"
	wait_for 10 "sshd accepts a login" ssh -F "$T/ssh_config" -o BatchMode=yes "$REMOTE_HOST" true ||
		die "cannot log in to the loopback sshd: $(tail -n 5 "$T/sshd.log")"
}

# A port nothing listens on (for the machine that must show as down).
CLOSED_PORT=${CLOSED_PORT:-2223}

# remote_add_host NAME SOCKDIR: one more loopback sshd (the next free port, the same keys),
# named NAME in ssh_config, whose logins get NIX_ANALYTICS_SOCKET_DIR=SOCKDIR: another "host"
# for the tests that show several. After remote_setup; its pid is in SSHD_PIDS[NAME].
declare -A SSHD_PIDS
remote_add_host() {
	local name=$1 dir=$2 port=$((REMOTE_PORT + 1))
	while ! port_free "$port" || [[ $port == "$CLOSED_PORT" ]]; do
		port=$((port + 1))
		((port < REMOTE_PORT + 128)) || die "no free port for the sshd of $name"
	done
	mkdir -p "$dir"
	sed -e "s|^Port .*|Port $port|" -e "s|^PidFile .*|PidFile $T/sshd-$name.pid|" \
		-e "s|^SetEnv .*|SetEnv NIX_ANALYTICS_SOCKET_DIR=$dir|" "$T/sshd_config" >"$T/sshd_config-$name"
	ssh_host_entry "$name" "$port" >>"$T/ssh_config"
	/usr/sbin/sshd -D -e -f "$T/sshd_config-$name" >"$T/sshd-$name.log" 2>&1 &
	SSHD_PIDS[$name]=$!
	track "${SSHD_PIDS[$name]}"
	log "sshd of $name: pid ${SSHD_PIDS[$name]} on 127.0.0.1:$port, sockets in $dir"
	wait_for 10 "sshd of $name accepts a login" ssh -F "$T/ssh_config" -o BatchMode=yes "$name" true ||
		die "cannot log in to the sshd of $name: $(tail -n 5 "$T/sshd-$name.log")"
}
