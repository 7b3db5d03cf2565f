#!/usr/bin/env bash
# Scale measurement: a git repository with a `.sops.yaml` and N sealed files, and the
# time and peak memory of `check` (tracked files and `--staged`), `audit` and `updatekeys -y`
# (one recipient added) over it, with the release binary.
#
#   scripts/scale.sh [N...]          # default: 1000 10000
#
# Environment: HOSTSEAL (binary; default target/release/hostseal, built if missing),
# SCALE_DIR (where the trees go; default a fresh temporary directory, removed at the end),
# SCALE_KEEP=1 (keep the trees), RAYON_NUM_THREADS (worker threads; default: every core).
#
# Sealing is fast: one YAML and one JSON file are sealed with hostseal and copied under other
# names (sops's MAC does not cover the path, so every copy is a valid sealed file). 100 files a
# directory, as a real tree spreads them. Prints one line per command: wall seconds, CPU
# seconds (user+sys), CPU use (100% = one core) and peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."

HS=${HOSTSEAL:-$PWD/target/release/hostseal}
if [ ! -x "$HS" ]; then
  cargo build --release --quiet
fi
[ $# -gt 0 ] || set -- 1000 10000

base=${SCALE_DIR:-$(mktemp -d)}
if [ -z "${SCALE_DIR:-}" ] && [ -z "${SCALE_KEEP:-}" ]; then
  trap 'rm -rf "$base"' EXIT
fi
mkdir -p "$base"

# Runs a command under /usr/bin/time and prints one line; the command's output goes to a log.
measure() {
  local label=$1 n=$2
  shift 2
  local log="$base/$label-$n.log" tf="$base/$label-$n.time" rc=0
  /usr/bin/time -f '%e %U %S %P %M' -o "$tf" "$@" >"$log" 2>&1 || rc=$?
  read -r wall user sys cpu rss <"$tf"
  printf '%-16s N=%-6s %7.2f s wall %7.2f s cpu %5s %7d KiB peak RSS  (exit %d)\n' \
    "$label" "$n" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$cpu" "$rss" "$rc"
}

for n in "$@"; do
  repo="$base/repo-$n"
  rm -rf "$repo"
  mkdir -p "$repo/secrets"
  cd "$repo"
  git init -q -b main .
  git config user.email scale@example.invalid
  git config user.name scale
  admin=$("$HS" keygen -o admin.key 2>&1 | grep -o 'age1[0-9a-z]*')
  host=$("$HS" keygen -o host.key 2>&1 | grep -o 'age1[0-9a-z]*')
  printf 'admin.key\nhost.key\n' >.gitignore
  cat >.sops.yaml <<EOF
keys:
  - &admin $admin
  - &host $host
creation_rules:
  - path_regex: ^secrets/
    age: [*admin]
EOF
  # One file of each store, sealed for real; the rest are copies.
  printf 'db:\n  user: app\n  password: hunter2\napi_token: tok-123456\nport: 5432\n' >secrets/seed.yaml
  printf '{"user": "app", "password": "hunter2", "nested": {"token": "tok-123456"}}\n' >secrets/seed.json
  "$HS" encrypt -i secrets/seed.yaml
  "$HS" encrypt -i secrets/seed.json
  i=0
  while [ "$i" -lt "$n" ]; do
    d=$(printf 'secrets/d%03d' $((i / 100)))
    mkdir -p "$d"
    if [ $((i % 2)) -eq 0 ]; then
      cp secrets/seed.yaml "$d/s$i.yaml"
    else
      cp secrets/seed.json "$d/s$i.json"
    fi
    i=$((i + 1))
  done
  rm secrets/seed.yaml secrets/seed.json
  git add -A
  export SOPS_AGE_KEY_FILE="$repo/admin.key"
  echo "== N=$n ($(git ls-files | wc -l) tracked files, $(nproc) cores, RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-unset})"
  measure check-staged "$n" "$HS" check --staged
  git commit -q -m "N sealed files"
  measure check "$n" "$HS" check
  measure check-paths "$n" "$HS" check secrets
  measure audit "$n" "$HS" audit secrets
  measure audit-json "$n" "$HS" audit --json secrets
  # Add the host to the rule: every file is re-wrapped (data key kept).
  sed -i 's/age: \[\*admin\]/age: [*admin, *host]/' .sops.yaml
  measure updatekeys "$n" "$HS" updatekeys -y secrets
  measure check-after "$n" "$HS" check
  # Remove it again: every file gets a new data key, every value re-encrypted.
  sed -i 's/age: \[\*admin, \*host\]/age: [*admin]/' .sops.yaml
  measure updatekeys-rm "$n" "$HS" updatekeys -y secrets
  cd - >/dev/null
done
