//! What the Nix tests share: the real `nix-instantiate` (isolated from the machine's Nix
//! configuration, daemon and store), and nixpkgs' `lib` and NixOS module files vendored under
//! `tests/fixtures/nixpkgs/` (unpacked into the target directory on first use;
//! `HOSTSEAL_NIXPKGS_LIB` overrides the `lib` directory, e.g. with the flake's nixpkgs).
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The recipient of the fixture host key `tests/fixtures/nix/host.key`.
pub const FIXTURE_RECIPIENT: &str =
    "age1f7h6xz4cquezjxc8xf335udry0calxuxvl7jffvzv4znpn8ymsuq6dtz65";

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Nix code under test.
pub fn nix_dir() -> PathBuf {
    repo().join("nix")
}

/// Writes a skip notice straight to the process's stderr, past libtest's output capture, once
/// per message.
pub fn loud(message: &'static str) {
    use std::io::Write;
    static SAID: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.contains(&message) {
        said.push(message);
        let _ = std::io::stderr().write_all(message.as_bytes());
    }
}

/// The `nix-instantiate` to use, or `None` (after a loud message) when there is none.
pub fn nix_instantiate() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HOSTSEAL_NIX_INSTANTIATE") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|d| d.join("nix-instantiate"))
        .find(|p| p.is_file());
    if found.is_none() {
        // CI must evaluate the modules: a missing Nix there is a failure, not a skip
        // (`.ci/run` sets HOSTSEAL_REQUIRE_CI_INPUTS=1; CI=true is the usual CI marker).
        let ci = std::env::var("CI").is_ok_and(|v| v == "true")
            || std::env::var("HOSTSEAL_REQUIRE_CI_INPUTS").is_ok_and(|v| v == "1");
        assert!(
            !ci,
            "CI: nix-instantiate is not on PATH, so the Nix modules would not be evaluated"
        );
        loud(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPED: nix-instantiate is not on PATH; the Nix side is NOT tested.       !!!\n\
             !!! Install Nix (Debian: apt-get install nix-bin) or set HOSTSEAL_NIX_INSTANTIATE !!!\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
        );
    }
    found
}

/// `nix-instantiate` isolated from the machine's Nix configuration, daemon and store.
pub fn nix_cmd(bin: &Path, scratch: &Path) -> Command {
    let mut c = Command::new(bin);
    c.current_dir(scratch)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", scratch)
        .env("NIX_CONF_DIR", scratch)
        .env("XDG_CACHE_HOME", scratch.join("cache"))
        .args(["--store", "dummy://"]);
    c
}

/// Evaluates `expr` strictly to JSON; panics with Nix's message when evaluation fails.
pub fn eval(bin: &Path, expr: &str) -> Value {
    let scratch = tempfile::tempdir().unwrap();
    let out = nix_cmd(bin, scratch.path())
        .args(["--eval", "--strict", "--json", "--expr", expr])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "evaluation failed:\n{expr}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Evaluates `expr`, expecting failure; returns Nix's error text.
pub fn eval_fails(bin: &Path, expr: &str) -> String {
    let scratch = tempfile::tempdir().unwrap();
    let out = nix_cmd(bin, scratch.path())
        .args(["--eval", "--strict", "--json", "--expr", expr])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "evaluation unexpectedly succeeded:\n{expr}"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A file under `tests/fixtures/nix/`, as a string for Nix code.
pub fn fixture(name: &str) -> String {
    repo()
        .join("tests/fixtures/nix")
        .join(name)
        .display()
        .to_string()
}

/// The vendored nixpkgs pieces.
pub fn nixpkgs_fixtures() -> PathBuf {
    repo().join("tests/fixtures/nixpkgs")
}

/// nixpkgs' `lib` directory: `HOSTSEAL_NIXPKGS_LIB` when set, else the vendored
/// `lib.tar.gz` unpacked (once, atomically) into the target directory.
pub fn nixpkgs_lib() -> PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        if let Some(p) = std::env::var_os("HOSTSEAL_NIXPKGS_LIB") {
            return PathBuf::from(p);
        }
        let tarball = nixpkgs_fixtures().join("lib.tar.gz");
        let bytes = std::fs::read(&tarball).expect("tests/fixtures/nixpkgs/lib.tar.gz");
        let digest = hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(&bytes)[..8]);
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nixpkgs-lib-{digest}"));
        if !root.join("lib/default.nix").is_file() {
            let staging = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
            let st = Command::new("tar")
                .arg("-xzf")
                .arg(&tarball)
                .arg("-C")
                .arg(staging.path())
                .status()
                .expect("tar");
            assert!(st.success(), "unpacking {} failed", tarball.display());
            // Another test process may have won the race: its copy is identical.
            let _ = std::fs::rename(staging.keep(), &root);
        }
        assert!(
            root.join("lib/default.nix").is_file(),
            "no lib in {}",
            root.display()
        );
        root.join("lib")
    })
    .clone()
}

/// The Nix attrset naming nixpkgs' module files the evaluation imports.
pub fn nixpkgs_modules_expr() -> String {
    let d = nixpkgs_fixtures().join("nixos-modules");
    format!(
        "{{ cloudflared = {d}/cloudflared.nix; assertions = {d}/assertions.nix; activation-script = {d}/activation-script.nix; }}",
        d = d.display()
    )
}

/// Evaluates nix/module.nix with `configuration` (a Nix module expression) through
/// nix/tests/nixos-eval.nix: nixpkgs' lib and modules, typed stubs for the rest.
pub fn eval_nixos(bin: &Path, configuration: &str) -> Value {
    eval(bin, &nixos_expr(configuration))
}

/// The expression `eval_nixos` evaluates.
pub fn nixos_expr(configuration: &str) -> String {
    format!(
        "import {}/tests/nixos-eval.nix {{ lib = import {}; nixpkgsModules = {}; configuration = {configuration}; }}",
        nix_dir().display(),
        nixpkgs_lib().display(),
        nixpkgs_modules_expr()
    )
}

/// Evaluates nix/home-manager.nix with `configuration` (nix/tests/home-manager-eval.nix).
pub fn eval_home_manager(bin: &Path, configuration: &str) -> Value {
    eval(bin, &platform_expr("home-manager-eval.nix", configuration))
}

/// Evaluates nix/darwin.nix with `configuration` (nix/tests/darwin-eval.nix).
pub fn eval_darwin(bin: &Path, configuration: &str) -> Value {
    eval(bin, &platform_expr("darwin-eval.nix", configuration))
}

fn platform_expr(harness: &str, configuration: &str) -> String {
    format!(
        "import {}/tests/{harness} {{ lib = import {}; nixpkgsModules = {}; configuration = {configuration}; }}",
        nix_dir().display(),
        nixpkgs_lib().display(),
        nixpkgs_modules_expr()
    )
}

/// The failed assertions' messages of an evaluation.
pub fn failed(r: &Value) -> Vec<String> {
    serde_json::from_value(r["failedAssertions"].clone()).unwrap()
}

/// Asserts one failed assertion contains `needle`.
pub fn assert_fires(r: &Value, needle: &str) {
    let msgs = failed(r);
    assert!(
        msgs.iter().any(|m| m.contains(needle)),
        "no failed assertion containing {needle:?} in {msgs:#?}"
    );
}

/// The secret called `name` in a manifest.
pub fn secret<'a>(m: &'a Value, name: &str) -> &'a Value {
    m["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no secret {name} in {m:#}"))
}
