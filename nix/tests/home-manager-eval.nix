# Evaluates nix/home-manager.nix with nixpkgs' `lib` (extended with home-manager's `lib.hm.dag`
# entry constructors) and nixpkgs' assertions.nix; ./stubs/home-manager.nix declares the rest.
{
  lib,
  nixpkgsModules,
  configuration,
}:
let
  pkgs = import ./stubs/pkgs.nix { inherit lib; };
  hmLib = lib.extend (
    _: _: {
      hm.dag = {
        entryAfter = after: data: {
          inherit after data;
          before = [ ];
        };
        entryBefore = before: data: {
          inherit before data;
          after = [ ];
        };
      };
    }
  );
  eval = hmLib.evalModules {
    modules = [
      nixpkgsModules.assertions
      ./stubs/home-manager.nix
      ../home-manager.nix
      configuration
    ];
    specialArgs = {
      inherit pkgs;
      lib = hmLib;
    };
  };
  c = eval.config;
in
{
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
  manifest = builtins.fromJSON (builtins.unsafeDiscardStringContext c.hostseal.manifestFile.text);
  manifestCheck = c.hostseal.manifestFile.checkPhase;
  service = c.systemd.user.services.hostseal or null;
  activation = c.home.activation.hostseal or null;
  sopsFileHashes = lib.mapAttrs (_: s: s.sopsFileHash) c.hostseal.secrets;
  matchBlocks = lib.mapAttrs (_: b: b.proxyCommand) c.programs.ssh.matchBlocks;
  sshWrappers = lib.mapAttrs (_: w: w.text) c.hostseal.accessProxyCommands;
}
