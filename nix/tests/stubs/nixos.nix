# The NixOS options hostseal's module and nixpkgs' cloudflared.nix / activation-script.nix read
# or set, for the modules nixpkgs has but these tests do not vendor (systemd, users,
# nix-remote-build, programs/ssh, misc/version, openssh, initrd). Declared with nixpkgs' own
# option types and the same shapes, defaults and merge behaviour (lists concatenate, `lines`
# join), so definitions that would not type-check on NixOS do not here either.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  strings = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };
  attrs = mkOption {
    type = types.attrsOf types.anything;
    default = { };
  };
  unit = types.submodule {
    options = {
      description = mkOption {
        type = types.str;
        default = "";
      };
      after = strings;
      before = strings;
      wants = strings;
      requires = strings;
      wantedBy = strings;
      requiredBy = strings;
      partOf = strings;
      restartTriggers = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      environment = mkOption {
        type = types.attrsOf (
          types.nullOr (
            types.oneOf [
              types.str
              types.path
              types.package
            ]
          )
        );
        default = { };
      };
      unitConfig = attrs;
      serviceConfig = attrs;
      script = mkOption {
        type = types.lines;
        default = "";
      };
    };
  };
in
{
  options = {
    # misc/meta.nix (the maintainer list is not part of lib, so its entries stay unevaluated).
    meta = mkOption {
      type = types.lazyAttrsOf types.raw;
      default = { };
    };
    # top-level.nix: a freeform submodule, so that modules may declare options inside it.
    system.build = mkOption {
      type = types.submoduleWith {
        modules = [ { freeformType = types.lazyAttrsOf (types.uniq types.unspecified); } ];
      };
      default = { };
    };
    system.checks = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    # misc/version.nix: readOnly there, settable here so both sides of the release switch run.
    system.nixos.release = mkOption {
      type = types.str;
      default = lib.trivial.release;
    };
    systemd.package = mkOption {
      type = types.package;
    };
    systemd.sysusers.enable = mkOption {
      type = types.bool;
      default = false;
    };
    systemd.services = mkOption {
      type = types.attrsOf unit;
      default = { };
    };
    systemd.targets = mkOption {
      type = types.attrsOf unit;
      default = { };
    };
    systemd.tmpfiles.rules = strings;
    systemd.user.services = mkOption {
      type = types.attrsOf unit;
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
      type = types.listOf types.attrs;
      default = [
        {
          type = "rsa";
          bits = 4096;
          path = "/etc/ssh/ssh_host_rsa_key";
        }
        {
          type = "ed25519";
          path = "/etc/ssh/ssh_host_ed25519_key";
        }
      ];
    };
    # programs/ssh.nix
    programs.ssh.package = mkOption {
      type = types.package;
    };
    programs.ssh.extraConfig = mkOption {
      type = types.lines;
      default = "";
    };
    programs.ssh.knownHosts = mkOption {
      type = types.attrsOf (
        types.submodule (
          { name, ... }:
          {
            options = {
              certAuthority = mkOption {
                type = types.bool;
                default = false;
              };
              hostNames = mkOption {
                type = types.listOf types.str;
                default = [ name ];
              };
              publicKey = mkOption {
                type = types.nullOr types.str;
                default = null;
              };
              publicKeyFile = mkOption {
                type = types.nullOr types.path;
                default = null;
              };
            };
          }
        )
      );
      default = { };
    };
    # config/nix-remote-build.nix
    nix.distributedBuilds = mkOption {
      type = types.bool;
      default = false;
    };
    nix.buildMachines = mkOption {
      type = types.listOf (
        types.submodule {
          options = {
            hostName = mkOption { type = types.str; };
            protocol = mkOption {
              type = types.enum [
                null
                "ssh"
                "ssh-ng"
              ];
              default = "ssh";
            };
            system = mkOption {
              type = types.nullOr types.str;
              default = null;
            };
            systems = strings;
            sshUser = mkOption {
              type = types.nullOr types.str;
              default = null;
            };
            sshKey = mkOption {
              type = types.nullOr types.str;
              default = null;
            };
            maxJobs = mkOption {
              type = types.int;
              default = 1;
            };
            speedFactor = mkOption {
              type = types.int;
              default = 1;
            };
            mandatoryFeatures = strings;
            supportedFeatures = strings;
            publicHostKey = mkOption {
              type = types.nullOr types.str;
              default = null;
            };
          };
        }
      );
      default = [ ];
    };
    users.mutableUsers = mkOption {
      type = types.bool;
      default = true;
    };
    users.users = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.group = mkOption {
            type = types.str;
            default = "";
          };
          options.isSystemUser = mkOption {
            type = types.bool;
            default = false;
          };
        }
      );
      default = { };
    };
    users.groups = mkOption {
      type = types.attrsOf (types.submodule { });
      default = { };
    };
    boot.initrd.network.ssh.hostKeys = mkOption {
      type = types.listOf (types.either types.str types.path);
      default = [ ];
    };
    boot.initrd.secrets = mkOption {
      type = types.attrsOf (types.nullOr types.path);
      default = { };
    };
  };
}
