//! The commit-time guard in real git repositories, with the real sops: the pre-commit hook
//! blocks plaintext and lets sealed files through; `check --staged` flags stale recipients,
//! broken MACs, clear values and secret shapes; `--encrypt` ends with a commit whose blob sops
//! decrypts; `check PATH` works without git.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{age_keygen, hostseal, run_ok, sops};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const ID: &str = "c0ffee00-1234-4abc-8def-0123456789ab";

struct Repo {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    keys: PathBuf,
    key: PathBuf,
    recipient: String,
}

fn rules(recipients: &[&str]) -> String {
    format!(
        "creation_rules:\n  - path_regex: ^secrets/\n    age: {}\n",
        recipients.join(",")
    )
}

impl Repo {
    fn new() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        let keys = tmp.path().join("keys");
        std::fs::create_dir_all(root.join("secrets")).unwrap();
        std::fs::create_dir_all(&keys).unwrap();
        let (key, recipient) = age_keygen(&keys, "admin");
        let r = Repo {
            _tmp: tmp,
            root,
            keys,
            key,
            recipient,
        };
        r.git_ok(&["init", "-q", "-b", "main"]);
        r.write(".sops.yaml", &rules(&[&r.recipient]));
        r.write("README", "hello\n");
        r
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap();
    }
    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }
    fn git(&self, args: &[&str]) -> Output {
        Command::new("git")
            .current_dir(&self.root)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("SOPS_AGE_KEY_FILE", &self.key)
            .args([
                "-c",
                "user.name=T",
                "-c",
                "user.email=t@example.invalid",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .unwrap()
    }
    fn git_ok(&self, args: &[&str]) -> Vec<u8> {
        let out = self.git(args);
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
    fn hs(&self, args: &[&str]) -> Output {
        hostseal(&self.root)
            .env("SOPS_AGE_KEY_FILE", &self.key)
            .args(args)
            .output()
            .unwrap()
    }
    fn hs_ok(&self, args: &[&str]) -> Vec<u8> {
        let out = self.hs(args);
        assert!(
            out.status.success(),
            "hostseal {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
    fn commits(&self) -> usize {
        let out = self.git(&["rev-list", "--count", "HEAD"]);
        if !out.status.success() {
            return 0;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }
    /// The committed blob at `rel`, decrypted by the real sops.
    fn sops_decrypt_head(&self, rel: &str) -> Vec<u8> {
        let blob = self.git_ok(&["show", &format!("HEAD:{rel}")]);
        let name = Path::new(rel).file_name().unwrap();
        let copy = self.keys.join(name);
        std::fs::write(&copy, blob).unwrap();
        run_ok(
            sops(&self.keys)
                .env("SOPS_AGE_KEY_FILE", &self.key)
                .arg("decrypt")
                .arg(&copy),
        )
    }
    /// The initial commit: rules and a README, with the hook installed.
    fn with_hook(self, extra: &[&str]) -> Repo {
        let mut args = vec!["hook", "install"];
        args.extend_from_slice(extra);
        self.hs_ok(&args);
        self.git_ok(&["add", ".sops.yaml", "README"]);
        self.git_ok(&["commit", "-q", "-m", "init"]);
        self
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn plaintext_is_blocked_and_sealed_file_committed() {
    let r = Repo::new().with_hook(&[]);
    r.write("secrets/db.json", "{\"password\": \"hunter2\"}\n");
    r.git_ok(&["add", "secrets/db.json"]);
    let out = r.git(&["commit", "-q", "-m", "plaintext"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("secrets/db.json: not sealed"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert_eq!(r.commits(), 1);
    r.hs_ok(&["encrypt", "-i", "secrets/db.json"]);
    r.git_ok(&["add", "secrets/db.json"]);
    let out = r.git(&["commit", "-q", "-m", "sealed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(r.commits(), 2);
    let plain: serde_json::Value =
        serde_json::from_slice(&r.sops_decrypt_head("secrets/db.json")).unwrap();
    assert_eq!(plain["password"], "hunter2");
}

#[test]
fn a_file_sops_sealed_passes() {
    let r = Repo::new().with_hook(&[]);
    r.write("secrets/app.env", "TOKEN=abc\nPORT=1\n");
    let sealed = run_ok(
        sops(&r.root)
            .args(["encrypt", "--age", &r.recipient])
            .arg("secrets/app.env"),
    );
    std::fs::write(r.path("secrets/app.env"), sealed).unwrap();
    r.git_ok(&["add", "secrets/app.env"]);
    let out = r.git(&["commit", "-q", "-m", "sops-sealed"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn stale_recipients_are_flagged_after_a_rules_change() {
    let r = Repo::new().with_hook(&[]);
    r.write("secrets/db.json", "{\"password\": \"x\"}\n");
    r.hs_ok(&["encrypt", "-i", "secrets/db.json"]);
    r.git_ok(&["add", "secrets/db.json"]);
    r.git_ok(&["commit", "-q", "-m", "sealed"]);
    let (_k, builder) = age_keygen(&r.keys, "builder");
    r.write(".sops.yaml", &rules(&[&r.recipient, &builder]));
    r.git_ok(&["add", ".sops.yaml"]);
    let out = r.git(&["commit", "-q", "-m", "add builder"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("secrets/db.json: recipients differ"), "{err}");
    assert!(err.contains(&format!("+{builder}")), "{err}");
    assert!(err.contains("hostseal updatekeys"), "{err}");
}

#[test]
fn broken_mac_is_flagged_when_a_key_is_available() {
    let r = Repo::new().with_hook(&[]);
    r.write(
        "secrets/db.json",
        "{\"password\": \"x\", \"host_unencrypted\": \"db1\"}\n",
    );
    r.hs_ok(&["encrypt", "-i", "secrets/db.json"]);
    let tampered = r.read("secrets/db.json").replace("\"db1\"", "\"evil\"");
    r.write("secrets/db.json", &tampered);
    r.git_ok(&["add", "secrets/db.json"]);
    let out = r.git(&["commit", "-q", "-m", "tampered"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("secrets/db.json: integrity"),
        "{}",
        stderr(&out)
    );
    // Without any identity the MAC cannot be checked: not a problem.
    let out = hostseal(&r.root)
        .args(["check", "--staged"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_value_left_clear_is_flagged() {
    let r = Repo::new().with_hook(&[]);
    r.write("secrets/db.json", "{\"password\": \"x\"}\n");
    r.hs_ok(&["encrypt", "-i", "secrets/db.json"]);
    let added = r
        .read("secrets/db.json")
        .replacen('{', "{\n\t\"api_key\": \"sk-live-123\",", 1);
    r.write("secrets/db.json", &added);
    r.git_ok(&["add", "secrets/db.json"]);
    let out = r.git(&["commit", "-q", "-m", "clear value"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(r#"value ["api_key"] (str) is in clear text"#),
        "{err}"
    );
    assert!(!err.contains("sk-live"), "{err}");
}

#[test]
fn secret_shapes_outside_sealed_files_are_blocked() {
    let r = Repo::new().with_hook(&[]);
    let key_text = std::fs::read_to_string(&r.key).unwrap();
    r.write("notes.txt", &format!("todo\n{key_text}"));
    let creds =
        format!(r#"{{"AccountTag":"{ACCOUNT}","TunnelSecret":"{SECRET}","TunnelID":"{ID}"}}"#);
    r.write("tunnel.json", &creds);
    r.git_ok(&["add", "notes.txt", "tunnel.json"]);
    let out = r.git(&["commit", "-q", "-m", "oops"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("notes.txt: holds an age secret key (line 4)"),
        "{err}"
    );
    assert!(
        err.contains("tunnel.json: holds cloudflared tunnel credentials"),
        "{err}"
    );
    assert!(!err.contains(SECRET), "{err}");
    assert!(!err.contains("AGE-SECRET-KEY-1"), "{err}");
}

#[test]
fn deletions_and_renames_are_judged_at_the_new_path() {
    let r = Repo::new().with_hook(&[]);
    r.write("secrets/a.json", "{\"k\": \"v\"}\n");
    r.hs_ok(&["encrypt", "-i", "secrets/a.json"]);
    r.write("plain.json", "{\"k\": \"v\"}\n");
    r.git_ok(&["add", "secrets/a.json", "plain.json"]);
    r.git_ok(&["commit", "-q", "-m", "two"]);
    // A sealed file renamed out of the rules, and deleted plaintext: both fine.
    r.git_ok(&["mv", "secrets/a.json", "a.json"]);
    r.git_ok(&["rm", "-q", "plain.json"]);
    let out = r.git(&["commit", "-q", "-m", "move"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A plaintext file renamed into secrets/: judged there.
    r.write("p.json", "{\"k\": \"v\"}\n");
    r.git_ok(&["add", "p.json"]);
    r.git_ok(&["commit", "-q", "-m", "p"]);
    r.git_ok(&["mv", "p.json", "secrets/p.json"]);
    let out = r.git(&["commit", "-q", "-m", "into secrets"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("secrets/p.json: not sealed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn head_rules_still_apply_when_the_index_drops_them() {
    let r = Repo::new().with_hook(&[]);
    r.write(".sops.yaml", "creation_rules: []\n");
    r.write("secrets/db.json", "{\"password\": \"x\"}\n");
    r.git_ok(&["add", ".sops.yaml", "secrets/db.json"]);
    let out = r.git(&["commit", "-q", "-m", "drop rules"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("secrets/db.json: not sealed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn encrypt_hook_seals_fully_staged_files_and_commits() {
    let r = Repo::new().with_hook(&["--encrypt"]);
    let creds =
        format!(r#"{{"AccountTag":"{ACCOUNT}","TunnelSecret":"{SECRET}","TunnelID":"{ID}"}}"#);
    r.write("secrets/tunnel.json", &creds);
    r.git_ok(&["add", "secrets/tunnel.json"]);
    let out = r.git(&["commit", "-q", "-m", "tunnel"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(r.commits(), 2);
    let plain: serde_json::Value =
        serde_json::from_slice(&r.sops_decrypt_head("secrets/tunnel.json")).unwrap();
    assert_eq!(plain["TunnelSecret"], SECRET);
    // Neither the work tree nor the index holds plaintext.
    assert!(!r.read("secrets/tunnel.json").contains(SECRET));
    let staged = r.git_ok(&["show", ":secrets/tunnel.json"]);
    assert!(!String::from_utf8_lossy(&staged).contains(SECRET));
    let status = r.git_ok(&["status", "--porcelain"]);
    assert!(status.is_empty(), "{}", String::from_utf8_lossy(&status));
}

#[test]
fn encrypt_refuses_partially_staged_and_malformed_credentials() {
    let r = Repo::new().with_hook(&["--encrypt"]);
    r.write("secrets/db.json", "{\"password\": \"x\"}\n");
    r.git_ok(&["add", "secrets/db.json"]);
    r.write("secrets/db.json", "{\"password\": \"y\"}\n");
    let out = r.git(&["commit", "-q", "-m", "partial"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("partially staged"), "{err}");
    assert!(err.contains("git add"), "{err}");
    assert_eq!(r.read("secrets/db.json"), "{\"password\": \"y\"}\n");
    r.git_ok(&["rm", "-q", "-f", "--cached", "secrets/db.json"]);
    std::fs::remove_file(r.path("secrets/db.json")).unwrap();
    let bad = format!(r#"{{"AccountTag":"{ACCOUNT}","TunnelSecret":"AAAA","TunnelID":"{ID}"}}"#);
    r.write("secrets/tunnel.json", &bad);
    r.git_ok(&["add", "secrets/tunnel.json"]);
    let out = r.git(&["commit", "-q", "-m", "bad"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("TunnelSecret is shorter than 32 bytes"),
        "{}",
        stderr(&out)
    );
    assert_eq!(r.commits(), 1);
}

#[test]
fn check_paths_works_without_git() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, recipient) = age_keygen(tmp.path(), "k");
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("secrets/deep")).unwrap();
    std::fs::write(src.join(".sops.yaml"), rules(&[&recipient])).unwrap();
    std::fs::write(src.join("secrets/deep/a.env"), "A=1\n").unwrap();
    std::fs::write(src.join("other.env"), "B=2\n").unwrap();
    let check = || {
        hostseal(&src)
            .env("SOPS_AGE_KEY_FILE", &key)
            .args(["check", "."])
            .output()
            .unwrap()
    };
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("secrets/deep/a.env: not sealed"), "{err}");
    assert!(!err.contains("other.env"), "{err}");
    run_ok(
        hostseal(&src)
            .args(["encrypt", "-i", "--age", &recipient])
            .arg("secrets/deep/a.env"),
    );
    let out = check();
    assert!(out.status.success(), "{}", stderr(&out));
    // And a single file by name.
    let out = hostseal(&src)
        .args(["check", "other.env"])
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn hook_install_honours_core_hooks_path_and_foreign_hooks() {
    let r = Repo::new();
    r.git_ok(&["config", "core.hooksPath", ".githooks"]);
    r.hs_ok(&["hook", "install"]);
    let hook = r.path(".githooks/pre-commit");
    assert!(std::fs::read_to_string(&hook)
        .unwrap()
        .contains("check --staged"));
    std::fs::write(&hook, "#!/bin/sh\nexit 0\n").unwrap();
    let out = r.hs(&["hook", "install"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("did not write"), "{}", stderr(&out));
    r.hs_ok(&["hook", "install", "--force"]);
    assert!(std::fs::read_to_string(&hook).unwrap().contains("hostseal"));
}

#[test]
fn pre_commit_framework_file_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let hooks: Vec<serde_json::Value> = serde_norway::from_str(&text).unwrap();
    let hook = &hooks[0];
    assert_eq!(hook["id"], "hostseal-check");
    assert_eq!(hook["entry"], "hostseal check --staged");
    assert_eq!(hook["pass_filenames"], false);
    assert_eq!(hook["language"], "system");
}

/// Thousands of tracked plaintext files that no rule matches: `check --staged` passes without
/// a complaint about any of them (speed is measured by `scripts/scale.sh`, never asserted).
#[test]
fn staged_check_passes_with_thousands_of_unmatched_files() {
    let r = Repo::new();
    for d in 0..20 {
        let dir = r.path(&format!("src/d{d}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..100 {
            std::fs::write(dir.join(format!("f{f}.json")), format!("{{\"n\": {f}}}\n")).unwrap();
        }
    }
    r.write("secrets/a.json", "{\"k\": \"v\"}\n");
    r.hs_ok(&["encrypt", "-i", "secrets/a.json"]);
    r.git_ok(&["add", "."]);
    r.git_ok(&["commit", "-q", "-m", "many"]);
    r.write("src/d3/f7.json", "{\"n\": 700}\n");
    r.git_ok(&["add", "src/d3/f7.json"]);
    let out = r.hs(&["check", "--staged"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The whole tree without git, too.
    let out = r.hs(&["check", "."]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn hook_lands_in_the_common_hooks_dir_of_a_linked_worktree() {
    let r = Repo::new().with_hook(&[]);
    std::fs::remove_file(r.path(".git/hooks/pre-commit")).unwrap();
    let wt = r.root.parent().unwrap().join("linked");
    r.git_ok(&["worktree", "add", "-q", wt.to_str().unwrap()]);
    let out = hostseal(&wt).args(["hook", "install"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(r.path(".git/hooks/pre-commit").exists());
    // And it guards commits made in the linked worktree.
    std::fs::create_dir_all(wt.join("secrets")).unwrap();
    std::fs::write(wt.join("secrets/x.json"), "{\"k\": \"v\"}\n").unwrap();
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(&wt)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &wt)
            .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
            .args(args)
            .output()
            .unwrap()
    };
    assert!(git(&["add", "secrets/x.json"]).status.success());
    let out = git(&["commit", "-q", "-m", "x"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("secrets/x.json: not sealed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_sops_file_sealed_with_another_leaf_rule_is_flagged() {
    let r = Repo::new();
    r.write("secrets/k.json", "{\"data\": \"x\", \"meta\": \"y\"}\n");
    let sealed = run_ok(
        sops(&r.root)
            .args([
                "encrypt",
                "--age",
                &r.recipient,
                "--encrypted-regex",
                "^data$",
            ])
            .arg("secrets/k.json"),
    );
    std::fs::write(r.path("secrets/k.json"), sealed).unwrap();
    let out = r.hs(&["check", "secrets/k.json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("sealed with encrypted_regex"), "{err}");
    assert!(err.contains("hostseal rotate"), "{err}");
    assert!(
        err.contains(r#"value ["meta"] (str) is in clear text"#),
        "{err}"
    );
    // Outside any repository and without paths: an error, exit 1.
    let bare = tempfile::tempdir().unwrap();
    let out = hostseal(bare.path()).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn partially_staged_files_are_judged_by_the_index_and_marked() {
    let r = Repo::new().with_hook(&[]);
    r.write("secrets/db.json", "{\"password\": \"x\"}\n");
    r.git_ok(&["add", "secrets/db.json"]);
    r.hs_ok(&["encrypt", "-i", "secrets/db.json"]);
    // The work tree is sealed now, the index still plaintext: the index decides.
    let out = r.git(&["commit", "-q", "-m", "half"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("secrets/db.json: not sealed"), "{err}");
    assert!(err.contains("[partially staged"), "{err}");
}
