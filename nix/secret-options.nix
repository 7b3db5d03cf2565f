# The options of one secret shared by the home-manager and nix-darwin modules (the NixOS module
# has more: credentialFor, neededForUsers, restart and reload units): where it comes from, where
# it goes, who may read it, and sops-nix's `sopsFileHash`.
{
  lib,
  formatType,
  # The module's `hostseal` config (defaults and the symlink path).
  cfg,
  # false in home-manager: the user's own files, no owner or group.
  withOwnership,
}:
{ config, name, ... }:
let
  inherit (lib) mkOption types literalExpression;
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
      description = "Format of the sealed file (null: `hostseal.defaultSopsFormat`).";
    };
    key = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "Path of the value in a yaml/json file (null: the secret's name); `\"\"` is the whole file.";
    };
    path = mkOption {
      type = types.str;
      default = "${cfg.symlinkPath}/${config.name}";
      description = "Where the secret is reachable; anything else than the default makes a symlink there.";
    };
    mode = mkOption {
      type = types.strMatching "0?[0-7]{3}";
      default = "0400";
      description = "Permissions of the file, in octal.";
    };
    sopsFileHash = mkOption {
      type = types.str;
      readOnly = true;
      default =
        let
          f = if config.sopsFile != null then config.sopsFile else cfg.defaultSopsFile;
        in
        lib.optionalString (cfg.validateSopsFiles && f != null && builtins.pathExists f) (
          builtins.hashFile "sha256" f
        );
      description = "sha256 of the sealed file (as sops-nix computes it), for restart triggers.";
    };
  }
  // lib.optionalAttrs withOwnership {
    owner = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "User owning the file (null: `uid` if set, else root).";
    };
    uid = mkOption {
      type = types.nullOr types.int;
      default = null;
      description = "Numeric owner, only with `owner = null`.";
    };
    group = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "Group of the file (null: `gid` if set, else the owner's primary group).";
    };
    gid = mkOption {
      type = types.nullOr types.int;
      default = null;
      description = "Numeric group, only with `group = null`.";
    };
  };
}
