//! A newcomer's papercuts on the way from `cloudflared tunnel create` to an installed file, each
//! pinned by running the built binary: key paths, `ssh-keyscan` input, `publicHostKey`, an
//! already sealed input, install's root check and hints, owner checks, restart lines, `status`
//! for non-root, `--identity-only`, anchor names in `check`, and the never-commit hint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
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

// ---- install and status ---------------------------------------------------------------------

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Runs the binary as `nobody` (uid/gid 65534) through util-linux `setpriv`.
fn as_nobody(dir: &Path) -> Command {
    let mut c = Command::new("setpriv");
    c.current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir)
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_hostseal"),
        ]);
    c
}

/// A host in a temporary directory (0755, so `nobody` can look in): a key, sealed files, a
/// manifest, and `install --no-mount --allow-disk`.
use common::install_host::KeyedHost as Host;

impl Host {
    /// `name.json` sealed by hostseal to `recipient`, 0444 (readable by all: no secret in it).
    fn seal(&self, name: &str, json: &str, recipient: &str) -> PathBuf {
        let p = self.p(&format!("{name}.json"));
        let _ = std::fs::remove_file(&p);
        std::fs::write(&p, json).unwrap();
        common::run_ok(
            common::hostseal(self.t.path())
                .args(["encrypt", "-i", "--age", recipient])
                .arg(&p),
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
        p
    }
    fn manifest(&self, extra: serde_json::Value) -> PathBuf {
        let mut m = serde_json::json!({
            "secretsMountPoint": self.p("m"), "symlinkPath": self.p("secrets"),
            "lockPath": self.p("lock/lock"), "restartListsDir": self.p("nixos"),
            "ageKeyFile": self.key,
        });
        if let (Some(m), serde_json::Value::Object(e)) = (m.as_object_mut(), extra) {
            m.extend(e);
        }
        let path = self.p("manifest.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        path
    }
    fn install(&self, manifest: &Path, args: &[&str]) -> Output {
        common::hostseal(self.t.path())
            .arg("install")
            .args(args)
            .args(["--no-mount", "--allow-disk"])
            .arg(manifest)
            .output()
            .unwrap()
    }
}

/// Not root: one line (and a hint) saying install must run as root, before the manifest is
/// even read; the check modes still work without root.
#[test]
fn install_as_non_root_says_it_must_run_as_root() {
    if !is_root() {
        eprintln!("SKIPPED: install_as_non_root_says_it_must_run_as_root needs root (setpriv)");
        return;
    }
    let h = Host::new();
    let o = as_nobody(h.t.path())
        .args(["install", "/nonexistent/manifest.json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("hostseal: install must run as root ("),
        "{err}"
    );
    assert!(lines[1].starts_with("hint: "), "{err}");
    assert!(!err.contains("manifest.json"), "checked first: {err}");
    let m = h.manifest(serde_json::json!({"secrets": []}));
    for mode in ["manifest", "sopsfile"] {
        let o = as_nobody(h.t.path())
            .args(["install", "--check-mode", mode])
            .arg(&m)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{mode}: {}", stderr(&o));
    }
}

/// A file the host's key cannot open: the hint names the manifest's key fields, not the
/// workstation's `--identity` / `$SOPS_AGE_KEY_FILE` (install reads neither).
#[test]
fn install_no_key_hint_names_the_manifest_fields() {
    if !is_root() {
        eprintln!("SKIPPED: install_no_key_hint_names_the_manifest_fields needs root");
        return;
    }
    let h = Host::new();
    let (_, stranger) = common::age_keygen(h.t.path(), "stranger");
    let f = h.seal("s", r#"{"a": "1"}"#, &stranger);
    let m = h.manifest(serde_json::json!({"secrets": [
        {"name": "a", "sopsFile": f, "format": "json", "key": "a"}
    ]}));
    let o = h.install(&m, &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert!(err.contains("[no-key]"), "{err}");
    assert!(
        err.contains("sshKeyPaths") && err.contains("ageKeyFile"),
        "{err}"
    );
    assert!(
        !err.contains("--identity") && !err.contains("SOPS_AGE_KEY_FILE"),
        "{err}"
    );
}

/// `--check-mode sopsfile` resolves owners and groups: a misspelled owner fails it (exit 6,
/// named); `--ignore-passwd` (the Nix build sandbox) skips the lookup.
#[test]
fn check_mode_sopsfile_rejects_a_misspelled_owner() {
    let h = Host::new();
    let f = h.seal("s", r#"{"a": "1"}"#, &h.recipient.clone());
    let m = h.manifest(serde_json::json!({"secrets": [
        {"name": "a", "sopsFile": f, "format": "json", "key": "a", "owner": "cloudflraed"},
        {"name": "b", "sopsFile": f, "format": "json", "key": "a", "group": "no-such-group-hs"}
    ]}));
    let o = h.install(&m, &["--check-mode", "sopsfile"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(
        err.contains("hostseal: \"a\": user \"cloudflraed\" does not exist\n"),
        "{err}"
    );
    assert!(
        err.contains("hostseal: \"b\": group \"no-such-group-hs\" does not exist\n"),
        "{err}"
    );
    let o = h.install(&m, &["--check-mode", "sopsfile", "--ignore-passwd"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let help = String::from_utf8(common::run_ok(
        common::hostseal(h.t.path()).args(["install", "--help"]),
    ))
    .unwrap();
    assert!(help.contains("resolves each owner and group"), "{help}");
}

/// Install says which units it restarts (systemctl) or queues (activation lists), one line
/// each on stderr like the rest of its log, and nothing when nothing changed.
#[test]
fn install_prints_the_units_it_restarts() {
    if !is_root() {
        eprintln!("SKIPPED: install_prints_the_units_it_restarts needs root");
        return;
    }
    let h = Host::new();
    let bin = h.p("systemctl");
    std::fs::write(
        &bin,
        "#!/bin/sh\n[ \"$1\" = is-active ] && echo active\nexit 0\n",
    )
    .unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = h.recipient.clone();
    let secrets = |f: &Path| {
        serde_json::json!([
            {"name": "a", "sopsFile": f, "format": "json", "key": "a", "restartUnits": ["a.service"]},
            {"name": "b", "sopsFile": f, "format": "json", "key": "b", "reloadUnits": ["b.service"]},
        ])
    };
    let f = h.seal("s", r#"{"a": "1", "b": "2"}"#, &r);
    let via = |f: &Path, via: serde_json::Value| {
        let mut extra = serde_json::json!({"secrets": secrets(f), "systemctl": bin});
        if !via.is_null() {
            extra["restartVia"] = via;
        }
        h.manifest(extra)
    };
    let o = h.install(&via(&f, "systemctl".into()), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains(".service"),
        "first install: {}",
        stderr(&o)
    );
    let f = h.seal("s", r#"{"a": "11", "b": "22"}"#, &r);
    let o = h.install(&via(&f, "systemctl".into()), &[]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("hostseal: install: restarting a.service\n"),
        "{err}"
    );
    assert!(
        err.contains("hostseal: install: reloading b.service\n"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
    let f = h.seal("s", r#"{"a": "111", "b": "22"}"#, &r);
    let o = h.install(&via(&f, "activation-lists".into()), &[]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("hostseal: install: queued a.service for restart (activation-restart-list)\n"),
        "{err}"
    );
    assert!(!err.contains("b.service"), "{err}");
    // restartVia none (the default outside NixOS activation) says the unit was left alone.
    let f = h.seal("s", r#"{"a": "1111", "b": "22"}"#, &r);
    let o = h.install(&via(&f, serde_json::Value::Null), &[]);
    let err = stderr(&o);
    assert!(
        err.contains(
            "hostseal: install: a.service needs a restart (restartVia none: left alone)\n"
        ),
        "{err}"
    );
}

/// The status file (0644 in the 0751 mount point) is readable by a user who is not root.
#[test]
fn status_works_for_non_root() {
    if !is_root() {
        eprintln!("SKIPPED: status_works_for_non_root needs root");
        return;
    }
    let h = Host::new();
    let f = h.seal("s", r#"{"a": "1"}"#, &h.recipient.clone());
    let m = h.manifest(serde_json::json!({"secrets": [
        {"name": "a", "sopsFile": f, "format": "json", "key": "a"}
    ]}));
    let o = h.install(&m, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode(&h.p("m")), 0o751);
    assert_eq!(mode(&h.p("m/status.json")), 0o644);
    let o = as_nobody(h.t.path())
        .arg("status")
        .arg(h.p("m/status.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("generation 1, "), "{}", stdout(&o));
}

/// `status` without an argument, when the default status file is absent (a host whose
/// manifest sets another mount point), says how to name the file.
#[test]
fn status_without_argument_hints_at_the_status_file() {
    if Path::new("/run/secrets.d/status.json").exists() {
        eprintln!("SKIPPED: status_without_argument_hints_at_the_status_file: this host has one");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let o = common::hostseal(t.path()).arg("status").output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("hostseal: /run/secrets.d/status.json: no such file or directory\nhint: "),
        "{err}"
    );
    assert!(
        err.contains("hostseal status <secretsMountPoint>/status.json"),
        "{err}"
    );
    // Named explicitly: no hint (the user chose the path).
    let o = common::hostseal(t.path())
        .args(["status", "missing.json"])
        .output()
        .unwrap();
    assert!(!stderr(&o).contains("hint:"), "{}", stderr(&o));
}

// ---- workstation identities, check, the commit guard ----------------------------------------

/// `--identity-only`: the default keys.txt under `$XDG_CONFIG_HOME` (which opens the file) is
/// not tried; without it, it is.
#[test]
fn identity_only_skips_the_default_identities() {
    let t = tempfile::tempdir().unwrap();
    let xdg = t.path().join("xdg");
    std::fs::create_dir_all(xdg.join("sops/age")).unwrap();
    let (admin, admin_r) = common::age_keygen(t.path(), "admin");
    std::fs::copy(&admin, xdg.join("sops/age/keys.txt")).unwrap();
    let (other, _) = common::age_keygen(t.path(), "other");
    let f = t.path().join("s.json");
    std::fs::write(&f, r#"{"a": "1"}"#).unwrap();
    common::run_ok(
        common::hostseal(t.path())
            .args(["encrypt", "-i", "--age", &admin_r])
            .arg(&f),
    );
    let run = |extra: &[&str]| {
        common::hostseal(t.path())
            .env("XDG_CONFIG_HOME", &xdg)
            .arg("decrypt")
            .arg("--identity")
            .arg(&other)
            .args(extra)
            .arg("s.json")
            .output()
            .unwrap()
    };
    let o = run(&[]);
    assert!(
        o.status.success(),
        "the default key opens it: {}",
        stderr(&o)
    );
    let o = run(&["--identity-only"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    let tried = err.split("identities tried: ").nth(1).unwrap_or_default();
    assert!(tried.starts_with(&other.display().to_string()), "{err}");
    assert!(!tried.contains("keys.txt"), "{err}");
    // It needs --identity.
    let o = common::hostseal(t.path())
        .args(["decrypt", "--identity-only", "s.json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// `check`'s drift line names recipients by their `keys:` anchor, as `updatekeys` does.
#[test]
fn check_drift_line_uses_anchor_names() {
    let t = tempfile::tempdir().unwrap();
    let (_, admin) = common::age_keygen(t.path(), "admin");
    let (_, builder) = common::age_keygen(t.path(), "builder");
    let (_, gone) = common::age_keygen(t.path(), "gone");
    std::fs::write(
        t.path().join(".sops.yaml"),
        format!(
            "keys:\n  - &admin {admin}\n  - &builder {builder}\n  - &old {gone}\ncreation_rules:\n  - path_regex: ^secrets/\n    key_groups:\n      - age:\n          - *admin\n          - *builder\n"
        ),
    )
    .unwrap();
    std::fs::create_dir(t.path().join("secrets")).unwrap();
    std::fs::write(t.path().join("secrets/x.yaml"), "a: 1\n").unwrap();
    common::run_ok(common::hostseal(t.path()).args([
        "encrypt",
        "-i",
        "--age",
        &format!("{admin},{gone}"),
        "secrets/x.yaml",
    ]));
    let o = common::hostseal(t.path())
        .args(["check", "secrets/x.yaml"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("differ from its rule"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.ends_with(": +builder -old"), "{line}");
    assert!(!line.contains(&builder) && !line.contains(&gone), "{line}");
}

/// The commit guard's hint for an admin age key and for cert.pem: never commit them (not
/// "move them under a rule"); other shapes keep the move-and-seal hint.
#[test]
fn commit_guard_says_never_commit_keys_and_cert_pem() {
    let t = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .current_dir(t.path())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", t.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "git {args:?}: {}", stderr(&o));
    };
    git(&["init", "-q", "-b", "main"]);
    let (key, _) = common::age_keygen(t.path(), "keys");
    // TEST-ONLY shapes: a fresh age key from age-keygen and a cert.pem header with no token.
    std::fs::write(
        t.path().join("cert.pem"),
        "-----BEGIN ARGO TUNNEL TOKEN-----\nZm9v\n-----END ARGO TUNNEL TOKEN-----\n",
    )
    .unwrap();
    std::fs::write(
        t.path().join("ssh_key"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbg==\n-----END OPENSSH PRIVATE KEY-----\n",
    )
    .unwrap();
    git(&[
        "add",
        "cert.pem",
        "ssh_key",
        key.file_name().unwrap().to_str().unwrap(),
    ]);
    let o = common::hostseal(t.path())
        .args(["check", "--staged"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for file in ["cert.pem", "keys.key", "ssh_key"] {
        assert!(
            err.contains(&format!("hostseal: {file}: holds ")),
            "{file}: {err}"
        );
    }
    let hints: Vec<&str> = err.lines().filter(|l| l.starts_with("hint: ")).collect();
    assert_eq!(hints.len(), 2, "{err}");
    assert!(hints.contains(&"hint: never commit this: unstage it (`git rm --cached FILE`) and keep it outside the repository (an admin age key in ~/.config/sops/age/keys.txt, cert.pem in ~/.cloudflared/); if it was ever pushed, replace the key"), "{err}");
    assert!(
        hints
            .iter()
            .any(|h| h.starts_with("hint: unstage it (`git rm --cached FILE`), move the secret")),
        "the ssh key may be sealed under a rule: {err}"
    );
    // Alone, the never-commit shapes do not get the move-under-a-rule hint.
    git(&["rm", "-q", "--cached", "ssh_key"]);
    let o = common::hostseal(t.path())
        .args(["check", "--staged"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(!err.contains("move the secret"), "{err}");
    assert!(err.contains("hint: never commit this: "), "{err}");
}

/// `--allow-plugins` was offered by `--help` and then refused: plugins now simply work (see
/// docs/plugins.md), so no help text offers the flag and passing it is a usage error.
#[test]
fn no_help_offers_allow_plugins() {
    let t = tempfile::tempdir().unwrap();
    for cmd in [
        "encrypt",
        "decrypt",
        "edit",
        "updatekeys",
        "rotate",
        "check",
        "audit",
        "install",
    ] {
        let o = common::hostseal(t.path())
            .args([cmd, "--help"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{cmd} --help");
        assert!(!stdout(&o).contains("allow-plugins"), "{cmd} --help");
    }
    let o = common::hostseal(t.path())
        .args(["decrypt", "--allow-plugins", "x.json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
