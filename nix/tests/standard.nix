# Standard multi-user NixOS: services.nix-analytics.enable with the default sockets. The
# daemon starts empty; a build a user asks nix-daemon for (captured by the plugin loaded into
# nix-daemon, with no flag on the user's command) shows up with that user as requester,
# succeeds, and lands in history; the user's own CLI finds the daemon through the session's
# NIX_ANALYTICS_SOCKET_DIR.
{ pkgs, self }:
let common = import ./common.nix { inherit pkgs; };
in
pkgs.testers.runNixOSTest {
  name = "nix-analytics-standard";
  nodes.machine = { ... }: {
    imports = [ self.nixosModules.default ];
    services.nix-analytics.enable = true;
    users.users.alice = { isNormalUser = true; uid = 1000; };
    nix.settings.substituters = [ ];
    environment.etc."na-test.nix".source = common.testDrvFile;
  };
  testScript = ''
    ${common.pythonHelpers}
    machine.wait_for_unit("nix-analytics.service")
    machine.wait_for_unit("nix-daemon.socket")
    machine.succeed("test -S /run/nix-analytics/events.sock -a -S /run/nix-analytics/control.sock")
    machine.succeed("systemctl show -p Type --value nix-analytics.service | grep -qx notify")

    status = ctl(machine, "status")
    assert status["socket_dir"] == "/run/nix-analytics", status
    assert ctl(machine, "list-builds")["builds"] == [], "not empty at start"
    # Its own delegated cgroup (Delegate=yes): builds it adopts go under the service.
    assert status["sampler"]["cgroup_root_source"] == "delegated-service", status["sampler"]
    assert status["sampler"]["cgroup_service"].endswith("/nix-analytics.service"), status["sampler"]

    machine.succeed("su - alice -c 'echo $NIX_ANALYTICS_SOCKET_DIR' | grep -qx /run/nix-analytics")
    machine.succeed("su - alice -c 'nix-build /etc/na-test.nix --argstr nonce standard --no-out-link'")
    b = wait_json(machine, "list-builds", lambda r: any(x["name"] == "na-test" and x["state"] == "succeeded" for x in r["builds"]), "na-test succeeded")
    build = [x for x in b["builds"] if x["name"] == "na-test"][0]
    assert build["requester"]["uid"] == 1000, build["requester"]
    assert build["requester"]["user"] == "alice", build["requester"]
    h = wait_json(machine, "get-history --name na-test", lambda r: len(r["builds"]) == 1, "history row", user="alice")
    assert h["builds"][0]["state"] == "succeeded", h
    # The plugin is in nix-daemon's environment only (it runs now), not in nix.conf.
    machine.succeed("tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value nix-daemon.service)/environ | grep -q '^NIX_CONFIG=plugin-files = '")
    machine.fail("grep -q plugin-files /etc/nix/nix.conf")
    machine.succeed("man -w nix-analyticsd")
  '';
}
