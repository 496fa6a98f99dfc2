# Rootless: alice's own nix-analyticsd (the module's user service) on
# $XDG_RUNTIME_DIR/nix-analytics, no system daemon. A build in her single-user store runs as
# her; her CLI sees it, freezes it by signals (no delegated cgroup) and thaws it.
{ pkgs, self }:
let common = import ./common.nix { inherit pkgs; };
in
pkgs.testers.runNixOSTest {
  name = "nix-analytics-rootless";
  nodes.machine = { ... }: {
    imports = [ self.nixosModules.default ];
    services.nix-analytics.userService.enable = true;
    users.users.alice = { isNormalUser = true; uid = 1000; linger = true; };
    environment.etc."na-test-host.nix".source = common.hostToolsDrvFile;
  };
  testScript = ''
    ${common.pythonHelpers}
    env = "XDG_RUNTIME_DIR=/run/user/1000"
    store = "NIX_STORE_DIR=/home/alice/nix/store NIX_STATE_DIR=/home/alice/nix/var/nix NIX_LOG_DIR=/home/alice/nix/var/log/nix NIX_REMOTE=local"
    machine.wait_for_unit("user@1000.service")
    machine.wait_until_succeeds("test -S /run/user/1000/nix-analytics/control.sock")
    assert ctl(machine, "status", user="alice", env=env)["socket_dir"] == "/run/user/1000/nix-analytics"
    machine.fail("test -e /run/nix-analytics/control.sock")

    # Her own store: the daemon is told its store directory.
    machine.succeed("su - alice -c 'XDG_RUNTIME_DIR=/run/user/1000 systemctl --user stop nix-analytics.service'")
    machine.succeed("su - alice -c 'XDG_RUNTIME_DIR=/run/user/1000 systemd-run --user --unit na-own -p Type=notify nix-analyticsd --store-dir /home/alice/nix/store'")
    # (the stopped daemon's socket file stays: wait for an answer, not for the file)
    wait_json(machine, "status", lambda r: r["pid"] > 0, "the restarted daemon", user="alice", env=env)
    machine.execute(f"su - alice -c '{env} {store} nix-build /etc/na-test-host.nix --argstr nonce rootless --argstr name na-own --arg seconds 20 --option sandbox false --no-out-link --log-format internal-json -v 2>&1 | {env} nix-analytics-ctl ingest' >/dev/null 2>&1 &")
    ps = wait_json(machine, "ps --json na-own", lambda r: r.get("builder"), "na-own's builder", user="alice", env=env)
    assert ps["control"] == "signals", ps
    r = ctl(machine, "freeze na-own", user="alice", env=env)
    assert r["mechanism"].startswith("SIGSTOP"), r
    wait_json(machine, "get-build na-own", lambda r: r["build"]["state"] == "frozen", "frozen", user="alice", env=env)
    ctl(machine, "thaw na-own", user="alice", env=env)
    wait_json(machine, "get-build na-own", lambda r: r["build"]["state"] == "succeeded", "succeeded", user="alice", env=env, timeout=90)
  '';
}
