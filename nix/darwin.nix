# The hostseal nix-darwin module (docs/nixos.md, "nix-darwin"; UNTESTED on macOS: only evaluated
# against stubs). The same `secrets` and `remoteBuilders` options as on NixOS: the installer runs
# in postActivation (nix-darwin runs only its fixed activation fragments) and at boot from a
# launchd daemon, since the secrets live on a RAM disk that a reboot empties. Nothing is
# restarted (no systemd): restartVia = "none".
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
    inherit (cfg)
      secretsMountPoint
      symlinkPath
      keepGenerations
      defaultSopsFormat
      defaultSopsKey
      validateSopsFiles
      ;
    defaultSopsFile = sopsFileArg cfg.defaultSopsFile;
    ageKeyFile = cfg.age.keyFile;
    ageSshKeyPaths = cfg.age.sshKeyPaths;
    agePlugins = map (p: if lib.isDerivation p then lib.getExe p else toString p) cfg.age.plugins;
    restartVia = "none";
  };

  manifestData = buildManifest {
    secrets = lib.mapAttrs (_: s: s // { sopsFile = sopsFileArg s.sopsFile; }) (
      cfg.secrets // hs.remoteBuilderSecrets cfg.remoteBuilders
    );
    inherit settings;
  };

  manifest = pkgs.writeTextFile {
    name = "hostseal-manifest.json";
    text = builtins.toJSON manifestData;
    checkPhase = ''
      ${cfg.package}/bin/hostseal install --check-mode ${
        if cfg.validateSopsFiles then "sopsfile" else "manifest"
      } --ignore-passwd "$out"
    '';
  };

  haveAny = manifestData.secrets != [ ];
  install = "${cfg.package}/bin/hostseal install ${manifest}";
in
{
  options.hostseal = {
    package = mkOption {
      type = types.package;
      default = pkgs.hostseal or (throw "hostseal.package: add the hostseal flake's overlay, or import its darwinModules.default");
      defaultText = literalExpression "pkgs.hostseal";
      description = "The hostseal package run at activation and boot.";
    };
    secrets = mkOption {
      type = types.attrsOf (
        types.submodule (
          import ./secret-options.nix {
            inherit lib formatType cfg;
            withOwnership = true;
          }
        )
      );
      default = { };
      description = "Secrets to install.";
    };
    remoteBuilders = mkOption {
      type = types.attrsOf (types.submodule (import ./remote-builders.nix { inherit lib formatType pkgs; }));
      default = { };
      description = "Build machines this Mac's nix-daemon builds on (docs/remote-builders.md).";
    };
    inherit (import ./common-options.nix { inherit lib formatType defaults; })
      defaultSopsFile defaultSopsFormat defaultSopsKey validateSopsFiles keepGenerations;
    secretsMountPoint = mkOption {
      type = types.str;
      default = defaults.secretsMountPoint;
      description = "RAM disk holding the generations.";
    };
    symlinkPath = mkOption {
      type = types.str;
      default = defaults.symlinkPath;
      description = "Symlink to the current generation.";
    };
    age = {
      keyFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "age identity file.";
      };
      sshKeyPaths = mkOption {
        type = types.listOf types.str;
        default = [ "/etc/ssh/ssh_host_ed25519_key" ];
        description = "ssh-ed25519 private keys used as identities (macOS keeps its host keys in /etc/ssh).";
      };
      plugins = mkOption {
        type = types.listOf (types.either types.package types.str);
        default = [ ];
        description = "age plugins (packages or absolute paths of `age-plugin-<name>`).";
      };
    };
  };

  config = lib.mkMerge [
    { system.build.hostseal-manifest = manifest; }

    (lib.mkIf (haveAny || cfg.remoteBuilders != { }) {
      assertions = map (message: {
        assertion = false;
        inherit message;
      }) (
        hs.problems {
          secrets = cfg.secrets;
          inherit settings;
          remoteBuilders = cfg.remoteBuilders;
          checkOwners = false;
          agePlugins = settings.agePlugins;
        }
      );
    })

    (lib.mkIf haveAny {
      system.activationScripts.postActivation.text = lib.mkAfter ''
        echo "setting up secrets..." >&2
        ${install}
      '';
      launchd.daemons.hostseal-install.serviceConfig = {
        ProgramArguments = [
          "/bin/sh"
          "-c"
          "/bin/wait4path /nix/store && exec ${install}"
        ];
        RunAtLoad = true;
        KeepAlive = false;
      };
    })

    (import ./remote-builders-config.nix {
      inherit lib pkgs hs;
      inherit (cfg) symlinkPath remoteBuilders;
    })
  ];
}
