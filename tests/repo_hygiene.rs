//! The repository stands alone: no code or test reaches outside it, vendored peer data carries
//! its licence and provenance, and the tree stays small (no fuzz corpus in git).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn no_source_or_test_reads_the_ci_directory_beside_the_repository() {
    // Built from pieces so that this file does not match itself.
    let needle = format!("../{}", "shared");
    let mut files = Vec::new();
    files_under(&root().join("src"), &mut files);
    files_under(&root().join("tests"), &mut files);
    let offenders: Vec<_> = files
        .iter()
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("rs" | "nix" | "sh")
            )
        })
        .filter(|p| std::fs::read_to_string(p).unwrap().contains(&needle))
        .collect();
    assert!(offenders.is_empty(), "{offenders:?} name {needle}");
}

#[test]
fn vendored_peer_data_has_licence_and_provenance() {
    for peer in ["sops-nix", "agenix"] {
        let dir = root().join("tests/fixtures/peers").join(peer);
        let provenance = std::fs::read_to_string(dir.join("PROVENANCE.md")).unwrap();
        assert!(dir.join("LICENSE").is_file(), "{peer}: LICENSE");
        // Every vendored file is listed with its hash, and every listed file is there.
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name != "PROVENANCE.md" {
                assert!(
                    provenance.contains(&format!("`{name}`")),
                    "{peer}/{name} not in PROVENANCE.md"
                );
            }
        }
    }
}

#[test]
fn the_tree_stays_small() {
    // Only meaningful in a git checkout (not in a source tarball or the Nix sandbox).
    let Ok(out) = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root())
        .output()
    else {
        return;
    };
    if !out.status.success() {
        return;
    }
    let files: Vec<&[u8]> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|f| !f.is_empty())
        .collect();
    assert!(files.len() < 1000, "{} tracked files", files.len());
    assert!(
        !files.iter().any(|f| f.starts_with(b"fuzz/corpus/")),
        "fuzz corpus is tracked"
    );
}
