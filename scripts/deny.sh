#!/usr/bin/env bash
# Supply-chain check, fully offline: licenses, bans, sources and RustSec advisories (deny.toml).
#
#   scripts/deny.sh [ADVISORY_DB_TARBALL]
#
# The advisory database comes from a tarball (default ../shared/advisory-db.tar.gz, a shallow
# clone of github.com/rustsec/advisory-db) unpacked to target/advisory-db/advisory-db-<hash>,
# where <hash> is what cargo-deny derives from the `db-urls` entry in deny.toml.
# Needs cargo-deny 0.20 (`cargo install --locked cargo-deny`: 25 minutes to build here on 2 cores
# shared with other builds, over the CI budget: in CI install a prebuilt release binary instead)
# and the crates in the local cargo cache (`cargo fetch` is run first: it needs the network
# once, or a pre-populated ~/.cargo/registry).
set -euo pipefail
cd "$(dirname "$0")/.."

tarball="${1:-../shared/advisory-db.tar.gz}"
db_root=target/advisory-db
db_dir="$db_root/advisory-db-3157b0e258782691"

command -v cargo-deny >/dev/null || {
    echo "deny.sh: cargo-deny not found (cargo install --locked cargo-deny)" >&2
    exit 2
}

if [ ! -d "$db_dir" ]; then
    [ -f "$tarball" ] || {
        echo "deny.sh: advisory database tarball not found: $tarball" >&2
        exit 2
    }
    rm -rf "$db_root"
    mkdir -p "$db_root"
    tar xzf "$tarball" -C "$db_root"
    mv "$db_root/advisory-db" "$db_dir"
fi

# Every crate of Cargo.lock must be local for an offline check (no-op when they are).
cargo fetch --locked
cargo deny --offline check "${@:2}"
