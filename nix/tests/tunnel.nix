# NixOS VM test: a sealed Cloudflare tunnel credential installed by hostseal, in both layouts.
#
# UNVERIFIED: written carefully and parse-checked (tests/nix_eval.rs), but never run — the
# machines it was written on have neither nixpkgs nor KVM. Run it with
#   nix build .#checks.x86_64-linux.tunnel -L
#
# Nodes:
#   modern  layout "loadCredential": nixpkgs' cloudflared module as it is today (DynamicUser,
#           LoadCredential); the file is root:root 0400 and only systemd reads it.
#   legacy  layout "legacyUser": a `cloudflared` service user defined by hand (as in the seeds),
#           the service reading the file itself; the file is cloudflared:cloudflared 0600.
# cloudflared itself cannot reach Cloudflare from the VM, so ExecStart is replaced by a stand-in
# that reads the credential the way cloudflared would, logs its hash and stays up.
# Checks: owner, group, mode and content of the installed file; the service can read it; a
# changed credential (specialisation `changed`, sealed tunnel-v2.json) restarts the service,
# and re-activating an unchanged configuration does not.
{ pkgs, self }:
let
  fixtures = ../../tests/fixtures/nix;
  tunnelId = "6ff42ae2-765d-4adf-8112-31c55c1551ef";
  # TEST KEY (tests/fixtures/nix/README.md): published on purpose.
  hostRecipient = "age1f7h6xz4cquezjxc8xf335udry0calxuxvl7jffvzv4znpn8ymsuq6dtz65";

  common =
    { config, lib, ... }:
    {
      imports = [ self.nixosModules.default ];
      services.cloudflared.enable = true;
      services.cloudflared.tunnels.builder.ingress."builder.example.invalid" = "ssh://127.0.0.1:22";
      services.openssh.enable = true;
      hostseal = {
        # The test key lives in the store (the module warns): a real host uses its ssh host key.
        age.keyFile = "${fixtures}/host.key";
        age.sshKeyPaths = [ ];
        sshKeyPaths = [ ];
        age.hostRecipient = hostRecipient;
        tunnels.builder.sopsFile = "${fixtures}/tunnel.json";
      };
      specialisation.changed.configuration = {
        hostseal.tunnels.builder.sopsFile = lib.mkForce "${fixtures}/tunnel-v2.json";
      };
      environment.systemPackages = [
        pkgs.jq
        config.hostseal.package
      ];
    };

  # Reads the credential file as cloudflared would and logs its hash (never its content).
  standIn =
    file:
    pkgs.writeShellScript "cloudflared-stand-in" ''
      set -eu
      ${pkgs.jq}/bin/jq -e '.TunnelID and .TunnelSecret and .AccountTag' ${file} > /dev/null
      echo "stand-in read credentials $(${pkgs.coreutils}/bin/sha256sum < ${file} | cut -c1-64)"
      exec ${pkgs.coreutils}/bin/sleep infinity
    '';
in
pkgs.testers.runNixOSTest {
  name = "hostseal-tunnel";

  nodes.modern =
    { lib, ... }:
    {
      imports = [ common ];
      hostseal.tunnels.builder.layout = "loadCredential";
      systemd.services.cloudflared-tunnel-builder.serviceConfig.ExecStart =
        lib.mkForce "${standIn "\${CREDENTIALS_DIRECTORY}/credentials.json"}";
    };

  nodes.legacy =
    { lib, ... }:
    {
      imports = [ common ];
      hostseal.tunnels.builder.layout = "legacyUser";
      users.users.cloudflared = {
        isSystemUser = true;
        group = "cloudflared";
      };
      users.groups.cloudflared = { };
      # The seeds' service: a fixed user reading the file directly, no LoadCredential.
      systemd.services.cloudflared-tunnel-builder.serviceConfig = {
        DynamicUser = lib.mkForce false;
        User = "cloudflared";
        Group = "cloudflared";
        LoadCredential = lib.mkForce [ ];
        ExecStart = lib.mkForce "${standIn "/run/secrets/cloudflared/builder.json"}";
      };
    };

  testScript = ''
    secret = "/run/secrets/cloudflared/builder.json"
    unit = "cloudflared-tunnel-builder.service"
    expected = {"modern": "root:root 400", "legacy": "cloudflared:cloudflared 600"}

    def invocation(m):
        return m.succeed(f"systemctl show -P InvocationID {unit}").strip()

    def digest(m):
        return m.succeed(f"sha256sum < {secret} | cut -c1-64").strip()

    start_all()
    for m in [modern, legacy]:
        name = m.name
        with subtest(f"{name}: installed with the layout's owner, group and mode"):
            m.wait_for_unit("multi-user.target")
            m.succeed(f"test -L /run/secrets && test -f {secret}")
            got = m.succeed(f"stat -L -c '%U:%G %a' {secret}").strip()
            assert got == expected[name], f"{name}: {got} != {expected[name]}"
            m.succeed(f"jq -e '.TunnelID == \"${tunnelId}\"' {secret}")
            m.succeed("hostseal status")

        with subtest(f"{name}: the service reads the credential"):
            m.wait_for_unit(unit)
            first = digest(m)
            m.wait_until_succeeds(f"journalctl -u {unit} -o cat | grep -q 'stand-in read credentials {first}'")

        with subtest(f"{name}: unchanged credential, no restart"):
            before = invocation(m)
            m.succeed("/run/current-system/bin/switch-to-configuration test")
            assert invocation(m) == before, f"{name}: restarted without a change"

        with subtest(f"{name}: changed credential, restart"):
            m.succeed("/run/current-system/specialisation/changed/bin/switch-to-configuration test")
            m.wait_for_unit(unit)
            second = digest(m)
            assert second != first, f"{name}: the credential did not change"
            got = m.succeed(f"stat -L -c '%U:%G %a' {secret}").strip()
            assert got == expected[name], f"{name}: after the change {got}"
            m.wait_until_succeeds(f"journalctl -u {unit} -o cat | grep -q 'stand-in read credentials {second}'")
            assert invocation(m) != before, f"{name}: not restarted after the change"
  '';
}
