//! A newcomer's papercuts on the way from `cloudflared tunnel create` to an installed file, each
//! pinned by running the built binary: key paths, `ssh-keyscan` input, `publicHostKey`, an
//! already sealed input, install's root check and hints, owner checks, restart lines, `status`
//! for non-root, `--identity-only`, anchor names in `check`, and the never-commit hint.
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A fresh ed25519 key pair made by the real `ssh-keygen`; returns (private, public) paths.
fn ssh_keygen(dir: &Path, name: &str, kind: &str, comment: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(name);
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", comment, "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen (openssh-client) is needed")
        .success();
    assert!(ok, "ssh-keygen failed");
    (key.clone(), key.with_extension("pub"))
}

/// The `type base64` part of a `.pub` file (no comment), as ssh-keyscan prints it.
fn key_part(pub_file: &Path) -> String {
    let text = std::fs::read_to_string(pub_file).unwrap();
    let mut it = text.split_whitespace();
    format!("{} {}", it.next().unwrap(), it.next().unwrap())
}

// ---- keygen ------------------------------------------------------------------------------------

/// `keygen -o ~/.config/sops/age/keys.txt` on a machine where `~/.config` does not exist yet:
/// the directories are made 0700, the key 0600, and the printed recipient is the key's.
#[test]
fn keygen_creates_missing_parent_directories_0700() {
    let t = tempfile::tempdir().unwrap();
    let keys = t.path().join(".config/sops/age/keys.txt");
    let o = common::hostseal(t.path())
        .args(["keygen", "-o"])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode(&keys), 0o600);
    for d in [".config", ".config/sops", ".config/sops/age"] {
        assert_eq!(mode(&t.path().join(d)), 0o700, "{d}");
    }
    let again = common::run_ok(common::hostseal(t.path()).arg("pubkey").arg(&keys));
    assert_eq!(stdout(&o), String::from_utf8(again).unwrap());
    // Never over an existing key.
    let o = common::hostseal(t.path())
        .args(["keygen", "-o"])
        .arg(&keys)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
}

/// The help names the default path on Linux and on macOS.
#[test]
fn keygen_help_names_the_macos_path() {
    let t = tempfile::tempdir().unwrap();
    let o = common::run_ok(common::hostseal(t.path()).args(["keygen", "--help"]));
    let help = String::from_utf8(o).unwrap();
    assert!(help.contains("~/.config/sops/age/keys.txt"), "{help}");
    assert!(
        help.contains("~/Library/Application Support/sops/age/keys.txt"),
        "{help}"
    );
}

// ---- pubkey ------------------------------------------------------------------------------------

/// `ssh-keyscan HOST | hostseal pubkey` (what keys.example shows): comment lines, an rsa and an
/// ed25519 line; the ed25519 key's recipient is printed once, equal to that of its `.pub` file.
#[test]
fn pubkey_reads_ssh_keyscan_output() {
    let t = tempfile::tempdir().unwrap();
    let (_, ed_pub) = ssh_keygen(t.path(), "host_ed25519", "ed25519", "root@builder");
    let (_, rsa_pub) = ssh_keygen(t.path(), "host_rsa", "rsa", "root@builder");
    let (_, other_pub) = ssh_keygen(t.path(), "other_ed25519", "ed25519", "root@other");
    let want = |p: &Path| {
        String::from_utf8(common::run_ok(
            common::hostseal(t.path()).arg("pubkey").arg(p),
        ))
        .unwrap()
    };
    let ed_age = want(&ed_pub);
    assert!(ed_age.starts_with("age1"), "{ed_age}");
    let scan = format!(
        "# builder.example.com:22 SSH-2.0-OpenSSH_9.6\nbuilder.example.com {}\n# builder.example.com:22 SSH-2.0-OpenSSH_9.6\nbuilder.example.com {}\n",
        key_part(&rsa_pub),
        key_part(&ed_pub)
    );
    let run = |input: &str, args: &[&str]| {
        let path = t.path().join("scan.txt");
        std::fs::write(&path, input).unwrap();
        common::hostseal(t.path())
            .arg("pubkey")
            .args(args)
            .stdin(std::fs::File::open(&path).unwrap())
            .output()
            .unwrap()
    };
    let o = run(&scan, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), ed_age);
    // The same key for two names (a port, an address) is printed once; two keys twice.
    let two = format!(
        "{scan}[builder.example.com]:2222,10.0.0.1 {}\nother {}\n",
        key_part(&ed_pub),
        key_part(&other_pub)
    );
    let o = run(&two, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{ed_age}{}", want(&other_pub)));
    // --format ssh prints the native line of each ed25519 key.
    let o = run(&scan, &["--format", "ssh"]);
    assert_eq!(stdout(&o), format!("{}\n", key_part(&ed_pub)));
    // Only rsa: a one-line error naming the type and the way out.
    let o = run(&format!("builder {}\n", key_part(&rsa_pub)), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.starts_with("hostseal: -: no ssh-ed25519 key (found ssh-rsa)"),
        "{err}"
    );
    assert!(err.contains("ssh-keyscan -t ed25519"), "{err}");
    // A damaged line is named by number.
    let o = run(&format!("{scan}builder ssh-ed25519 AAAA!!\n"), &[]);
    assert_eq!(o.status.code(), Some(5));
    assert!(
        stderr(&o).contains("line 5: not a valid OpenSSH public key"),
        "{}",
        stderr(&o)
    );
}

/// `--format publicHostKey` is `base64 -w0` of the `.pub` file (comment and newline included),
/// for a public key, its private key, and a keyscan line (no comment there).
#[test]
fn pubkey_format_public_host_key_matches_base64_of_the_pub_file() {
    let t = tempfile::tempdir().unwrap();
    let (key, key_pub) = ssh_keygen(t.path(), "ssh_host_ed25519_key", "ed25519", "root@builder");
    let b64 = |p: &Path| {
        let o = common::run_ok(Command::new("base64").arg("-w0").arg(p));
        format!("{}\n", String::from_utf8(o).unwrap())
    };
    let ours = |p: &Path| {
        String::from_utf8(common::run_ok(
            common::hostseal(t.path())
                .args(["pubkey", "--format", "publicHostKey"])
                .arg(p),
        ))
        .unwrap()
    };
    assert_eq!(ours(&key_pub), b64(&key_pub));
    assert_eq!(ours(&key), b64(&key_pub));
    let scan = t.path().join("scan");
    std::fs::write(&scan, format!("builder {}\n", key_part(&key_pub))).unwrap();
    let bare = t.path().join("bare.pub");
    std::fs::write(&bare, format!("{}\n", key_part(&key_pub))).unwrap();
    assert_eq!(ours(&scan), b64(&bare));
    // An age identity has no host key line.
    let (age_key, _) = common::age_keygen(t.path(), "admin");
    let o = common::hostseal(t.path())
        .args(["pubkey", "--format", "publicHostKey"])
        .arg(&age_key)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not an ssh key: --format publicHostKey needs"),
        "{}",
        stderr(&o)
    );
}

// ---- encrypt ------------------------------------------------------------------------------------

/// Sealing a file that is sealed already says so, for every store and for whole-file age, before
/// any store-specific validation (a sealed tunnel JSON is not judged by its `AccountTag`), and
/// writes nothing.
#[test]
fn encrypting_a_sealed_file_says_already_sealed() {
    let t = tempfile::tempdir().unwrap();
    let (_, recipient) = common::age_keygen(t.path(), "admin");
    let secret = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=";
    let plain = [
        (
            "tunnel.json",
            format!(
                r#"{{"AccountTag":"0123456789abcdef0123456789abcdef","TunnelSecret":"{secret}","TunnelID":"6ff42ae2-765d-4adf-8112-31c55c1551ef"}}"#
            ),
        ),
        ("s.yaml", "a: 1\n".to_string()),
        ("s.env", "A=1\n".to_string()),
        ("s.ini", "[x]\na = 1\n".to_string()),
        ("s.bin", "raw bytes\n".to_string()),
        ("s.age", "raw bytes\n".to_string()),
    ];
    for (name, text) in plain {
        let p = t.path().join(name);
        std::fs::write(&p, text).unwrap();
        common::run_ok(
            common::hostseal(t.path())
                .args(["encrypt", "-i", "--age", &recipient])
                .arg(&p),
        );
        let sealed = std::fs::read(&p).unwrap();
        let o = common::hostseal(t.path())
            .args(["encrypt", "-i", "--age", &recipient, name])
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(
            err.starts_with(&format!("hostseal: {name}: already sealed (")),
            "{name}: {err}"
        );
        assert!(!err.contains("AccountTag"), "{name}: {err}");
        assert!(err.contains("hint: "), "{name}: {err}");
        assert_eq!(std::fs::read(&p).unwrap(), sealed, "{name}: untouched");
    }
    // A file the real sops sealed, from stdin with a rule-less `--age`.
    let plain = t.path().join("sops.yaml.plain");
    std::fs::write(&plain, "a: 1\n").unwrap();
    let sealed = common::run_ok(
        common::sops(t.path())
            .args([
                "encrypt",
                "--age",
                &recipient,
                "--input-type",
                "yaml",
                "--output-type",
                "yaml",
            ])
            .arg(&plain),
    );
    let sealed_path = t.path().join("by-sops.yaml");
    std::fs::write(&sealed_path, &sealed).unwrap();
    let o = common::hostseal(t.path())
        .args(["encrypt", "--age", &recipient, "by-sops.yaml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with(
            "hostseal: by-sops.yaml: already sealed (it has sops metadata, last modified "
        ),
        "{}",
        stderr(&o)
    );
}
