# The home-manager options hostseal's home-manager module sets, with nixpkgs' types and
# home-manager's shapes (systemd.user.services in unit-file sections, home.activation as a DAG of
# `{ after, before, data }` entries).
{ lib, ... }:
let
  inherit (lib) mkOption types;
in
{
  options = {
    home.packages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    home.activation = mkOption {
      type = types.attrsOf (
        types.submodule {
          options = {
            after = mkOption { type = types.listOf types.str; };
            before = mkOption { type = types.listOf types.str; };
            data = mkOption { type = types.str; };
          };
        }
      );
      default = { };
    };
    programs.ssh.matchBlocks = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.proxyCommand = mkOption {
            type = types.nullOr types.str;
            default = null;
          };
        }
      );
      default = { };
    };
    systemd.user.systemctlPath = mkOption {
      type = types.str;
      default = "/nix/store/00000000000000000000000000000000-systemd/bin/systemctl";
    };
    systemd.user.services = mkOption {
      type = types.attrsOf (types.attrsOf (types.attrsOf types.anything));
      default = { };
    };
  };
}
