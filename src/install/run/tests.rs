//! Pipeline tests on a temporary root, with a fake opener (plaintext `k: v` files stand in for
//! sealed ones; the sops core is tested in its own module and through the binary).

use super::*;
use crate::install::extract::tests::PlainOpener;
use crate::install::users::Nss;
use crate::install::{defaults, manifest, validate};
use std::os::unix::fs::{MetadataExt, PermissionsExt};

struct Env {
    t: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let t = crate::install::trust::test_support::trusted_tmp();
        std::fs::create_dir(t.path().join("src")).unwrap();
        Env { t }
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.t.path().join(rel)
    }
    fn sealed(&self, name: &str, text: &str) -> String {
        let p = self.p(&format!("src/{name}"));
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        p.display().to_string()
    }
    /// A manifest with the test root's paths plus `extra` top-level fields and `secrets`.
    fn plan(&self, secrets: &str, extra: &str) -> Plan {
        let json = format!(
            r#"{{"secretsMountPoint":"{m}","symlinkPath":"{l}","lockPath":"{k}",
                "restartListsDir":"{n}","restartVia":"activation-lists",
                "secrets":[{secrets}]{extra}}}"#,
            m = self.p("m").display(),
            l = self.p("secrets").display(),
            k = self.p("lock/lock").display(),
            n = self.p("nixos").display(),
        );
        let raw = manifest::parse(json.as_bytes()).unwrap();
        validate::validate(raw, &defaults::load().unwrap(), false).unwrap()
    }
    fn run(&self, plan: &Plan) -> Report {
        install(plan, &opts(), &PlainOpener, &Nss::default()).unwrap()
    }
    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.p("secrets").join(name)).unwrap()
    }
    fn link(&self) -> PathBuf {
        std::fs::read_link(self.p("secrets")).unwrap()
    }
    fn restart_list(&self) -> String {
        std::fs::read_to_string(self.p("nixos/activation-restart-list")).unwrap_or_default()
    }
}

fn opts() -> Options {
    Options {
        dry_run: false,
        mount: MountOpts {
            use_tmpfs: false,
            no_mount: true,
            allow_disk: true,
        },
        lock_wait: std::time::Duration::from_secs(5),
    }
}

fn secret(name: &str, file: &str, key: &str, extra: &str) -> String {
    format!(
        r#"{{"name":"{name}","sopsFile":"{file}","key":"{key}","restartUnits":["{unit}-svc.service"]{extra}}}"#,
        unit = name.replace('/', "-")
    )
}

#[test]
fn first_install_then_change_restarts_only_changed() {
    let e = Env::new();
    let f = e.sealed("s.yaml", "a: one\nb: two\n");
    let secrets = format!(
        "{},{}",
        secret("a", &f, "a", r#","mode":"0440""#),
        secret("sub/b", &f, "b", "")
    );
    let plan = e.plan(&secrets, "");
    let r = e.run(&plan);
    assert_eq!(r.exit_code(), 0);
    assert!(r.units.is_empty(), "nothing restarts on first install");
    assert_eq!(e.link(), e.p("m/1"));
    assert_eq!(e.read("a"), b"one");
    assert_eq!(e.read("sub/b"), b"two");
    let meta = std::fs::metadata(e.p("m/1/a")).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o440);
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
    assert_eq!(
        std::fs::metadata(e.p("m/1/sub")).unwrap().mode() & 0o7777,
        0o751
    );
    assert_eq!(
        std::fs::metadata(e.p("m/1")).unwrap().mode() & 0o7777,
        0o751
    );
    assert_eq!(std::fs::metadata(e.p("m")).unwrap().mode() & 0o7777, 0o751);
    assert_eq!(e.restart_list(), "");

    std::fs::write(&f, "a: one\nb: TWO\n").unwrap();
    let r = e.run(&plan);
    assert_eq!(r.exit_code(), 0);
    assert_eq!(e.link(), e.p("m/2"));
    assert_eq!(e.read("sub/b"), b"TWO");
    assert_eq!(e.restart_list(), "sub-b-svc.service\n");
    assert!(!e.p("m/1").exists(), "keepGenerations 1 prunes 1");

    // Unchanged run: no restarts.
    let r = e.run(&plan);
    assert!(r.units.is_empty());
    assert_eq!(e.link(), e.p("m/3"));
    let st = status::read(&plan.status_file).unwrap();
    assert_eq!(st.generation, Some(3));
    assert!(!st.in_progress);
    assert!(st.items.iter().all(|i| i.state == State::Ok));
}

#[test]
fn failures_isolated_previous_copies_carried_and_stale_inherited() {
    let e = Env::new();
    let f = e.sealed("s.yaml", "a: one\nb: two\nc: three\n");
    let secrets = format!(
        "{},{},{},{}",
        secret("a", &f, "a", ""),
        secret("b", &f, "b", ""),
        secret("c", &f, "c", ""),
        secret("d", &f, "c", r#","owner":"hostseal-no-such-user""#)
    );
    let plan = e.plan(&secrets, r#","keepGenerations":0"#);
    let r = e.run(&plan);
    assert_eq!(r.exit_code(), 7, "unknown owner fails d");
    assert!(!e.p("secrets/d").exists());
    assert_eq!(
        r.status.item("d").unwrap().reason.as_ref().unwrap().code,
        "unknown-owner"
    );

    // Now: key b removed from the file, c's file undecryptable, a fine.
    std::fs::write(&f, "a: ONE\nc: three\n").unwrap();
    let g = e.sealed("nokey.yaml", "NOKEY\n");
    let secrets = format!(
        "{},{},{},{}",
        secret("a", &f, "a", ""),
        secret("b", &f, "b", ""),
        secret("c", &g, "c", ""),
        secret("e", &e.p("src/missing.yaml").display().to_string(), "x", "")
    );
    let plan = e.plan(&secrets, r#","keepGenerations":0"#);
    let r = e.run(&plan);
    assert_eq!(r.exit_code(), 7);
    assert_eq!(e.read("a"), b"ONE");
    assert_eq!(e.read("b"), b"two", "previous copy carried");
    assert_eq!(e.read("c"), b"three", "previous copy carried");
    assert!(!e.p("secrets/e").exists());
    let st = status::read(&plan.status_file).unwrap();
    let state = |n: &str| st.item(n).unwrap().state;
    assert_eq!(state("a"), State::Ok);
    assert_eq!(state("b"), State::Stale);
    assert_eq!(state("c"), State::Stale);
    assert_eq!(state("e"), State::Failed);
    assert_eq!(
        st.item("b").unwrap().reason.as_ref().unwrap().code,
        "key-absent"
    );
    assert_eq!(
        st.item("c").unwrap().reason.as_ref().unwrap().code,
        "no-key"
    );
    assert_eq!(
        st.item("e").unwrap().reason.as_ref().unwrap().code,
        "unreadable"
    );
    assert_eq!(
        st.item("b")
            .unwrap()
            .stale_since
            .as_ref()
            .unwrap()
            .generation,
        2
    );
    // The carried copy is a new file, not a link to the old one.
    let old = std::fs::metadata(e.p("m/1/b")).unwrap();
    let new = std::fs::metadata(e.p("m/2/b")).unwrap();
    assert_ne!(old.ino(), new.ino());
    assert_eq!(
        e.restart_list(),
        "a-svc.service\n",
        "only the changed secret restarts"
    );

    // Third run: stale_since inherited.
    e.run(&plan);
    let st = status::read(&plan.status_file).unwrap();
    assert_eq!(
        st.item("b")
            .unwrap()
            .stale_since
            .as_ref()
            .unwrap()
            .generation,
        2
    );
    let text = std::fs::read_to_string(&plan.status_file).unwrap();
    for secret_text in ["ONE", "two", "three"] {
        assert!(!text.contains(secret_text), "status leaks {secret_text}");
    }
}

#[test]
fn on_failure_remove_drops_previous_copy() {
    let e = Env::new();
    let f = e.sealed("s.yaml", "a: one\n");
    let plan = e.plan(&secret("a", &f, "a", r#","onFailure":"remove""#), "");
    e.run(&plan);
    std::fs::write(&f, "x: y\n").unwrap();
    let r = e.run(&plan);
    assert_eq!(r.exit_code(), 7);
    assert!(!e.p("secrets/a").exists());
    assert_eq!(r.status.item("a").unwrap().state, State::Failed);
}

#[test]
fn strict_aborts_without_switch() {
    let e = Env::new();
    let f = e.sealed("s.yaml", "a: one\nb: two\n");
    let secrets = format!("{},{}", secret("a", &f, "a", ""), secret("b", &f, "b", ""));
    let plan = e.plan(&secrets, r#","strict":true"#);
    assert_eq!(e.run(&plan).exit_code(), 0);
    std::fs::write(&f, "a: NEW\n").unwrap();
    let r = e.run(&plan);
    assert_eq!(r.exit_code(), 7);
    assert_eq!(e.link(), e.p("m/1"), "no switch");
    assert_eq!(e.read("a"), b"one");
    assert!(!e.p("m/2").exists());
    let leftovers: Vec<_> = std::fs::read_dir(e.p("m"))
        .unwrap()
        .map(|d| d.unwrap().file_name())
        .collect();
    assert!(leftovers
        .iter()
        .all(|n| !n.to_string_lossy().starts_with(".staging")));
    assert_eq!(
        status::read(&plan.status_file)
            .unwrap()
            .item("b")
            .unwrap()
            .state,
        State::Failed
    );
}

#[test]
fn dry_run_changes_nothing() {
    let e = Env::new();
    let f = e.sealed("s.yaml", "a: one\n");
    let plan = e.plan(&secret("a", &f, "a", ""), "");
    e.run(&plan);
    std::fs::write(&f, "a: two\n").unwrap();
    let before = std::fs::read(&plan.status_file).unwrap();
    let r = dry_run(&plan, &PlainOpener, &Nss::default());
    assert_eq!(
        r.units.restart.iter().collect::<Vec<_>>(),
        ["a-svc.service"]
    );
    assert_eq!(e.link(), e.p("m/1"));
    assert_eq!(e.read("a"), b"one");
    assert!(!e.p("m/2").exists());
    assert_eq!(std::fs::read(&plan.status_file).unwrap(), before);
    assert_eq!(e.restart_list(), "");
    let dry = std::fs::read_to_string(e.p("nixos/dry-activation-restart-list")).unwrap();
    assert_eq!(dry, "a-svc.service\n");
}

#[test]
fn templates_render_into_new_generation() {
    let e = Env::new();
    let f = e.sealed("s.yaml", "pw: hunter2\n");
    let ph = validate::placeholder_for("pw");
    let extra = format!(
        r#","templates":{{"cfg":{{"content":"password={ph}\n","mode":"0440","restartUnits":["app.service"]}}}}"#
    );
    let plan = e.plan(&secret("pw", &f, "pw", ""), &extra);
    e.run(&plan);
    assert_eq!(e.read("rendered/cfg"), b"password=hunter2\n");
    std::fs::write(&f, "pw: other\n").unwrap();
    e.run(&plan);
    assert_eq!(e.read("rendered/cfg"), b"password=other\n");
    assert!(e.restart_list().contains("app.service"));
    // A template whose input failed fails too (previous copy kept, stale).
    std::fs::write(&f, "nope: x\n").unwrap();
    let r = e.run(&plan);
    assert_eq!(r.status.item("rendered/cfg").unwrap().state, State::Stale);
    assert_eq!(
        r.status
            .item("rendered/cfg")
            .unwrap()
            .reason
            .as_ref()
            .unwrap()
            .code,
        "failed-input"
    );
}

#[test]
fn custom_paths_linked_replaced_and_removed() {
    let e = Env::new();
    let f = e.sealed("s.yaml", "a: one\n");
    let target = e.p("etc/app/a.conf");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(&target, b"plain old file").unwrap();
    let extra = format!(r#","path":"{}""#, target.display());
    let plan = e.plan(&secret("a", &f, "a", &extra), "");
    let r = e.run(&plan);
    assert_eq!(r.status.item("a").unwrap().state, State::ReplacedFile);
    assert_eq!(std::fs::read_link(&target).unwrap(), e.p("secrets/a"));
    assert_eq!(std::fs::read(&target).unwrap(), b"one");
    // Second run: already a symlink → ok.
    let r = e.run(&plan);
    assert_eq!(r.status.item("a").unwrap().state, State::Ok);
    // Secret removed from the manifest: its link goes.
    let g = e.sealed("t.yaml", "b: x\n");
    let plan2 = e.plan(&secret("b", &g, "b", ""), "");
    e.run(&plan2);
    assert!(std::fs::symlink_metadata(&target).is_err());
}

#[test]
fn planted_symlink_at_link_path_is_replaced_not_followed() {
    let e = Env::new();
    let victim = e.p("victim");
    std::fs::create_dir(&victim).unwrap();
    std::os::unix::fs::symlink(&victim, e.p("secrets")).unwrap();
    let f = e.sealed("s.yaml", "a: one\n");
    let plan = e.plan(&secret("a", &f, "a", ""), "");
    e.run(&plan);
    assert_eq!(e.link(), e.p("m/1"));
    assert!(std::fs::read_dir(&victim).unwrap().next().is_none());
}

#[test]
fn planted_entries_in_mount_point() {
    let e = Env::new();
    let f = e.sealed("s.yaml", "a: one\n");
    let plan = e.plan(&secret("a", &f, "a", ""), r#","keepGenerations":0"#);
    let victim = e.p("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::create_dir_all(e.p("m")).unwrap();
    // A symlink named like a generation and a leftover staging symlink.
    std::os::unix::fs::symlink(&victim, e.p("m/7")).unwrap();
    std::os::unix::fs::symlink(&victim, e.p("m/.staging-x")).unwrap();
    e.run(&plan);
    assert_eq!(e.link(), e.p("m/8"));
    assert!(victim.is_dir());
    assert!(std::fs::read_dir(&victim).unwrap().next().is_none());
    assert!(std::fs::symlink_metadata(e.p("m/.staging-x")).is_err());
}

#[test]
fn regular_file_at_link_path_refused_before_any_change() {
    let e = Env::new();
    std::fs::write(e.p("secrets"), b"x").unwrap();
    let f = e.sealed("s.yaml", "a: one\n");
    let plan = e.plan(&secret("a", &f, "a", ""), "");
    let err = install(&plan, &opts(), &PlainOpener, &Nss::default()).unwrap_err();
    assert_eq!(err.exit_code(), 1);
    assert!(!e.p("m").exists());
}

#[test]
fn numeric_owner_without_user() {
    let e = Env::new();
    let f = e.sealed("s.yaml", "a: one\n");
    let plan = e.plan(
        &secret(
            "a",
            &f,
            "a",
            r#","owner":null,"uid":1001,"group":null,"gid":1001"#,
        ),
        "",
    );
    assert_eq!(e.run(&plan).exit_code(), 0);
    let m = std::fs::metadata(e.p("m/1/a")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1001, 1001));
}

#[test]
fn whole_file_and_binary() {
    let e = Env::new();
    let f = e.sealed("blob.bin", "\u{1}raw bytes\n");
    let s = format!(r#"{{"name":"blob","sopsFile":"{f}","format":"binary"}}"#);
    let plan = e.plan(&s, "");
    e.run(&plan);
    assert_eq!(e.read("blob"), "\u{1}raw bytes\n".as_bytes());
}

#[test]
fn planted_symlink_in_previous_generation_is_not_carried_over() {
    let e = Env::new();
    let f = e.sealed("s.yaml", "a: one\n");
    let plan = e.plan(&secret("a", &f, "a", ""), r#","keepGenerations":0"#);
    e.run(&plan);
    let outside = e.p("outside-secret");
    std::fs::write(&outside, b"not for you").unwrap();
    std::fs::remove_file(e.p("m/1/a")).unwrap();
    std::os::unix::fs::symlink(&outside, e.p("m/1/a")).unwrap();
    std::fs::write(&f, "x: y\n").unwrap();
    let r = e.run(&plan);
    assert_eq!(r.status.item("a").unwrap().state, State::Failed);
    assert!(
        !e.p("m/2/a").exists(),
        "nothing read through the planted link"
    );
}
