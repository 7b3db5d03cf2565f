//! flake.nix's `packages.default` and `apps.default`, evaluated with nixpkgs' real `lib` and
//! stubbed packages (no nixpkgs checkout or binary cache here): every system has both, the app
//! runs the package's binary, and the package's postInstall, run against the built binary with
//! stand-ins for installShellFiles' two functions, installs completions and every man page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;
#[path = "nix_support/mod.rs"]
mod nix_support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// nixpkgs' `lib` directory: the vendored one (tests/fixtures/nixpkgs), or
/// `HOSTSEAL_NIXPKGS_LIB` (the flake's checks pass their own).
fn nixpkgs_lib() -> Option<PathBuf> {
    Some(nix_support::nixpkgs_lib())
}

fn eval(lib: &Path) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let expr = format!(
        "import {} {{ lib = import {}; flake = {}/flake.nix; }}",
        common::fixture("flake-outputs-eval.nix").display(),
        lib.display(),
        root.display()
    );
    let out = common::run_ok(
        Command::new("nix-instantiate")
            .args(["--eval", "--strict", "--json", "-E"])
            .arg(&expr),
    );
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn every_system_has_a_package_and_an_app_running_it() {
    let Some(lib) = nixpkgs_lib() else { return };
    let r = eval(&lib);
    for system in [
        "x86_64-linux",
        "aarch64-linux",
        "x86_64-darwin",
        "aarch64-darwin",
    ] {
        let s = &r[system];
        assert_eq!(s["app"]["type"], "app", "{system}");
        let program = s["app"]["program"].as_str().unwrap();
        assert!(program.ends_with("-hostseal/bin/hostseal"), "{program}");
        assert_eq!(s["package"]["mainProgram"], "hostseal");
        assert_eq!(s["package"]["nativeBuildInputs"][0], "installShellFiles");
    }
}

#[test]
fn post_install_installs_completions_and_man_pages() {
    let Some(lib) = nixpkgs_lib() else { return };
    let r = eval(&lib);
    let post = r["x86_64-linux"]["package"]["postInstall"]
        .as_str()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("bin")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_hostseal"), out.join("bin/hostseal")).unwrap();
    let build = dir.path().join("build");
    std::fs::create_dir(&build).unwrap();
    // installShellFiles' functions, reduced to where they put files.
    let stubs = r#"
installShellCompletion() {
  [ "$1" = --cmd ] || exit 9; name=$2; shift 2
  while [ $# -gt 0 ]; do
    d="$out/share/completions/${1#--}"; mkdir -p "$d"; cat "$2" > "$d/$name"; shift 2
  done
}
installManPage() { mkdir -p "$out/share/man/man1"; cp "$@" "$out/share/man/man1/"; }
"#;
    common::run_ok(
        Command::new("bash")
            .args(["-euo", "pipefail", "-c", &format!("{stubs}\n{post}")])
            .current_dir(&build)
            .env("out", &out),
    );
    for shell in ["bash", "zsh", "fish"] {
        let script =
            std::fs::read_to_string(out.join("share/completions").join(shell).join("hostseal"))
                .unwrap();
        assert!(script.contains("updatekeys"), "{shell} completion");
    }
    let pages: Vec<String> = std::fs::read_dir(out.join("share/man/man1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(pages.contains(&"hostseal.1".to_string()), "{pages:?}");
    assert!(
        pages.contains(&"hostseal-install.1".to_string()),
        "{pages:?}"
    );
    assert!(pages.len() >= 15, "{pages:?}");
}
