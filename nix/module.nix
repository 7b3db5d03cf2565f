# The hostseal NixOS module (docs/nixos.md). Options mirror sops-nix's under `hostseal.`; the
# decisions (manifest fields, tunnel layout, activation path, assertion messages) live in the
# pure files ./manifest.nix and ./lib.nix, which tests/nix_eval.rs evaluates without nixpkgs.
# This file only declares options and wires the result into NixOS: the manifest derivation
# (checked at build time by `hostseal install --check-mode …`), the activation snippets or the
# systemd unit, cloudflared, LoadCredential, remote builders (docs/remote-builders.md), and the
# build-time host-recipient check.
{
  config,
  lib,
  options,
  pkgs,
  ...
}:
let
  inherit (lib)
    mkOption
    mkIf
    mkMerge
    types
    literalExpression
    literalMD
    ;

  cfg = config.hostseal;
  defaults = builtins.fromJSON (builtins.readFile ./defaults.json);
  hs = import ./lib.nix { inherit defaults; };
  buildManifest = import ./manifest.nix;

  formatType = types.enum hs.formats;

  # The NixOS release being built (misc/version.nix; lib's release where that is absent).
  release =
    if options ? system && options.system ? nixos && options.system.nixos ? release then
      config.system.nixos.release
    else
      lib.trivial.release;

  # Users and groups made by systemd-sysusers or userborn (no `users` activation snippet).
  usersBySystemd =
    (options.systemd ? sysusers && config.systemd.sysusers.enable)
    || (options.services ? userborn && config.services.userborn.enable);

  # Which installer runs where: the regular secrets from the unit with useSystemdActivation; the
  # neededForUsers ones from a unit only when systemd makes the users (else they must exist
  # before the `users` activation snippet reads hashedPasswordFile).
  regularViaUnit = cfg.useSystemdActivation;
  forUsersViaUnit = cfg.useSystemdActivation && usersBySystemd;

  # sops-nix's activation-script names, kept as empty snippets ordered after hostseal's so that
  # `deps = [ "setupSecrets" ]` written for sops-nix still evaluates and still runs after the
  # secrets are installed.
  sopsNixSnippets = {
    setupSecrets = "hostseal";
    setupSecretsForUsers = "hostseal-for-users";
    generate-age-key = "hostseal-keys";
  };
  regularSnippet = haveRegular && !regularViaUnit;
  forUsersSnippet = haveForUsers && !forUsersViaUnit;
  hostsealSnippets = {
    hostseal = regularSnippet;
    hostseal-for-users = forUsersSnippet;
    hostseal-keys = regularSnippet || forUsersSnippet;
  };
  sopsNixImported = options ? sops;

  # Other snippets that still name sops-nix's snippets (warned about as deprecated).
  sopsNixDependents = lib.attrNames (
    lib.filterAttrs (
      n: v:
      n != "script"
      && !(sopsNixSnippets ? ${n})
      && builtins.isAttrs v
      && lib.any (d: sopsNixSnippets ? ${d}) (v.deps or [ ])
    ) config.system.activationScripts
  );

  # age.plugins entries: a package (its main program, `age-plugin-<name>`) or an absolute path.
  agePluginPath = p: if lib.isDerivation p then lib.getExe p else toString p;

  # ssh host keys of one type that sshd has (or will create), minus any we install ourselves.
  hostKeys =
    type:
    if config.services.openssh.enable then
      map (k: toString k.path) (
        lib.filter (
          k: k.type == type && !(lib.hasPrefix cfg.symlinkPath (toString k.path))
        ) config.services.openssh.hostKeys
      )
    else
      [ ];

  # Options shared by secrets and templates: who owns the file, and what to restart.
  ownershipOptions = import ./ownership-options.nix { inherit lib; } // {
    mode = mkOption {
      type = types.strMatching "0?[0-7]{3}";
      default = defaults.secret.mode;
      description = "Permissions of the file, in octal.";
    };
    restartUnits = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "sshd.service" ];
      description = "Units restarted when the file's bytes, owner, group or mode change.";
    };
    reloadUnits = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "nginx.service" ];
      description = "Units reloaded when the file changes.";
    };
  };

  # A secret: the options the three modules share (./secret-options.nix), with the NixOS
  # default `path`, plus what only NixOS has.
  secretType = types.submodule [
    (import ./secret-options.nix {
      inherit lib formatType cfg;
      withOwnership = true;
      pathDefault =
        config:
        if config.credstore != null then
          hs.credstorePath config.credstore config.name
        else if config.neededForUsers then
          "${defaults.forUsers.symlinkPath}/${config.name}"
        else
          "${cfg.symlinkPath}/${config.name}";
      pathDefaultText = "`/run/secrets/<name>` (`/run/secrets-for-users/<name>` with `neededForUsers`; `/run/credstore/<name>` or `/run/credstore.encrypted/<name>` with `credstore`)";
    })
    {
      options = {
        inherit (ownershipOptions) restartUnits reloadUnits;
        entry = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "One entry of a dotenv/INI file (INI: `section/key`, as the installer reads it); null is the whole file.";
        };
        neededForUsers = mkOption {
          type = types.bool;
          default = false;
          description = "Install before users and groups are created (e.g. `hashedPasswordFile`); root-owned only.";
        };
        onFailure = mkOption {
          type = types.enum [
            "keep"
            "remove"
          ];
          default = defaults.secret.onFailure;
          description = "When this secret fails to install: keep the previous bytes (marked stale) or remove it.";
        };
        credentialFor = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [ "myservice.service" ];
          description = ''
            Units (typically `DynamicUser`) that get the secret by `LoadCredential=` (by
            `LoadCredentialEncrypted=` with `credstore = "encrypted"`), are ordered after the
            installer and restarted (never reloaded) when it changes.
          '';
        };
        credstore = mkOption {
          type = types.nullOr (types.enum hs.credstoreKinds);
          default = null;
          example = "encrypted";
          description = ''
            Deliver the secret as a systemd credential instead of a file (docs/credstore.md):
            `plain` writes `/run/credstore/<name>`, `encrypted` writes only the output of the
            host's `systemd-creds encrypt` to `/run/credstore.encrypted/<name>` (the plaintext
            never touches a filesystem). Always root:root 0400; the name is the credential's
            name (no `/`). Units get it with `credentialFor`.
          '';
        };
        credstoreKey = mkOption {
          type = types.enum hs.credstoreKeys;
          default = "auto";
          description = ''
            Key of an encrypted credential (`systemd-creds encrypt --with-key=`): `host`
            (/var/lib/systemd/credential.secret), `tpm2`, `host+tpm2`, or `auto` (both when there
            is a TPM2, else the host key). Only with `credstore = "encrypted"`.
          '';
        };
      };
    }
  ];

  templateType = types.submodule (
    { config, name, ... }:
    {
      options = ownershipOptions // {
        name = mkOption {
          type = types.str;
          default = name;
          description = "Name of the file under `<symlinkPath>/rendered`.";
        };
        content = mkOption {
          type = types.lines;
          default = "";
          description = "Template text; `config.hostseal.placeholder.<secret>` marks where a secret goes.";
        };
        file = mkOption {
          type = types.nullOr types.path;
          default = null;
          description = "Template file (instead of `content`).";
        };
        path = mkOption {
          type = types.str;
          default = "${cfg.symlinkPath}/rendered/${config.name}";
          description = "Where the rendered file is reachable.";
        };
      };
    }
  );

  tunnelType = types.submodule {
    options = {
      sopsFile = mkOption {
        type = types.path;
        description = "The sealed credentials JSON (`cloudflared tunnel create` output), or the sealed token.";
      };
      format = mkOption {
        type = types.nullOr formatType;
        default = null;
        defaultText = literalMD "`json` (`binary` with `tokenFile`)";
        description = "Format of the sealed file.";
      };
      key = mkOption {
        type = types.str;
        default = "";
        description = "Value holding the credentials in a yaml/json file; `\"\"` is the whole file.";
      };
      layout = mkOption {
        type = types.enum [
          "loadCredential"
          "legacyUser"
        ];
        default = hs.tunnelLayoutFor release;
        defaultText = literalMD "`loadCredential` from nixpkgs 25.05 on, else `legacyUser`";
        description = ''
          `loadCredential`: today's cloudflared module (DynamicUser, LoadCredential): the file is
          root:root 0400, read by systemd. `legacyUser`: the module before 25.05, or a service user
          defined by hand: cloudflared:cloudflared 0600.
        '';
      };
      tokenFile = mkOption {
        type = types.bool;
        default = false;
        description = "The sealed value is a tunnel token: set `tokenFile` instead of `credentialsFile`.";
      };
      certificateSopsFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "Sealed account `cert.pem` (binary); needed only to create or route tunnels.";
      };
      credstore = mkOption {
        type = types.nullOr (types.enum hs.credstoreKinds);
        default = null;
        example = "encrypted";
        description = ''
          Deliver the credentials (or token) as a systemd credential named
          `cloudflared-tunnel-<tunnel>.json` (`.token`) instead of a file under `/run/secrets`
          (docs/credstore.md). `plain`: `/run/credstore/<name>`, loaded by nixpkgs' own
          `LoadCredential`. `encrypted`: sealed by the host's `systemd-creds` into
          `/run/credstore.encrypted/<name>`; the unit gets `LoadCredentialEncrypted=` and
          cloudflared reads the decrypted copy from its credential directory. Needs the
          `loadCredential` layout.
        '';
      };
      credstoreKey = mkOption {
        type = types.enum hs.credstoreKeys;
        default = "auto";
        description = "Key of the encrypted credential (`host`, `tpm2`, `host+tpm2`, `auto`); only with `credstore = \"encrypted\"`.";
      };
    };
  };

  # A sealed file as the manifest holds it: a path value is copied into the store (by toJSON)
  # so the build can check it; with validateSopsFiles = false it stays a path on the host.
  sopsFileArg = f: if f == null || cfg.validateSopsFiles then f else toString f;

  secretsArg = lib.mapAttrs (_: s: s // { sopsFile = sopsFileArg s.sopsFile; }) (
    cfg.secrets // hs.remoteBuilderSecrets cfg.remoteBuilders
  );

  tunnelsArg = lib.mapAttrs (
    _: t:
    t
    // {
      sopsFile = sopsFileArg t.sopsFile;
      certificateSopsFile = sopsFileArg t.certificateSopsFile;
    }
  ) cfg.tunnels;

  settings = {
    inherit (cfg)
      secretsMountPoint
      symlinkPath
      keepGenerations
      useTmpfs
      strict
      restartVia
      defaultSopsFormat
      defaultSopsKey
      sshKeyPaths
      ;
    defaultSopsFile = sopsFileArg cfg.defaultSopsFile;
    ageKeyFile = cfg.age.keyFile;
    ageSshKeyPaths = cfg.age.sshKeyPaths;
    agePlugins = map agePluginPath cfg.age.plugins;
    systemctl = "${config.systemd.package}/bin/systemctl";
    # Written into the manifest only when a secret is an encrypted credential.
    systemdCreds = "${config.systemd.package}/bin/systemd-creds";
    hostRecipient = cfg.age.hostRecipient;
    inherit (cfg) validateSopsFiles;
    logging = {
      keyImport = builtins.elem "keyImport" cfg.log;
      secretChanges = builtins.elem "secretChanges" cfg.log;
    };
    placeholders = lib.mapAttrs' (n: s: lib.nameValuePair s.name cfg.placeholder.${n}) (
      lib.filterAttrs (n: _: cfg.placeholder ? ${n}) cfg.secrets
    );
  };

  manifestArgs = forUsers: {
    secrets = secretsArg;
    templates = cfg.templates;
    tunnels = tunnelsArg;
    inherit settings forUsers;
  };

  regularManifest = buildManifest (manifestArgs false);
  usersManifest = buildManifest (manifestArgs true);

  # The manifest file; its build runs the installer's check, so a wrong key or a malformed
  # sealed file fails `nixos-rebuild build`, not activation. `--ignore-passwd`: the build
  # sandbox has no users (owners and groups are checked at evaluation, see lib.nix).
  manifestFile =
    suffix: m:
    pkgs.writeTextFile {
      name = "hostseal-manifest${suffix}.json";
      text = builtins.toJSON m;
      checkPhase = ''
        ${cfg.validationPackage}/bin/hostseal install --check-mode ${
          if cfg.validateSopsFiles then "sopsfile" else "manifest"
        } --ignore-passwd "$out"
      '';
    };

  manifest = manifestFile "" regularManifest;
  manifestForUsers = manifestFile "-for-users" usersManifest;

  haveRegular = regularManifest.secrets != [ ] || regularManifest.templates != [ ];
  haveForUsers = usersManifest.secrets != [ ];
  haveAny = haveRegular || haveForUsers;

  # Every sealed file this host uses, as store paths (interpolation copies path values).
  sealedFiles = lib.unique (
    map (f: "${f}") (hs.sealedFiles regularManifest ++ hs.sealedFiles usersManifest)
  );

  # The build fails unless the host can open every sealed file it uses (thresholds honoured).
  hostRecipientCheck =
    pkgs.runCommand "hostseal-host-recipient-check"
      {
        nativeBuildInputs = [ cfg.validationPackage ];
      }
      ''
        hostseal audit --recipient ${lib.escapeShellArg cfg.age.hostRecipient} --require ${lib.optionalString cfg.age.hostRecipientAllowUnverifiable "--allow-unverifiable "}\
          ${lib.escapeShellArgs sealedFiles}
        touch "$out"
      '';

  installCommand = extraFlags: file: ''
    hostseal_flags=(${extraFlags})
    if [[ "''${NIXOS_ACTION-}" == dry-activate ]]; then hostseal_flags+=(--dry-run); fi
    ${cfg.package}/bin/hostseal install "''${hostseal_flags[@]}" ${file}
  '';

  # First boot: sshd creates its host keys only when it starts, after activation.
  sshHostKeysSnippet = lib.concatMapStrings (k: ''
    if [[ ! -e ${lib.escapeShellArg k} && "''${NIXOS_ACTION-}" != dry-activate ]]; then
      mkdir -p "$(dirname ${lib.escapeShellArg k})"
      ${config.programs.ssh.package}/bin/ssh-keygen -q -t ed25519 -N "" -C "" -f ${lib.escapeShellArg k}
      echo "hostseal: generated the ssh host key ${k}; no sealed file names it yet: seal them to $(${cfg.package}/bin/hostseal pubkey ${lib.escapeShellArg k}.pub)" >&2
    fi
  '') cfg.age.sshKeyPaths;

  # The machine's age key (generateKey) and missing ssh host keys, made before installing.
  keysSnippet =
    lib.optionalString (cfg.age.generateKey && cfg.age.keyFile != null) ''
      if [[ ! -e ${lib.escapeShellArg cfg.age.keyFile} && "''${NIXOS_ACTION-}" != dry-activate ]]; then
        echo "hostseal: generating the machine's age key ${cfg.age.keyFile}" >&2
        mkdir -p "$(dirname ${lib.escapeShellArg cfg.age.keyFile})"
        ${cfg.package}/bin/hostseal keygen -o ${lib.escapeShellArg cfg.age.keyFile}
      fi
    ''
    + sshHostKeysSnippet;
  needKeysScript = cfg.age.sshKeyPaths != [ ] || (cfg.age.generateKey && cfg.age.keyFile != null);
  keysScript = pkgs.writeShellScript "hostseal-keys" keysSnippet;

  keyFiles = lib.optional (cfg.age.keyFile != null) cfg.age.keyFile ++ cfg.age.sshKeyPaths ++ cfg.sshKeyPaths;

  # Units that read secrets: ordered after the installer in the systemd-unit variant.
  consumerServices = lib.unique (
    lib.filter (u: lib.hasSuffix ".service" u) (
      lib.concatMap (s: s.restartUnits ++ s.reloadUnits) (regularManifest.secrets ++ regularManifest.templates)
    )
  );

  credentialUnits = lib.unique (lib.concatMap (s: s.credentialFor) (lib.attrValues cfg.secrets));

  # LoadCredential IDs cannot contain "/".
  credentialId = name: lib.replaceStrings [ "/" ] [ "_" ] name;

  initrdPaths =
    map toString (config.boot.initrd.network.ssh.hostKeys or [ ])
    ++ map toString (lib.filter (x: x != null) (lib.attrValues (config.boot.initrd.secrets or { })))
    ++ lib.attrNames (config.boot.initrd.secrets or { });
in
{
  # sops-nix's `gnupg.sshKeyPaths` are the rsa host keys, which hostseal calls `sshKeyPaths`
  # (used as native ssh-rsa identities: there is no PGP).
  imports = [
    (lib.mkAliasOptionModule
      [ "hostseal" "gnupg" "sshKeyPaths" ]
      [ "hostseal" "sshKeyPaths" ]
    )
  ];

  options.hostseal = {
    gnupg.home = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "Accepted for sops-nix configurations; PGP is not supported (a warning says so).";
    };
    log = mkOption {
      type = types.listOf (
        types.enum [
          "keyImport"
          "secretChanges"
        ]
      );
      default = [
        "keyImport"
        "secretChanges"
      ];
      description = "sops-nix's log switches, passed to the manifest's `logging`.";
    };
    environment = mkOption {
      type = types.attrsOf (types.either types.str types.path);
      default = { };
      description = "Accepted for sops-nix configurations; the installer reads no environment (a warning says so).";
    };
    package = mkOption {
      type = types.package;
      default = pkgs.hostseal or (throw "hostseal.package: add the hostseal flake's overlay, or import its nixosModules.default");
      defaultText = literalExpression "pkgs.hostseal";
      description = "The hostseal package run at activation.";
    };
    validationPackage = mkOption {
      type = types.package;
      default = cfg.package;
      defaultText = literalExpression "config.hostseal.package";
      description = "The hostseal run by the build-time checks (a native build when cross-compiling).";
    };
    secrets = mkOption {
      type = types.attrsOf secretType;
      default = { };
      description = "Secrets to install.";
    };
    templates = mkOption {
      type = types.attrsOf templateType;
      default = { };
      description = "Files rendered from templates holding placeholders of secrets.";
    };
    placeholder = mkOption {
      type = types.attrsOf types.str;
      default = { };
      defaultText = literalMD "`<SOPS:sha256(name):PLACEHOLDER>` per secret, as in sops-nix";
      description = ''
        Placeholder of each secret, to use in `hostseal.templates.<name>.content`. Settable (as in
        sops-nix): the installer replaces whatever string is given here.
      '';
    };
    remoteBuilders = mkOption {
      type = types.attrsOf (types.submodule (import ./remote-builders.nix { inherit lib formatType pkgs; }));
      default = { };
      description = ''
        Build machines this host (its nix-daemon) builds on, reached over ssh, optionally through
        a Cloudflare Tunnel protected by Access (docs/remote-builders.md).
      '';
    };
    tunnels = mkOption {
      type = types.attrsOf tunnelType;
      default = { };
      example = literalExpression ''
        { builder = { sopsFile = ./secrets/builder/tunnel.json; }; }
      '';
      description = ''
        Cloudflare tunnels whose credentials are sealed: each makes the secret
        `cloudflared/<tunnel>.json` and points `services.cloudflared.tunnels.<tunnel>` at it,
        restarting (never reloading) `cloudflared-tunnel-<tunnel>.service` when it changes.
        Requires `hostseal.age.hostRecipient`.
      '';
    };
    inherit (import ./common-options.nix { inherit lib formatType defaults; })
      defaultSopsFile defaultSopsFormat defaultSopsKey validateSopsFiles keepGenerations;
    secretsMountPoint = mkOption {
      type = types.str;
      default = defaults.secretsMountPoint;
      description = "RAM filesystem holding the generations.";
    };
    symlinkPath = mkOption {
      type = types.str;
      default = defaults.symlinkPath;
      description = "Symlink to the current generation.";
    };
    useTmpfs = mkOption {
      type = types.bool;
      default = defaults.useTmpfs;
      description = "tmpfs (with noswap where available) instead of ramfs.";
    };
    strict = mkOption {
      type = types.bool;
      default = defaults.strict;
      description = "Any failed secret aborts the whole generation (default: install the others).";
    };
    useSystemdActivation = mkOption {
      type = types.bool;
      default = usersBySystemd || hs.systemdActivationFor release;
      defaultText = literalMD "true from NixOS 26.05 on, and with systemd-sysusers or userborn";
      description = ''
        Install from `hostseal-install.service` (ordered before sysinit-reactivation.target,
        restarting changed units with `systemctl --no-block`) instead of an activation snippet
        writing the activation restart lists, which NixOS 26.05 deprecates.
      '';
    };
    restartVia = mkOption {
      type = types.enum [
        "activation-lists"
        "systemctl"
        "none"
      ];
      default = if cfg.useSystemdActivation then "systemctl" else "activation-lists";
      defaultText = literalMD "`systemctl` with `useSystemdActivation`, else `activation-lists`";
      description = "How changed secrets restart their units.";
    };
    sshKeyPaths = mkOption {
      type = types.listOf types.str;
      default = hostKeys "rsa";
      defaultText = literalMD "the rsa keys of `services.openssh.hostKeys`";
      description = "ssh-rsa private keys used as native age identities (sops-nix lists them for PGP).";
    };
    age = {
      keyFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/var/lib/sops-nix/key.txt";
        description = "age identity file.";
      };
      generateKey = mkOption {
        type = types.bool;
        default = false;
        description = "Create `age.keyFile` (hostseal keygen) when it does not exist.";
      };
      sshKeyPaths = mkOption {
        type = types.listOf types.str;
        default = hostKeys "ed25519";
        defaultText = literalMD "the ed25519 keys of `services.openssh.hostKeys`";
        description = "ssh-ed25519 private keys: native identities and their derived age keys.";
      };
      plugins = mkOption {
        type = types.listOf (types.either types.package types.str);
        default = [ ];
        example = literalExpression "[ pkgs.age-plugin-yubikey ]";
        description = ''
          age plugins the installer may run: packages (as in sops-nix; their main program,
          `age-plugin-<name>`, is used) or absolute paths of `age-plugin-<name>` binaries.
        '';
      };
      hostRecipient = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "ssh-ed25519 AAAAC3Nza… root@builder";
        description = ''
          This host's public key (`age1…` or `ssh-ed25519 …`). The build fails unless every
          sealed file the host uses is sealed to it (native key or derived `age1…`) in at least
          `shamir_threshold` key groups.
        '';
      };
      hostRecipientAllowUnverifiable = mkOption {
        type = types.bool;
        default = false;
        description = "Accept whole-file `age` files, whose X25519 stanzas do not name their recipients.";
      };
    };
  };

  config = mkMerge [
    {
      system.build.hostseal-manifest = manifest;
      system.build.hostseal-manifest-for-users = manifestForUsers;
    }

    {
      hostseal.placeholder = lib.mapAttrs (_: s: lib.mkDefault (hs.placeholderFor s.name)) cfg.secrets;
    }

    (mkIf (!sopsNixImported) {
      system.activationScripts = lib.mapAttrs (_: mine: {
        deps = lib.optional hostsealSnippets.${mine} mine;
        text = "";
        supportsDryActivation = true;
      }) sopsNixSnippets;
      warnings = map (
        n:
        "system.activationScripts.${n}.deps names sops-nix's snippets (setupSecrets, setupSecretsForUsers, generate-age-key): they are kept as empty aliases ordered after hostseal's; depend on \"hostseal\" (or on hostseal-install.service, which installs the secrets from NixOS 26.05 on) instead"
      ) sopsNixDependents;
    })

    (mkIf (haveAny || cfg.tunnels != { } || cfg.remoteBuilders != { }) {
      assertions = map (message: {
        assertion = false;
        inherit message;
      }) (
        hs.problems {
          secrets = cfg.secrets;
          inherit (cfg) templates tunnels;
          inherit settings initrdPaths;
          users = config.users.users;
          groups = config.users.groups;
          cloudflaredTunnels = config.services.cloudflared.tunnels or { };
          cloudflaredEnabled = config.services.cloudflared.enable or false;
          remoteBuilders = cfg.remoteBuilders;
          usersBySysusers = options.systemd ? sysusers && config.systemd.sysusers.enable;
          mutableUsers = config.users.mutableUsers or true;
          agePlugins = settings.agePlugins;
          sopsNixSecrets =
            if options ? sops && options.sops ? secrets then config.sops.secrets else { };
        }
      );

      warnings =
        lib.optional (cfg.age.keyFile != null && lib.hasPrefix builtins.storeDir cfg.age.keyFile)
          "hostseal.age.keyFile is in the world-readable Nix store: anyone on this host can read it (tests only)"
        ++ lib.optional (cfg.restartVia == "activation-lists" && hs.systemdActivationFor release)
          "hostseal.restartVia = \"activation-lists\" on NixOS ${release}: restarting units from the activation script is deprecated since 26.05 (and removed later); leave hostseal.useSystemdActivation at its default (docs/nixos.md, \"Activation path per NixOS release\")"
        ++ lib.optional (
          cfg.gnupg.home != null
        ) "hostseal.gnupg.home is ignored: hostseal has no PGP; seal the files to an age or ssh key too"
        ++ lib.optional (
          cfg.environment != { }
        ) "hostseal.environment is ignored: the installer reads no environment variables (age plugins: hostseal.age.plugins)"
        ++ lib.optional (cfg.age.hostRecipient != null && !cfg.validateSopsFiles)
          "hostseal.age.hostRecipient is not checked: it needs hostseal.validateSopsFiles"
        ++ lib.concatLists (
          lib.mapAttrsToList (
            n: t:
            lib.optional (t.certificateSopsFile != null)
              "hostseal.tunnels.${n}.certificateSopsFile: the account cert.pem is needed only to create or route tunnels; a running tunnel needs only its credentials"
          ) cfg.tunnels
        );

      system.checks = lib.optional (
        cfg.age.hostRecipient != null && cfg.validateSopsFiles && sealedFiles != [ ]
      ) hostRecipientCheck;
    })

    (mkIf (cfg.tunnels != { }) {
      services.cloudflared.tunnels = hs.tunnelServiceSettings settings cfg.tunnels;
      # Tunnels delivered as encrypted credentials (lib.nix, tunnelUnitSettings).
      systemd.services = lib.mapAttrs (_: u: {
        serviceConfig =
          u.serviceConfig
          // lib.optionalAttrs (u ? execStart) {
            # nixpkgs' token command line, reading the credential under its own id.
            ExecStart = lib.mkForce u.execStart;
          };
        environment = u.environment or { };
      }) (hs.tunnelUnitSettings "${config.services.cloudflared.package}/bin/cloudflared" cfg.tunnels);
    })

    (mkIf (credentialUnits != [ ]) {
      systemd.services = lib.genAttrs (map (lib.removeSuffix ".service") credentialUnits) (
        unit:
        let
          mine = lib.filter (s: builtins.elem unit (map (lib.removeSuffix ".service") s.credentialFor)) (
            lib.attrValues cfg.secrets
          );
          files = lib.filter (s: s.credstore == null) mine;
          credentials = lib.filter (s: s.credstore != null) mine;
        in
        {
          # A credential keeps its own name as id (an encrypted one must: systemd checks it).
          serviceConfig = lib.zipAttrsWith (_: lib.concatLists) (
            lib.optional (files != [ ]) {
              LoadCredential = map (s: "${credentialId s.name}:${s.path}") files;
            }
            ++ map (s: hs.credentialSetting s.credstore s.name) credentials
          );
        }
      );
    })

    # ---- activation snippets ------------------------------------------------------------
    (mkIf hostsealSnippets.hostseal-keys {
      system.activationScripts = {
        hostseal-keys = {
          deps = [ "specialfs" ];
          supportsDryActivation = true;
          text = keysSnippet;
        };

        hostseal-for-users = mkIf forUsersSnippet {
          deps = [
            "specialfs"
            "hostseal-keys"
          ];
          supportsDryActivation = true;
          text = ''
            [ -e /run/current-system ] || echo "setting up secrets for users..."
            ${installCommand "--ignore-passwd" manifestForUsers}
          '';
        };

        # Only when needed: with sysusers/userborn nixpkgs may define `users` as a plain string.
        users = mkIf forUsersSnippet { deps = [ "hostseal-for-users" ]; };

        hostseal = mkIf regularSnippet {
          deps = [
            "specialfs"
            "users"
            "groups"
            "hostseal-keys"
          ];
          supportsDryActivation = true;
          text = ''
            [ -e /run/current-system ] || echo "setting up secrets..."
            ${installCommand "" manifest}
          '';
        };
      };
    })

    # ---- systemd-unit variant (systemd-sysusers / userborn) -------------------------------
    (mkIf ((haveRegular && regularViaUnit) || (haveForUsers && forUsersViaUnit)) {
      systemd.services = mkMerge [
        (mkIf (haveRegular && regularViaUnit) {
          hostseal-install = {
            description = "Install hostseal secrets";
            wantedBy = [ "sysinit.target" ];
            requiredBy = [ "sysinit-reactivation.target" ];
            before = [
              "sysinit.target"
              "sysinit-reactivation.target"
            ];
            after = [
              "local-fs.target"
              "systemd-sysusers.service"
              "userborn.service"
            ];
            unitConfig = {
              DefaultDependencies = false;
              RequiresMountsFor = keyFiles;
            };
            # No PrivateMounts/ProtectSystem/PrivateTmp: the mount must be visible to all.
            serviceConfig = {
              Type = "oneshot";
              RemainAfterExit = true;
              ExecStartPre = lib.mkIf needKeysScript keysScript;
              # Exit 7 (some secrets failed) marks the unit failed: `systemctl --failed` shows it.
              ExecStart = "${cfg.package}/bin/hostseal install ${manifest}";
            };
          };
        })
        (mkIf (haveForUsers && forUsersViaUnit) {
          hostseal-install-for-users = {
            description = "Install hostseal secrets needed for users";
            wantedBy = [ "systemd-sysusers.service" ];
            before = [
              "systemd-sysusers.service"
              "userborn.service"
            ];
            unitConfig = {
              DefaultDependencies = false;
              RequiresMountsFor = keyFiles;
            };
            serviceConfig = {
              Type = "oneshot";
              RemainAfterExit = true;
              ExecStartPre = lib.mkIf needKeysScript keysScript;
              ExecStart = "${cfg.package}/bin/hostseal install --ignore-passwd ${manifestForUsers}";
            };
          };
        })
        # Consumers start after the installer has run.
        (lib.optionalAttrs (haveRegular && regularViaUnit) (lib.genAttrs (map (lib.removeSuffix ".service") (lib.unique (consumerServices ++ credentialUnits))) (
          _: {
            after = [ "hostseal-install.service" ];
            wants = [ "hostseal-install.service" ];
          }
        )))
      ];
    })

    # ---- remote builders (docs/remote-builders.md) ---------------------------------------------
    (import ./remote-builders-config.nix {
      inherit lib pkgs hs;
      inherit (cfg) symlinkPath remoteBuilders;
    })
  ];
}
