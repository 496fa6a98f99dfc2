# The three interactive development VMs (`nix run .#dev-vm`, `.#dev-vm-root`,
# `.#dev-vm-daemonless`): log in as root (no password) or alice (password alice).
{ nixpkgs, self, system }:
let
  base = name: extra: nixpkgs.lib.nixosSystem {
    inherit system;
    modules = [
      self.nixosModules.default
      ({ pkgs, ... }: {
        networking.hostName = name;
        virtualisation.vmVariant.virtualisation = { memorySize = 2048; cores = 2; graphics = false; };
        users.users.root.initialHashedPassword = "";
        users.users.alice = { isNormalUser = true; initialPassword = "alice"; extraGroups = [ "wheel" ]; };
        services.getty.autologinUser = "root";
        environment.systemPackages = with pkgs; [ htop jq tmux ];
        system.stateVersion = "24.11";
      })
      extra
    ];
  };
in
{
  # Multi-user Nix: nix-daemon with the plugin, the system nix-analyticsd.
  dev-vm = base "dev-vm" { services.nix-analytics.enable = true; };
  # Nix run by root with no daemon: the system nix-analyticsd, builds fed by ingest.
  dev-vm-root = base "dev-vm-root" {
    services.nix-analytics = { enable = true; captureMethod = "none"; };
    environment.variables.NIX_REMOTE = "local";
    systemd.services.nix-daemon.enable = false;
    systemd.sockets.nix-daemon.enable = false;
  };
  # Rootless: no system daemon; every user gets their own (user service).
  dev-vm-daemonless = base "dev-vm-daemonless" {
    services.nix-analytics.userService.enable = true;
    users.users.alice.linger = true;
  };
}
