//! Damage sweep: every byte of a small sealed file altered in turn (values, MAC, lastmodified,
//! age stanzas). hostseal must never exit 0 with output that differs from the original; on error
//! it prints nothing on stdout, one `hostseal:` line (plus an optional `hint:`) on stderr, and
//! exits 3 (key), 4 (integrity) or 5 (malformed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{age_keygen, hostseal, run_ok};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

fn sweep(dir: &Path, key: &Path, sealed: &[u8], name: &str, extra: &[&str]) -> [usize; 8] {
    let original = run_ok(
        hostseal(dir)
            .arg("decrypt")
            .arg("--identity")
            .arg(key)
            .args(extra)
            .arg(dir.join(name)),
    );
    let counts: [AtomicUsize; 8] = Default::default();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..2 {
            let (counts, next, original) = (&counts, &next, &original);
            s.spawn(move || {
                let path = dir.join(format!("damaged-{t}-{name}"));
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= sealed.len() {
                        break;
                    }
                    let mut bytes = sealed.to_vec();
                    bytes[i] ^= if bytes[i].is_ascii_alphanumeric() {
                        0x01
                    } else {
                        0x20
                    };
                    std::fs::write(&path, &bytes).unwrap();
                    let out = hostseal(dir)
                        .arg("decrypt")
                        .arg("--identity")
                        .arg(key)
                        .args(extra)
                        .arg(&path)
                        .output()
                        .unwrap();
                    let code = out.status.code().unwrap_or(99);
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    if code == 0 {
                        assert_eq!(&out.stdout, original, "byte {i}: exit 0 with other output");
                    } else {
                        assert!(matches!(code, 3..=5), "byte {i}: exit {code}: {stderr}");
                        assert!(out.stdout.is_empty(), "byte {i}: stdout on error");
                        let lines: Vec<&str> = stderr.lines().collect();
                        assert!(lines[0].starts_with("hostseal: "), "byte {i}: {stderr}");
                        assert!(
                            lines.len() == 1
                                || (lines.len() == 2 && lines[1].starts_with("hint: ")),
                            "byte {i}: {stderr}"
                        );
                    }
                    counts[code.min(7) as usize].fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    counts.map(|c| c.into_inner())
}

fn sealed_fixture(
    dir: &Path,
    recipient: &str,
    name: &str,
    plain: &[u8],
    extra: &[&str],
) -> Vec<u8> {
    std::fs::write(dir.join(format!("plain-{name}")), plain).unwrap();
    let sealed = run_ok(
        hostseal(dir)
            .args(["encrypt", "--age", recipient])
            .args(extra)
            .arg(dir.join(format!("plain-{name}"))),
    );
    std::fs::write(dir.join(name), &sealed).unwrap();
    sealed
}

#[test]
fn every_damaged_byte_of_a_sealed_json_file_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_keygen(dir.path(), "k");
    let plain = br#"{"TunnelSecret": "c2VjcmV0", "port": 22, "on": true}"#;
    let sealed = sealed_fixture(dir.path(), &recipient, "s.json", plain, &[]);
    let counts = sweep(dir.path(), &key, &sealed, "s.json", &[]);
    // Every stage's failure showed up somewhere in the sweep.
    assert!(counts[4] > 0 && counts[5] > 0, "{counts:?}");
}

#[test]
fn every_damaged_byte_of_a_sealed_yaml_file_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_keygen(dir.path(), "k");
    let plain = b"# tunnel\nsecret: c2VjcmV0\nport: 22\nlist:\n    - a\n";
    let sealed = sealed_fixture(dir.path(), &recipient, "s.yaml", plain, &[]);
    let counts = sweep(dir.path(), &key, &sealed, "s.yaml", &[]);
    assert!(counts[4] > 0 && counts[5] > 0, "{counts:?}");
}

#[test]
fn every_damaged_byte_of_a_whole_file_age_secret_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_keygen(dir.path(), "k");
    let sealed = sealed_fixture(dir.path(), &recipient, "s.age", b"hello", &[]);
    let counts = sweep(dir.path(), &key, &sealed, "s.age", &[]);
    assert!(counts[4] > 0, "{counts:?}");
}
