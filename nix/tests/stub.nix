# The few pieces of nixpkgs' lib and pkgs that module.nix uses, for
# evaluating it offline with nix-instantiate (CI has no nixpkgs checkout).
# Only what the module calls is here; option types are not checked.
rec {
  lib = rec {
    mkOption = attrs: attrs // { _type = "option"; };
    mkEnableOption = name: mkOption { type = types.bool; default = false; description = "Whether to enable ${name}."; };
    mkIf = cond: content: if cond then content else { };
    types = {
      bool = "bool"; int = "int"; str = "str"; package = "package"; anything = "anything";
      listOf = t: "listOf"; attrsOf = t: "attrsOf"; nullOr = t: "nullOr"; either = a: b: "either";
      float = "float"; path = "path"; enum = l: "enum";
    };
    concatStrings = builtins.concatStringsSep "";
    concatStringsSep = builtins.concatStringsSep;
    filterAttrs = pred: set: builtins.listToAttrs (builtins.concatMap
      (name: if pred name set.${name} then [ { inherit name; value = set.${name}; } ] else [ ])
      (builtins.attrNames set));
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    optionalAttrs = cond: set: if cond then set else { };
  };
  pkgs = {
    vigil = "/nix/store/00000000000000000000000000000000-vigil";
    writeShellScriptBin = name: text: "/nix/store/00000000000000000000000000000000-${name}";
    callPackage = path: args: "/nix/store/00000000000000000000000000000000-vigil";
  };

  # eval evaluates the module the way the module system would for these
  # option values: every option takes its default unless overrides sets it.
  eval = overrides:
    let
      isOption = x: builtins.isAttrs x && (x._type or null) == "option";
      defaults = opts: if isOption opts then opts.default else builtins.mapAttrs (_: defaults) opts;
      merge = a: b: if builtins.isAttrs a && builtins.isAttrs b && !(isOption a)
        then a // builtins.mapAttrs (k: v: if a ? ${k} then merge a.${k} v else v) b
        else b;
      module = import ../module.nix { inherit config lib pkgs; };
      config = { services.vigil = merge (defaults module.options.services.vigil) overrides; };
    in
    { inherit config; result = module.config; };
}
