#!/usr/bin/env bash
# End-to-end check of the activation step with a cloudflared tunnel credential.
#
# As root, in a throwaway root directory: makes the `cloudflared` system user/group if missing,
# a throwaway ed25519 host key, seals a credentials JSON (as `cloudflared tunnel create` writes
# it) to the host key's derived age recipient, writes a manifest as sops-nix would (plus
# hostseal's fields), installs it on a real ramfs, shows the file in BOTH layouts
# (root:root 0400 for systemd's LoadCredential; cloudflared:cloudflared 0600 for the legacy
# service user), changes the credentials, installs again and shows the restart of
# cloudflared-tunnel-<id>.service through a recording `systemctl`. Exits non-zero on any
# mismatch. The plaintext never touches the disk (it is piped into `hostseal encrypt`).
#
#   HOSTSEAL=path/to/hostseal  (default: target/debug/hostseal next to this script)
#   KEEP=1                     keep the temporary root (the ramfs is unmounted anyway)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
HOSTSEAL=${HOSTSEAL:-$here/target/debug/hostseal}
[ "$(id -u)" = 0 ] || { echo "e2e-tunnel: run as root" >&2; exit 1; }
[ -x "$HOSTSEAL" ] || { echo "e2e-tunnel: build first (cargo build) or set HOSTSEAL" >&2; exit 1; }

# Under /run, not /tmp: install reads only files whose every directory only root can write
# (docs/hardening.md), and /tmp is world-writable.
install -d -m 0755 /run/hostseal-scripts
root=$(mktemp -d /run/hostseal-scripts/e2e.XXXXXX)
chmod 0755 "$root"
mnt=$root/run/secrets.d
cleanup() {
    if grep -q " $mnt " /proc/self/mountinfo 2>/dev/null; then umount "$mnt"; fi
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $root"; else rm -rf "$root"; fi
}
trap cleanup EXIT
fail() { echo "e2e-tunnel: FAIL: $*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }

step "cloudflared system user and group"
getent group cloudflared >/dev/null || groupadd --system cloudflared
if ! getent passwd cloudflared >/dev/null; then
    useradd --system --no-create-home --shell /usr/sbin/nologin --gid cloudflared cloudflared
fi
id cloudflared

step "throwaway host key and its derived age recipient"
mkdir -p "$root/etc/ssh" "$root/repo/secrets/builder" "$root/bin" "$root/nix-store"
ssh-keygen -q -t ed25519 -N "" -C e2e-host -f "$root/etc/ssh/ssh_host_ed25519_key"
recipient=$("$HOSTSEAL" pubkey "$root/etc/ssh/ssh_host_ed25519_key.pub")
echo "host recipient: $recipient"

tunnel_id=$(cat /proc/sys/kernel/random/uuid)
account=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
credentials() { # $1 = base64 TunnelSecret
    printf '{"AccountTag":"%s","TunnelSecret":"%s","TunnelID":"%s"}' "$account" "$1" "$tunnel_id"
}
sealed=$root/nix-store/tunnel.json
seal() { # $1 = plaintext; writes $sealed root-owned 0444, as the Nix store would hold it
    rm -f "$sealed"
    printf '%s' "$1" | "$HOSTSEAL" encrypt --age "$recipient" --filename-override tunnel.json - >"$sealed"
    chmod 0444 "$sealed"
}

cat >"$root/bin/systemctl" <<SH
#!/bin/sh
echo "systemctl \$*" >> "$root/systemctl.log"
[ "\$1" = is-active ] && echo active
exit 0
SH
chmod 0755 "$root/bin/systemctl"

unit="cloudflared-tunnel-$tunnel_id.service"
manifest=$root/manifest.json
cat >"$manifest" <<JSON
{
  "secrets": [
    {"name": "cloudflared/$tunnel_id.json", "key": "", "path": "$root/run/secrets/cloudflared/$tunnel_id.json",
     "owner": "root", "uid": 0, "group": "root", "gid": 0, "sopsFile": "$sealed", "format": "json",
     "mode": "0400", "restartUnits": ["$unit"], "reloadUnits": [], "sopsFileHash": "", "neededForUsers": false},
    {"name": "cloudflared-legacy/$tunnel_id.json", "key": "", "path": "$root/etc/cloudflared/$tunnel_id.json",
     "owner": "cloudflared", "uid": 0, "group": "cloudflared", "gid": 0, "sopsFile": "$sealed", "format": "json",
     "mode": "0600", "restartUnits": ["$unit"], "reloadUnits": [], "sopsFileHash": "", "neededForUsers": false}
  ],
  "templates": {},
  "placeholderBySecretName": {},
  "secretsMountPoint": "$mnt",
  "symlinkPath": "$root/run/secrets",
  "keepGenerations": 1,
  "gnupgHome": null,
  "sshKeyPaths": [],
  "ageKeyFile": null,
  "ageSshKeyPaths": ["$root/etc/ssh/ssh_host_ed25519_key"],
  "useTmpfs": false,
  "userMode": false,
  "logging": {"keyImport": true, "secretChanges": true},
  "restartVia": "systemctl",
  "systemctl": "$root/bin/systemctl",
  "lockPath": "$root/run/hostseal/lock",
  "restartListsDir": "$root/run/nixos"
}
JSON

same_json() { # $1 = JSON text, $2 = file: equal as JSON values (text via stdin, never argv)
    printf '%s' "$1" | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin) != json.load(open(sys.argv[1])))' "$2"
}

check_layouts() { # $1 = expected plaintext
    local lc=$root/run/secrets/cloudflared/$tunnel_id.json
    local legacy=$root/run/secrets/cloudflared-legacy/$tunnel_id.json
    stat -L -c '%U:%G %a %n' "$lc" "$legacy" "$root/etc/cloudflared/$tunnel_id.json"
    [ "$(stat -L -c '%U:%G %a' "$lc")" = "root:root 400" ] || fail "loadCredential layout"
    [ "$(stat -L -c '%U:%G %a' "$legacy")" = "cloudflared:cloudflared 600" ] || fail "legacyUser layout"
    # The whole file is re-emitted as sops emits JSON (tab-indented): compare as JSON.
    same_json "$1" "$lc" || fail "content (loadCredential)"
    same_json "$1" "$root/etc/cloudflared/$tunnel_id.json" || fail "content (legacy path)"
    [ "$(stat -f -c %T "$mnt")" = ramfs ] || fail "not on ramfs"
    echo "$root/run/secrets -> $(readlink "$root/run/secrets")"
}

step "seal the credentials and install (generation 1)"
creds1=$(credentials "$(head -c 32 /dev/urandom | base64 -w0)")
seal "$creds1"
grep -q '"TunnelSecret": "ENC\[' "$sealed" || fail "TunnelSecret not sealed"
"$HOSTSEAL" install "$manifest"
check_layouts "$creds1"
[ ! -s "$root/systemctl.log" ] || fail "restart on first install"
"$HOSTSEAL" status "$mnt/status.json"

step "new credentials (a rotated TunnelSecret) and install again (generation 2)"
creds2=$(credentials "$(head -c 32 /dev/urandom | base64 -w0)")
seal "$creds2"
"$HOSTSEAL" install "$manifest"
check_layouts "$creds2"
[ "$(readlink "$root/run/secrets")" = "$mnt/2" ] || fail "not switched to generation 2"
cat "$root/systemctl.log"
grep -qx "systemctl --no-block try-restart -- $unit" "$root/systemctl.log" || fail "no restart of $unit"

step "install again without changes: no restart"
: >"$root/systemctl.log"
"$HOSTSEAL" install "$manifest"
[ ! -s "$root/systemctl.log" ] || fail "restart without a change"

echo
echo "e2e-tunnel: OK"
