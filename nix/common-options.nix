# Options the NixOS, home-manager and nix-darwin modules share: where secrets come from when
# they do not say, whether sealed files are checked at build time, and how many generations
# are kept. Each module takes them with `inherit (import ./common-options.nix { … }) …;`.
{
  lib,
  formatType,
  defaults,
}:
let
  inherit (lib) mkOption types;
in
{
  defaultSopsFile = mkOption {
    type = types.nullOr types.path;
    default = null;
    description = "Sealed file of secrets that set no `sopsFile`.";
  };
  defaultSopsFormat = mkOption {
    type = formatType;
    default = defaults.secret.format;
    description = "Format of secrets that set no `format`.";
  };
  defaultSopsKey = mkOption {
    type = types.nullOr types.str;
    default = null;
    description = "Key of yaml/json secrets that set no `key` (null: the secret's name).";
  };
  validateSopsFiles = mkOption {
    type = types.bool;
    default = true;
    description = ''
      Copy the sealed files into the Nix store and check them at build time (keys exist,
      host recipient). They are encrypted, so the world-readable store is fine.
    '';
  };
  keepGenerations = mkOption {
    type = types.ints.unsigned;
    default = defaults.keepGenerations;
    description = "Generations kept (0 keeps all).";
  };
}
