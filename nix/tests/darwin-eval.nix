# Evaluates nix/darwin.nix with nixpkgs' `lib` and assertions.nix; ./stubs/darwin.nix declares
# the nix-darwin options it reads or sets.
{
  lib,
  nixpkgsModules,
  configuration,
}:
let
  pkgs = import ./stubs/pkgs.nix { inherit lib; };
  eval = lib.evalModules {
    modules = [
      nixpkgsModules.assertions
      ./stubs/darwin.nix
      ../darwin.nix
      configuration
    ];
    specialArgs = { inherit pkgs; };
  };
  c = eval.config;
in
{
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
  manifest = builtins.fromJSON (builtins.unsafeDiscardStringContext c.system.build.hostseal-manifest.text);
  postActivation = c.system.activationScripts.postActivation.text or "";
  launchd = c.launchd.daemons;
  buildMachines = c.nix.buildMachines;
  distributedBuilds = c.nix.distributedBuilds;
  knownHosts = c.programs.ssh.knownHosts;
  sshConfig = c.programs.ssh.extraConfig;
  sshWrappers = lib.mapAttrs (_: w: w.text) (c.system.build.hostseal-access-proxy-commands or { });
}
