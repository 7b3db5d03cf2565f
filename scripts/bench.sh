#!/usr/bin/env bash
# Whole-process benchmarks of hostseal against the real sops (and Go age where it fits).
#
#   scripts/bench.sh [REPS]        # default 5 timed runs per command (after one warm-up run)
#
# Builds hostseal with `--release`, generates the inputs in a temporary directory, then for each
# row runs the competing commands *alternating* (hostseal, sops, age, then the next repetition
# with the order rotated) so that load from other users of the machine hits every tool alike.
# Each run is timed with a monotonic clock around fork/exec/wait and its peak RSS read from
# GNU time's wait4(2) rusage (maxrss, the largest process of the run's tree). Medians, ratios
# (sops ÷ hostseal: > 1 means hostseal is faster / smaller) and the goals are printed as a table
# and written between the markers of BENCH.md (the hand-written text around them is kept).
#
# Rows whose hostseal command is not implemented yet (or whose store is not) print "pending".
# Environment: HOSTSEAL_SOPS = the sops binary (default .venv/bin/sops, then sops on PATH).
# Needs: cargo, python3, /usr/bin/time (GNU), age and age-keygen (Go age) on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

reps="${1:-5}"
sops_bin="${HOSTSEAL_SOPS:-}"
if [ -z "$sops_bin" ]; then
    if [ -x .venv/bin/sops ]; then sops_bin=$root/.venv/bin/sops; else sops_bin=$(command -v sops); fi
fi
[ -x "$sops_bin" ] || { echo "bench.sh: no sops binary (set HOSTSEAL_SOPS)" >&2; exit 2; }
command -v age-keygen >/dev/null || { echo "bench.sh: age-keygen (Go age) not on PATH" >&2; exit 2; }

cargo build --release --quiet --bin hostseal
hostseal_bin=$root/target/release/hostseal

# The install row needs its inputs where only root can write (install's trust rule refuses
# /tmp, docs/hardening.md): under /run as root; elsewhere install is not measured as on a host.
if [ "$(id -u)" = 0 ]; then
  install -d -m 0755 /run/hostseal-scripts
  work=$(mktemp -d /run/hostseal-scripts/bench.XXXXXX)
  chmod 0755 "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/hostseal-bench.XXXXXX")
fi
trap 'umount "$work/install/run/secrets.d" 2>/dev/null; rm -rf "$work"' EXIT

python3 - "$reps" "$hostseal_bin" "$sops_bin" "$(command -v age || true)" "$work" "$root/BENCH.md" <<'PY'
import json, os, platform, shutil, statistics, subprocess, sys, time

reps = int(sys.argv[1])
HOSTSEAL, SOPS, AGE, WORK, BENCH_MD = sys.argv[2:7]
os.chdir(WORK)

# --- environment: clean, isolated, identities only from the generated key -------------------
KEY = os.path.join(WORK, "key.txt")
subprocess.run(["age-keygen", "-o", KEY], check=True, capture_output=True)
RECIPIENT = next(l.split(": ", 1)[1].strip() for l in open(KEY) if l.startswith("# public key: "))
KEY2 = os.path.join(WORK, "key2.txt")
subprocess.run(["age-keygen", "-o", KEY2], check=True, capture_output=True)
RECIPIENT2 = next(l.split(": ", 1)[1].strip() for l in open(KEY2) if l.startswith("# public key: "))
ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": WORK,
    "SOPS_AGE_KEY_FILE": KEY,
    "SOPS_DISABLE_VERSION_CHECK": "1",
}

def sh(args, **kw):
    return subprocess.run(args, env=ENV, check=True, capture_output=True, **kw).stdout

# --- inputs ----------------------------------------------------------------------------------
def write(name, data):
    with open(name, "wb") as f:
        f.write(data)

write("small.yaml", "".join(f"key{i:02}: value-{i:02}-{'x' * 24}\n" for i in range(20)).encode())
large = []
for s in range(100):
    large.append(f"section{s:03}:\n")
    large.extend(f"    key{k:03}: value-{s:03}-{k:03}-{'y' * 16}\n" for k in range(100))
write("large.yaml", "".join(large).encode())
write("big.bin", os.urandom(5_000_000))

def sops_seal(src, dst, typ):
    out = sh([SOPS, "encrypt", "--age", RECIPIENT, "--input-type", typ, "--output-type", typ, src])
    write(dst, out)

# Decrypt rows read files sealed by sops, so both tools open the same bytes.
sops_seal("small.yaml", "small-sealed.yaml", "yaml")
sops_seal("large.yaml", "large-sealed.yaml", "yaml")
sops_seal("big.bin", "big-sealed.bin", "binary")
if AGE:
    sh([AGE, "-r", RECIPIENT, "-o", "big.bin.age", "big.bin"])

# install: 1,000 secrets in 50 sealed YAML files of 20 values, in a sops-nix manifest.
os.makedirs("install/src", exist_ok=True)
secrets = []
for f in range(50):
    path = os.path.join(WORK, f"install/src/file{f:02}.yaml")
    write(path, "".join(f"s{k:02}: secret-{f:02}-{k:02}\n" for k in range(20)).encode())
    write(path, sh([SOPS, "encrypt", "--age", RECIPIENT, path]))
    for k in range(20):
        secrets.append({
            "name": f"f{f:02}/s{k:02}", "key": f"s{k:02}", "path": f"{WORK}/install/run/secrets/f{f:02}/s{k:02}",
            "owner": "root", "uid": 0, "group": "root", "gid": 0, "sopsFile": path,
            "format": "yaml", "mode": "0400", "restartUnits": [], "reloadUnits": [],
        })
manifest = {
    "secrets": secrets, "templates": [], "placeholderBySecretName": {},
    "secretsMountPoint": f"{WORK}/install/run/secrets.d", "symlinkPath": f"{WORK}/install/run/secrets",
    "keepGenerations": 1, "sshKeyPaths": [], "gnupgHome": "", "ageKeyFile": KEY,
    "ageSshKeyPaths": [], "useTmpfs": False, "userMode": False,
    "logging": {"keyImport": False, "secretChanges": False},
    "statusFile": f"{WORK}/install/run/status.json", "lockPath": f"{WORK}/install/run/lock/lock",
    "restartVia": "none",
}
os.makedirs("install/run", exist_ok=True)
write("install/manifest.json", json.dumps(manifest).encode())
install_files = sorted({s["sopsFile"] for s in secrets})

# updatekeys: 500 sealed files (5 values each) whose rule adds a second recipient.
os.makedirs("uk-orig", exist_ok=True)
uk_plain = "".join(f"k{k}: v{k}\n" for k in range(5)).encode()
write("uk-plain.yaml", uk_plain)
uk_sealed = sh([SOPS, "encrypt", "--age", RECIPIENT, "uk-plain.yaml"])
for i in range(500):
    write(f"uk-orig/f{i:03}.yaml", uk_sealed)
rules = f"creation_rules:\n  - path_regex: .*\\.yaml$\n    age: {RECIPIENT},{RECIPIENT2}\n"

def reset_updatekeys():
    shutil.rmtree("uk", ignore_errors=True)
    shutil.copytree("uk-orig", "uk")
    write("uk/.sops.yaml", rules.encode())

RAMFS = os.geteuid() == 0  # as on a host: the mount point is a ramfs (root only)

def reset_install():
    mnt = "install/run/secrets.d"
    if RAMFS and os.path.ismount(mnt):
        subprocess.run(["umount", mnt], check=True)
    shutil.rmtree("install/run", ignore_errors=True)
    os.makedirs(mnt)
    if RAMFS:
        subprocess.run(["mount", "-t", "ramfs", "-o", "mode=0751", "ramfs", mnt], check=True)

def loop(cmds):
    """One shell running several commands: the sops baseline for multi-file rows."""
    return ["/bin/sh", "-c", "\n".join(" ".join(f"'{a}'" for a in c) + " >/dev/null || exit 1" for c in cmds)]

uk_files = [f"{WORK}/uk/f{i:03}.yaml" for i in range(500)]
ROWS = [
    # (name, goal ratio for time, goal for memory (hostseal ≤ sops × this), commands, prep)
    ("decrypt 20-value YAML", 10, None, {
        "hostseal": [HOSTSEAL, "decrypt", "small-sealed.yaml"],
        "sops": [SOPS, "decrypt", "small-sealed.yaml"]}, None),
    ("decrypt 10,000-value YAML", 3, 1 / 3, {
        "hostseal": [HOSTSEAL, "decrypt", "large-sealed.yaml"],
        "sops": [SOPS, "decrypt", "large-sealed.yaml"]}, None),
    ("encrypt 10,000-value YAML", 3, 1 / 3, {
        "hostseal": [HOSTSEAL, "encrypt", "--age", RECIPIENT, "large.yaml"],
        "sops": [SOPS, "encrypt", "--age", RECIPIENT, "large.yaml"]}, None),
    ("decrypt 5 MB binary", 3, 1 / 3, {
        "hostseal": [HOSTSEAL, "decrypt", "big-sealed.bin"],
        "sops": [SOPS, "decrypt", "big-sealed.bin"],
        **({"age": [AGE, "-d", "-i", KEY, "big.bin.age"]} if AGE else {})}, None),
    ("encrypt 5 MB binary", 3, 1 / 3, {
        "hostseal": [HOSTSEAL, "encrypt", "--age", RECIPIENT, "big.bin"],
        "sops": [SOPS, "encrypt", "--age", RECIPIENT, "big.bin"],
        **({"age": [AGE, "-r", RECIPIENT, "big.bin"]} if AGE else {})}, None),
    ("install 1,000 secrets / 50 files", 20, None, {
        "hostseal": [HOSTSEAL, "install", "--no-mount"] + ([] if RAMFS else ["--allow-disk"]) + ["install/manifest.json"],
        # Baseline: what a sops-based installer must at least do, one sops process per file
        # (sops-nix decrypts in one Go process, so this overstates its cost: see BENCH.md).
        "sops": loop([[SOPS, "decrypt", f] for f in install_files])}, reset_install),
    ("updatekeys 500 files", 10, None, {
        "hostseal": [HOSTSEAL, "updatekeys", "-y", f"{WORK}/uk"],
        "sops": loop([[SOPS, "--config", f"{WORK}/uk/.sops.yaml", "updatekeys", "-y", f]
                      for f in uk_files])}, reset_updatekeys),
]

# Peak RSS comes from GNU time's wait4: measured on this Python process's own child, ru_maxrss
# would include the forked copy of the interpreter before exec (about 29 MiB). time's own fork
# is small, and its figure covers the whole tree of the command (RUSAGE_BOTH).
GNU_TIME = "/usr/bin/time"
RSS_FILE = os.path.join(WORK, "rss.txt")

def run_once(cmd, prep):
    if prep:
        prep()
    t0 = time.perf_counter()
    p = subprocess.run([GNU_TIME, "-f", "%M", "-o", RSS_FILE, *cmd], env=ENV, cwd=WORK,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    try:
        rss = int(open(RSS_FILE).read().split()[-1])
    except (OSError, ValueError, IndexError):
        rss = 0
    return elapsed, rss, p.returncode, p.stderr.decode(errors="replace")

def first_line(s):
    return (s.strip().splitlines() or ["(no message)"])[0][:100]

def fmt_t(s):
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"

results = []
for name, goal_t, goal_m, cmds, prep in ROWS:
    # Warm-up run of each tool, hostseal first: it is also the "does it work yet" check.
    _, _, rc, err = run_once(cmds["hostseal"], prep)
    if rc != 0:
        print(f"{name}: pending ({first_line(err)})", file=sys.stderr)
        results.append((name, goal_t, goal_m, None, first_line(err)))
        continue
    for tool, cmd in cmds.items():
        if tool != "hostseal":
            _, _, rc, err = run_once(cmd, prep)
            if rc != 0:
                sys.exit(f"bench.sh: {tool} failed on '{name}': {first_line(err)}")
    samples = {tool: [] for tool in cmds}
    tools = list(cmds)
    for i in range(reps):
        order = tools[i % len(tools):] + tools[:i % len(tools)]
        for tool in order:
            t, rss, rc, err = run_once(cmds[tool], prep)
            if rc != 0:
                sys.exit(f"bench.sh: {tool} failed on '{name}': {first_line(err)}")
            samples[tool].append((t, rss))
    med = {tool: (statistics.median(t for t, _ in s), statistics.median(r for _, r in s))
           for tool, s in samples.items()}
    results.append((name, goal_t, goal_m, med, None))
    print(f"{name}: done", file=sys.stderr)

# --- table -------------------------------------------------------------------------------------
head = ("| benchmark | hostseal | sops | speed-up (sops ÷ hostseal) | goal | hostseal RSS | sops RSS "
        "| RSS ratio (hostseal ÷ sops) | goal | Go age |")
lines = [head, "|" + "---|" * 10]
for name, goal_t, goal_m, med, pending in results:
    if med is None:
        reason = pending.replace("|", "/")
        lines.append(f"| {name} | pending ({reason}) | | | ≥ {goal_t}× | | | | | |")
        continue
    (ht, hm), (st, sm) = med["hostseal"], med["sops"]
    speed = st / ht
    ratio_m = hm / sm
    ok_t = "met" if speed >= goal_t else "NOT met"
    ok_m = "" if goal_m is None else ("met" if ratio_m <= goal_m else "NOT met")
    goal_m_s = "" if goal_m is None else f"≤ ⅓ {ok_m}"
    age_s = ""
    if "age" in med:
        age_s = f"{fmt_t(med['age'][0])}, {med['age'][1] / 1024:.1f} MiB"
    lines.append(f"| {name} | {fmt_t(ht)} | {fmt_t(st)} | {speed:.1f}× | ≥ {goal_t}× {ok_t} | "
                 f"{hm / 1024:.1f} MiB | {sm / 1024:.1f} MiB | {ratio_m:.2f} | {goal_m_s} | {age_s} |")
table = "\n".join(lines)
print(table)

def version(cmd):
    try:
        return first_line(subprocess.run(cmd, env=ENV, capture_output=True, text=True).stdout)
    except OSError:
        return "?"

load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"]
meta = [
    f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {reps} timed runs per command "
    f"(medians), after one warm-up run; tools alternate within each repetition.",
    f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
    f"load average at the end {' '.join(load)}.",
    f"Versions: {version([HOSTSEAL, '--version'])}; {version([SOPS, '--version'])}; "
    f"age {version([AGE, '--version']) if AGE else 'absent'}.",
]
block = "<!-- bench:begin -->\n" + "\n".join(meta) + "\n\n" + table + "\n<!-- bench:end -->"
old = open(BENCH_MD).read() if os.path.exists(BENCH_MD) else ""
if "<!-- bench:begin -->" in old and "<!-- bench:end -->" in old:
    pre, rest = old.split("<!-- bench:begin -->", 1)
    post = rest.split("<!-- bench:end -->", 1)[1]
    new = pre + block + post
else:
    new = "# Benchmarks\n\nWritten by `scripts/bench.sh`.\n\n" + block + "\n"
with open(BENCH_MD, "w") as f:
    f.write(new)
print(f"wrote {BENCH_MD}", file=sys.stderr)
PY
