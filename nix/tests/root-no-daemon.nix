# Nix run by root with no daemon (NIX_REMOTE=local): the plugin is not in nix.conf (by
# design), so root feeds the build with `ingest`, or loads the plugin for one command.
{ pkgs, self }:
let common = import ./common.nix { inherit pkgs; };
in
pkgs.testers.runNixOSTest {
  name = "nix-analytics-root-no-daemon";
  nodes.machine = { config, ... }: {
    imports = [ self.nixosModules.default ];
    services.nix-analytics.enable = true;
    nix.settings.substituters = [ ];
    environment.etc."na-test.nix".source = common.testDrvFile;
    environment.etc."na-plugin".text = "${config.services.nix-analytics.pluginPackage}/lib/nix-analytics/libnix-analytics.so";
  };
  testScript = ''
    ${common.pythonHelpers}
    machine.wait_for_unit("nix-analytics.service")
    machine.succeed("systemctl stop nix-daemon.socket nix-daemon.service")
    machine.succeed("NIX_REMOTE=local nix-build /etc/na-test.nix --argstr nonce root-ingest --argstr name na-ingest --no-out-link --log-format internal-json -v 2>&1 | nix-analytics-ctl ingest")
    b = wait_json(machine, "list-builds", lambda r: any(x["name"] == "na-ingest" and x["state"] == "succeeded" for x in r["builds"]), "the ingested build")
    assert [x for x in b["builds"] if x["name"] == "na-ingest"][0]["requester"]["uid"] == 0
    machine.succeed("NIX_REMOTE=local nix-build --option plugin-files $(cat /etc/na-plugin) /etc/na-test.nix --argstr nonce root-plugin --argstr name na-plugin --no-out-link")
    wait_json(machine, "list-builds", lambda r: any(x["name"] == "na-plugin" and x["state"] == "succeeded" for x in r["builds"]), "the plugin's build")
  '';
}
