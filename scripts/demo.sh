#!/usr/bin/env bash
# Builds hostseal and walks through its main job on an example: a Cloudflare Tunnel credentials
# file (as `cloudflared tunnel create` writes it) sealed to an admin key and to a throwaway host's
# ssh ed25519 host key, by rules in a generated .sops.yaml; then opened again with the host key.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
hs="$root/target/release/hostseal"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
# Only the keys named below are used: no identities from the caller's environment or home.
unset SOPS_AGE_KEY SOPS_AGE_KEY_FILE SOPS_AGE_SSH_PRIVATE_KEY_FILE SOPS_CONFIG
export HOME="$work" XDG_CONFIG_HOME="$work/.config"

echo "# 1. An admin age key and a host ssh key (a throwaway stand-in for /etc/ssh/ssh_host_ed25519_key)"
"$hs" keygen -o admin.key >/dev/null
ssh-keygen -q -t ed25519 -N '' -C builder -f ssh_host_ed25519_key
admin=$("$hs" pubkey admin.key)
builder=$("$hs" pubkey ssh_host_ed25519_key.pub)
echo "admin:   $admin"
echo "builder: $builder   (derived from the host key with ssh-to-age)"

echo; echo "# 2. Rules: who may read what"
mkdir -p secrets/builder
cat > .sops.yaml <<YAML
keys:
  - &admin $admin
  - &builder $builder
creation_rules:
  - path_regex: ^secrets/builder/
    key_groups:
      - age: [*admin, *builder]
YAML
cat .sops.yaml

echo; echo "# 3. The tunnel credentials (sample values), sealed"
secret=$(head -c 32 /dev/urandom | base64)
printf '{"AccountTag":"0123456789abcdef0123456789abcdef","TunnelSecret":"%s","TunnelID":"c0ffee00-1234-4abc-8def-0123456789ab"}\n' "$secret" > tunnel.json
"$hs" encrypt --filename-override secrets/builder/tunnel.json - < tunnel.json > secrets/builder/tunnel.json
shred -u tunnel.json 2>/dev/null || rm -f tunnel.json
cat secrets/builder/tunnel.json

echo; echo "# 4. Opened on the host with its ssh host key"
"$hs" decrypt --identity ssh_host_ed25519_key secrets/builder/tunnel.json
echo; echo "# 5. One value, with the admin key"
"$hs" decrypt --identity admin.key --extract '["TunnelID"]' secrets/builder/tunnel.json; echo
