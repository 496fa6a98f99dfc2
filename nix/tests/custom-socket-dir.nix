# A custom socketDir: tmpfiles creates it, the service, the plugin (analytics-socket) and every
# session use it, and nothing listens in the default directory.
{ pkgs, self }:
let common = import ./common.nix { inherit pkgs; };
in
pkgs.testers.runNixOSTest {
  name = "nix-analytics-custom-socket-dir";
  nodes.machine = { ... }: {
    imports = [ self.nixosModules.default ];
    services.nix-analytics = {
      enable = true;
      socketDir = "/run/na-custom";
      adminGroup = "wheel";
    };
    users.users.alice = { isNormalUser = true; uid = 1000; };
    nix.settings.substituters = [ ];
    environment.etc."na-test.nix".source = common.testDrvFile;
  };
  testScript = ''
    ${common.pythonHelpers}
    machine.wait_for_unit("nix-analytics.service")
    machine.succeed("test -S /run/na-custom/control.sock")
    machine.fail("test -e /run/nix-analytics/control.sock")
    machine.succeed("su - alice -c 'echo $NIX_ANALYTICS_SOCKET_DIR' | grep -qx /run/na-custom")
    assert ctl(machine, "status", user="alice")["socket_dir"] == "/run/na-custom"
    machine.succeed("su - alice -c 'nix-build /etc/na-test.nix --argstr nonce custom --no-out-link'")
    wait_json(machine, "list-builds", lambda r: any(x["name"] == "na-test" and x["state"] == "succeeded" for x in r["builds"]), "the build through the custom socket", user="alice")
  '';
}
