# A stand-in for the part of nixpkgs that nix/*.nix and flake.nix use, for evaluating them on
# a machine without nixpkgs (tests/e2e/pkg-nix.sh). lib functions keep NixOS's meaning;
# packages are named placeholders (derivation-shaped sets that build nothing), except that
# callPackage really calls the expression it is given, so nix/package.nix is evaluated.
let
  inherit (builtins) isAttrs isList isString isBool isInt isFloat elem all attrNames filter
    foldl' hasAttr toJSON listToAttrs;

  lib = rec {
    mkOption = args: args // { _type = "option"; };
    mkEnableOption = what: mkOption {
      type = types.bool;
      default = false;
      description = "Whether to enable ${what}.";
    };
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    mkMerge = contents: { _type = "merge"; inherit contents; };
    mkOverride = priority: content: { _type = "override"; inherit priority content; };
    mkDefault = mkOverride 1000;
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    optionals = c: l: if c then l else [ ];
    optionalString = c: s: if c then s else "";
    optionalAttrs = c: a: if c then a else { };
    hasPrefix = p: s: builtins.substring 0 (builtins.stringLength p) s == p;
    versionAtLeast = a: b: builtins.compareVersions a b >= 0;
    versionOlder = a: b: builtins.compareVersions a b < 0;
    escapeShellArg = a: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString a) + "'";
    escapeShellArgs = l: builtins.concatStringsSep " " (map escapeShellArg l);
    mesonEnable = n: v: "-D${n}=${if v then "enabled" else "disabled"}";
    mesonOption = n: v: "-D${n}=${v}";
    genAttrs = names: f: listToAttrs (map (n: { name = n; value = f n; }) names);
    inherit (builtins) mapAttrs;
    licenses.mit = "mit";
    platforms.linux = [ "x86_64-linux" "aarch64-linux" ];
    # A NixOS system: its modules are kept, its VM is a placeholder.
    nixosSystem = { system, modules }: {
      inherit system modules;
      config.system.build.vm = fakeDrv "nixos-vm";
    };
    types = rec {
      mk = name: check: { inherit name check; };
      bool = mk "bool" isBool;
      str = mk "str" isString;
      strMatching = re: mk "string matching the pattern ${re}" (v: isString v && builtins.match re v != null);
      float = mk "float" isFloat;
      package = mk "package" (v: isAttrs v && (v.type or "") == "derivation");
      ints = {
        unsigned = mk "unsigned integer" (v: isInt v && v >= 0);
        positive = mk "positive integer" (v: isInt v && v > 0);
      };
      enum = l: mk "one of ${toJSON l}" (v: elem v l);
      nullOr = t: mk "null or ${t.name}" (v: v == null || t.check v);
      either = a: b: mk "${a.name} or ${b.name}" (v: a.check v || b.check v);
      listOf = t: mk "list of ${t.name}" (v: isList v && all t.check v);
    };
  };

  fakeDrv = name: { type = "derivation"; inherit name; outPath = "/nix/store/00000000000000000000000000000000-${name}"; };
  nixOf = pname: version: fakeDrv "${pname}-${version}" // { inherit pname version; };

  # pkgs for one Nix, with overlays applied as nixpkgs does (final, prev).
  mkPkgs = { nix ? nixOf "nix" "2.18.1", overlays ? [ ], system ? "x86_64-linux" }:
    let
      placeholders = listToAttrs (map (n: { name = n; value = fakeDrv n; }) [
        "bash" "coreutils" "gnugrep" "gnused" "gawk" "findutils" "procps" "util-linux" "jq" "tmux"
        "python3" "openssh" "systemd" "clang" "clang-tools" "gdb" "valgrind" "cmocka" "scdoc" "zsh"
        "fish" "htop" "meson" "ninja" "pkg-config" "cjson" "uthash" "sqlite" "ncurses" "boost"
        "nlohmann_json"
      ]);
      base = placeholders // {
        inherit lib nix system;
        stdenv.mkDerivation = attrs:
          attrs // fakeDrv "${attrs.pname}-${attrs.version}" // (attrs.passthru or { });
        callPackage = path: args:
          let
            f = import path;
            fargs = builtins.functionArgs f;
            # As nixpkgs' callPackage: what pkgs has; other arguments without a default
            # become placeholders named after them; defaults stay.
            known = filter (n: hasAttr n final || !fargs.${n}) (attrNames fargs);
            auto = listToAttrs (map (n: { name = n; value = final.${n} or (fakeDrv n); }) known);
          in f (auto // args);
        writeText = name: text: fakeDrv name // { inherit text; };
        buildEnv = args: fakeDrv args.name // { inherit (args) paths; };
        mkShell = args: fakeDrv "nix-shell" // args;
        testers.runNixOSTest = args: fakeDrv "vm-test-run-${args.name}" // {
          inherit (args) name testScript nodes;
        };
      };
      final = foldl' (acc: overlay: acc // overlay final acc) base overlays;
    in final;
in
{
  inherit lib fakeDrv nixOf mkPkgs;
  pkgsFor = nix: mkPkgs { inherit nix; };
}
