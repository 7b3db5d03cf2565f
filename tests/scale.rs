//! Many files: `check`, `check --staged`, `check PATH`, `audit` and `updatekeys`
//! spread their per-file work over threads; what they print must not depend on it. Each
//! command runs on a tree of several hundred files (more than one `check --staged` chunk), with
//! problems scattered through it, once on one thread and once on four, and the outputs must
//! be identical and in path order. No timing is asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{hostseal, run_ok};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// More than `guard::run::CHUNK` (256) staged blobs, so chunk boundaries are crossed.
const N: usize = 600;

struct Tree {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    admin_key: PathBuf,
    other: String,
}

fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(format!("{name}.key"));
    let stdout = run_ok(hostseal(dir).arg("keygen").arg("-o").arg(&path));
    let recipient = String::from_utf8(stdout).unwrap().trim().to_string();
    assert!(recipient.starts_with("age1"), "{recipient}");
    (path, recipient)
}

fn git(root: &Path, args: &[&str]) {
    run_ok(
        Command::new("git")
            .current_dir(root)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
            .args(["-c", "commit.gpgsign=false"])
            .args(args),
    );
}

/// Path of file `i`: 50 files a directory.
fn rel(i: usize) -> String {
    let ext = if i.is_multiple_of(2) { "yaml" } else { "json" };
    format!("secrets/d{:02}/f{i:04}.{ext}", i / 50)
}

/// A git repository with `N` files under `secrets/`: most sealed to `admin`; every 7th
/// plaintext, every 11th sealed to admin and another key (recipients differ), every 13th
/// with a value altered (MAC fails). Everything is staged, nothing committed.
fn tree() -> Tree {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let keys = tmp.path().join("keys");
    std::fs::create_dir_all(root.join("secrets")).unwrap();
    std::fs::create_dir_all(&keys).unwrap();
    let (admin_key, admin) = keygen(&keys, "admin");
    let (_, other) = keygen(&keys, "other");
    git(&root, &["init", "-q", "-b", "main"]);
    let seal = |name: &str, plain: &str, to: &str| -> Vec<u8> {
        let p = keys.join(name);
        std::fs::write(&p, plain).unwrap();
        run_ok(hostseal(&keys).args(["encrypt", "--age", to]).arg(&p))
    };
    let yaml = "user: app\npassword: hunter2\nnote_unencrypted: hello\n";
    let json = "{\"user\": \"app\", \"password\": \"hunter2\", \"note_unencrypted\": \"hello\"}\n";
    let both = format!("{admin},{other}");
    let good = [seal("a.yaml", yaml, &admin), seal("a.json", json, &admin)];
    let stale = [seal("b.yaml", yaml, &both), seal("b.json", json, &both)];
    let altered = good.clone().map(|b| {
        String::from_utf8(b)
            .unwrap()
            .replace("hello", "HELLO")
            .into_bytes()
    });
    let plain = [yaml.as_bytes().to_vec(), json.as_bytes().to_vec()];
    for i in 0..N {
        let which = i % 2;
        let bytes = if i % 7 == 3 {
            &plain[which]
        } else if i % 11 == 5 {
            &stale[which]
        } else if i % 13 == 9 {
            &altered[which]
        } else {
            &good[which]
        };
        let path = root.join(rel(i));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    std::fs::write(
        root.join(".sops.yaml"),
        format!("keys:\n  - &admin {admin}\ncreation_rules:\n  - path_regex: ^secrets/\n    age: [*admin]\n"),
    )
    .unwrap();
    git(&root, &["add", "-A"]);
    Tree {
        _tmp: tmp,
        root,
        admin_key,
        other,
    }
}

impl Tree {
    fn run(&self, threads: usize, args: &[&str]) -> Output {
        hostseal(&self.root)
            .env("SOPS_AGE_KEY_FILE", &self.admin_key)
            .env("RAYON_NUM_THREADS", threads.to_string())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs `args` on one thread and on four: same exit code, same stdout, same stderr.
    fn same_on_any_threads(&self, args: &[&str]) -> Output {
        let one = self.run(1, args);
        let four = self.run(4, args);
        assert_eq!(one.status.code(), four.status.code(), "{args:?}");
        assert!(one.stdout == four.stdout, "{args:?}: stdout differs");
        assert!(
            one.stderr == four.stderr,
            "{args:?}: stderr differs:\n{}\n---\n{}",
            String::from_utf8_lossy(&one.stderr),
            String::from_utf8_lossy(&four.stderr)
        );
        one
    }
}

/// The files of the problem lines (`hostseal: <file>: …`), in the order printed.
fn problem_files(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("hostseal: "))
        .filter_map(|l| l.split_once(": ").map(|(f, _)| f.to_string()))
        .collect()
}

/// What `check` must report, file by file, in path order.
fn expected_problems() -> Vec<(String, &'static str)> {
    let mut want: Vec<(String, &'static str)> = (0..N)
        .filter_map(|i| {
            let what = if i % 7 == 3 {
                "not sealed"
            } else if i % 11 == 5 {
                "recipients differ"
            } else if i % 13 == 9 {
                "integrity"
            } else {
                return None;
            };
            Some((rel(i), what))
        })
        .collect();
    want.sort();
    want
}

fn assert_check_report(out: &Output) {
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("hostseal: "))
        .collect();
    let want = expected_problems();
    assert_eq!(lines.len(), want.len(), "{text}");
    for (line, (file, what)) in lines.iter().zip(&want) {
        assert!(
            line.starts_with(&format!("hostseal: {file}: ")) && line.contains(what),
            "{line} (wanted {file}: {what})"
        );
    }
}

#[test]
fn check_staged_tracked_and_paths_report_in_path_order_on_any_number_of_threads() {
    let t = tree();
    assert_check_report(&t.same_on_any_threads(&["check", "--staged"]));
    git(&t.root, &["commit", "-q", "-m", "many"]);
    assert_check_report(&t.same_on_any_threads(&["check", "--staged"]));
    assert_check_report(&t.same_on_any_threads(&["check"]));
    assert_check_report(&t.same_on_any_threads(&["check", "secrets"]));
}

#[test]
fn audit_lists_files_in_walk_order_on_any_number_of_threads() {
    let t = tree();
    let text = t.same_on_any_threads(&["audit", "secrets"]);
    assert_eq!(text.status.code(), Some(0));
    let stdout = String::from_utf8(text.stdout).unwrap();
    let files: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split(" (").next())
        .collect();
    let mut want: Vec<String> = (0..N).filter(|i| i % 7 != 3).map(rel).collect();
    want.sort();
    assert_eq!(files, want);
    let json = t.same_on_any_threads(&["audit", "--json", "secrets"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), want.len());
    let r = t.same_on_any_threads(&["audit", "--recipient", &t.other, "secrets"]);
    let opened = String::from_utf8(r.stdout).unwrap();
    let mut want: Vec<String> = (0..N)
        .filter(|i| i % 7 != 3 && i % 11 == 5)
        .map(rel)
        .collect();
    want.sort();
    assert_eq!(opened.lines().collect::<Vec<_>>(), want);
}

#[test]
fn updatekeys_lists_every_unopenable_file_in_order_and_writes_nothing() {
    let t = tree();
    // Plaintext files are skipped by updatekeys (not sealed). The rule adds `other`; some
    // files are sealed to a stranger only, so admin cannot open them.
    let (_, stranger) = keygen(t.root.parent().unwrap(), "stranger");
    let foreign = {
        let p = t.root.parent().unwrap().join("foreign.json");
        std::fs::write(&p, "{\"a\": \"b\"}\n").unwrap();
        let out = hostseal(t.root.parent().unwrap())
            .args(["encrypt", "--age", &stranger])
            .arg(&p)
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    };
    for i in (0..N).filter(|i| i % 2 == 1 && i % 17 == 1) {
        std::fs::write(t.root.join(rel(i)), &foreign).unwrap();
    }
    let rules = std::fs::read_to_string(t.root.join(".sops.yaml")).unwrap();
    std::fs::write(
        t.root.join(".sops.yaml"),
        rules.replace("age: [*admin]", &format!("age: [*admin, {}]", t.other)),
    )
    .unwrap();
    let before: Vec<Vec<u8>> = (0..N)
        .map(|i| std::fs::read(t.root.join(rel(i))).unwrap())
        .collect();
    let out = t.same_on_any_threads(&["updatekeys", "-y", "secrets"]);
    assert_ne!(out.status.code(), Some(0));
    // Listed: the files sealed to the stranger, and the altered ones (MAC failure).
    let foreign_at = |i: usize| i % 2 == 1 && i % 17 == 1;
    let altered_at = |i: usize| i % 7 != 3 && i % 11 != 5 && i % 13 == 9;
    let mut want: Vec<String> = (0..N)
        .filter(|&i| foreign_at(i) || altered_at(i))
        .map(rel)
        .collect();
    want.sort();
    let listed: Vec<String> = problem_files(&out.stderr)
        .into_iter()
        .filter(|f| f.starts_with("secrets/"))
        .collect();
    assert_eq!(listed, want);
    for (i, b) in before.iter().enumerate() {
        assert_eq!(
            &std::fs::read(t.root.join(rel(i))).unwrap(),
            b,
            "{}",
            rel(i)
        );
    }
    let leftovers = walk_temps(&t.root.join("secrets"));
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn updatekeys_plan_and_result_do_not_depend_on_threads() {
    let one = tree();
    let four = tree();
    let mut outs = Vec::new();
    for (t, threads) in [(&one, 1), (&four, 4)] {
        let rules = std::fs::read_to_string(t.root.join(".sops.yaml")).unwrap();
        // Each tree adds its own `other`, named by an anchor: the plans read the same.
        let rules = rules
            .replace("keys:\n", &format!("keys:\n  - &other {}\n", t.other))
            .replace("age: [*admin]", "age: [*admin, *other]");
        std::fs::write(t.root.join(".sops.yaml"), rules).unwrap();
        // Remove the altered files: a MAC failure stops updatekeys (tested elsewhere).
        for i in (0..N).filter(|i| i % 13 == 9 && i % 7 != 3 && i % 11 != 5) {
            std::fs::remove_file(t.root.join(rel(i))).unwrap();
        }
        let out = t.run(threads, &["updatekeys", "-y", "secrets"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        outs.push(out);
        let check = t.run(threads, &["check", "secrets"]);
        let text = String::from_utf8_lossy(&check.stderr);
        assert!(!text.contains("recipients"), "{text}");
        assert!(walk_temps(&t.root.join("secrets")).is_empty());
    }
    assert!(outs[0].stdout == outs[1].stdout, "plans differ");
    assert_eq!(outs[0].stderr, outs[1].stderr);
    let plan = String::from_utf8_lossy(&outs[0].stdout);
    let files: Vec<&str> = plan
        .lines()
        .filter(|l| !l.starts_with(' ') && l.contains(": "))
        .filter_map(|l| l.split(": ").next())
        .collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(files, sorted);
}

/// Temporary files (`.<name>.hostseal-tmp-…`) left anywhere below `dir`.
fn walk_temps(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_temps(&p));
        } else if e.file_name().to_string_lossy().contains(".hostseal-tmp-") {
            out.push(p);
        }
    }
    out
}
