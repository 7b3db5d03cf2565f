#!/usr/bin/env bash
# Supply-chain check (deny.toml): licenses, bans, sources and RustSec advisories.
#
#   scripts/deny.sh [ADVISORY_DB_TARBALL [CHECK...]]
#
# Where the RustSec advisory database comes from, first that works:
#  1. a tarball: ADVISORY_DB_TARBALL, else $HOSTSEAL_ADVISORY_DB, else ../shared/advisory-db.tar.gz
#     (a shallow clone of github.com/rustsec/advisory-db that CI keeps beside the repository),
#     unpacked to target/advisory-db/advisory-db-<hash>, where <hash> is what cargo-deny derives
#     from the `db-urls` entry in deny.toml; the check then runs offline;
#  2. cargo-deny's own fetch (`cargo deny fetch db`, needs github.com);
#  3. a database left in target/advisory-db by an earlier run (its age is printed);
#  4. none (offline, first run): licenses, bans and sources are checked, and a loud
#     "ADVISORIES SKIPPED" banner says the advisories were not. Exit status 0.
# With HOSTSEAL_REQUIRE_CI_INPUTS=1 (set by .ci/run) only 1. is accepted: a missing tarball is
# an error, so CI never passes without the advisory check.
#
# Needs cargo-deny 0.20 (scripts/test.sh installs a prebuilt one; `cargo install --locked
# cargo-deny` builds it from source) and the crates in the local cargo cache (`cargo fetch` is
# run first: it needs the network once, or a pre-populated ~/.cargo/registry).
set -euo pipefail
cd "$(dirname "$0")/.."

tarball="${1:-${HOSTSEAL_ADVISORY_DB:-../shared/advisory-db.tar.gz}}"
checks=("${@:2}")
db_root=target/advisory-db
db_dir="$db_root/advisory-db-3157b0e258782691"
stamp="$db_root/.unpacked-from-tarball"

command -v cargo-deny >/dev/null || {
    echo "deny.sh: cargo-deny not found (cargo install --locked cargo-deny)" >&2
    exit 2
}

skipped_banner() {
    cat >&2 <<'EOF'

!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!!  ADVISORIES SKIPPED: no RustSec advisory database (no tarball, fetch from github.com  !!!
!!!  failed, none left in target/advisory-db). Checked: licenses, bans, sources only.     !!!
!!!  Run with network once, or: scripts/deny.sh PATH/TO/advisory-db.tar.gz               !!!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!

EOF
}

# Every crate of Cargo.lock must be local for an offline check (no-op when they are).
cargo fetch --locked

if [ -f "$tarball" ]; then
    # (Re)unpack when the tarball is newer than what is unpacked, or nothing is.
    if [ ! -d "$db_dir" ] || [ ! -f "$stamp" ] || [ "$tarball" -nt "$stamp" ]; then
        rm -rf "$db_root"
        mkdir -p "$db_root"
        tar xzf "$tarball" -C "$db_root"
        mv "$db_root/advisory-db" "$db_dir"
        touch "$stamp"
    fi
    echo "deny.sh: advisory database from $tarball"
    exec cargo deny --offline check "${checks[@]}"
fi

if [ "${HOSTSEAL_REQUIRE_CI_INPUTS:-}" = 1 ]; then
    echo "deny.sh: advisory database tarball not found: $tarball (required: HOSTSEAL_REQUIRE_CI_INPUTS=1)" >&2
    exit 2
fi

mkdir -p target
if cargo deny fetch db 2>target/deny-fetch.log; then
    rm -f "$stamp"
    echo "deny.sh: advisory database fetched from github.com/rustsec/advisory-db"
    exec cargo deny --offline check "${checks[@]}"
fi

if [ -f "$db_dir/.git/HEAD" ] || [ -d "$db_dir/crates" ]; then
    age=$(git -C "$db_dir" log -1 --format=%cs 2>/dev/null || echo unknown)
    echo "deny.sh: fetch failed (target/deny-fetch.log); using the advisory database left in $db_dir (dated $age)" >&2
    exec cargo deny --offline check "${checks[@]}"
fi

# Offline with no database: everything else, and say so loudly (before and after the output).
skipped_banner
if [ ${#checks[@]} -eq 0 ]; then checks=(licenses bans sources); fi
only=()
for c in "${checks[@]}"; do [ "$c" = advisories ] || only+=("$c"); done
status=0
[ ${#only[@]} -eq 0 ] || cargo deny --offline check "${only[@]}" || status=$?
skipped_banner
exit "$status"
