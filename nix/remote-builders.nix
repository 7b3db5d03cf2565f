# The options of one `hostseal.remoteBuilders.<name>` (NixOS and nix-darwin): a build machine
# reached over ssh, its client key sealed, its host key pinned, optionally behind Cloudflare
# Access with a sealed service token (docs/remote-builders.md).
{
  lib,
  formatType,
  pkgs,
}:
{ name, ... }:
let
  inherit (lib) mkOption types literalExpression;
in
{
  options = {
    hostName = mkOption {
      type = types.str;
      default = name;
      example = "builder.example.com";
      description = "The builder's hostname (the tunnel's public hostname with Access).";
    };
    sshUser = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "builder";
      description = "Account on the builder.";
    };
    systems = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "x86_64-linux" ];
      description = "Systems the builder builds for.";
    };
    maxJobs = mkOption {
      type = types.ints.positive;
      default = 1;
      description = "Parallel builds on the builder.";
    };
    speedFactor = mkOption {
      type = types.ints.positive;
      default = 1;
      description = "Preference among builders (higher is preferred).";
    };
    supportedFeatures = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [
        "kvm"
        "big-parallel"
      ];
      description = "System features the builder supports.";
    };
    mandatoryFeatures = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Features a derivation must require to be built there.";
    };
    protocol = mkOption {
      type = types.enum [
        "ssh"
        "ssh-ng"
      ];
      default = "ssh-ng";
      description = "Nix's remote store protocol.";
    };
    sshKeySopsFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = literalExpression "./secrets/laptop/builder_ed25519";
      description = ''
        The SEALED client ssh private key for `sshUser` (a Nix path). Installed root:root 0400
        under `hostseal.symlinkPath` and given to `nix.buildMachines.*.sshKey`.
      '';
    };
    format = mkOption {
      type = formatType;
      default = "binary";
      description = "Format of `sshKeySopsFile` (`binary`: the whole file is the key).";
    };
    key = mkOption {
      type = types.str;
      default = "";
      description = "Value holding the key in a yaml/json `sshKeySopsFile`; `\"\"` is the whole file.";
    };
    hostKey = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… root@builder";
      description = ''
        The builder's ssh host key line. Sets `publicHostKey` (its base64) and a
        `programs.ssh.knownHosts` entry, so root never meets a host-key prompt.
      '';
    };
    access = {
      enable = mkOption {
        type = types.bool;
        default = false;
        description = ''
          The builder is reached through a Cloudflare Tunnel: add a `Host` block to the system
          ssh config (root, nix-daemon and every user) whose ProxyCommand runs
          `cloudflared access ssh`.
        '';
      };
      package = mkOption {
        type = types.package;
        default = pkgs.cloudflared;
        defaultText = literalExpression "pkgs.cloudflared";
        description = "The cloudflared run by the ProxyCommand.";
      };
      serviceTokenSopsFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        example = literalExpression "./secrets/laptop/access-token.json";
        description = ''
          The sealed Access service token `{"client_id": …, "client_secret": …}`. Installed
          root:root 0400 and handed to cloudflared through its environment
          (TUNNEL_SERVICE_TOKEN_ID/_SECRET) by a generated wrapper: never on a command line,
          never in the store. Without it root's cloudflared would wait for a browser login.
        '';
      };
      format = mkOption {
        type = formatType;
        default = "json";
        description = "Format of `serviceTokenSopsFile`.";
      };
      key = mkOption {
        type = types.str;
        default = "";
        description = "Value holding the token object in a yaml/json file; `\"\"` is the whole file.";
      };
    };
  };
}
