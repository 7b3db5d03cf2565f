//! `hostseal edit` with scripted editors: the plaintext sits on tmpfs (0600 in a 0700
//! directory) and is gone afterwards, also when the editor fails or hostseal gets SIGINT or
//! SIGTERM; unchanged values keep their `ENC[…]` strings; the real sops decrypts the result;
//! unchanged text leaves the file untouched; a missing file is created for its rule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{age_keygen, hostseal, run_ok, sops};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    key: PathBuf,
    recipient: String,
    log: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let (key, recipient) = age_keygen(&dir, "admin");
    std::fs::write(
        dir.join(".sops.yaml"),
        format!("creation_rules:\n  - path_regex: \\.json$\n    age: {recipient}\n"),
    )
    .unwrap();
    let log = dir.join("editor.log");
    Env {
        _tmp: tmp,
        dir,
        key,
        recipient,
        log,
    }
}

impl Env {
    /// Writes an editor script whose body runs with `$f` = the file being edited.
    fn editor(&self, body: &str) -> String {
        let path = self.dir.join("editor.sh");
        let script = format!(
            "#!/bin/sh\nmark=\"$1\"; f=\"$2\"\n\
             printf '%s\\n' \"$mark\" \"$f\" \"$(stat -f -c %T \"$f\")\" \"$(stat -c %a \"$f\")\" \"$(stat -c %a \"$(dirname \"$f\")\")\" > {log}\n{body}\n",
            log = self.log.display()
        );
        std::fs::write(&path, script).unwrap();
        format!("sh {} MARK", path.display())
    }
    fn edit(&self, editor: &str, file: &str) -> Output {
        hostseal(&self.dir)
            .env("SOPS_AGE_KEY_FILE", &self.key)
            .env("EDITOR", editor)
            .args(["edit", file])
            .output()
            .unwrap()
    }
    fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
    /// Asserts the editor saw a private tmpfs file that no longer exists.
    fn assert_private_and_gone(&self) {
        let log = self.log_lines();
        assert_eq!(log.len(), 5, "{log:?}");
        assert_eq!(log[0], "MARK", "editor arguments were passed");
        assert_eq!(log[2], "tmpfs", "{log:?}");
        assert_eq!(log[3], "600", "{log:?}");
        assert_eq!(log[4], "700", "{log:?}");
        let tmp = Path::new(&log[1]);
        assert!(!tmp.exists(), "plaintext left at {}", tmp.display());
        assert!(!tmp.parent().unwrap().exists());
    }
    fn sops_seal(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        let sealed = run_ok(
            sops(&self.dir)
                .args(["encrypt", "--age", &self.recipient])
                .arg(&p),
        );
        std::fs::write(&p, sealed).unwrap();
        p
    }
    fn sops_decrypt(&self, p: &Path) -> serde_json::Value {
        let out = run_ok(
            sops(&self.dir)
                .env("SOPS_AGE_KEY_FILE", &self.key)
                .arg("decrypt")
                .arg(p),
        );
        serde_json::from_slice(&out).unwrap()
    }
}

fn enc_of(file: &Path, pointer: &str) -> String {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    v.pointer(pointer).unwrap().as_str().unwrap().to_string()
}

const DOC: &str = r#"{"a": "one", "b": "two", "c": {"d": 3, "e": true}}"#;

#[test]
fn edit_keeps_unchanged_ciphertext_and_sops_decrypts() {
    let e = env();
    let p = e.sops_seal("s.json", DOC);
    let before: Vec<String> = ["/a", "/b", "/c/d", "/c/e"]
        .iter()
        .map(|k| enc_of(&p, k))
        .collect();
    let out = e.edit(&e.editor(r#"sed -i 's/"two"/"TWO"/' "$f""#), "s.json");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    e.assert_private_and_gone();
    assert_eq!(enc_of(&p, "/a"), before[0]);
    assert_ne!(enc_of(&p, "/b"), before[1]);
    assert_eq!(enc_of(&p, "/c/d"), before[2]);
    assert_eq!(enc_of(&p, "/c/e"), before[3]);
    let plain = e.sops_decrypt(&p);
    assert_eq!(plain["b"], "TWO");
    assert_eq!(plain["a"], "one");
    assert_eq!(plain["c"]["d"], 3.0);
}

#[test]
fn unchanged_text_leaves_the_file_untouched() {
    let e = env();
    let p = e.sops_seal("s.json", DOC);
    let before = std::fs::read(&p).unwrap();
    let out = e.edit(&e.editor("true"), "s.json");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unchanged"));
    assert_eq!(std::fs::read(&p).unwrap(), before);
    e.assert_private_and_gone();
}

#[test]
fn failing_editor_writes_nothing_and_removes_plaintext() {
    let e = env();
    let p = e.sops_seal("s.json", DOC);
    let before = std::fs::read(&p).unwrap();
    let out = e.edit(&e.editor("echo '{}' > \"$f\"; exit 3"), "s.json");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("editor failed"));
    assert_eq!(std::fs::read(&p).unwrap(), before);
    e.assert_private_and_gone();
}

#[test]
fn missing_file_is_created_for_its_rule() {
    let e = env();
    let out = e.edit(
        &e.editor(r#"printf '{"token": "abc"}\n' > "$f""#),
        "new.json",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    e.assert_private_and_gone();
    let p = e.dir.join("new.json");
    assert!(enc_of(&p, "/token").starts_with("ENC[AES256_GCM"));
    assert_eq!(e.sops_decrypt(&p)["token"], "abc");
    // No rule for it: refused before any editor runs.
    let out = e.edit(&e.editor("true"), "new.txt");
    assert_eq!(out.status.code(), Some(6));
}

fn interrupted_by(sig: nix::sys::signal::Signal) {
    let e = env();
    let p = e.sops_seal("s.json", DOC);
    let before = std::fs::read(&p).unwrap();
    let child = hostseal(&e.dir)
        .env("SOPS_AGE_KEY_FILE", &e.key)
        .env("EDITOR", e.editor("exec sleep 30"))
        .args(["edit", "s.json"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while e.log_lines().len() < 5 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "editor never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let tmp = PathBuf::from(&e.log_lines()[1]);
    assert!(tmp.exists(), "plaintext should exist while editing");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, sig).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(start.elapsed() < Duration::from_secs(20));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("interrupted"), "{err}");
    assert!(!tmp.exists(), "plaintext left at {}", tmp.display());
    assert!(!tmp.parent().unwrap().exists());
    assert_eq!(std::fs::read(&p).unwrap(), before);
}

#[test]
fn sigint_removes_the_plaintext() {
    interrupted_by(nix::sys::signal::Signal::SIGINT);
}

#[test]
fn sigterm_removes_the_plaintext() {
    interrupted_by(nix::sys::signal::Signal::SIGTERM);
}

#[test]
fn yaml_edit_keeps_comments_and_unchanged_values() {
    let e = env();
    std::fs::write(
        e.dir.join(".sops.yaml"),
        format!(
            "creation_rules:\n  - path_regex: \\.yaml$\n    age: {}\n",
            e.recipient
        ),
    )
    .unwrap();
    let p = e.sops_seal(
        "s.yaml",
        "# top comment\na: one\nb:\n    - x\n    - y\nc: 3\n",
    );
    let before = std::fs::read_to_string(&p).unwrap();
    let out = e.edit(&e.editor(r#"sed -i 's/^c: 3$/c: 4/' "$f""#), "s.yaml");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    e.assert_private_and_gone();
    let after = std::fs::read_to_string(&p).unwrap();
    let line = |text: &str, prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap()
            .to_string()
    };
    for unchanged in ["#ENC[", "a: ", "- ENC["] {
        assert_eq!(
            line(&before, unchanged),
            line(&after, unchanged),
            "{unchanged}"
        );
    }
    assert_ne!(line(&before, "c: "), line(&after, "c: "));
    let plain = run_ok(
        sops(&e.dir)
            .env("SOPS_AGE_KEY_FILE", &e.key)
            .arg("decrypt")
            .arg(&p),
    );
    let plain = String::from_utf8(plain).unwrap();
    assert!(plain.contains("# top comment"), "{plain}");
    assert!(plain.contains("c: 4"), "{plain}");
}

#[test]
fn unparseable_edit_is_discarded_without_a_terminal() {
    let e = env();
    let p = e.sops_seal("s.json", DOC);
    let before = std::fs::read(&p).unwrap();
    let out = e.edit(&e.editor(r#"echo '{"a": ' > "$f""#), "s.json");
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("syntax error"), "{err}");
    assert!(err.contains("discarded"), "{err}");
    assert_eq!(std::fs::read(&p).unwrap(), before);
    e.assert_private_and_gone();
}
