# Acting on real Nix builds: two slow builds run side by side (a line every 0.5 s); the
# first is frozen, thawed, reniced and killed while the second must carry on untouched.
# Sourced by actions-cgroup.sh (builds adopted into cgroups of ours) and actions-signals.sh
# (daemon with --no-cgroups: SIGSTOP/SIGCONT/SIGKILL to the process group), with MODE set.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "acting on builds of nixbld users needs root"

ACTOR=na-e2e-actor
source "$E2E_DIR/lib-proc.sh"

# A second user, member of the group the daemon is told to trust (--admin-group).
ADMIN=na-e2e-admin ADMINS=na-e2e-admins
getent group "$ADMINS" >/dev/null || groupadd --system "$ADMINS" || die "cannot create group $ADMINS"
id "$ADMIN" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin -G "$ADMINS" "$ADMIN" ||
	die "cannot create user $ADMIN"
id -nG "$ADMIN" | grep -qw "$ADMINS" || usermod -aG "$ADMINS" "$ADMIN"

if [[ $MODE == cgroup ]]; then
	[[ -d /sys/fs/cgroup ]] || skip "no /sys/fs/cgroup on this machine"
	start_daemon --cgroup-root "$CGROOT" --sample-interval 0.5 --admin-group "$ADMINS"
	WANT_CONTROL=cgroup
else
	start_daemon --no-cgroups --sample-interval 0.5 --admin-group "$ADMINS"
	WANT_CONTROL=signals
fi

FILE="$E2E_DIR/nix/actions.nix"
log "nix-build -A a -A b (a: 50 s, b: 25 s) | ingest"
nix_bg "$FILE" -A a -A b --argstr nonce "$NONCE" --arg seconds 50 -k -j2

procs_json() { ctl ps --json "$1" 2>/dev/null; }
tracked() { [[ "$(procs_json "$1" | jq -r '.builder // empty')" =~ ^[0-9]+$ ]]; }
both_tracked() { tracked act-a && tracked act-b; }
wait_for 90 "both builds running with their builder process found" both_tracked ||
	die "builds never showed their processes"

PA=$(procs_json act-a)
PB=$(procs_json act-b)
printf '%s\n' "$PA" >"$T/ps-a.json"
assert_eq "act-a: acted on by $WANT_CONTROL" "$WANT_CONTROL" "$(printf '%s' "$PA" | jq -r .control)"
BUILDER_A=$(printf '%s' "$PA" | jq -r .builder)
BUILDER_B=$(printf '%s' "$PB" | jq -r .builder)
assert_eq "act-a's builder is a sh run by a nixbld user" "sh nixbld" \
	"$(ps -o comm=,user= -p "$BUILDER_A" | awk '{print $1, substr($2, 1, 6)}')"
assert_json "act-a: its builder leads its own session and is listed" "$PA" \
	"any(.processes[]; .pid == $BUILDER_A and .sid == $BUILDER_A and .comm == \"sh\")"
assert_json "act-a: processes are its own (none of act-b's)" "$PA" \
	"all(.processes[]; .pid != $BUILDER_B and .sid == $BUILDER_A)"
if [[ $MODE == cgroup ]]; then
	CG=$(printf '%s' "$PA" | jq -r '.cgroup.v2')
	assert_match "act-a's v2 cgroup is under our root" "^/sys/fs/cgroup/.*$CGROOT/build-" "$CG"
	assert_true "the builder really is in that cgroup" grep -qx "0::${CG#/sys/fs/cgroup/unified}" "/proc/$BUILDER_A/cgroup"
	assert_json "ps shows the group's owner" "$PA" '.cgroup.owner == "nix-analyticsd"'
else
	assert_json "no cgroup with --no-cgroups" "$PA" '.cgroup == null'
fi
wait_for 10 "get-build shows act-a's figures" \
	bash -c "[[ \$('$NA_CTL' -s '$SOCKDIR' get-build act-a | jq -r '.build.usage.procs // 0') -ge 1 ]]"
ctl ps act-a >"$T/ps-a.txt" 2>&1
assert_contains "ps prints a process table" "COMMAND" "$(cat "$T/ps-a.txt")"
assert_contains "ps shows the builder's command line, on one line" 'echo "a line $i"; sleep 0.5 done' "$(cat "$T/ps-a.txt")"

# Subscribers get each sample of a build's processes as a "processes" event.
python3 - "$SOCKDIR/control.sock" "$BUILDER_B" >"$T/sub.out" 2>&1 <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"id":1,"cmd":"subscribe","args":{"builds":false,"invocations":false,"processes":true}}\n')
buf, deadline = b"", time.time() + 5
s.settimeout(1)
while time.time() < deadline:
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        continue
    if not chunk:
        break
    buf += chunk
    for line in buf.split(b"\n")[:-1]:
        m = json.loads(line)
        if m.get("event") == "processes" and m.get("builder") == int(sys.argv[2]):
            print("got", m["build"], len(m["processes"]), m["usage"]["procs"])
            sys.exit(0)
print("no processes event for builder", sys.argv[2], buf[:500])
sys.exit(1)
PY
assert_eq "a subscriber receives processes events for act-b" 0 "$?"
assert_match "the event lists act-b's processes and figures" '^got [0-9]+ [1-9][0-9]* [1-9]' "$(cat "$T/sub.out")"

ctl_ok GB get-build act-a
assert_json "get-build carries the processes of a running build" "$GB" ".processes.builder == $BUILDER_A"
ctl_ok SNAP snapshot
assert_json "snapshot carries both builds' processes" "$SNAP" \
	"any(.processes[]; .builder == $BUILDER_A) and any(.processes[]; .builder == $BUILDER_B)"
if [[ $MODE == cgroup ]]; then
	assert_json "status shows the sampler and the host's layout" "$(ctl status)" \
		'.sampler.builds >= 2 and (.sampler.cgroups | IN("v2", "hybrid", "v1"))'
else
	assert_json "status shows the sampler, cgroups disabled" "$(ctl status)" \
		'.sampler.builds >= 2 and .sampler.cgroups == "disabled"'
fi

cpu_of() { field "$1" '(.usage.cpu_user + .usage.cpu_system)'; }

# --- freeze ---
ctl_ok FR freeze act-a
if [[ $MODE == cgroup ]]; then
	assert_eq "freeze: through cgroup.freeze" "cgroup-v2 cgroup.freeze" "$(printf '%s' "$FR" | jq -r .mechanism)"
else
	assert_match "freeze: by SIGSTOP to the process group" "^SIGSTOP to process group $BUILDER_A" \
		"$(printf '%s' "$FR" | jq -r .mechanism)"
fi
is_state() { [[ "$(field "$1" .state)" == "$2" ]]; }
wait_for 5 "act-a shows frozen" is_state act-a frozen && pass "act-a is frozen"
if [[ $MODE == cgroup ]]; then
	assert_true "the kernel says frozen (cgroup.events)" grep -qx "frozen 1" "$CG/cgroup.events"
else
	assert_eq "its builder is stopped (T)" T "$(ps -o stat= -p "$BUILDER_A" | cut -c1)"
fi
sleep 0.6 # a line in flight when it froze may still arrive
LA1=$(field act-a .log_lines) CA1=$(cpu_of act-a) LB1=$(field act-b .log_lines)
sleep 2.5
LA2=$(field act-a .log_lines) CA2=$(cpu_of act-a) LB2=$(field act-b .log_lines)
assert_eq "frozen: act-a's log stops" "$LA1" "$LA2"
assert_eq "frozen: act-a's CPU time stays flat" "$CA1" "$CA2"
assert_ge "meanwhile act-b goes on (log lines grow by >= 3 in 2.5 s)" $((LB1 + 3)) "$LB2"
assert_eq "act-b stays running" running "$(field act-b .state)"

# --- thaw ---
ctl_ok TH thaw act-a
wait_for 5 "act-a runs again" is_state act-a running && pass "act-a is running again"
log_grew() { (($(field act-a .log_lines) > LA2 + 1)); }
wait_for 5 "act-a's log resumes" log_grew && pass "thawed: act-a's log resumes"

# --- nice: every process of the build, new ones included ---
ctl_ok NI nice act-a 10
assert_contains "nice: by setpriority" "setpriority" "$(printf '%s' "$NI" | jq -r .mechanism)"
sleep 1.2 # new sleeps were started meanwhile
all_nice() {
	local pids p n=0
	pids=$(procs_json act-a | jq -r '.processes[].pid')
	for p in $pids; do
		ni=$(ps -o ni= -p "$p" 2>/dev/null | tr -d ' ') || continue
		[[ -z "$ni" ]] && continue
		[[ "$ni" == 10 ]] || return 1
		n=$((n + 1))
	done
	((n >= 1))
}
wait_for 5 "every process of act-a has niceness 10" all_nice && pass "every process of act-a has niceness 10"
assert_eq "act-b's builder keeps niceness 0" 0 "$(ps -o ni= -p "$BUILDER_B" | tr -d ' ')"
assert_eq "get-build shows nice 10" 10 "$(field act-a .usage.nice)"

# --- limits: through cgroups only ---
if [[ $MODE == signals ]]; then
	out=$(ctl cpu-limit act-a 0.5 2>&1)
	assert_eq "cpu-limit without cgroups exits 1" 1 "$?"
	assert_contains "cpu-limit without cgroups says why" "no writable cpu controller" "$out"
	out=$(ctl mem-limit act-a 1G 2>&1)
	assert_contains "mem-limit without cgroups says why" "no writable memory controller" "$out"
fi
out=$(ctl cpu-limit act-a 0 2>&1)
assert_eq "cpu-limit 0 is a usage error" 2 "$?"
out=$(ctl mem-limit act-a 12Q 2>&1)
assert_contains "mem-limit 12Q is refused with the accepted forms" "512M, 4G" "$out"

# --- who may act: a user who did not request the build ---
id "$ACTOR" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ACTOR" ||
	die "cannot create user $ACTOR"
chmod 755 "$T" "$SOCKDIR"
out=$(runuser -u "$ACTOR" -- "$NA_CTL" -s "$SOCKDIR" kill act-b 2>&1)
rc=$?
assert_eq "$ACTOR cannot kill root's build (exit 1)" 1 "$rc"
assert_contains "the refusal is permission-denied" "permission-denied" "$out"
assert_contains "the refusal says who may" "only root" "$out"
out=$(runuser -u "$ACTOR" -- "$NA_CTL" -s "$SOCKDIR" freeze act-b 2>&1)
assert_contains "$ACTOR cannot freeze it either" "permission-denied" "$out"
assert_eq "act-b still runs" running "$(field act-b .state)"
out=$(runuser -u "$ACTOR" -- "$NA_CTL" -s "$SOCKDIR" ps --json act-b 2>&1)
assert_json "$ACTOR may read act-b's processes" "$out" ".builder == $BUILDER_B"
assert_true "the daemon logged the refusal" grep -q "refused kill on build .* for $ACTOR" "$T/daemon.log"
out=$(runuser -u "$ADMIN" -- "$NA_CTL" -s "$SOCKDIR" nice act-b 0 2>&1)
assert_eq "a member of the admin group may act on root's build (nice act-b 0)" 0 "$?"
assert_json "the answer says what was done" "$out" '.action == "nice" and .nice == 0'
assert_true "the daemon logged who asked" grep -q "nice on build .* asked by $ADMIN" "$T/daemon.log"

# --- bad requests get precise errors; the daemon lives on ---
python3 - "$SOCKDIR/control.sock" >"$T/bad.out" 2>&1 <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rwb")
cases = [
    ({"cmd": "nice", "args": {"build": "act-b", "nice": 99}}, "bad-request"),
    ({"cmd": "nice", "args": {"build": "act-b", "nice": "x"}}, "bad-request"),
    ({"cmd": "cpu-limit", "args": {"build": "act-b", "cores": "abc"}}, "bad-request"),
    ({"cmd": "cpu-limit", "args": {"build": "act-b", "cores": -1}}, "bad-request"),
    ({"cmd": "cpu-limit", "args": {"build": "act-b"}}, "bad-request"),
    ({"cmd": "mem-limit", "args": {"build": "act-b", "bytes": "1K"}}, "bad-request"),
    ({"cmd": "mem-limit", "args": {"build": "act-b", "bytes": 1.5e30}}, "bad-request"),
    ({"cmd": "mem-limit", "args": {"build": "act-b", "bytes": [1]}}, "bad-request"),
    ({"cmd": "kill", "args": {"build": "no-such-build"}}, "not-found"),
    ({"cmd": "kill", "args": {}}, "bad-request"),
    ({"cmd": "get-processes", "args": {"build": 123456}}, "not-found"),
]
bad = 0
for i, (req, want) in enumerate(cases):
    req["id"] = i
    f.write((json.dumps(req) + "\n").encode()); f.flush()
    got = json.loads(f.readline())
    code = got.get("error", {}).get("code")
    if code != want:
        bad += 1
        print("FAIL", req, "->", got)
    else:
        print("ok", req["cmd"], code, got["error"]["message"])
sys.exit(1 if bad else 0)
PY
rc=$?
((rc == 0)) || cat "$T/bad.out" >&2
assert_eq "malformed action requests get precise errors" 0 "$rc"
assert_contains "the niceness error says the range" "from -20 to 19" "$(cat "$T/bad.out")"
assert_eq "act-b untouched by them" running "$(field act-b .state)"

# --- kill ---
ctl_ok KI kill act-a
if [[ $MODE == cgroup ]]; then
	assert_eq "kill: through cgroup.kill" "cgroup-v2 cgroup.kill" "$(printf '%s' "$KI" | jq -r .mechanism)"
else
	assert_match "kill: by SIGKILL to the process group" "^SIGKILL to process group $BUILDER_A" \
		"$(printf '%s' "$KI" | jq -r .mechanism)"
fi
assert_true "the daemon logged the kill with who asked" grep -q "kill on build .* asked by root (uid 0)" "$T/daemon.log"
wait_for 5 "act-a is marked killed" is_state act-a killed && pass "act-a is killed"
assert_eq "act-a: failure signal 9" 9 "$(field act-a .failure.signal)"
gone() { ! kill -0 "$BUILDER_A" 2>/dev/null; }
assert_true "act-a's builder is gone" gone
LB3=$(field act-b .log_lines)
sleep 1.5
assert_ge "act-b carries on after the kill" $((LB3 + 2)) "$(field act-b .log_lines)"
out=$(ctl freeze act-a 2>&1)
assert_contains "acting on a killed build: not-running" "not-running" "$out"

# --- the end: Nix's own verdict ---
wait_for 60 "nix-build ends (act-b finishes)" nix_done
assert_ne "nix-build fails (act-a was killed)" 0 "$(nix_rc)"
assert_true "Nix reports act-a killed by signal 9" grep -q "act-a.drv.*failed due to signal 9" "$T/events.raw"
is_final_b() { [[ "$(field act-b .state)" == succeeded ]]; }
wait_for 10 "act-b succeeds" is_final_b && pass "act-b succeeded, untouched"
assert_eq "act-a stays killed after Nix's report" killed "$(field act-a .state)"
assert_json "act-b's figures were sampled" "$(ctl get-build act-b)" '.build.usage.procs >= 0 and .build.usage.cpu_user >= 0'
if [[ $MODE == cgroup ]]; then
	groups_gone() { ! compgen -G "/sys/fs/cgroup/unified$CGROOT/build-*" >/dev/null; }
	wait_for 10 "the daemon removes the builds' cgroups" groups_gone && pass "build cgroups removed"
fi
