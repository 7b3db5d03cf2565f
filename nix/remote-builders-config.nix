# The configuration `hostseal.remoteBuilders` makes, shared by the NixOS and nix-darwin modules
# (both have nix.buildMachines, nix.distributedBuilds, programs.ssh.knownHosts and
# programs.ssh.extraConfig): build machines with the installed key and the pinned host key,
# known-hosts entries, and the ssh `Host` blocks whose ProxyCommand is a generated wrapper
# (docs/remote-builders.md). The wrapper holds paths only, never a token.
{
  lib,
  pkgs,
  hs,
  # hostseal.symlinkPath: where the builders' key and token are installed.
  symlinkPath,
  remoteBuilders,
}:
let
  behindAccess = lib.filterAttrs (_: b: b.access.enable) remoteBuilders;

  proxyCommand =
    n: b:
    pkgs.writeShellScript "hostseal-access-ssh-${n}" (
      hs.accessWrapperText {
        tokenFile =
          if b.access.serviceTokenSopsFile == null then
            null
          else
            lib.escapeShellArg "${symlinkPath}/${hs.remoteBuilderTokenName n}";
        jq = "${pkgs.jq}/bin/jq";
        cloudflared = "${b.access.package}/bin/cloudflared";
      }
    );
in
lib.mkIf (remoteBuilders != { }) {
  system.build.hostseal-access-proxy-commands = lib.mapAttrs proxyCommand behindAccess;
  nix.distributedBuilds = true;
  nix.buildMachines = lib.mapAttrsToList (hs.buildMachineOf symlinkPath) remoteBuilders;
  programs.ssh.knownHosts = lib.mapAttrs' (
    n: b:
    lib.nameValuePair "hostseal-builder-${n}" {
      hostNames = [ b.hostName ];
      publicKey = hs.hostKeyOf b.hostKey;
    }
  ) (lib.filterAttrs (_: b: b.hostKey != null && hs.hostKeyOf b.hostKey != null) remoteBuilders);
  programs.ssh.extraConfig = lib.concatStrings (
    lib.mapAttrsToList (n: b: hs.sshHostBlock b.hostName (proxyCommand n b)) behindAccess
  );
}
