# The nix-darwin options hostseal's darwin module reads or sets, with nixpkgs' types and
# nix-darwin's shapes: activation scripts are named `{ text }` fragments (only the fixed names
# such as postActivation run), launchd daemons take a `serviceConfig` plist attrset.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  nixos = import ./nixos.nix { inherit lib; };
in
{
  options = {
    system.build = nixos.options.system.build;
    system.activationScripts = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.text = mkOption {
            type = types.lines;
            default = "";
          };
        }
      );
      default = { };
    };
    launchd.daemons = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.serviceConfig = mkOption {
            type = types.attrsOf types.anything;
            default = { };
          };
        }
      );
      default = { };
    };
    nix.distributedBuilds = nixos.options.nix.distributedBuilds;
    nix.buildMachines = nixos.options.nix.buildMachines;
    programs.ssh.knownHosts = nixos.options.programs.ssh.knownHosts;
    programs.ssh.extraConfig = nixos.options.programs.ssh.extraConfig;
    users.users = nixos.options.users.users;
  };
}
