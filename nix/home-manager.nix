# The hostseal home-manager module (docs/nixos.md, "home-manager"): a user's own secrets,
# installed by the user, for the user, from a systemd user service into the runtime directory
# with sops-nix's home-manager layout: generations under `%r/secrets.d/<generation>`, the link
# `%r/secrets` (`%r` is $XDG_RUNTIME_DIR, expanded by the installer). The manifest says
# `userMode = true`: no chown, no mount, no root.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types literalExpression;
  cfg = config.hostseal;
  defaults = builtins.fromJSON (builtins.readFile ./defaults.json);
  hs = import ./lib.nix { inherit defaults; };
  buildManifest = import ./manifest.nix;
  formatType = types.enum hs.formats;

  sopsFileArg = f: if f == null || cfg.validateSopsFiles then f else toString f;

  settings = {
    userMode = true;
    secretsMountPoint = cfg.secretsMountPoint;
    symlinkPath = cfg.symlinkPath;
    inherit (cfg) keepGenerations defaultSopsFormat defaultSopsKey;
    defaultSopsFile = sopsFileArg cfg.defaultSopsFile;
    ageKeyFile = cfg.age.keyFile;
    ageSshKeyPaths = cfg.age.sshKeyPaths;
    agePlugins = map (p: if lib.isDerivation p then lib.getExe p else toString p) cfg.age.plugins;
    restartVia = "none";
    # Everything under the user's runtime directory: nothing of root's.
    lockPath = "%r/hostseal/lock";
    restartListsDir = "%r/hostseal";
    inherit (cfg) validateSopsFiles;
  };

  # The user's Access service tokens, one per ssh host behind Access (docs/remote-builders.md).
  tokenName = host: "ssh-access/${host}.json";
  tokenSecrets = lib.mapAttrs' (
    host: h:
    lib.nameValuePair (tokenName host) {
      sopsFile = h.serviceTokenSopsFile;
      format = h.format;
      key = h.key;
      validate = "cloudflare-access-service-token";
    }
  ) (lib.filterAttrs (_: h: h.serviceTokenSopsFile != null) cfg.sshAccessHosts);

  # The ProxyCommand of one host: the same wrapper as the system's, reading the user's token
  # from the runtime directory (the path is expanded by the shell, never by Nix).
  proxyCommand =
    host: h:
    pkgs.writeShellScript "hostseal-access-ssh-${host}" (
      hs.accessWrapperText {
        tokenFile =
          let
            installed = "${cfg.symlinkPath}/${tokenName host}";
          in
          if h.serviceTokenSopsFile == null then
            null
          else if lib.hasPrefix "%r/" installed then
            # Without a runtime directory the file is not readable: browser login.
            ''"''${XDG_RUNTIME_DIR:-/nonexistent}"/${lib.escapeShellArg (lib.removePrefix "%r/" installed)}''
          else
            lib.escapeShellArg installed;
        jq = "${pkgs.jq}/bin/jq";
        cloudflared = "${h.package}/bin/cloudflared";
      }
    );

  manifestData = buildManifest {
    secrets = lib.mapAttrs (_: s: s // { sopsFile = sopsFileArg s.sopsFile; }) (
      cfg.secrets // tokenSecrets
    );
    inherit settings;
  };

  manifest = pkgs.writeTextFile {
    name = "hostseal-user-manifest.json";
    text = builtins.toJSON manifestData;
    checkPhase = ''
      ${cfg.package}/bin/hostseal install --check-mode ${
        if cfg.validateSopsFiles then "sopsfile" else "manifest"
      } --ignore-passwd "$out"
    '';
  };

  systemctl = config.systemd.user.systemctlPath;
in
{
  # sops-nix's home-manager names for the two locations.
  imports = [
    (lib.mkAliasOptionModule [ "hostseal" "defaultSymlinkPath" ] [ "hostseal" "symlinkPath" ])
    (lib.mkAliasOptionModule [ "hostseal" "defaultSecretsMountPoint" ] [ "hostseal" "secretsMountPoint" ])
  ];

  options.hostseal = {
    accessProxyCommands = mkOption {
      type = types.attrsOf types.package;
      internal = true;
      readOnly = true;
      default = lib.mapAttrs proxyCommand cfg.sshAccessHosts;
      description = "The generated ProxyCommand wrappers (for inspection).";
    };
    manifestFile = mkOption {
      type = types.package;
      internal = true;
      readOnly = true;
      default = manifest;
      description = "The manifest the user service installs (for inspection).";
    };
    package = mkOption {
      type = types.package;
      default = pkgs.hostseal or (throw "hostseal.package: add the hostseal flake's overlay, or import its homeManagerModules.default");
      defaultText = literalExpression "pkgs.hostseal";
      description = "The hostseal package run by the user service.";
    };
    secrets = mkOption {
      type = types.attrsOf (
        types.submodule (
          import ./secret-options.nix {
            inherit lib formatType cfg;
            withOwnership = false;
          }
        )
      );
      default = { };
      description = "The user's secrets, installed into the runtime directory.";
    };
    sshAccessHosts = mkOption {
      type = types.attrsOf (
        types.submodule {
          options = {
            package = mkOption {
              type = types.package;
              default = pkgs.cloudflared;
              defaultText = literalExpression "pkgs.cloudflared";
              description = "The cloudflared run by the ProxyCommand.";
            };
            serviceTokenSopsFile = mkOption {
              type = types.nullOr types.path;
              default = null;
              description = ''
                The user's sealed Access service token `{"client_id", "client_secret"}`, installed
                in the runtime directory and handed to cloudflared through its environment
                (null: cloudflared's browser login).
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
        }
      );
      default = { };
      example = literalExpression ''{ "builder.example.com" = { serviceTokenSopsFile = ./secrets/me/access-token.json; }; }'';
      description = ''
        Hosts the user reaches with ssh through a Cloudflare Tunnel: a `programs.ssh.matchBlocks`
        entry whose ProxyCommand runs `cloudflared access ssh`, with the user's own sealed
        service token when given.
      '';
    };
    inherit (import ./common-options.nix { inherit lib formatType defaults; })
      defaultSopsFile defaultSopsFormat defaultSopsKey validateSopsFiles keepGenerations;
    secretsMountPoint = mkOption {
      type = types.str;
      default = "%r/secrets.d";
      description = "Directory of the generations (`%r`: $XDG_RUNTIME_DIR, a tmpfs).";
    };
    symlinkPath = mkOption {
      type = types.str;
      default = "%r/secrets";
      description = "Link to the current generation.";
    };
    age = {
      keyFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/home/me/.config/sops/age/keys.txt";
        description = "The user's age identity file.";
      };
      sshKeyPaths = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "/home/me/.ssh/id_ed25519" ];
        description = "The user's ssh-ed25519 private keys used as identities.";
      };
      plugins = mkOption {
        type = types.listOf (types.either types.package types.str);
        default = [ ];
        description = "age plugins (packages or absolute paths of `age-plugin-<name>`).";
      };
    };
  };

  config = lib.mkIf (manifestData.secrets != [ ] || cfg.sshAccessHosts != { }) {
    programs.ssh.matchBlocks = lib.mapAttrs (_: w: {
      proxyCommand = "${w} %h";
    }) cfg.accessProxyCommands;

    assertions = map (message: {
      assertion = false;
      inherit message;
    }) (
      hs.problems {
        secrets = cfg.secrets // tokenSecrets;
        inherit settings;
        checkOwners = false;
        agePlugins = settings.agePlugins;
      }
    );

    home.packages = [ cfg.package ];

    systemd.user.services.hostseal = {
      Unit.Description = "Install hostseal secrets into the runtime directory";
      Service = {
        Type = "oneshot";
        ExecStart = "${cfg.package}/bin/hostseal install ${manifest}";
      };
      Install.WantedBy = [ "default.target" ];
    };

    # Re-install on every switch, as sops-nix's home-manager module does; at boot the user
    # manager starts the service itself.
    home.activation.hostseal = lib.hm.dag.entryAfter [ "writeBoundary" ] ''
      systemdStatus=$(${systemctl} --user is-system-running 2>&1 || true)
      if [[ $systemdStatus == running || $systemdStatus == degraded ]]; then
        ${systemctl} --user restart hostseal.service
      else
        echo "hostseal: the user's systemd is not running; the secrets are installed when it starts"
      fi
    '';
  };
}
