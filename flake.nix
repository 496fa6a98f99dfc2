{
  description = "nix-analytics: htop for Nix (daemon, TUI, CLI, Nix plugin, NixOS module)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f (import nixpkgs {
        inherit system;
        overlays = [ self.overlays.default ];
      }));
      devVms = system: import ./nix/dev-vms.nix { inherit nixpkgs self system; };
    in
    {
      # pkgs.nix-analytics (daemon, TUI, CLI) and pkgs.nix-analytics-plugin (against pkgs.nix).
      overlays.default = final: prev: {
        nix-analytics = final.callPackage ./nix/package.nix { };
        nix-analytics-plugin = final.callPackage ./nix/package.nix { pluginOnly = true; };
      };

      packages = forAllSystems (pkgs: {
        default = pkgs.nix-analytics;
        nix-analytics = pkgs.nix-analytics;
        nix-analytics-plugin = pkgs.nix-analytics-plugin;
      });

      # services.nix-analytics; its plugin is built against config.nix.package.
      nixosModules.default = {
        imports = [ ./nix/module.nix ];
        nixpkgs.overlays = [ self.overlays.default ];
      };

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ pkgs.nix-analytics pkgs.nix-analytics-plugin ];
          packages = with pkgs; [
            clang clang-tools gdb valgrind cmocka
            jq tmux python3 openssh scdoc zsh fish
          ];
        };
      });

      # Unit and fuzz-corpus suites run in the package's checkPhase; the end-to-end suites and
      # the NixOS VM tests run in VMs (nix/tests/).
      checks = forAllSystems (pkgs:
        let test = f: import f { inherit pkgs self; };
        in {
          package = pkgs.nix-analytics;
          plugin = pkgs.nix-analytics-plugin;
          e2e = test ./nix/tests/e2e.nix;
          standard = test ./nix/tests/standard.nix;
          custom-socket-dir = test ./nix/tests/custom-socket-dir.nix;
          root-no-daemon = test ./nix/tests/root-no-daemon.nix;
          rootless = test ./nix/tests/rootless.nix;
        });

      # Interactive development VMs: `nix run .#dev-vm` (multi-user, nix-daemon with the
      # plugin), `.#dev-vm-root` (Nix run by root with no daemon), `.#dev-vm-daemonless`
      # (a user's rootless daemon and single-user store).
      apps = nixpkgs.lib.genAttrs systems (system:
        nixpkgs.lib.mapAttrs (name: vm: {
          type = "app";
          program = "${vm.config.system.build.vm}/bin/run-${name}-vm";
        }) (devVms system));

      nixosConfigurations = devVms "x86_64-linux";
    };
}
