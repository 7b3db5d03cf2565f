#!/usr/bin/env bash
# Prints the minimum Rust version Cargo.lock needs: the highest `rust-version` declared by any
# package in it (hostseal's own excluded), to compare with Cargo.toml's `rust-version`.
#
#   scripts/msrv.sh          # prints e.g. "1.88 (sha2 0.11.1, proptest 1.12.0)"
#   scripts/msrv.sh --check  # exits 1 unless Cargo.toml's rust-version equals it
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --locked | python3 -c '
import json, re, sys
meta = json.load(sys.stdin)
def key(v): return tuple(int(x) for x in v.split("."))
def short(v): return ".".join(v.split(".")[:2]) if v.endswith(".0") and v.count(".") == 2 else v
deps = [(key(p["rust_version"]), p["name"], p["version"]) for p in meta["packages"]
        if p.get("rust_version") and p["name"] != "hostseal"]
top = max(k for k, _, _ in deps)
need = short(".".join(map(str, top)))
who = ", ".join(f"{n} {v}" for k, n, v in sorted(deps) if k == top)
ours = re.search(r"^rust-version\s*=\s*\"([^\"]+)\"", open("Cargo.toml").read(), re.M).group(1)
print(f"{need} ({who}); Cargo.toml says {ours}")
if "--check" in sys.argv[1:] and key(ours) != key(need):
    sys.exit("msrv.sh: Cargo.toml rust-version %s differs from what Cargo.lock needs (%s)" % (ours, need))
' "$@"
