# Who owns an installed file: by name or by number (sops-nix's four options). Used by the
# secrets of every module (./secret-options.nix) and by the NixOS module's templates.
{ lib }:
let
  inherit (lib) mkOption types;
in
{
  owner = mkOption {
    type = types.nullOr types.str;
    default = null;
    description = "User owning the file (null: `uid` if set, else root).";
  };
  uid = mkOption {
    type = types.nullOr types.int;
    default = null;
    description = "Numeric owner, applied even without such a user; only with `owner = null`.";
  };
  group = mkOption {
    type = types.nullOr types.str;
    default = null;
    description = "Group of the file (null: `gid` if set, else the owner's primary group).";
  };
  gid = mkOption {
    type = types.nullOr types.int;
    default = null;
    description = "Numeric group, applied even without such a group; only with `group = null`.";
  };
}
