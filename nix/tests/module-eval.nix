# Evaluates nix/module.nix with nixpkgs' `lib` but WITHOUT NixOS: the few NixOS options the
# module reads or sets are declared here as stubs, and `pkgs` is a stub whose builders return
# inspectable attrsets instead of derivations. Used by tests/nix_eval.rs when
# HOSTSEAL_NIXPKGS_LIB points at a nixpkgs `lib` directory (e.g. a checkout of
# nix-community/nixpkgs.lib); it checks the module's wiring (assertions, activation ordering,
# systemd variant, cloudflared, LoadCredential), not NixOS itself.
{
  lib,
  configuration,
}:
let
  inherit (lib) mkOption types;

  fakeDrv = name: extra: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  } // extra;

  pkgs = {
    hostseal = fakeDrv "hostseal" { };
    writeTextFile = args: fakeDrv args.name { inherit (args) text checkPhase; };
    writeShellScript = name: text: fakeDrv name { inherit text; };
    runCommand = name: env: script: fakeDrv name { inherit env script; };
  };

  anything = types.attrsOf types.anything;
  strings = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };

  stubs = {
    options = {
      assertions = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      warnings = strings;
      system.build = mkOption {
        type = types.attrsOf types.unspecified;
        default = { };
      };
      system.checks = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      system.activationScripts = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = {
              deps = strings;
              text = mkOption {
                type = types.lines;
                default = "";
              };
              supportsDryActivation = mkOption {
                type = types.bool;
                default = false;
              };
            };
          }
        );
        default = { };
      };
      systemd.package = mkOption {
        type = types.str;
        default = "/nix/store/00000000000000000000000000000000-systemd";
      };
      systemd.sysusers.enable = mkOption {
        type = types.bool;
        default = false;
      };
      systemd.services = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = {
              description = mkOption {
                type = types.str;
                default = "";
              };
              after = strings;
              before = strings;
              wants = strings;
              wantedBy = strings;
              requiredBy = strings;
              unitConfig = mkOption {
                type = anything;
                default = { };
              };
              serviceConfig = mkOption {
                type = anything;
                default = { };
              };
            };
          }
        );
        default = { };
      };
      services.userborn.enable = mkOption {
        type = types.bool;
        default = false;
      };
      services.openssh.enable = mkOption {
        type = types.bool;
        default = false;
      };
      services.openssh.hostKeys = mkOption {
        type = types.listOf anything;
        default = [
          {
            type = "rsa";
            path = "/etc/ssh/ssh_host_rsa_key";
          }
          {
            type = "ed25519";
            path = "/etc/ssh/ssh_host_ed25519_key";
          }
        ];
      };
      programs.ssh.package = mkOption {
        type = types.str;
        default = "/nix/store/00000000000000000000000000000000-openssh";
      };
      services.cloudflared.tunnels = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = lib.genAttrs [ "credentialsFile" "tokenFile" "certificateFile" ] (
              _:
              mkOption {
                type = types.nullOr types.path;
                default = null;
              }
            );
          }
        );
        default = { };
      };
      users.users = mkOption {
        type = types.attrsOf anything;
        default = { };
      };
      users.groups = mkOption {
        type = types.attrsOf anything;
        default = { };
      };
      boot.initrd.network.ssh.hostKeys = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      boot.initrd.secrets = mkOption {
        type = types.attrsOf (types.nullOr types.str);
        default = { };
      };
    };
    config.users.users.root.group = "root";
    config.users.groups.root = { };
  };

  eval = lib.evalModules {
    modules = [
      stubs
      ../module.nix
      configuration
    ];
    specialArgs = { inherit pkgs; };
  };
  c = eval.config;
  parse = drv: builtins.fromJSON (builtins.unsafeDiscardStringContext drv.text);
in
{
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
  inherit (c) warnings;
  manifest = parse c.system.build.hostseal-manifest;
  manifestForUsers = parse c.system.build.hostseal-manifest-for-users;
  manifestCheck = c.system.build.hostseal-manifest.checkPhase;
  activation = lib.mapAttrs (_: s: { inherit (s) deps text supportsDryActivation; }) (
    lib.filterAttrs (n: _: lib.hasPrefix "hostseal" n || n == "users") c.system.activationScripts
  );
  services = c.systemd.services;
  cloudflared = lib.mapAttrs (_: t: lib.filterAttrs (_: v: v != null) t) c.services.cloudflared.tunnels;
  checks = map (d: d.script) c.system.checks;
  placeholder = c.hostseal.placeholder;
  secretPaths = lib.mapAttrs (_: s: s.path) c.hostseal.secrets;
}
