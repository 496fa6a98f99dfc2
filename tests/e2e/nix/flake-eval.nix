# Evaluates flake.nix's outputs with stub-nixpkgs standing in for the nixpkgs input (see
# stub-nixpkgs/lib.nix): every output attribute, the packages (through nix/package.nix), the
# VM tests' nodes and scripts, the apps' programs. For tests/e2e/pkg-nix.sh.
let
  stub = import ./stub-nixpkgs/lib.nix;
  flake = import ../../../flake.nix;
  nixpkgs = { outPath = ./stub-nixpkgs; inherit (stub) lib; };
  self = flake.outputs { inherit self nixpkgs; } // { outPath = ../../..; };
  names = builtins.mapAttrs (_: builtins.mapAttrs (_: p: p.name));
in
{
  inherit (flake) description;
  nixpkgsUrl = flake.inputs.nixpkgs.url;
  outputs = builtins.attrNames self;
  packages = names self.packages;
  checks = builtins.mapAttrs (_: builtins.mapAttrs (_: c: {
    inherit (c) name;
    script = c.testScript or null;
    nodes = builtins.attrNames (c.nodes or { });
  })) self.checks;
  apps = builtins.mapAttrs (_: builtins.mapAttrs (_: a: { inherit (a) type program; })) self.apps;
  devShell = map (p: p.name) self.devShells.x86_64-linux.default.packages;
  overlay = builtins.attrNames (self.overlays.default (stub.mkPkgs { }) { });
  moduleImports = map toString self.nixosModules.default.imports;
  nixosConfigurations = builtins.mapAttrs (_: c: builtins.length c.modules) self.nixosConfigurations;
}
