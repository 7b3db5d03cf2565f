#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ (libFuzzer through cargo-fuzz) and records the executions.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     # default: 600 s (the goal) for every target
#   FUZZ_SANITIZER=address scripts/fuzz.sh    # with AddressSanitizer (about 2-3x slower)
#   FUZZ_BUILD=manual scripts/fuzz.sh         # build without cargo-fuzz (plain cargo + RUSTFLAGS)
#   FUZZ_RUNS=10000000 scripts/fuzz.sh 3600   # stop each target after 10 M execs (the goal),
#                                             # SECONDS is then only the cap
#   FUZZ_SKIP_BUILD=1                         # reuse the targets built by a previous call (for
#                                             # two calls side by side, one per core)
# The fuzzers run under `nice`: builds and tests on the same machine keep their speed.
#
# Stable toolchain only. What works here (rustc 1.95 stable, cargo-fuzz 0.13.2; both builds below
# were run: `cargo fuzz run -O -a -s none enc_value` 4.5 M execs in 10 s, `-s address` 0.7 M):
#  * libfuzzer-sys builds libFuzzer itself from its C++ sources with the system c++, so the
#    fuzzing engine needs no nightly.
#  * The coverage instrumentation cargo-fuzz asks rustc for is stable codegen options
#    (`-Cpasses=sancov-module`, `-Cllvm-args=-sanitizer-coverage-*`, `--cfg fuzzing`); with
#    `--sanitizer none` cargo-fuzz passes no `-Z` flag at all, so `cargo fuzz build -O
#    --sanitizer none` works on stable as is. Sanitizers need `-Zsanitizer=…` on this rustc:
#    `RUSTC_BOOTSTRAP=1` (exported below for sanitizer builds) makes stable rustc accept it, and the ASan runtime
#    ships with the stable std. hostseal is `forbid(unsafe_code)`, so ASan only guards the
#    dependencies' unsafe code; the default is `none` for throughput (ASan is ~6x slower). Never use `--build-std`
#    or `--careful` (they need the nightly std sources).
#  * FUZZ_BUILD=manual (or no cargo-fuzz installed): the same instrumentation through plain
#    `cargo build` and RUSTFLAGS (`build_manually` below; cargo-fuzz additionally passes
#    -Ccodegen-units=1, -Cllvm-args=-simplifycfg-branch-fold-threshold=0 and
#    -sanitizer-coverage-stack-depth).
#
# Each target runs from a working corpus under target/fuzz-corpus/<target> (never committed; it
# grows from run to run and `cargo clean` drops it). An empty one is seeded from the store
# fixtures and from tests/fixtures/fuzz/<target>/ (the committed seeds `seed-*` and every saved
# finding); those are copied in before every run. Override the place with FUZZ_CORPUS_DIR.
# Results go to the table in fuzz/README.md (execs, exec/s, corpus size, crashes). A crash's
# input is copied to tests/fixtures/fuzz/<target>/, which makes `cargo test --test regressions`
# replay it: that is the regression test. Fix the code, never the input.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds="${1:-600}"
shift || true
sanitizer="${FUZZ_SANITIZER:-none}"
host=$(rustc -vV | sed -n 's/^host: //p')
all_targets=(enc_value parse_yaml parse_json parse_dotenv parse_ini parse_sealed rules identity extract_path roundtrip manifest open_sealed sealed_roundtrip)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi
# Only sanitizer builds need it (and cargo rebuilds everything when it changes).
[ "$sanitizer" = none ] || export RUSTC_BOOTSTRAP=1

build_manually() {
    RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
        cargo build --release --target "$host" --manifest-path fuzz/Cargo.toml --bins
}

if [ -n "${FUZZ_SKIP_BUILD:-}" ]; then
    :
elif [ "${FUZZ_BUILD:-}" != manual ] && cargo fuzz --version >/dev/null 2>&1; then
    (cd fuzz && cargo fuzz build -O --debug-assertions --sanitizer "$sanitizer")
else
    [ "$sanitizer" = none ] || { echo "fuzz.sh: sanitizers need cargo-fuzz" >&2; exit 2; }
    build_manually
fi
bin_dir="$root/fuzz/target/$host/release"

# Seeds: the store fixtures for the store targets; for targets whose first byte selects a store
# (parse_sealed, roundtrip) or a reader (identity), the selector byte is prepended.
corpus_root="${FUZZ_CORPUS_DIR:-target/fuzz-corpus}"
seed() {
    local t=$1 dir="$corpus_root/$1"
    mkdir -p "$dir"
    # Committed seeds and saved findings are seeds too (copied every run: cheap, and a new
    # finding saved by hand reaches the next run).
    if [ -d "tests/fixtures/fuzz/$t" ]; then cp tests/fixtures/fuzz/"$t"/* "$dir/" 2>/dev/null || true; fi
    [ ! -e "$corpus_root/.$t.seeded" ] || return 0
    touch "$corpus_root/.$t.seeded"
    local f
    case $t in
        parse_json) for f in tests/fixtures/stores/*.json tests/fixtures/interop/*.json; do cp "$f" "$dir/"; done ;;
        parse_yaml) for f in tests/fixtures/stores/*.yaml tests/fixtures/interop/*.yaml; do cp "$f" "$dir/"; done ;;
        parse_dotenv) for f in tests/fixtures/stores/*.env tests/fixtures/interop/*.env; do cp "$f" "$dir/"; done ;;
        parse_ini) for f in tests/fixtures/stores/*.ini tests/fixtures/interop/*.ini; do cp "$f" "$dir/"; done ;;
        roundtrip|parse_sealed)
            local i=0 sel
            for f in tests/fixtures/stores/* tests/fixtures/interop/* tests/fixtures/peers/sops-nix/*.{yaml,json,env,ini}; do
                [ -f "$f" ] || continue
                case $f in *.json) sel='\x00' ;; *.yaml) sel='\x01' ;; *.env) sel='\x02' ;; *.ini) sel='\x03' ;; *) continue ;; esac
                { printf "$sel"; cat "$f"; } > "$dir/seed-$i"; i=$((i + 1))
            done ;;
        enc_value) printf 'ENC[AES256_GCM,data:f6SdJOI=,iv:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=,tag:T24uEWU6ZsEJ+sgqfIL1yA==,type:str]' > "$dir/kat" ;;
        extract_path) printf '["a"]["b\\"c"][0]' > "$dir/path"; printf 'a/b/0' > "$dir/manifest-key" ;;
        rules) printf 'creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    key_groups:\n      - age:\n          - &host age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq\n    encrypted_regex: ^(data|stringData)$\nstores:\n  yaml:\n    indent: 2\n' > "$dir/rules" ;;
        manifest) for f in tests/fixtures/nix/*.json nix/defaults.json; do [ -f "$f" ] && cp "$f" "$dir/"; done ;;
        identity)
            age-keygen 2>/dev/null | { printf '\x00'; cat; } > "$dir/age-identity" || true
            printf '\x01-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBhYmMKZGVmCi0tLSBnaGkKAA==\n-----END AGE ENCRYPTED FILE-----\n' > "$dir/armor" ;;
    esac
}

results=()
found=0
for t in "${targets[@]}"; do
    seed "$t"
    mkdir -p "fuzz/artifacts/$t"
    log="fuzz/artifacts/$t/last-run.log"
    before=$(ls -A "fuzz/artifacts/$t" | grep -c -E '^(crash|leak|timeout|oom)-' || true)
    echo "== $t: ${seconds}s"
    set +e
    runs=()
    [ -z "${FUZZ_RUNS:-}" ] || runs=(-runs="$FUZZ_RUNS")
    started=$(date +%s)
    nice -n 19 "$bin_dir/$t" "$corpus_root/$t" -max_total_time="$seconds" "${runs[@]}" -print_final_stats=1 \
        -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1
    rc=$?
    set -e
    execs=$(awk '/stat::number_of_executed_units/ {s += $2} END {print s + 0}' "$log")
    took=$(( $(date +%s) - started ))
    rate=$(( execs / (took > 0 ? took : 1) ))
    corpus=$(ls "$corpus_root/$t" | wc -l)
    crashes=0
    for a in fuzz/artifacts/"$t"/{crash,leak,timeout,oom}-*; do
        [ -f "$a" ] || continue
        crashes=$((crashes + 1))
        mkdir -p "tests/fixtures/fuzz/$t"
        cp "$a" "tests/fixtures/fuzz/$t/"
    done
    [ "$crashes" -le "$before" ] || found=1
    echo "   execs=$execs exec/s=$rate corpus=$corpus findings=$crashes rc=$rc"
    results+=("| $t | $took | $execs | $rate | $corpus | $crashes |")
done

# Record the run in fuzz/README.md between the markers: rows of the targets run now replace
# their old rows; other targets keep theirs (with their own date column).
printf '%s\n' "${results[@]}" > fuzz/.results.$$.tmp
RESULTS="fuzz/.results.$$.tmp" RUN_DATE="$(date -u '+%Y-%m-%d %H:%M')" SANITIZER="$sanitizer" LOAD="$(cut -d' ' -f1-3 /proc/loadavg)" \
python3 - <<'PY'
import os, re
readme = "fuzz/README.md"
text = open(readme).read()
m = re.search(r"<!-- fuzz:begin -->(.*?)<!-- fuzz:end -->", text, flags=re.S)
rows = {}
for line in (m.group(1) if m else "").splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) == 8 and cells[0] not in ("target", "---"):
        rows[cells[0]] = line
for line in open(os.environ["RESULTS"]).read().splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    rows[cells[0]] = (f"| {cells[0]} | {os.environ['RUN_DATE']} | {os.environ['SANITIZER']} | "
                      + " | ".join(cells[1:]) + " |")
block = ("<!-- fuzz:begin -->\n"
         f"Machine: {os.cpu_count()} CPUs shared with other builds; load at the last run "
         f"{os.environ['LOAD']}. One libFuzzer process per target.\n\n"
         "| target | run (UTC) | sanitizer | seconds | execs | exec/s | corpus files | findings |\n"
         "|---|---|---|---|---|---|---|---|\n"
         + "\n".join(rows[k] for k in sorted(rows)) + "\n<!-- fuzz:end -->")
text = re.sub(r"<!-- fuzz:begin -->.*?<!-- fuzz:end -->", lambda _: block, text, flags=re.S)
open(readme, "w").write(text)
PY
rm -f fuzz/.results.$$.tmp

if [ "$found" = 1 ]; then
    echo "fuzz.sh: NEW FINDINGS: inputs copied to tests/fixtures/fuzz/<target>/; run" >&2
    echo "         cargo test --test regressions   and fix the code." >&2
    exit 1
fi
