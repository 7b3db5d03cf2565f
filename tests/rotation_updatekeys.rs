//! `hostseal updatekeys` against the real sops: files sealed by sops are re-keyed by hostseal
//! and opened again by sops; only additions keep the data key; a no-op run touches nothing;
//! one unopenable file stops every write; no prompt without a terminal; kill -9 mid-run leaves
//! every file old or new and valid, and a re-run completes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::repo::{text, AdminAndHosts};
use common::{hostseal, run_ok};
use std::path::Path;
use std::process::Stdio;

type Env = AdminAndHosts;

fn env() -> Env {
    AdminAndHosts::new(&["secrets/sub"])
}

impl Env {
    /// `.sops.yaml` naming the three keys, one rule for `secrets/` with these anchors.
    fn rules(&self, anchors: &[&str]) {
        let list: Vec<String> = anchors.iter().map(|a| format!("*{a}")).collect();
        self.write_rules(&format!(
            "keys:\n  - &admin {}\n  - &host1 {}\n  - &host2 {}\ncreation_rules:\n  - path_regex: ^secrets/\n    age: [{}]\n",
            self.admin.1,
            self.host1.1,
            self.host2.1,
            list.join(", ")
        ));
    }
}

/// The sealed values and MAC of a sealed JSON file (everything but the wrapped keys).
fn values_and_mac(path: &Path) -> (serde_json::Value, serde_json::Value, serde_json::Value) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let sops = v.as_object_mut().unwrap().remove("sops").unwrap();
    (v, sops["mac"].clone(), sops["lastmodified"].clone())
}

const PLAIN_YAML: &[u8] =
    b"# who\napp:\n    user: bob\n    pass: hunter2\nports:\n    - 1\n    - two\n";
const PLAIN_JSON: &[u8] = b"{\n\t\"token\": \"s3cret\",\n\t\"port\": 8443\n}\n";

#[test]
fn adding_a_recipient_keeps_the_data_key_and_sops_opens_with_it() {
    let e = env();
    let a = e.sops_seal("secrets/a.json", PLAIN_JSON, &[&e.admin.1]);
    let b = e.sops_seal(
        "secrets/sub/b.env",
        b"USER=app\nPASS=hunter2\n",
        &[&e.admin.1],
    );
    let c = e.sops_seal("secrets/cert.bin", b"\x00binary\xffdata", &[&e.admin.1]);
    let d = e.sops_seal("secrets/d.yaml", PLAIN_YAML, &[&e.admin.1]);
    e.rules(&["admin", "host2"]);
    let before = values_and_mac(&a);
    let out = e.hs(&e.admin.0, &["updatekeys", "-y", "secrets"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    assert!(plan.contains("+ host2"), "{plan}");
    assert!(plan.contains("data key kept"), "{plan}");
    assert!(plan.contains("updated 4 file(s)"), "{plan}");
    assert_eq!(
        values_and_mac(&a),
        before,
        "values, MAC and lastmodified kept"
    );
    for f in [&a, &b, &c, &d] {
        let out = e.sops_decrypt(f, &e.host2.0);
        assert!(
            out.status.success(),
            "{}: {}",
            f.display(),
            text(&out.stderr)
        );
    }
    assert_eq!(
        text(&e.sops_decrypt(&a, &e.host2.0).stdout),
        text(PLAIN_JSON)
    );
    assert_eq!(e.sops_decrypt(&c, &e.host2.0).stdout, b"\x00binary\xffdata");
    let yaml = e.sops_decrypt(&d, &e.host2.0).stdout;
    assert!(text(&yaml).contains("pass: hunter2"), "{}", text(&yaml));
    assert!(text(&yaml).contains("# who"), "{}", text(&yaml));
}

#[test]
fn removing_a_recipient_rotates_the_key_and_the_removed_key_gets_exit_3() {
    let e = env();
    let a = e.sops_seal("secrets/a.json", PLAIN_JSON, &[&e.admin.1, &e.host1.1]);
    let b = e.sops_seal(
        "secrets/b.ini",
        b"[db]\npass = x\n",
        &[&e.admin.1, &e.host1.1],
    );
    let y = e.sops_seal("secrets/y.yaml", PLAIN_YAML, &[&e.admin.1, &e.host1.1]);
    e.rules(&["admin", "host2"]);
    let before = values_and_mac(&a);
    let out = e.hs(&e.admin.0, &["updatekeys", "-y", "secrets"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    assert!(
        plan.contains("- host1") && plan.contains("+ host2"),
        "{plan}"
    );
    assert!(plan.contains("new data key"), "{plan}");
    let after = values_and_mac(&a);
    assert_ne!(after.0["token"], before.0["token"], "values re-encrypted");
    assert_ne!(after.1, before.1, "new MAC");
    for f in [&a, &b, &y] {
        assert!(e.sops_decrypt(f, &e.admin.0).status.success());
        assert!(e.sops_decrypt(f, &e.host2.0).status.success());
        assert!(!e.sops_decrypt(f, &e.host1.0).status.success());
        let out = e.hs(&e.host1.0, &["decrypt", f.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    }
    assert_eq!(
        text(&e.sops_decrypt(&a, &e.admin.0).stdout),
        text(PLAIN_JSON)
    );
}

#[test]
fn a_run_with_nothing_to_do_writes_nothing() {
    let e = env();
    let a = e.sops_seal("secrets/a.json", PLAIN_JSON, &[&e.host2.1, &e.admin.1]);
    e.rules(&["admin", "host2"]);
    let bytes = std::fs::read(&a).unwrap();
    let mtime = std::fs::metadata(&a).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = e.hs(&e.admin.0, &["updatekeys", "-y", "secrets"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("nothing to do"));
    assert_eq!(std::fs::read(&a).unwrap(), bytes);
    assert_eq!(std::fs::metadata(&a).unwrap().modified().unwrap(), mtime);
}

#[test]
fn one_unopenable_file_means_nothing_is_written() {
    let e = env();
    let a = e.sops_seal("secrets/a.json", PLAIN_JSON, &[&e.admin.1]);
    let b = e.sops_seal("secrets/b.json", PLAIN_JSON, &[&e.host1.1]);
    e.rules(&["admin", "host2"]);
    let (old_a, old_b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let out = e.hs(&e.admin.0, &["updatekeys", "-y", "secrets"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("secrets/b.json") && err.contains("nothing written"),
        "{err}"
    );
    assert!(!err.contains("secrets/a.json:"), "{err}");
    assert_eq!(std::fs::read(&a).unwrap(), old_a);
    assert_eq!(std::fs::read(&b).unwrap(), old_b);
    assert_eq!(std::fs::read_dir(e.p("secrets")).unwrap().count(), 3);
    // With --skip-unopenable the others go ahead.
    let out = e.hs(
        &e.admin.0,
        &["updatekeys", "-y", "--skip-unopenable", "secrets"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(e.sops_decrypt(&a, &e.host2.0).status.success());
    assert_eq!(std::fs::read(&b).unwrap(), old_b);
}

#[test]
fn no_prompt_without_a_terminal_and_without_y() {
    let e = env();
    let a = e.sops_seal("secrets/a.json", PLAIN_JSON, &[&e.admin.1]);
    e.rules(&["admin", "host2"]);
    let old = std::fs::read(&a).unwrap();
    let out = e.hs(&e.admin.0, &["updatekeys", "secrets"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("-y"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&a).unwrap(), old);
}

#[test]
fn a_named_file_without_rule_is_exit_6_and_nothing_is_written() {
    let e = env();
    std::fs::create_dir_all(e.p("other")).unwrap();
    let a = e.sops_seal("secrets/a.json", PLAIN_JSON, &[&e.admin.1]);
    let o = e.sops_seal("other/o.json", PLAIN_JSON, &[&e.admin.1]);
    e.rules(&["admin", "host2"]);
    let old = std::fs::read(&a).unwrap();
    let out = e.hs(
        &e.admin.0,
        &["updatekeys", "-y", "secrets/a.json", o.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&a).unwrap(), old);
    // In a directory walk, such files are skipped (and listed with -v).
    let out = e.hs(&e.admin.0, &["updatekeys", "-y", "-v", "."]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("other/o.json (no creation rule matches)"));
    assert!(e.sops_decrypt(&a, &e.host2.0).status.success());
    // With no rules file at all, a directory walk is a configuration error too.
    std::fs::remove_file(e.p(".sops.yaml")).unwrap();
    let out = e.hs(&e.admin.0, &["updatekeys", "-y", "other"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no .sops.yaml found"));
}

#[test]
fn whole_file_age_is_rekeyed_only_with_include_age() {
    let e = env();
    let f = e.p("secrets/tunnel.age");
    run_ok(
        std::process::Command::new("age")
            .args(["-r", &e.admin.1, "-o"])
            .arg(&f)
            .arg(&e.admin.0),
    );
    e.rules(&["admin", "host2"]);
    let old = std::fs::read(&f).unwrap();
    let out = e.hs(&e.admin.0, &["updatekeys", "-y", "-v", "secrets"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&f).unwrap(), old);
    assert!(text(&out.stderr).contains("--include-age"));
    let out = e.hs(
        &e.admin.0,
        &["updatekeys", "-y", "--include-age", "secrets"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plain = run_ok(
        std::process::Command::new("age")
            .args(["-d", "-i"])
            .arg(&e.host2.0)
            .arg(&f),
    );
    assert_eq!(plain, std::fs::read(&e.admin.0).unwrap());
}

#[test]
fn key_groups_and_threshold_follow_the_rule() {
    let e = env();
    let a = e.sops_seal("secrets/a.json", PLAIN_JSON, &[&e.admin.1]);
    let text_rules = format!(
        "creation_rules:\n  - path_regex: ^secrets/\n    shamir_threshold: 2\n    key_groups:\n      - age: ['{}']\n      - age: ['{}', '{}']\n",
        e.admin.1, e.host1.1, e.host2.1
    );
    std::fs::write(e.p(".sops.yaml"), text_rules).unwrap();
    let out = e.hs(&e.admin.0, &["updatekeys", "-y", "secrets"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&a).unwrap()).unwrap();
    assert_eq!(v["sops"]["shamir_threshold"], 2);
    assert_eq!(v["sops"]["key_groups"].as_array().unwrap().len(), 2);
    // Both groups are needed: admin + host2 open it with sops, admin alone does not.
    let both = e.p("both.key");
    let mut keys = std::fs::read(&e.admin.0).unwrap();
    keys.extend(std::fs::read(&e.host2.0).unwrap());
    std::fs::write(&both, keys).unwrap();
    assert!(e.sops_decrypt(&a, &both).status.success());
    assert!(!e.sops_decrypt(&a, &e.admin.0).status.success());
    // Running again changes nothing.
    let bytes = std::fs::read(&a).unwrap();
    let out = e.hs(&both, &["updatekeys", "-y", "secrets"]);
    assert!(text(&out.stdout).contains("nothing to do"));
    assert_eq!(std::fs::read(&a).unwrap(), bytes);
}

/// kill -9 at points the test controls (the process is stopped there and the state checked
/// first): once while new files are being staged and none is renamed yet, once between
/// renames (some files new, some old). Each file is its old bytes or a new valid file; the
/// temporary files left behind are removed by the re-run, which completes.
#[test]
fn kill_9_leaves_every_file_old_or_new_and_a_rerun_completes() {
    use std::os::unix::fs::MetadataExt;
    let e = env();
    const N: usize = 60;
    let first = e.sops_seal("secrets/f00.json", PLAIN_JSON, &[&e.admin.1, &e.host1.1]);
    let sealed = std::fs::read(&first).unwrap();
    let mut originals = Vec::new();
    for i in 0..N {
        let p = e.p(&format!("secrets/f{i:02}.json"));
        std::fs::write(&p, &sealed).unwrap();
        originals.push((p, sealed.clone()));
    }
    e.rules(&["admin", "host2"]);
    let temps = || -> Vec<String> {
        std::fs::read_dir(e.p("secrets"))
            .unwrap()
            .flatten()
            .map(|d| d.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("hostseal-tmp"))
            .collect()
    };
    let (mut mid_staging, mut mid_rename) = (0usize, 0usize);
    for round in 0..6u64 {
        for (p, bytes) in &originals {
            std::fs::write(p, bytes).unwrap();
        }
        let inodes: Vec<u64> = originals
            .iter()
            .map(|(p, _)| std::fs::metadata(p).unwrap().ino())
            .collect();
        let renamed = || {
            originals
                .iter()
                .zip(&inodes)
                .filter(|((p, _), ino)| std::fs::metadata(p).is_ok_and(|m| m.ino() != **ino))
                .count()
        };
        let old_temps = temps();
        let new_temp = || temps().iter().any(|t| !old_temps.contains(t));
        let mut child = hostseal(e.dir.path())
            .env("SOPS_AGE_KEY_FILE", &e.admin.0)
            .args(["updatekeys", "-y", "secrets"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let landed = if round % 2 == 0 {
            common::stop_when(&mut child, || new_temp() && renamed() == 0)
                && new_temp()
                && renamed() == 0
        } else {
            let between = || (1..N).contains(&renamed());
            common::stop_when(&mut child, between) && between()
        };
        let n_renamed = renamed();
        common::kill_9(&mut child);
        match (landed, round % 2) {
            (true, 0) => mid_staging += 1,
            (true, _) => mid_rename += 1,
            _ => {}
        }
        let mut changed = 0;
        for (p, old) in &originals {
            let now = std::fs::read(p).unwrap();
            if &now != old {
                changed += 1;
                let out = e.hs(&e.host2.0, &["decrypt", p.to_str().unwrap()]);
                assert!(
                    out.status.success(),
                    "round {round}: {} invalid",
                    p.display()
                );
                assert_eq!(out.stdout, PLAIN_JSON);
            }
        }
        assert_eq!(
            changed, n_renamed,
            "round {round}: a file changed after the kill"
        );
        eprintln!("round {round}: landed {landed}, {changed}/{N} files new");
    }
    // Each counted kill provably landed where it says (checked while the process was stopped).
    assert!(mid_staging > 0, "no kill landed while staging");
    assert!(mid_rename > 0, "no kill landed between renames");
    let out = e.hs(&e.admin.0, &["updatekeys", "-y", "secrets"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let leftovers = temps();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    for (p, _) in &originals {
        let out = e.sops_decrypt(p, &e.host2.0);
        assert!(out.status.success(), "{}", p.display());
        assert!(!e.sops_decrypt(p, &e.host1.0).status.success());
    }
}

#[test]
fn stale_temporary_files_are_removed_by_the_next_run() {
    let e = env();
    e.sops_seal("secrets/a.json", PLAIN_JSON, &[&e.admin.1]);
    e.rules(&["admin"]);
    let stale = e.p("secrets/.a.json.hostseal-tmp-AbC123");
    std::fs::write(&stale, b"half").unwrap();
    let out = e.hs(&e.admin.0, &["updatekeys", "-y", "secrets"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("nothing to do"));
    assert!(!stale.exists());
}

/// sops-nix's own test file (two age recipients and a PGP key): bringing it in line with a
/// rule drops the PGP key, so the data key is rotated; sops opens the result.
#[test]
fn sops_nix_peer_file_loses_its_pgp_key_and_sops_opens_it() {
    let e = env();
    let f = e.p("secrets/peer.yaml");
    std::fs::copy(common::peer("sops-nix/secrets.yaml"), &f).unwrap();
    let peer_keys = common::peer("sops-nix/age-keys.txt");
    let rules = format!(
        "keys:\n  - &host2 {}\ncreation_rules:\n  - path_regex: ^secrets/\n    age: age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw, {}\n",
        e.host2.1, e.host2.1
    );
    std::fs::write(e.p(".sops.yaml"), rules).unwrap();
    let out = e.hs(&peer_keys, &["updatekeys", "-y", "secrets"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    assert!(plan.contains("new data key"), "{plan}");
    assert!(
        plan.contains("- pgp keys") && plan.contains("+ host2"),
        "{plan}"
    );
    assert!(
        plan.contains("- age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs"),
        "{plan}"
    );
    for key in [e.host2.0.as_path(), peer_keys.as_path()] {
        let out = e.sops_decrypt(&f, key);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("test_key: test_value"));
    }
}

/// On a terminal the plan is confirmed with `y`; anything else writes nothing. Runs under
/// util-linux `script` for a pseudo-terminal (skipped, visibly, where it is missing).
#[test]
fn on_a_terminal_the_answer_decides() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: util-linux `script` not found (needed for a pseudo-terminal)");
        return;
    }
    let e = env();
    let a = e.sops_seal("secrets/a.json", PLAIN_JSON, &[&e.admin.1]);
    e.rules(&["admin", "host2"]);
    let old = std::fs::read(&a).unwrap();
    let run = |answer: &str| {
        let cmd = format!("{} updatekeys secrets", env!("CARGO_BIN_EXE_hostseal"));
        let mut c = std::process::Command::new("script");
        c.current_dir(e.dir.path())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", e.dir.path())
            .env("SOPS_AGE_KEY_FILE", &e.admin.0)
            .args(["-qec", &cmd, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut p = c.spawn().unwrap();
        use std::io::Write;
        p.stdin
            .take()
            .unwrap()
            .write_all(format!("{answer}\n").as_bytes())
            .unwrap();
        p.wait_with_output().unwrap()
    };
    let out = run("n");
    assert!(text(&out.stdout).contains("[y/N]"), "{}", text(&out.stdout));
    assert_eq!(std::fs::read(&a).unwrap(), old);
    let out = run("y");
    assert!(
        text(&out.stdout).contains("updated 1 file(s)"),
        "{}",
        text(&out.stdout)
    );
    assert!(e.sops_decrypt(&a, &e.host2.0).status.success());
}
