# The manifest of `hostseal install` as a pure function (docs/manifest.md): builtins only, so that
#
#   nix-instantiate --eval --strict --json --expr \
#     'import ./nix/manifest.nix { secrets = { x = { sopsFile = "/s.yaml"; }; }; settings = { }; }'
#
# shows exactly what a NixOS configuration would install, without nixpkgs. Arguments:
#   secrets   hostseal.secrets (attrset of secret specs; null fields mean "default")
#   templates hostseal.templates
#   tunnels   hostseal.tunnels (expanded into secrets `cloudflared/<tunnel>.json`)
#   settings  the top-level manifest fields (secretsMountPoint, ageKeyFile, restartVia, …) and
#             defaultSopsFile / defaultSopsFormat / defaultSopsKey
#   forUsers  true for the manifest of the neededForUsers secrets
# Every field left out gets its default from defaults.json, the file the installer embeds.
let
  defaults = builtins.fromJSON (builtins.readFile ./defaults.json);
  hostseal = import ./lib.nix { inherit defaults; };
in
hostseal.manifest
