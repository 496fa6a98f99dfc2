# Evaluates flake.nix's outputs with stub-nixpkgs standing in for the nixpkgs input (see
# stub-nixpkgs/lib.nix): every output attribute, the packages (through nix/package.nix), the
# VM tests' nodes and scripts, the apps' programs. For tests/e2e/pkg-nix.sh.
let
  stub = import ./stub-nixpkgs/lib.nix;
  flake = import ../../../flake.nix;
  nixpkgs = { outPath = ./stub-nixpkgs; inherit (stub) lib; };
  self = flake.outputs { inherit self nixpkgs; } // { outPath = ../../..; };
  names = builtins.mapAttrs (_: builtins.mapAttrs (_: p: p.name));

  # services.nix-analytics as a NixOS system's modules set it: module functions are called
  # with stand-in arguments (only that attribute is read), settings merged recursively; then
  # evaluated by module-eval.nix (declared options only, types, assertions).
  moduleArgs = {
    config.services.nix-analytics.pluginPackage = stub.fakeDrv "nix-analytics-plugin";
    pkgs = stub.mkPkgs { overlays = [ self.overlays.default ]; };
    inherit (stub) lib;
  };
  settingsOf = m:
    let v = if builtins.isFunction m then m moduleArgs else m;
    in (v.services or { }).nix-analytics or { };
  deepMerge = a: b: a // builtins.mapAttrs (n: v:
    if builtins.isAttrs v && builtins.isAttrs (a.${n} or null) then deepMerge a.${n} v else v) b;
  evalSystem = modules:
    let e = import ./module-eval.nix { settings = builtins.foldl' deepMerge { } (map settingsOf modules); };
    in { inherit (e) errors failedAssertions; inherit (e.values) enable socketDir captureMethod adminGroup; userService = e.values.userService.enable; };
  checksWithNodes = builtins.removeAttrs self.checks.x86_64-linux [ "package" "plugin" ];
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
  nixosConfigurations = builtins.mapAttrs (_: c: evalSystem c.modules) self.nixosConfigurations;
  vmTestNodes = builtins.mapAttrs (_: c: builtins.mapAttrs (_: node: evalSystem [ node ]) c.nodes) checksWithNodes;
}
