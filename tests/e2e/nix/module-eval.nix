# Evaluates nix/module.nix and nix/package.nix without nixpkgs, for tests/e2e/pkg-nix.sh.
#
# nixpkgs is not on this machine, so the few lib functions the module uses are given by
# stub-nixpkgs/lib.nix with NixOS's meaning (mkOption, mkIf, mkMerge, the option types it declares, version
# comparisons), and a small evaluator does what the NixOS module system does for one module:
# option values are the declared defaults overridden by a scenario's settings, each checked
# against its declared type; the module's config is then resolved (mkIf, mkMerge, mkDefault, attribute
# sets merged recursively, lists concatenated, conflicting definitions an error). pkgs is the
# stand-in's, whose callPackage really calls nix/package.nix with a recording mkDerivation, so
# the package expression is evaluated too. What this cannot check: the real option types'
# merge semantics beyond these, the options of other NixOS modules the config sets
# (systemd.services.*, nix.settings, ...), and building anything; the flake's VM tests do.
{ scenario ? "default", settings ? null, nixVersion ? "2.18.1" }:

let
  inherit (builtins) isAttrs isList elem attrNames concatMap mapAttrs filter foldl' hasAttr toJSON;

  stub = import ./stub-nixpkgs/lib.nix;
  inherit (stub) lib fakeDrv nixOf pkgsFor;

  # ---- the evaluator ----
  isOption = v: isAttrs v && (v._type or "") == "option";
  # Option values: declared defaults, overridden by settings; type errors collected.
  valuesOf = decls: settings:
    mapAttrs (n: d:
      if isOption d then (if hasAttr n settings then settings.${n} else d.default)
      else valuesOf d (settings.${n} or { })) decls;
  typeErrors = prefix: decls: values:
    concatMap (n:
      let d = decls.${n}; v = values.${n}; p = "${prefix}.${n}";
      in if isOption d then (if d.type.check v then [ ] else [ "${p}: ${toJSON v} is not a ${d.type.name}" ])
         else typeErrors p d v) (attrNames decls);
  # Settings naming no declared option (a typo the module system would reject).
  unknownSettings = prefix: decls: settings:
    concatMap (n:
      let p = "${prefix}.${n}";
      in if !(hasAttr n decls) then [ "${p}: no such option" ]
         else if isOption decls.${n} then [ ]
         else unknownSettings p decls.${n} settings.${n}) (attrNames settings);
  optionPaths = prefix: decls:
    concatMap (n: if isOption decls.${n} then [ "${prefix}${n}" ] else optionPaths "${prefix}${n}." decls.${n})
      (attrNames decls);

  absent = { _absent = true; };
  isAbsent = v: isAttrs v && v ? _absent;
  isLeaf = v: !(isAttrs v) || (v.type or "") == "derivation" || v ? _type && !(elem v._type [ "if" "merge" "override" ]);
  resolve = v:
    if isAttrs v && (v._type or "") == "if" then (if v.condition then resolve v.content else absent)
    else if isAttrs v && (v._type or "") == "merge" then foldl' merge absent (map resolve v.contents)
    # One module defines each value once here: a priority has nothing to win against.
    else if isAttrs v && (v._type or "") == "override" then resolve v.content
    else if isLeaf v then v
    else
      let r = mapAttrs (_: resolve) v;
      in builtins.removeAttrs r (filter (n: isAbsent r.${n}) (attrNames r));
  merge = a: b:
    if isAbsent a then b
    else if isAbsent b then a
    else if isList a && isList b then a ++ b
    else if isAttrs a && isAttrs b && !(isLeaf a) && !(isLeaf b) then
      a // b // mapAttrs (n: _: merge a.${n} b.${n}) (builtins.intersectAttrs a b)
    else if a == b then a
    else throw "conflicting definitions: ${toJSON a} and ${toJSON b}";

  evalModule = { nix, settings }:
    let
      pkgs = pkgsFor nix;
      config = {
        services.nix-analytics = values;
        nix.package = nix;
        programs.ssh.package = fakeDrv "openssh-9.9p1";
      };
      m = import ../../../nix/module.nix { inherit config lib pkgs; };
      decls = m.options.services.nix-analytics;
      values = valuesOf decls settings;
      resolved = resolve m.config;
      out = if isAbsent resolved then { } else resolved;
    in {
      options = optionPaths "" decls;
      errors = unknownSettings "services.nix-analytics" decls settings
        ++ typeErrors "services.nix-analytics" decls values;
      inherit values;
      config = out;
      failedAssertions = map (a: a.message) (filter (a: !a.assertion) (out.assertions or [ ]));
    };

  # ---- scenarios ----
  nix218 = nixOf "nix" "2.18.1";
  scenarios = {
    default = { nix = nix218; settings.enable = true; };
    disabled = { nix = nix218; settings = { }; };
    custom = {
      nix = nix218;
      settings = {
        enable = true;
        socketDir = "/run/na-custom";
        adminGroup = null;
        history.enable = false;
        sampleInterval = 0.5;
        logBudget = "8M";
        machines.pollInterval = 0;
        extraArgs = [ "--log-ring" "2000" ];
      };
    };
    nix231-json = { nix = nixOf "nix" "2.31.2"; settings = { enable = true; captureMethod = "json-log-path"; }; };
    nix235 = { nix = nixOf "nix" "2.35.0"; settings.enable = true; };
    nix28 = { nix = nixOf "nix" "2.8.0"; settings.enable = true; };
    nix28-json = { nix = nixOf "nix" "2.8.0"; settings = { enable = true; captureMethod = "json-log-path"; }; };
    lix = { nix = nixOf "lix" "2.91.1"; settings.enable = true; };
    lix-plugin = { nix = nixOf "lix" "2.91.1"; settings = { enable = true; captureMethod = "plugin"; }; };
    user-only = { nix = nix218; settings.userService.enable = true; };
    bad-types = { nix = nix218; settings = { enable = true; socketDir = 5; history.maxRows = -1; captureMethod = "magic"; sockeDir = "/x"; logBudget = "lots"; }; };
  };
  # Given settings (e.g. a VM test's node, see flake-eval.nix) win over the named scenario.
  r = evalModule (if settings != null then { nix = nixOf "nix" nixVersion; inherit settings; } else scenarios.${scenario});
  drvSummary = d: { inherit (d) name; path = d.outPath; mesonFlags = d.mesonFlags or [ ]; nixVersion = d.nixVersion or null; };
in
  # Plain data for jq: packages as their names, paths and meson flags (an attribute set with
  # outPath would turn into that string alone).
  r // {
    values = r.values // {
      package = drvSummary r.values.package;
      pluginPackage = drvSummary r.values.pluginPackage;
    };
    config = r.config // lib.optionalAttrs (r.config ? environment) {
      environment = r.config.environment // {
        systemPackages = map (p: p.name) (r.config.environment.systemPackages or [ ]);
      };
    };
  }
