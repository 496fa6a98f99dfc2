#!/usr/bin/env bash
# The Nix side of packaging, on a machine without nixpkgs: every .nix file of the tree parses
# (nix-instantiate --parse); nix/module.nix is evaluated with a stand-in for the part of
# nixpkgs' lib it uses (tests/e2e/nix/module-eval.nix: declared options, defaults and types,
# the config it produces for NixOS-like scenarios, its assertions); flake.nix's outputs are
# evaluated with a stand-in nixpkgs input (tests/e2e/nix/flake-eval.nix). Building the
# packages and running the VM tests needs nixpkgs: `nix flake check` does that elsewhere.
# Run as `bash pkg-nix.sh DAEMON CTL BUILD-ROOT SOURCE-ROOT`.
source "$(dirname "$0")/lib.sh"

SRC_ROOT=${4:?usage: $0 DAEMON CTL BUILD-ROOT SOURCE-ROOT}
check_binaries
command -v nix-instantiate >/dev/null || skip "nix-instantiate missing (package nix-bin)"
export NIX_CONFIG='substituters ='
unset NIX_PATH

# --- every .nix file parses ---
mapfile -t FILES < <(cd "$SRC_ROOT" && git ls-files '*.nix' 2>/dev/null || find . -name '*.nix' -not -path './build*')
assert_ge "the tree has the flake, the module, the package and 5 VM tests (>= 10 .nix files)" 10 "${#FILES[@]}"
bad=""
for f in "${FILES[@]}"; do
	nix-instantiate --parse "$SRC_ROOT/$f" >/dev/null 2>"$T/parse.err" || bad+="$f: $(head -n 3 "$T/parse.err") "
done
assert_eq "every .nix file parses" "" "$bad"
for f in flake.nix nix/package.nix nix/module.nix nix/dev-vms.nix nix/tests/standard.nix \
	nix/tests/custom-socket-dir.nix nix/tests/root-no-daemon.nix nix/tests/rootless.nix nix/tests/e2e.nix; do
	assert_true "$f exists" test -s "$SRC_ROOT/$f"
done

# --- the module ---
EVAL="$SRC_ROOT/tests/e2e/nix/module-eval.nix"
ev() { nix-instantiate --eval --strict --json "$EVAL" --argstr scenario "$1" 2>"$T/eval.err"; }
ok() { local out; out=$(ev "$1") || fail "module evaluation, scenario $1" "$(head -c 1500 "$T/eval.err")"; printf '%s' "$out"; }

D=$(ok default)
assert_json "the module declares the issue's options" "$D" '.options | contains(["enable", "package",
	"pluginPackage", "socketDir", "adminGroup", "history.enable", "history.maxAgeDays", "history.maxRows",
	"sampleInterval", "logBudget", "machines.pollInterval", "machines.pollTimeout", "captureMethod", "nixCgroups",
	"userService.enable", "extraArgs"])'
assert_json "every default has its declared type" "$D" '.errors == []'
assert_json "defaults: /run/nix-analytics, the plugin for Nix 2.18, cgroups, admin group nix-analytics" "$D" \
	'.values.socketDir == "/run/nix-analytics" and .values.captureMethod == "plugin" and .values.nixCgroups and .values.adminGroup == "nix-analytics"'
assert_json "the plugin package is built against config.nix.package (2.18.1) with -Dplugin=enabled" "$D" \
	'.values.pluginPackage.nixVersion == "2.18.1" and (.values.pluginPackage.mesonFlags | index("-Dplugin=enabled") != null) and .values.pluginPackage.name == "nix-analytics-plugin-0.1.0"'
assert_json "the main package leaves the plugin out and builds its tests and man pages" "$D" \
	'.values.package.mesonFlags | contains(["-Dplugin=disabled", "-Dtests=enabled", "-Dman=enabled"])'
SVC='.config.systemd.services["nix-analytics"]'
assert_json "service: Type=notify, watchdog, restart, delegated cgroup, KillMode=process" "$D" \
	"$SVC.serviceConfig | .Type == \"notify\" and .WatchdogSec == \"30s\" and .Restart == \"on-failure\" and .Delegate == true and .KillMode == \"process\""
assert_json "service: sandboxed (ProtectSystem=strict, NoNewPrivileges, a capability bounding set)" "$D" \
	"$SVC.serviceConfig | .ProtectSystem == \"strict\" and .NoNewPrivileges and (.CapabilityBoundingSet | index(\"CAP_KILL\") != null)"
assert_json "service: the daemon on the socket directory, history, admin group" "$D" \
	"$SVC.serviceConfig.ExecStart | test(\"/bin/nix-analyticsd '--socket-dir' '/run/nix-analytics' '--history-db' '/var/lib/nix-analytics/history.db' .*'--admin-group' 'nix-analytics'\")"
assert_json "service: NIX_ANALYTICS_SOCKET_DIR, socket dir writable, before nix-daemon" "$D" \
	"$SVC | .environment.NIX_ANALYTICS_SOCKET_DIR == \"/run/nix-analytics\" and .serviceConfig.ReadWritePaths == [\"/run/nix-analytics\"] and .before == [\"nix-daemon.service\"]"
assert_json "sessions get NIX_ANALYTICS_SOCKET_DIR; tmpfiles creates the directory" "$D" \
	'.config.environment.sessionVariables.NIX_ANALYTICS_SOCKET_DIR == "/run/nix-analytics" and .config.systemd.tmpfiles.rules == ["d /run/nix-analytics 0755 root root -"]'
assert_json "the plugin goes to nix-daemon only (its NIX_CONFIG), with analytics-socket" "$D" \
	'.config.systemd.services["nix-daemon"].environment.NIX_CONFIG == "plugin-files = /nix/store/00000000000000000000000000000000-nix-analytics-plugin-0.1.0/lib/nix-analytics/libnix-analytics.so\nanalytics-socket = /run/nix-analytics/events.sock"'
assert_json "nothing plugin-related in nix.conf (nix.settings)" "$D" \
	'(.config.nix.settings | has("plugin-files") or has("analytics-socket") or has("json-log-path")) | not'
assert_json "cgroups for builds: use-cgroups, the cgroups feature, Delegate on nix-daemon" "$D" \
	'.config.nix.settings == {"experimental-features": ["cgroups"], "use-cgroups": true} and .config.systemd.services["nix-daemon"].serviceConfig.Delegate == true'
assert_json "the admin group is created; the package is installed" "$D" \
	'.config.users.groups == {"nix-analytics": {}} and .config.environment.systemPackages == ["nix-analytics-0.1.0"]'
assert_json "no failed assertion" "$D" '.failedAssertions == []'

out=$(ok disabled)
assert_json "disabled: no configuration at all" "$out" '.config == {}'
out=$(ok custom)
# (\u0027 is a single quote: ExecStart quotes each argument)
assert_json "custom socketDir: the service, the sessions, tmpfiles and the plugin use it" "$out" \
	'(.config.systemd.services["nix-analytics"].serviceConfig.ExecStart | contains("--socket-dir\u0027 \u0027/run/na-custom\u0027"))
	and .config.environment.sessionVariables.NIX_ANALYTICS_SOCKET_DIR == "/run/na-custom"
	and .config.systemd.tmpfiles.rules == ["d /run/na-custom 0755 root root -"]
	and (.config.systemd.services["nix-daemon"].environment.NIX_CONFIG | endswith("analytics-socket = /run/na-custom/events.sock"))'
assert_json "custom: history off, no admin group, sampling, log budget, polling and extra options passed on" "$out" \
	'(.config.systemd.services["nix-analytics"].serviceConfig.ExecStart | contains("--history-db\u0027 \u0027none") and contains("--sample-interval\u0027 \u00270.5") and contains("--log-budget\u0027 \u00278M\u0027") and contains("--machines-poll-interval\u0027 \u00270\u0027") and contains("--log-ring\u0027 \u00272000") and (contains("--admin-group") | not)) and ((.config.users.groups // {}) == {})'
out=$(ok nix231-json)
assert_json "Nix 2.31, json-log-path: nix-daemon writes to events.sock, no plugin" "$out" \
	'.config.systemd.services["nix-daemon"].environment.NIX_CONFIG == "json-log-path = /run/nix-analytics/events.sock" and .failedAssertions == []'
out=$(ok nix235)
assert_json "Nix 2.35 (no plugin possible): json-log-path by default" "$out" '.values.captureMethod == "json-log-path" and .failedAssertions == []'
out=$(ok nix28)
assert_json "Nix 2.8: the plugin, and no use-cgroups (needs 2.12)" "$out" \
	'.values.captureMethod == "plugin" and .values.nixCgroups == false and (.config.nix // {} | has("settings") | not)'
out=$(ok nix28-json)
assert_json "Nix 2.8 with json-log-path: an assertion says it needs 2.30" "$out" '.failedAssertions | length == 1 and (.[0] | contains("needs CppNix >= 2.30"))'
out=$(ok lix)
assert_json "Lix: neither plugin nor json-log-path by default; nix-daemon's environment untouched" "$out" \
	'.values.captureMethod == "none" and (.config.systemd.services["nix-daemon"].environment == null)'
out=$(ok lix-plugin)
assert_json "Lix with the plugin: an assertion refuses it" "$out" '.failedAssertions | length == 1 and (.[0] | contains("needs CppNix 2.8 to 2.34"))'
out=$(ok user-only)
assert_json "userService alone: a rootless user unit on %t/nix-analytics, no system service" "$out" \
	'(.config.systemd.services // {} | has("nix-analytics") | not) and (.config.systemd.user.services["nix-analytics"].serviceConfig | .Type == "notify" and (.ExecStart | contains("--socket-dir %t/nix-analytics")))'
out=$(nix-instantiate --eval --strict --json -E "(import $EVAL { scenario = \"bad-types\"; }).errors" 2>&1)
assert_json "wrong types and unknown options are reported, each with its option" "$out" \
	'length == 5 and any(.[]; . == "services.nix-analytics.sockeDir: no such option") and any(.[]; startswith("services.nix-analytics.logBudget: \"lots\" is not a string matching")) and any(.[]; startswith("services.nix-analytics.socketDir: 5 is not a str")) and any(.[]; startswith("services.nix-analytics.history.maxRows: -1")) and any(.[]; startswith("services.nix-analytics.captureMethod: \"magic\""))'

# --- the flake ---
F=$(nix-instantiate --eval --strict --json "$SRC_ROOT/tests/e2e/nix/flake-eval.nix" 2>"$T/flake.err") ||
	fail "flake.nix outputs evaluate" "$(head -c 1500 "$T/flake.err")"
printf '%s\n' "$F" >"$T/flake.json"
assert_json "flake outputs: packages, overlays, nixosModules, devShells, checks, apps" "$F" \
	'.outputs | contains(["packages", "overlays", "nixosModules", "devShells", "checks", "apps"])'
assert_json "packages: default (daemon, TUI, CLI) and nix-analytics-plugin" "$F" \
	'.packages["x86_64-linux"] == {"default": "nix-analytics-0.1.0", "nix-analytics": "nix-analytics-0.1.0", "nix-analytics-plugin": "nix-analytics-plugin-0.1.0"}'
assert_json "the overlay adds both packages; the module is nix/module.nix" "$F" \
	'.overlay == ["nix-analytics", "nix-analytics-plugin"] and (.moduleImports[0] | endswith("/nix/module.nix"))'
assert_json "checks: the package's suites and the five VM tests, each with a script" "$F" \
	'.checks["x86_64-linux"] | (keys == ["custom-socket-dir", "e2e", "package", "plugin", "root-no-daemon", "rootless", "standard"]) and ([.standard, .["custom-socket-dir"], .["root-no-daemon"], .rootless, .e2e] | all(.script | length > 100))'
assert_json "apps: the three dev VMs" "$F" \
	'.apps["x86_64-linux"] | keys == ["dev-vm", "dev-vm-daemonless", "dev-vm-root"] and (.["dev-vm"].program | endswith("/bin/run-dev-vm-vm"))'
assert_json "the dev shell has the toolchain and test tools" "$F" '.devShell | contains(["clang", "clang-tools", "jq", "tmux", "scdoc"])'
assert_json "every VM test's and dev VM's services.nix-analytics settings are declared options of the right types, with no failed assertion" "$F" \
	'[.vmTestNodes[][], .nixosConfigurations[]] | length == 8 and all(.errors == [] and .failedAssertions == [])'
assert_json "the VM tests configure what they test" "$F" \
	'.vmTestNodes | .standard.machine.enable and .["custom-socket-dir"].machine.socketDir == "/run/na-custom" and .["root-no-daemon"].machine.enable and (.rootless.machine | .userService and (.enable | not))'
assert_json "the dev VMs: with nix-daemon, root without daemon (no capture), rootless" "$F" \
	'.nixosConfigurations | (.["dev-vm"] | .enable and .captureMethod == "plugin") and (.["dev-vm-root"] | .enable and .captureMethod == "none") and (.["dev-vm-daemonless"] | .userService and (.enable | not))'

# --- the VM tests' derivation (nix/tests/common.nix), really built here ---
# Its text is generated with the VM's bash and coreutils store paths; here they become "" so
# its builder is /bin/bash and its PATH /bin, and Nix 2.8 builds it as the VMs would.
TEXT=$(nix-instantiate --eval --strict --json -E "let s = import $SRC_ROOT/tests/e2e/nix/stub-nixpkgs/lib.nix;
	in (import $SRC_ROOT/nix/tests/common.nix { pkgs = s.mkPkgs { }; }).testDrvFile.text" 2>"$T/common.err" | jq -r .)
assert_contains "the VM tests' derivation names its builder by store path" 'builtins.storePath "/nix/store/' "$TEXT"
printf '%s\n' "$TEXT" | sed -E 's#builtins.storePath "/nix/store/0{32}-(bash|coreutils)"#""#' >"$T/na-test.nix"
nix_setup
OUT=$(nix-build "$T/na-test.nix" --argstr nonce "$NONCE" --argstr name na-vm-drv --arg seconds 1 --no-out-link 2>"$T/build.err")
assert_eq "it builds (nix-build exit 0)" 0 "$?"
assert_eq "its output" ok "$(cat "$OUT" 2>/dev/null)"
assert_eq "it printed a line every 0.25 s for 1 s" "$(printf 'na-vm-drv line %s\n' 1 2 3 4)" "$(grep 'na-vm-drv line' "$T/build.err")"

# --- the VM tests' Python scripts compile (the NixOS test driver runs them) ---
for t in standard custom-socket-dir root-no-daemon rootless e2e; do
	jq -r --arg t "$t" '.checks["x86_64-linux"][$t].script' "$T/flake.json" >"$T/vm-$t.py"
	out=$(python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' "$T/vm-$t.py" 2>&1)
	assert_eq "the $t VM test's script is valid Python" "" "$out"
done

# --- the module's units, rendered as NixOS renders them, pass systemd-analyze verify ---
# (serviceConfig lists become one line per element, booleans true/false; the placeholder
# package path becomes the daemon under test)
render_unit() { # JSON-OF-THE-SERVICE
	jq -r --arg daemon "$NA_DAEMON" '
		def val: if type == "boolean" then (if . then "true" else "false" end) else tostring end;
		def lines($k): if type == "array" then .[] | "\($k)=\(val)" else "\($k)=\(val)" end;
		"[Unit]",
		"Description=\(.description)",
		(if .documentation then "Documentation=\(.documentation | join(" "))" else empty end),
		(if .before then "Before=\(.before | join(" "))" else empty end),
		(if .startLimitIntervalSec then "StartLimitIntervalSec=\(.startLimitIntervalSec)" else empty end),
		(if .startLimitBurst then "StartLimitBurst=\(.startLimitBurst)" else empty end),
		"", "[Service]",
		((.environment // {}) | to_entries[] | "Environment=\"\(.key)=\(.value)\""),
		(.serviceConfig | to_entries[] | .key as $k | .value | lines($k)),
		"", "[Install]",
		(if .wantedBy then "WantedBy=\(.wantedBy | join(" "))" else empty end)
		| sub("/nix/store/0{32}-nix-analytics-[0-9.]+/bin/nix-analyticsd"; $daemon)'
}
mkdir -p "$T/units" "$T/user-units" "$T/xdg-runtime" && chmod 700 "$T/xdg-runtime"
printf '%s' "$D" | jq '.config.systemd.services["nix-analytics"]' | render_unit >"$T/units/nix-analytics.service"
assert_true "the module's service sets DelegateSubgroup=daemon (NixOS's systemd has it)" \
	grep -qx "DelegateSubgroup=daemon" "$T/units/nix-analytics.service"
SYSTEMD_VERSION=$(systemctl --version | awk 'NR == 1 {print $2}')
if ((SYSTEMD_VERSION < 254)); then
	log "systemd $SYSTEMD_VERSION here predates DelegateSubgroup= (254): verified without that line"
	sed -i '/^DelegateSubgroup=/d' "$T/units/nix-analytics.service"
fi
out=$(ok user-only)
printf '%s' "$out" | jq '.config.systemd.user.services["nix-analytics"]' | render_unit >"$T/user-units/nix-analytics.service"
assert_true "the rendered system unit runs the daemon under test" grep -q "^ExecStart=$NA_DAEMON '--socket-dir'" "$T/units/nix-analytics.service"
systemd-analyze verify --man=no "$T/units/nix-analytics.service" >"$T/verify.out" 2>&1
assert_eq "systemd-analyze verify: the module's system service, no complaint (exit 0, no output)" "0:" "$?:$(cat "$T/verify.out")"
XDG_RUNTIME_DIR="$T/xdg-runtime" systemd-analyze verify --user --man=no "$T/user-units/nix-analytics.service" >"$T/verify.out" 2>&1
assert_eq "systemd-analyze verify --user: the module's user service, no complaint" "0:" "$?:$(cat "$T/verify.out")"

# --- the module's command lines start the daemon under test ---
# (directories under $T, the admin group one that exists here; this test's discovery scope
# and no cgroups appended: later options win)
module_cmdline_runs() { # SCENARIO SOCKET-DIR
	local scenario=$1 sockdir=$2 line pid
	line=$(ok "$scenario" | jq -r '.config.systemd.services["nix-analytics"].serviceConfig.ExecStart')
	line=${line//$sockdir/$T/run-$scenario}
	line=${line//\/var\/lib\/nix-analytics/$T/state-$scenario}
	line=${line//\'nix-analytics\'/root}
	line=$(printf '%s' "$line" | sed -E "s#/nix/store/0{32}-nix-analytics-[0-9.]+/bin/nix-analyticsd#$NA_DAEMON#")
	local -a argv
	eval "argv=($line)"
	"${argv[@]}" --discover-scope $$ --no-cgroups >"$T/module-daemon-$scenario.log" 2>&1 &
	pid=$!
	up() { "$NA_CTL" -s "$T/run-$scenario" status >/dev/null 2>&1; }
	wait_for 20 "$scenario: the daemon answers" up &&
		pass "$scenario: the daemon starts with the module's ExecStart and answers on $sockdir"
	stop_pid "$pid" 10
	assert_eq "$scenario: it exits 0 on SIGTERM" 0 "$STOP_RC"
}
module_cmdline_runs default /run/nix-analytics
module_cmdline_runs custom /run/na-custom
