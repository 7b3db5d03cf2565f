# Pure helpers of the hostseal modules (NixOS, home-manager, nix-darwin): builtins only, so that
# `nix-instantiate --eval` tests them without nixpkgs (tests/nix_eval.rs). The modules keep only
# the option declarations and the wiring; everything that decides *what* is installed, and every
# assertion message, lives here. See docs/nixos.md and docs/manifest.md.
{
  # nix/defaults.json, read by the caller (manifest.nix, module.nix).
  defaults,
}:
let
  inherit (builtins)
    all
    attrNames
    concatMap
    concatStringsSep
    elem
    filter
    foldl'
    genList
    elemAt
    hashString
    isPath
    isString
    length
    listToAttrs
    match
    substring
    stringLength
    toJSON
    ;

  # `attrs.name` when present and not null, else `fallback` (module options default to null).
  get =
    attrs: name: fallback:
    if attrs ? ${name} && attrs.${name} != null then attrs.${name} else fallback;

  isSet = attrs: name: attrs ? ${name} && attrs.${name} != null;

  unique = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];

  hasPrefix = prefix: s: substring 0 (stringLength prefix) s == prefix;

  isNumeric = s: isString s && match "[0-9]+" s != null;

  # The formats the installer knows (docs/format.md).
  formats = [
    "yaml"
    "json"
    "binary"
    "dotenv"
    "ini"
    "age"
  ];

  # Formats in which `key` selects a value; for the others the secret is the whole file.
  keyedFormats = [
    "yaml"
    "json"
  ];

  # sops-nix's placeholder, so templates written for sops-nix render unchanged.
  placeholderFor = name: "<SOPS:${hashString "sha256" name}:PLACEHOLDER>";

  # Where the installer mounts and links, for regular secrets or the `neededForUsers` ones.
  locations =
    settings: forUsers:
    if forUsers then
      {
        secretsMountPoint = get settings "forUsersSecretsMountPoint" defaults.forUsers.secretsMountPoint;
        symlinkPath = get settings "forUsersSymlinkPath" defaults.forUsers.symlinkPath;
      }
    else
      {
        secretsMountPoint = get settings "secretsMountPoint" defaults.secretsMountPoint;
        symlinkPath = get settings "symlinkPath" defaults.symlinkPath;
      };

  # ---- systemd credentials (docs/credstore.md) ------------------------------------------------

  # Where the installer puts credentials (the directories systemd searches); the installer's
  # defaults of `credstoreDir` / `credstoreEncryptedDir`.
  credstoreDirs = {
    plain = "/run/credstore";
    encrypted = "/run/credstore.encrypted";
  };

  credstoreKinds = [
    "plain"
    "encrypted"
  ];

  credstoreKeys = [
    "auto"
    "host"
    "tpm2"
    "host+tpm2"
  ];

  # Where a credential named `name` of this kind lands.
  credstorePath = kind: name: "${credstoreDirs.${kind}}/${name}";

  # The unit setting that hands a credential to a service under the id `name`: the id is the
  # credential's file name in `$CREDENTIALS_DIRECTORY`, and for an encrypted credential it must
  # be the name it was sealed with (`systemd-creds encrypt --name=`; systemd refuses another).
  # The path is explicit (every systemd with credentials accepts it; the search by name alone
  # needs systemd 254).
  credentialSetting =
    kind: name:
    if kind == "encrypted" then
      { LoadCredentialEncrypted = [ "${name}:${credstorePath kind name}" ]; }
    else
      { LoadCredential = [ "${name}:${credstorePath kind name}" ]; };

  # ---- tunnels ------------------------------------------------------------------------------

  # Which file layout the cloudflared module of a nixpkgs release needs: since 25.05 the service
  # runs with DynamicUser and reads the file through LoadCredential (as root); before, it ran as
  # the `cloudflared` user, which had to own the file.
  tunnelLayoutFor =
    release: if builtins.compareVersions release "25.05" >= 0 then "loadCredential" else "legacyUser";

  tunnelLayouts = {
    loadCredential = {
      owner = "root";
      group = "root";
      mode = "0400";
    };
    legacyUser = {
      owner = "cloudflared";
      group = "cloudflared";
      mode = "0600";
    };
  };

  tunnelUnit = tunnel: "cloudflared-tunnel-${tunnel}.service";

  # The secret holding a tunnel's credentials JSON (or its token with `tokenFile = true`).
  # As a credential (`credstore`) the name is also the credential's name, which has no `/`.
  tunnelSecretName =
    tunnel: t:
    let
      ext = if get t "tokenFile" false then "token" else "json";
    in
    if get t "credstore" null != null then "cloudflared-tunnel-${tunnel}.${ext}" else "cloudflared/${tunnel}.${ext}";

  tunnelCertName = tunnel: "cloudflared/${tunnel}-cert.pem";

  tunnelOwnership =
    tunnel: t:
    let
      layout = get t "layout" null;
    in
    if layout == null then
      throw "hostseal.tunnels.\"${tunnel}\".layout is not set (\"loadCredential\" or \"legacyUser\")"
    else
      tunnelLayouts.${layout}
        or (throw "hostseal.tunnels.\"${tunnel}\".layout = \"${toString layout}\": expected \"loadCredential\" or \"legacyUser\"");

  # A tunnel delivered as a systemd credential: its secret's `credstore` fields.
  credstoreOfTunnel =
    t:
    let
      kind = get t "credstore" null;
    in
    if kind == null then
      { }
    else
      { credstore = kind; }
      // (if kind == "encrypted" then { credstoreKey = get t "credstoreKey" "auto"; } else { });

  # The secrets one tunnel needs: its credentials (or token), and the optional account cert.
  secretsOfTunnel =
    tunnel: t:
    let
      own = tunnelOwnership tunnel t;
      tokenFile = get t "tokenFile" false;
      units = [ (tunnelUnit tunnel) ];
      cert = get t "certificateSopsFile" null;
    in
    [
      {
        name = tunnelSecretName tunnel t;
        value = own // credstoreOfTunnel t // {
          sopsFile =
            get t "sopsFile" (throw "hostseal.tunnels.\"${tunnel}\".sopsFile is not set");
          format = get t "format" (if tokenFile then "binary" else "json");
          key = get t "key" "";
          restartUnits = units;
          validate = if tokenFile then "cloudflared-token" else "cloudflared-credentials";
        };
      }
    ]
    ++ (
      if cert == null then
        [ ]
      else
        [
          {
            name = tunnelCertName tunnel;
            value = own // {
              sopsFile = cert;
              format = "binary";
              restartUnits = units;
            };
          }
        ]
    );

  # Every tunnel's secrets, as `secrets.<name>` entries.
  tunnelSecrets = tunnels: listToAttrs (concatMap (n: secretsOfTunnel n tunnels.${n}) (attrNames tunnels));

  # What the module sets in `services.cloudflared.tunnels.<tunnel>`: the installed path of the
  # credentials (or token) and of the certificate.
  tunnelServiceSettings =
    settings: tunnels:
    let
      link = (locations settings false).symlinkPath;
    in
    builtins.mapAttrs (
      tunnel: t:
      (
        let
          kind = get t "credstore" null;
          name = tunnelSecretName tunnel t;
          file = if kind == null then "${link}/${name}" else credstorePath kind name;
        in
        # encrypted: neither (LoadCredential would hand cloudflared the ciphertext); the unit
        # gets LoadCredentialEncrypted instead (tunnelUnitSettings).
        if kind == "encrypted" then
          { }
        else if get t "tokenFile" false then
          { tokenFile = file; }
        else
          { credentialsFile = file; }
      )
      // (
        if get t "certificateSopsFile" null == null then
          { }
        else
          { certificateFile = "${link}/${tunnelCertName tunnel}"; }
      )
    ) tunnels;


  # What the module adds to `systemd.services."cloudflared-tunnel-<tunnel>"` for tunnels
  # delivered as encrypted credentials. nixpkgs' cloudflared.nix loads `credentials.json` with
  # LoadCredential; an encrypted credential must keep the id it was sealed with, so the unit
  # gets `LoadCredentialEncrypted=<name>:/run/credstore.encrypted/<name>` and cloudflared reads
  # `%d/<name>`: credentials through `TUNNEL_CRED_FILE` (the environment form of
  # `--credentials-file`, which wins over the config file's `credentials-file`, as nixpkgs
  # already passes `TUNNEL_ORIGIN_CERT=%d/cert.pem`), a token through nixpkgs' own token
  # command line with the other file name. `cloudflared` is the binary's path.
  tunnelUnitSettings =
    cloudflared: tunnels:
    listToAttrs (
      concatMap (
        tunnel:
        let
          t = tunnels.${tunnel};
          name = tunnelSecretName tunnel t;
        in
        if get t "credstore" null != "encrypted" then
          [ ]
        else
          [
            {
              name = "cloudflared-tunnel-${tunnel}";
              value =
                if get t "tokenFile" false then
                  {
                    serviceConfig = credentialSetting "encrypted" name;
                    execStart = ''${cloudflared} tunnel run --token-file "$CREDENTIALS_DIRECTORY/${name}"'';
                  }
                else
                  {
                    serviceConfig = credentialSetting "encrypted" name;
                    environment.TUNNEL_CRED_FILE = "%d/${name}";
                  };
            }
          ]
      ) (attrNames tunnels)
    );

  # ---- activation path ------------------------------------------------------------------------

  # NixOS 26.05 deprecates restarting units from the activation script (the restart/reload
  # lists; removal planned for 26.11): from that release on the secrets are installed by
  # `hostseal-install.service` (before sysinit-reactivation.target), which restarts with
  # `systemctl --no-block`. Older releases keep the activation snippet and the lists.
  # Only major.minor counts: "26.05pre-git" (unstable before the release) already has it.
  systemdActivationFor =
    release:
    let
      v = builtins.splitVersion release;
      majorMinor = if length v >= 2 then "${elemAt v 0}.${elemAt v 1}" else release;
    in
    builtins.compareVersions majorMinor "26.05" >= 0;

  # ---- one source for a host's key ----------------------------------------------------------

  # Standard base64 of an ASCII string (nix.buildMachines.*.publicHostKey wants the host key line
  # base64-encoded; builtins have no encoder).
  base64 =
    s:
    let
      alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      printable = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
      codes =
        listToAttrs (
          genList (i: {
            name = substring i 1 printable;
            value = i + 32;
          }) (stringLength printable)
        )
        // {
          "\n" = 10;
          "\t" = 9;
        };
      codeOf =
        c: codes.${c} or (throw "hostseal: base64 of a non-ASCII string (an ssh host key line is ASCII)");
      bytes = genList (i: codeOf (substring i 1 s)) (stringLength s);
      n = length bytes;
      at = i: if i < n then elemAt bytes i else 0;
      mod = a: b: a - (a / b) * b;
      char = i: substring i 1 alphabet;
      quantum =
        g:
        let
          v = at (3 * g) * 65536 + at (3 * g + 1) * 256 + at (3 * g + 2);
          left = n - 3 * g;
        in
        char (v / 262144)
        + char (mod (v / 4096) 64)
        + (if left > 1 then char (mod (v / 64) 64) else "=")
        + (if left > 2 then char (mod v 64) else "=");
    in
    concatStringsSep "" (genList quantum ((n + 2) / 3));

  # `ssh-ed25519 AAAA… comment` → `ssh-ed25519 AAAA…` (type and key; the comment is not part of
  # what ssh compares), or null when the line does not look like a public key.
  hostKeyOf =
    line:
    let
      m = match "[[:space:]]*(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+)[[:space:]]+([A-Za-z0-9+/]+=*)([[:space:]].*)?" line;
    in
    if m == null then null else "${elemAt m 0} ${elemAt m 1}";

  # What `nix.buildMachines.*.publicHostKey` wants: base64 of the host key line as
  # `base64 -w0 ssh_host_ed25519_key.pub` gives it (the line, comment included, and its newline;
  # `hostseal pubkey --format publicHostKey` prints the same), or null when it is not a key line.
  publicHostKeyOrNull =
    line:
    let
      trimmed = match "[[:space:]]*([^[:space:]].*[^[:space:]])[[:space:]]*" line;
    in
    if hostKeyOf line == null || trimmed == null then null else base64 "${elemAt trimmed 0}\n";

  publicHostKeyOf =
    line:
    let
      k = publicHostKeyOrNull line;
    in
    if k == null then throw "hostseal: ${toJSON line} is not an ssh public key line" else k;

  # ---- remote builders ------------------------------------------------------------------------

  remoteBuilderKeyName = name: "remote-builders/${name}/ssh_key";
  remoteBuilderTokenName = name: "remote-builders/${name}/access-token.json";

  # The secrets one remote builder needs on the client: the client's ssh private key for the
  # builder's account, and (with Cloudflare Access) the service token, both root:root 0400.
  secretsOfRemoteBuilder =
    name: b:
    let
      access = get b "access" { };
      root = {
        owner = "root";
        group = "root";
        mode = "0400";
      };
    in
    (
      if get b "sshKeySopsFile" null == null then
        [ ]
      else
        [
          {
            name = remoteBuilderKeyName name;
            value = root // {
              sopsFile = b.sshKeySopsFile;
              format = get b "format" "binary";
              key = get b "key" "";
            };
          }
        ]
    )
    ++ (
      if get access "serviceTokenSopsFile" null == null then
        [ ]
      else
        [
          {
            name = remoteBuilderTokenName name;
            value = root // {
              sopsFile = access.serviceTokenSopsFile;
              format = get access "format" "json";
              key = get access "key" "";
              validate = "cloudflare-access-service-token";
            };
          }
        ]
    );

  remoteBuilderSecrets =
    builders: listToAttrs (concatMap (n: secretsOfRemoteBuilder n builders.${n}) (attrNames builders));

  # The `nix.buildMachines` entry of one remote builder; `link` is the secrets' symlink path.
  buildMachineOf = link: name: b: {
    hostName = get b "hostName" name;
    sshUser = get b "sshUser" null;
    sshKey =
      if get b "sshKeySopsFile" null == null then null else "${link}/${remoteBuilderKeyName name}";
    # An unusable hostKey is an assertion (remoteBuilderProblems), not an evaluation error.
    publicHostKey = publicHostKeyOrNull (get b "hostKey" "");
    systems = get b "systems" [ ];
    maxJobs = get b "maxJobs" 1;
    speedFactor = get b "speedFactor" 1;
    supportedFeatures = get b "supportedFeatures" [ ];
    mandatoryFeatures = get b "mandatoryFeatures" [ ];
    protocol = get b "protocol" "ssh-ng";
  };

  # The ssh `Host` block sending one builder's connections through `cloudflared access ssh`.
  sshHostBlock = hostName: proxyCommand: ''
    Host ${hostName}
      ProxyCommand ${proxyCommand} %h
  '';

  # The body of the ProxyCommand wrapper: reads the installed service token (readable by root
  # only: other users get cloudflared's browser login), hands it to cloudflared through the
  # environment variables `cloudflared access ssh` reads (TUNNEL_SERVICE_TOKEN_ID/_SECRET, the
  # env forms of --service-token-id/--service-token-secret), and execs it. Never an argument.
  accessWrapperText =
    {
      tokenFile,
      jq,
      cloudflared,
    }:
    "set -eu\n"
    + (
      if tokenFile == null then
        ""
      else
        ''
          token_file=${tokenFile}
          if [ -r "$token_file" ]; then
            TUNNEL_SERVICE_TOKEN_ID=$(${jq} -er '.client_id | strings' < "$token_file")
            TUNNEL_SERVICE_TOKEN_SECRET=$(${jq} -er '.client_secret | strings' < "$token_file")
            export TUNNEL_SERVICE_TOKEN_ID TUNNEL_SERVICE_TOKEN_SECRET
          fi
        ''
    )
    + ''
      exec ${cloudflared} access ssh --hostname "$1"
    '';

  # One host's ssh host key, declared once in the flake, in every form hostseal and Nix need:
  #   hosts = hostseal.lib.hostKeys { builder = "ssh-ed25519 AAAA… root@builder"; };
  #   hosts.builder.hostRecipient   → hostseal.age.hostRecipient on the builder
  #   hosts.builder.hostKey         → hostseal.remoteBuilders.<n>.hostKey on the clients
  #   hosts.builder.publicHostKey   → the base64 form nix.buildMachines wants
  #   hosts.builder.sopsRecipient   → the `.sops.yaml` recipient (an `age:` entry)
  hostKeys = builtins.mapAttrs (
    host: line:
    let
      k = hostKeyOf line;
    in
    if k == null then
      throw "hostseal.lib.hostKeys.${host}: ${toJSON line} is not an ssh public key line"
    else
      {
        hostKey = k;
        hostRecipient = k;
        publicHostKey = publicHostKeyOf line;
        # sops and hostseal take the ssh-ed25519 line itself as an age recipient; `hostseal
        # pubkey` prints the equivalent age1… when a tool wants that form.
        sopsRecipient = k;
      }
  );

  # ---- the manifest ---------------------------------------------------------------------------

  # Owner and group as the installer reads them: a name, or null with a number in uid/gid. A
  # group that is not set is left out: the installer then uses the owner's primary group (an
  # explicit null would mean `gid`, 0 by default). In user mode (home-manager) there is no
  # ownership at all: the user's own files.
  ownership =
    settings: spec:
    if get settings "userMode" false then
      { }
    else
      {
        owner =
          if isSet spec "owner" then
            spec.owner
          else if isSet spec "uid" then
            null
          else
            defaults.secret.owner;
      }
      // (
        if isSet spec "group" then
          { group = spec.group; }
        else if isSet spec "gid" then
          { group = null; }
        else if defaults.secret.group != null then
          { group = defaults.secret.group; }
        else
          { }
      )
      // (if isSet spec "uid" then { uid = spec.uid; } else { })
      // (if isSet spec "gid" then { gid = spec.gid; } else { });

  # A sealed file's path as the manifest holds it. A Nix path value stays a path, so that
  # `builtins.toJSON` copies the (encrypted) file into the store for the build-time check.
  sopsFileOf =
    settings: name: spec:
    let
      f = get spec "sopsFile" (get settings "defaultSopsFile" null);
    in
    if f == null then
      throw "hostseal.secrets.\"${name}\".sopsFile is not set and hostseal.defaultSopsFile is null"
    else
      f;

  # One manifest secret, every field filled in (sops-nix's fields plus hostseal's).
  manifestSecret =
    settings: link: attrName: spec:
    let
      name = get spec "name" attrName;
      format = get spec "format" (get settings "defaultSopsFormat" defaults.secret.format);
      defaultKey =
        if elem format keyedFormats then get settings "defaultSopsKey" name else defaults.secret.key;
      credentialFor = get spec "credentialFor" [ ];
      credstore = get spec "credstore" null;
    in
    {
      inherit name format;
      key = get spec "key" defaultKey;
      sopsFile = sopsFileOf settings name spec;
      restartUnits = unique (get spec "restartUnits" defaults.secret.restartUnits ++ credentialFor);
      reloadUnits = get spec "reloadUnits" defaults.secret.reloadUnits;
      onFailure = get spec "onFailure" defaults.secret.onFailure;
    }
    # A credential has no path (systemd finds it by name) and is always root:root 0400.
    // (
      if credstore == null then
        {
          path = get spec "path" "${link}/${name}";
          mode = get spec "mode" defaults.secret.mode;
        }
        // ownership settings spec
      else
        {
          inherit credstore;
          owner = "root";
          group = "root";
          mode = "0400";
        }
        // (if credstore == "encrypted" then { credstoreKey = get spec "credstoreKey" "auto"; } else { })
    )
    // (if isSet spec "entry" then { inherit (spec) entry; } else { })
    // (if isSet spec "validate" then { inherit (spec) validate; } else { });

  manifestTemplate =
    settings: link: attrName: spec:
    let
      name = get spec "name" attrName;
    in
    {
      inherit name;
      content = get spec "content" "";
      path = get spec "path" "${link}/rendered/${name}";
      mode = get spec "mode" defaults.secret.mode;
      restartUnits = get spec "restartUnits" defaults.secret.restartUnits;
      reloadUnits = get spec "reloadUnits" defaults.secret.reloadUnits;
    }
    // ownership settings spec
    // (if isSet spec "file" then { file = spec.file; } else { });

  # All secrets, the tunnels' included; a name defined twice is an error.
  allSecrets =
    secrets: tunnels:
    let
      fromTunnels = tunnelSecrets tunnels;
      both = filter (n: secrets ? ${n}) (attrNames fromTunnels);
    in
    if both != [ ] then
      throw "hostseal: secret \"${builtins.head both}\" is defined both by hostseal.tunnels and hostseal.secrets"
    else
      fromTunnels // secrets;

  # The manifest JSON (as an attrset) for `hostseal install` (docs/manifest.md).
  # `forUsers = true` makes the manifest of the `neededForUsers` secrets (installed before users
  # exist, so no templates); false makes the regular one.
  manifest =
    {
      secrets ? { },
      templates ? { },
      tunnels ? { },
      settings ? { },
      forUsers ? false,
    }:
    let
      loc = locations settings forUsers;
      everything = allSecrets secrets tunnels;
      chosen = filter (n: get everything.${n} "neededForUsers" false == forUsers) (attrNames everything);
      secretList = map (n: manifestSecret settings loc.symlinkPath n everything.${n}) chosen;
      templateList =
        if forUsers then [ ] else map (n: manifestTemplate settings loc.symlinkPath n templates.${n}) (attrNames templates);
      top = n: get settings n defaults.${n};
    in
    {
      secrets = secretList;
      templates = templateList;
      placeholderBySecretName = listToAttrs (
        map (s: {
          name = s.name;
          value = (get settings "placeholders" { }).${s.name} or (placeholderFor s.name);
        }) secretList
      );
      inherit (loc) secretsMountPoint symlinkPath;
      keepGenerations = top "keepGenerations";
      useTmpfs = top "useTmpfs";
      userMode = top "userMode";
      sshKeyPaths = top "sshKeyPaths";
      ageSshKeyPaths = top "ageSshKeyPaths";
      ageKeyFile = top "ageKeyFile";
      gnupgHome = top "gnupgHome";
      restartListsDir = top "restartListsDir";
      lockPath = top "lockPath";
      statusFile = top "statusFile";
      strict = top "strict";
      agePlugins = top "agePlugins";
      logging = top "logging";
    }
    # systemd-creds seals the encrypted credentials (only needed, and only written, with one).
    // (
      if
        isSet settings "systemdCreds"
        && builtins.any (s: (s.credstore or null) == "encrypted") secretList
      then
        { inherit (settings) systemdCreds; }
      else
        { }
    )
    // (if isSet settings "restartVia" then { inherit (settings) restartVia; } else { })
    // (if isSet settings "systemctl" then { inherit (settings) systemctl; } else { });

  # ---- checks (the module turns these into assertions) ----------------------------------------

  quote = s: toJSON (toString s);

  nameProblems =
    what: name:
    let
      parts = builtins.split "/" name;
      components = filter isString parts;
    in
    if name == "" || hasPrefix "/" name then
      [ "${what}: the name must be a non-empty relative path" ]
    else if !(all (c: c != "" && c != "." && c != "..") components) then
      [ "${what}: each component of the name must be non-empty and not \".\" or \"..\"" ]
    else if match ".*[\n\r].*" name != null then
      [ "${what}: the name must not contain a newline" ]
    else
      [ ];

  # owner/group must exist (unless numeric); `users` and `groups` are users.users/users.groups.
  # With validateSopsFiles the build reads each sealed file, so it must be in the store: a path
  # value (copied there) or a store path string.
  storeProblems =
    what: settings: f:
    if
      get settings "validateSopsFiles" false
      && f != null
      && isString f
      && !hasPrefix builtins.storeDir f
    then
      [ "${what} = ${quote f} is not in the Nix store: write it as a path (./secrets.yaml) so the build can check it, or set hostseal.validateSopsFiles = false" ]
    else
      [ ];

  ownerProblems =
    what: users: groups: spec:
    let
      owner = get spec "owner" null;
      group = get spec "group" null;
    in
    (
      if owner != null && isSet spec "uid" then
        [ "${what}: set owner or uid, not both (owner = ${quote owner}, uid = ${toString spec.uid})" ]
      else
        [ ]
    )
    ++ (
      if group != null && isSet spec "gid" then
        [ "${what}: set group or gid, not both (group = ${quote group}, gid = ${toString spec.gid})" ]
      else
        [ ]
    )
    ++ (
      if owner != null && !isNumeric owner && !(users ? ${owner}) then
        [ "${what}.owner = ${quote owner}: no such user in users.users" ]
      else
        [ ]
    )
    ++ (
      if group != null && !isNumeric group && !(groups ? ${group}) then
        [ "${what}.group = ${quote group}: no such group in users.groups" ]
      else
        [ ]
    );

  secretProblems =
    ctx: attrName: spec:
    let
      what = "hostseal.secrets.${quote attrName}";
      name = get spec "name" attrName;
      format = get spec "format" (get ctx.settings "defaultSopsFormat" defaults.secret.format);
      owner = get spec "owner" "root";
      group = get spec "group" "root";
      forUsers = get spec "neededForUsers" false;
    in
    nameProblems what name
    ++ (if ctx.checkOwners then ownerProblems what ctx.users ctx.groups spec else [ ])
    ++ storeProblems "${what}.sopsFile" ctx.settings (get spec "sopsFile" null)
    ++ (
      if elem format formats then
        [ ]
      else
        [ "${what}.format = ${quote format}: expected one of ${concatStringsSep ", " formats}" ]
    )
    ++ (
      if get spec "sopsFile" (get ctx.settings "defaultSopsFile" null) == null then
        [ "${what}.sopsFile is not set and hostseal.defaultSopsFile is null" ]
      else
        [ ]
    )
    ++ (
      if forUsers && (owner != "root" && owner != "0" || group != "root" && group != "0") then
        [ "${what}: neededForUsers secrets are installed before users exist, so they must be owned by root:root" ]
      else
        [ ]
    )
    ++ (
      if get spec "credentialFor" [ ] != [ ] && get spec "reloadUnits" [ ] != [ ] then
        [ "${what}: credentialFor units are restarted, never reloaded (a reload does not refresh a credential): remove reloadUnits" ]
      else
        [ ]
    )
    ++ (
      if forUsers && get spec "credentialFor" [ ] != [ ] then
        [ "${what}: credentialFor cannot be combined with neededForUsers" ]
      else
        [ ]
    )
    ++ credstoreProblems what name spec;

  # A secret delivered as a systemd credential is root:root 0400 at systemd's own path, named
  # as a credential, and installed by the regular installer only.
  credstoreProblems =
    what: name: spec:
    let
      kind = get spec "credstore" null;
      key = get spec "credstoreKey" "auto";
      notRoot =
        field: idField:
        let
          v = get spec field null;
          i = get spec idField null;
        in
        (v != null && v != "root" && v != "0") || (i != null && i != 0);
      mode = get spec "mode" "0400";
      path = get spec "path" null;
    in
    if kind == null then
      (if key != "auto" then [ "${what}.credstoreKey = ${quote key}: only with credstore = \"encrypted\"" ] else [ ])
    else if !(elem kind credstoreKinds) then
      [ "${what}.credstore = ${quote kind}: expected \"plain\" or \"encrypted\"" ]
    else
      (
        if notRoot "owner" "uid" || notRoot "group" "gid" || (mode != "0400" && mode != "400") then
          [ "${what}: a credstore secret is always root:root 0400 (systemd reads it as root and hands it to the unit's user): remove owner, uid, group, gid and mode" ]
        else
          [ ]
      )
      ++ (
        if path != null && path != credstorePath kind name then
          [ "${what}.path = ${quote path}: a credstore secret has no custom path; systemd finds it as ${credstorePath kind name}" ]
        else
          [ ]
      )
      ++ (
        if get spec "neededForUsers" false then
          [ "${what}: credstore cannot be combined with neededForUsers (both installs would manage ${credstoreDirs.${kind}})" ]
        else
          [ ]
      )
      ++ (
        if match "[!-.0-~]+" name == null || name == "." || name == ".." || stringLength name > 255 then
          [ "${what}: the credential name ${quote name} must be printable ASCII without `/` or spaces (it is a file name and a unit setting)" ]
        else
          [ ]
      )
      ++ (
        if kind == "plain" && key != "auto" then
          [ "${what}.credstoreKey = ${quote key}: only with credstore = \"encrypted\"" ]
        else
          [ ]
      )
      ++ (
        if !(elem key credstoreKeys) then
          [ "${what}.credstoreKey = ${quote key}: expected one of ${concatStringsSep ", " credstoreKeys}" ]
        else
          [ ]
      );

  templateProblems =
    ctx: attrName: spec:
    let
      what = "hostseal.templates.${quote attrName}";
    in
    nameProblems what (get spec "name" attrName) ++ ownerProblems what ctx.users ctx.groups spec;

  tunnelProblems =
    ctx: tunnel: t:
    let
      what = "hostseal.tunnels.${quote tunnel}";
      layout = get t "layout" null;
    in
    (
      if match "[A-Za-z0-9][A-Za-z0-9_.-]*" tunnel == null then
        [ "${what}: a tunnel name must be letters, digits, '-', '_' or '.' (it names a systemd unit)" ]
      else
        [ ]
    )
    ++ (
      if tunnelLayouts ? ${toString layout} then
        [ ]
      else
        [ "${what}.layout = ${quote layout}: expected \"loadCredential\" or \"legacyUser\"" ]
    )
    ++ (
      if layout == "legacyUser" then
        ownerProblems what ctx.users ctx.groups tunnelLayouts.legacyUser
        ++ (
          if ctx.users ? cloudflared then
            [ ]
          else
            [ "${what}: the legacyUser layout needs the cloudflared user; define users.users.cloudflared (and users.groups.cloudflared) or use layout = \"loadCredential\"" ]
        )
      else
        [ ]
    )
    ++ (
      if get t "credstore" null != null && layout == "legacyUser" then
        [ "${what}: credstore needs the loadCredential layout (nixpkgs' cloudflared module from 25.05 on, which reads its credentials with LoadCredential): remove credstore or use layout = \"loadCredential\"" ]
      else
        [ ]
    )
    ++ (
      let
        manual = ctx.cloudflaredTunnels.${tunnel} or { };
        given = filter (f: get manual f null != null) [
          "credentialsFile"
          "tokenFile"
        ];
      in
      if get t "credstore" null == "encrypted" && given != [ ] then
        [ "${what}: credstore = \"encrypted\" but services.cloudflared.tunnels.${quote tunnel}.${builtins.head given} is set too: cloudflared would be given that file instead; remove it" ]
      else
        [ ]
    )
    ++ (
      if get t "credstore" null != "encrypted" && get t "credstoreKey" "auto" != "auto" then
        [ "${what}.credstoreKey = ${quote (get t "credstoreKey" "auto")}: only with credstore = \"encrypted\"" ]
      else
        [ ]
    )
    ++ (
      if ctx.cloudflaredEnabled then
        [ ]
      else
        [ "${what}: services.cloudflared.enable is false, so ${tunnelUnit tunnel} does not exist and nothing reads the credential: set services.cloudflared.enable = true (or remove the tunnel)" ]
    )
    ++ (if isSet t "sopsFile" then [ ] else [ "${what}.sopsFile is not set" ])
    ++ storeProblems "${what}.sopsFile" ctx.settings (get t "sopsFile" null)
    ++ storeProblems "${what}.certificateSopsFile" ctx.settings (get t "certificateSopsFile" null);

  # A credentials or token file given to cloudflared directly must not be plaintext in the Nix
  # store (world-readable); `cloudflaredTunnels` is services.cloudflared.tunnels.
  plaintextCredentialProblems =
    cloudflaredTunnels:
    concatMap (
      tunnel:
      concatMap (
        field:
        let
          f = get cloudflaredTunnels.${tunnel} field null;
        in
        if f != null && (isPath f || hasPrefix builtins.storeDir (toString f)) then
          [ "services.cloudflared.tunnels.${quote tunnel}.${field} = ${quote f}: a plaintext credential would be copied into the world-readable Nix store; seal it and use hostseal.tunnels.${quote tunnel} instead" ]
        else
          [ ]
      ) [ "credentialsFile" "tokenFile" "certificateFile" ]
    ) (attrNames cloudflaredTunnels);

  keyPathProblems =
    ctx:
    let
      keyPaths = filter (p: p != null) ([ (get ctx.settings "ageKeyFile" null) ] ++ get ctx.settings "ageSshKeyPaths" [ ]);
      leaked = filter (p: elem (toString p) (map toString ctx.initrdPaths)) keyPaths;
    in
    map (p: "hostseal: the key ${quote p} is also copied into the initrd (boot.initrd.network.ssh.hostKeys or boot.initrd.secrets); an initrd on an unencrypted /boot gives the key away: use a separate key for the initrd") leaked;

  # Installed names must not collide on disk: no name is a directory of another, and
  # `rendered/` belongs to the templates when there are any.
  layoutProblems =
    templates: secrets:
    let
      isFile = n: get secrets.${n} "credstore" null == null;
      # Credentials live apart (credstore/<name>, credstore.encrypted/<name> in the generation).
      names = map (n: get secrets.${n} "name" n) (filter isFile (attrNames secrets));
      kinds = unique (filter (k: k != null) (map (n: get secrets.${n} "credstore" null) (attrNames secrets)));
      credstoreDirNames = map (k: if k == "plain" then "credstore" else "credstore.encrypted") kinds;
      nested = concatMap (
        a: map (b: "hostseal.secrets: ${quote a} cannot be both a file and the directory of ${quote b}") (
          filter (b: hasPrefix "${a}/" b) names
        )
      ) names;
      under = dir: filter (n: n == dir || hasPrefix "${dir}/" n) names;
    in
    nested
    ++ (
      if templates != { } then
        map (n: "hostseal.secrets: ${quote n} is under rendered/, which holds the templates") (under "rendered")
      else
        [ ]
    )
    ++ concatMap (
      dir: map (n: "hostseal.secrets: ${quote n} is under ${dir}/, which holds the systemd credentials (credstore): rename it") (under dir)
    ) credstoreDirNames;

  # The mistakes a remote-builder client configuration invites.
  remoteBuilderProblems =
    ctx: name: b:
    let
      what = "hostseal.remoteBuilders.${quote name}";
      access = get b "access" { };
      key = get b "sshKeySopsFile" null;
      hostKey = get b "hostKey" null;
    in
    (
      if hostKey == null then
        [ "${what}.hostKey is not set: give the builder's `ssh-ed25519 …` host key line, so root (nix-daemon) never meets a host-key prompt it cannot answer" ]
      else if hostKeyOf hostKey == null then
        [ "${what}.hostKey = ${quote hostKey} is not an ssh public key line (`ssh-ed25519 AAAA…`)" ]
      else
        [ ]
    )
    ++ (
      if key == null then
        [ "${what}.sshKeySopsFile is not set: seal the client's ssh private key for the builder and name it here" ]
      else if isString key && !hasPrefix builtins.storeDir key then
        [ "${what}.sshKeySopsFile = ${quote key} is a plain path string: write it as a Nix path (./secrets/builder_ed25519) to the SEALED key; a private key never goes in the store unsealed, and nix.buildMachines gets the installed copy" ]
      else
        [ ]
    )
    ++ (
      if get access "serviceTokenSopsFile" null != null && !(get access "enable" false) then
        [ "${what}.access.serviceTokenSopsFile is set but access.enable is false: without the cloudflared ProxyCommand the token is never used" ]
      else
        [ ]
    )
    ++ (
      if get b "systems" [ ] == [ ] then [ "${what}.systems is empty: name the systems the builder builds for (e.g. [ \"x86_64-linux\" ])" ] else [ ]
    )
    ++ storeProblems "${what}.access.serviceTokenSopsFile" ctx.settings (get access "serviceTokenSopsFile" null);

  # Every problem of a configuration, as assertion messages ([] when fine). `ctx` has the
  # module's inputs: secrets, templates, tunnels, settings, users, groups, initrdPaths,
  # cloudflaredTunnels, sopsNixSecrets (config.sops.secrets when sops-nix is imported).
  problems =
    ctx0:
    let
      ctx = {
        secrets = { };
        templates = { };
        tunnels = { };
        settings = { };
        users = { };
        groups = { };
        initrdPaths = [ ];
        cloudflaredTunnels = { };
        cloudflaredEnabled = true;
        sopsNixSecrets = { };
        remoteBuilders = { };
        usersBySysusers = false;
        mutableUsers = true;
        agePlugins = [ ];
        # false where users.users does not list every account (nix-darwin, home-manager).
        checkOwners = true;
      }
      // ctx0;
      secrets = ctx.secrets;
      fromTunnels = tunnelSecrets ctx.tunnels;
      clashes = filter (n: secrets ? ${n}) (attrNames fromTunnels);
      any = secrets != { } || ctx.tunnels != { } || ctx.templates != { } || ctx.remoteBuilders != { };
      link = (locations ctx.settings false).symlinkPath;
    in
    concatMap (n: secretProblems ctx n secrets.${n}) (attrNames secrets)
    ++ concatMap (n: templateProblems ctx n ctx.templates.${n}) (attrNames ctx.templates)
    ++ concatMap (n: tunnelProblems ctx n ctx.tunnels.${n}) (attrNames ctx.tunnels)
    ++ map (n: "hostseal.secrets.${quote n} is also made by hostseal.tunnels; remove one of them") clashes
    ++ layoutProblems ctx.templates (fromTunnels // secrets)
    ++ (
      if ctx.tunnels != { } && get ctx.settings "hostRecipient" null == null then
        [ "hostseal.tunnels is used but hostseal.age.hostRecipient is not set: set it to the host's age1… or ssh-ed25519 key so that the build checks every tunnel credential is sealed to this host" ]
      else
        [ ]
    )
    ++ (
      if
        any
        && get ctx.settings "ageKeyFile" null == null
        && get ctx.settings "ageSshKeyPaths" [ ] == [ ]
        && get ctx.settings "sshKeyPaths" [ ] == [ ]
      then
        [ "hostseal: no key source: set hostseal.age.keyFile or hostseal.age.sshKeyPaths (or enable services.openssh)" ]
      else
        [ ]
    )
    ++ (
      if ctx.sopsNixSecrets != { } && link == "/run/secrets" then
        [ "hostseal and sops-nix both install into /run/secrets: move every sops.secrets entry to hostseal.secrets (see \"Migrating from sops-nix\" in docs/nixos.md), or give hostseal another symlinkPath" ]
      else
        [ ]
    )
    ++ keyPathProblems ctx
    ++ plaintextCredentialProblems ctx.cloudflaredTunnels
    ++ (
      if ctx.usersBySysusers && !ctx.mutableUsers && filter (n: get secrets.${n} "neededForUsers" false) (attrNames secrets) != [ ] then
        [ "hostseal.secrets.*.neededForUsers with systemd.sysusers.enable needs users.mutableUsers = true: sysusers with immutable users never reads the installed password files (as with sops-nix)" ]
      else
        [ ]
    )
    ++ concatMap (
      p:
      if match "/.*/age-plugin-[^/]+" (toString p) == null then
        [ "hostseal.age.plugins: ${quote p} is not an age plugin binary (an absolute path ending in /age-plugin-<name>)" ]
      else
        [ ]
    ) ctx.agePlugins
    ++ concatMap (n: remoteBuilderProblems ctx n ctx.remoteBuilders.${n}) (attrNames ctx.remoteBuilders);

  # The sealed files a manifest uses (for the build-time checks).
  sealedFiles = m: unique (map (s: s.sopsFile) m.secrets);
in
{
  inherit
    defaults
    formats
    placeholderFor
    tunnelLayoutFor
    tunnelSecretName
    tunnelCertName
    tunnelUnit
    tunnelSecrets
    tunnelServiceSettings
    tunnelUnitSettings
    credstoreDirs
    credstoreKinds
    credstoreKeys
    credstorePath
    credentialSetting
    manifest
    problems
    sealedFiles
    systemdActivationFor
    base64
    hostKeyOf
    publicHostKeyOf
    hostKeys
    remoteBuilderKeyName
    remoteBuilderTokenName
    remoteBuilderSecrets
    buildMachineOf
    sshHostBlock
    accessWrapperText
    ;
}
