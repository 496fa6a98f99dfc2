# The end-to-end suites (tests/e2e/*.sh) in a NixOS VM, against the packaged binaries and
# real Nix as root. The scripts' derivations use /bin/sh with PATH=/usr/bin:/bin, as on
# Debian: /usr/bin gets the tools they call, and builds run unsandboxed.
{ pkgs, self }:
let
  tools = pkgs.buildEnv {
    name = "na-e2e-usr-bin";
    paths = with pkgs; [ coreutils gnugrep gnused gawk bash findutils procps util-linux ];
  };
  suites = [ "cli" "ingest" "daemon-clients" "bad-input" "actions-signals" "actions-cgroup" "history" "pkg-rootless" ];
in
pkgs.testers.runNixOSTest {
  name = "nix-analytics-e2e";
  nodes.machine = { ... }: {
    virtualisation.memorySize = 4096;
    virtualisation.cores = 2;
    nix.settings = { sandbox = false; substituters = [ ]; };
    # The suites build as root with no daemon, as on Debian: the store must be writable.
    boot.readOnlyNixStore = false;
    environment.systemPackages = with pkgs; [ self.packages.${pkgs.system}.default jq tmux python3 openssh systemd ];
    systemd.tmpfiles.rules = [ "L+ /usr/bin - - - - ${tools}/bin" ];
  };
  testScript = ''
    machine.wait_for_unit("multi-user.target")
    for suite in ${builtins.toJSON suites}:
        machine.succeed(f"cd /tmp && bash ${../../tests/e2e}/{suite}.sh $(command -v nix-analyticsd) $(command -v nix-analytics-ctl) >&2")
  '';
}
