# Evaluates nix/module.nix with nixpkgs' `lib` and nixpkgs' own cloudflared.nix, assertions.nix
# and activation-script.nix (tests/fixtures/nixpkgs/), stubbing only the rest with nixpkgs'
# option types (./stubs/nixos.nix). Used by tests/nix_eval.rs and tests/nix_module.rs, and by
# the flake's checks with the flake's nixpkgs lib. Returns the parts a test inspects.
{
  lib,
  # { cloudflared, assertions, activation-script } — paths of nixpkgs' module files.
  nixpkgsModules,
  configuration,
}:
let
  pkgs = import ./stubs/pkgs.nix { inherit lib; };
  hostDefaults = {
    config = {
      systemd.package = pkgs.fakeDrv "systemd" { };
      programs.ssh.package = pkgs.fakeDrv "openssh" { };
      system.build.earlyMountScript = pkgs.writeText "mounts.sh" "";
      users.users.root.group = "root";
      users.groups.root = { };
      # users-groups.nix: the snippets every NixOS system has (empty with sysusers/userborn).
      system.activationScripts.users = {
        supportsDryActivation = true;
        text = "# users";
      };
      system.activationScripts.groups = {
        deps = [ "users" ];
        text = "# groups";
      };
    };
  };
  eval = lib.evalModules {
    modules = [
      nixpkgsModules.assertions
      nixpkgsModules.activation-script
      nixpkgsModules.cloudflared
      ./stubs/nixos.nix
      hostDefaults
      ../module.nix
      configuration
    ];
    specialArgs = { inherit pkgs; };
  };
  c = eval.config;
  parse = drv: builtins.fromJSON (builtins.unsafeDiscardStringContext drv.text);
  units = lib.mapAttrs (
    _: u:
    lib.filterAttrs (_: v: v != [ ] && v != { } && v != "") {
      inherit (u)
        description
        after
        before
        wants
        wantedBy
        requiredBy
        unitConfig
        serviceConfig
        environment
        restartTriggers
        ;
    }
  ) c.systemd.services;
in
{
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
  inherit (c) warnings;
  manifest = parse c.system.build.hostseal-manifest;
  manifestForUsers = parse c.system.build.hostseal-manifest-for-users;
  manifestCheck = c.system.build.hostseal-manifest.checkPhase;
  activation = lib.mapAttrs (_: s: { inherit (s) deps text supportsDryActivation; }) (
    lib.filterAttrs (
      n: _:
      lib.hasPrefix "hostseal" n
      || builtins.elem n [
        "users"
        "setupSecrets"
        "setupSecretsForUsers"
        "generate-age-key"
        "app"
      ]
    ) (removeAttrs c.system.activationScripts [ "script" ])
  );
  # The whole activation script, built by nixpkgs' textClosureMap: every `deps` must resolve.
  activationScript = c.system.activationScripts.script;
  services = units;
  cloudflared = lib.mapAttrs (
    _: t:
    lib.filterAttrs (_: v: v != null) {
      inherit (t) credentialsFile tokenFile certificateFile;
    }
  ) c.services.cloudflared.tunnels;
  checks = map (d: d.script) c.system.checks;
  placeholder = c.hostseal.placeholder;
  secretPaths = lib.mapAttrs (_: s: s.path) c.hostseal.secrets;
  sopsFileHashes = lib.mapAttrs (_: s: s.sopsFileHash) c.hostseal.secrets;
  buildMachines = c.nix.buildMachines;
  distributedBuilds = c.nix.distributedBuilds;
  knownHosts = c.programs.ssh.knownHosts;
  sshConfig = c.programs.ssh.extraConfig;
  # The text of every generated ProxyCommand wrapper (the stub writeShellScript keeps it).
  sshWrappers = lib.mapAttrs (_: w: w.text) (c.system.build.hostseal-access-proxy-commands or { });
}
