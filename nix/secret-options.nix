# The options of one secret that the NixOS, home-manager and nix-darwin modules share: where it
# comes from, where it goes, who may read it, and sops-nix's `sopsFileHash`. The NixOS module
# adds its own (entry, neededForUsers, onFailure, credentialFor, credstore, restart units) in a
# second module of the same submodule, and its own default for `path`.
{
  lib,
  formatType,
  # The module's `hostseal` config (defaults and the symlink path).
  cfg,
  # false in home-manager: the user's own files, no owner or group.
  withOwnership,
  # The default `path` of a secret, from its config (default: under `cfg.symlinkPath`).
  pathDefault ? config: "${cfg.symlinkPath}/${config.name}",
  pathDefaultText ? "`<symlinkPath>/<name>`",
}:
{ config, name, ... }:
let
  inherit (lib)
    mkOption
    types
    literalExpression
    literalMD
    ;
  defaults = builtins.fromJSON (builtins.readFile ./defaults.json);
in
{
  options = {
    name = mkOption {
      type = types.str;
      default = name;
      description = "Name of the file under the symlink path (may contain `/`).";
    };
    sopsFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      defaultText = literalExpression "config.hostseal.defaultSopsFile";
      description = "The sealed (sops) file holding the secret.";
    };
    format = mkOption {
      type = types.nullOr formatType;
      default = null;
      defaultText = literalExpression "config.hostseal.defaultSopsFormat";
      description = "Format of the sealed file; `age` is a whole-file age file (agenix style).";
    };
    key = mkOption {
      type = types.nullOr types.str;
      default = null;
      defaultText = literalMD "the secret's name (yaml/json); unused for other formats";
      description = "Path of the value in a yaml/json file (`a/b/0`, or `[\"a/b\"][0]`); `\"\"` is the whole file.";
    };
    path = mkOption {
      type = types.str;
      default = pathDefault config;
      defaultText = literalMD pathDefaultText;
      description = "Where the secret is reachable; anything else than the default makes a symlink there.";
    };
    mode = mkOption {
      type = types.strMatching "0?[0-7]{3}";
      default = defaults.secret.mode;
      description = "Permissions of the file, in octal.";
    };
    sopsFileHash = mkOption {
      type = types.str;
      readOnly = true;
      default =
        let
          f = if config.sopsFile != null then config.sopsFile else cfg.defaultSopsFile;
        in
        # A missing file is reported by the build-time check (and an assertion), not here.
        lib.optionalString (cfg.validateSopsFiles && f != null && builtins.pathExists f) (
          builtins.hashFile "sha256" f
        );
      defaultText = literalMD "sha256 of `sopsFile` (empty without `validateSopsFiles`), as sops-nix computes it";
      description = ''
        Hash of the sealed file, for `systemd.services.<name>.restartTriggers` (as in sops-nix):
        a unit restarts when the sealed file changes.
      '';
    };
  }
  // lib.optionalAttrs withOwnership (import ./ownership-options.nix { inherit lib; });
}
