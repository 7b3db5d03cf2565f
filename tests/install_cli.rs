//! `hostseal install` / `status` through the binary, with manifests that need no decryption
//! (validation, check modes, templates, locking, dry runs, status).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod common;

use serde_json::{json, Value};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::install_host::{code, stderr, Host, Unmount};

/// The manifest with no secrets unless `extra` names some.
fn manifest(h: &Host, extra: Value) -> PathBuf {
    let mut m = json!({"secrets": []});
    if let (Some(m), Value::Object(e)) = (m.as_object_mut(), extra) {
        m.extend(e);
    }
    h.manifest(m)
}

#[test]
fn invalid_manifests_exit_6_and_change_nothing() {
    let h = Host::new();
    for bad in [
        json!({"secrets": [{"name": "../x", "sopsFile": "/s"}]}),
        json!({"secrets": [{"name": "/abs", "sopsFile": "/s"}]}),
        json!({"secrets": [{"name": "a", "sopsFile": "/s", "mode": "0800"}]}),
        json!({"secrets": [{"name": "a", "sopsFile": "/s", "uid": "1"}]}),
        json!({"secrets": [{"name": "a", "sopsFile": "/s", "format": "toml"}]}),
        json!({"secrets": [{"name": "a", "sopsFile": "/s", "path": "/x/../etc/passwd"}]}),
        json!({"secrets": [{"name": "a", "sopsFile": "rel"}]}),
        json!({"userMode": true}),
        json!({"restartVia": "systemctl", "systemctl": "systemctl"}),
    ] {
        let m = manifest(&h, bad.clone());
        let o = h.install(&m, &[]);
        assert_eq!(code(&o), 6, "{bad}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("hostseal: "), "{}", stderr(&o));
        assert!(
            !h.p("m").exists() && !h.p("lock").exists(),
            "{bad} changed something"
        );
    }
    // A path pointing into another secret's place is refused.
    let m = manifest(
        &h,
        json!({"secrets": [
            {"name": "a", "sopsFile": "/s"},
            {"name": "b", "sopsFile": "/s", "path": h.p("secrets/a")}
        ]}),
    );
    assert_eq!(code(&h.install(&m, &[])), 6);
    assert_eq!(code(&h.install(&m, &["--check-mode", "manifest"])), 6);
}

#[test]
fn check_mode_manifest_loads_no_keys_and_writes_nothing() {
    // peers/sops-nix scenario 4 (manifest half): sshKeyPaths names a missing key.
    let h = Host::new();
    let m = manifest(
        &h,
        json!({
            "sshKeyPaths": ["/nonexistent/ssh_host_rsa_key"],
            "secrets": [{"name": "test", "key": "test_key", "sopsFile": "/nonexistent.yaml",
                         "owner": "hostseal-no-such-user"}],
        }),
    );
    let o = h.install(&m, &["--check-mode", "manifest"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!h.p("m").exists());
    let o = h.install(&m, &["--check-mode", "manifest", "--resolve-owners"]);
    assert_eq!(code(&o), 6, "{}", stderr(&o));
}

fn template_manifest(h: &Host, n: usize, tag: &str, owner: u32) -> PathBuf {
    let mut t = serde_json::Map::new();
    for i in 0..n {
        t.insert(
            format!("t{i}"),
            json!({"content": format!("{tag}-{i}\n"), "mode": "0440", "owner": null, "uid": owner,
                   "group": null, "gid": owner, "restartUnits": [format!("u{i}.service")]}),
        );
    }
    manifest(
        h,
        json!({"templates": t, "restartVia": "activation-lists", "keepGenerations": 2}),
    )
}

#[test]
fn templates_install_switch_restart_and_status() {
    let h = Host::new();
    let m = template_manifest(&h, 3, "a", 0);
    let o = h.install(&m, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(h.link(), h.p("m/1"));
    assert_eq!(std::fs::read(h.p("secrets/rendered/t1")).unwrap(), b"a-1\n");
    assert!(
        !h.p("nixos/activation-restart-list").exists(),
        "first install restarts nothing"
    );
    let o = h.install(&m, &[]);
    assert_eq!(code(&o), 0);
    assert_eq!(h.link(), h.p("m/2"));
    assert!(
        !h.p("nixos/activation-restart-list").exists(),
        "unchanged: no restarts"
    );
    let m = template_manifest(&h, 2, "b", 0);
    let o = h.install(&m, &[]);
    assert_eq!(code(&o), 0);
    let log = stderr(&o);
    assert!(log.contains("changed \"rendered/t0\""), "{log}");
    assert!(log.contains("removed \"rendered/t2\""), "{log}");
    let list = std::fs::read_to_string(h.p("nixos/activation-restart-list")).unwrap();
    assert_eq!(list, "u0.service\nu1.service\n");
    assert!(!h.p("m/1").exists() && h.p("m/2").exists() && h.p("m/3").exists());
    // status, human and JSON
    let status = h.p("m/status.json");
    assert_eq!(std::fs::metadata(&status).unwrap().mode() & 0o777, 0o644);
    let o = common::hostseal(h.t.path())
        .arg("status")
        .arg(&status)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("generation 3"));
    let o = common::hostseal(h.t.path())
        .args(["status", "--json"])
        .arg(&status)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["generation"], 3);
    assert_eq!(v["in_progress"], false);
}

#[test]
fn dry_run_and_dry_activate_change_nothing() {
    let h = Host::new();
    let m = template_manifest(&h, 2, "a", 0);
    assert_eq!(code(&h.install(&m, &[])), 0);
    let before = std::fs::read(h.p("m/status.json")).unwrap();
    let m = template_manifest(&h, 2, "b", 0);
    let o = h.install(&m, &["--dry-run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("would restart u0.service"),
        "{}",
        stderr(&o)
    );
    assert_eq!(h.link(), h.p("m/1"));
    assert!(!h.p("m/2").exists());
    assert_eq!(std::fs::read(h.p("m/status.json")).unwrap(), before);
    let dry = std::fs::read_to_string(h.p("nixos/dry-activation-restart-list")).unwrap();
    assert_eq!(dry, "u0.service\nu1.service\n");
    // NIXOS_ACTION=dry-activate implies --dry-run.
    let mut c = common::hostseal(h.t.path());
    c.env("NIXOS_ACTION", "dry-activate")
        .arg("install")
        .args(["--no-mount", "--allow-disk"])
        .arg(&m);
    assert_eq!(code(&c.output().unwrap()), 0);
    assert!(!h.p("m/2").exists());
}

#[test]
fn concurrent_installs_are_serialized() {
    let h = Host::new();
    let m = template_manifest(&h, 2, "a", 0);
    assert_eq!(code(&h.install(&m, &[])), 0);
    // The test holds the lock and starts an install: it must park in its wait loop (lock file
    // open, asleep) having built nothing, and finish once the lock is released.
    let lock_path = h.p("lock/lock");
    let held = nix::fcntl::Flock::lock(
        std::fs::File::open(&lock_path).unwrap(),
        nix::fcntl::FlockArg::LockExclusive,
    )
    .unwrap();
    let mut c = common::hostseal(h.t.path());
    c.arg("install")
        .args(["--no-mount", "--allow-disk"])
        .arg(&m)
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let pid = child.id();
    assert!(
        common::stop_when(&mut child, || common::has_open(pid, &lock_path)
            && common::in_timed_sleep(pid)),
        "install exited while the lock was held"
    );
    assert_eq!(h.link(), h.p("m/1"), "switched while the lock was held");
    assert!(!h.p("m/2").exists(), "built while the lock was held");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGCONT,
    )
    .unwrap();
    drop(held);
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(h.link(), h.p("m/2"));
    // Several at once: every one succeeds, generations are distinct and the last wins.
    let children: Vec<_> = (0..4)
        .map(|_| {
            let mut c = common::hostseal(h.t.path());
            c.arg("install")
                .args(["--no-mount", "--allow-disk"])
                .arg(&m);
            c.spawn().unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(h.link(), h.p("m/6"));
}

#[test]
fn no_mount_refuses_disk_without_allow_disk() {
    let h = Host::new();
    let m = template_manifest(&h, 1, "a", 0);
    let mut c = common::hostseal(h.t.path());
    let o = c.arg("install").arg("--no-mount").arg(&m).output().unwrap();
    let on_ram = h.p("").metadata().is_ok() && is_ram(h.t.path());
    assert_eq!(code(&o) == 0, on_ram, "{}", stderr(&o));
}

fn is_ram(p: &Path) -> bool {
    let out = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(p)
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&out.stdout);
    t.trim() == "tmpfs" || t.trim() == "ramfs"
}

#[test]
fn real_ramfs_mount_point() {
    let h = Host::new();
    let _guard = Unmount(h.p("m"));
    let m = template_manifest(&h, 2, "a", 0);
    let o = common::hostseal(h.t.path())
        .arg("install")
        .arg(&m)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(h.p("m"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ramfs");
    let meta = std::fs::metadata(h.p("m")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o751);
    // Second run reuses the mount.
    let o = common::hostseal(h.t.path())
        .arg("install")
        .arg(&m)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(h.link(), h.p("m/2"));
    assert!(Command::new("umount")
        .arg(h.p("m"))
        .status()
        .unwrap()
        .success());
}

#[test]
fn symlink_path_that_is_a_file_is_exit_1_before_any_change() {
    let h = Host::new();
    std::fs::write(h.p("secrets"), b"x").unwrap();
    let m = template_manifest(&h, 1, "a", 0);
    let o = h.install(&m, &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(!h.p("m").exists());
}

/// Attacks on custom paths: a parent another user can write, a symlinked parent. Each is
/// refused (that item fails, exit 7), nothing is written there, the other items install.
#[test]
fn custom_path_attacks_refused_nothing_written_outside() {
    let h = Host::new();
    let open_dir = h.p("world-writable");
    std::fs::create_dir(&open_dir).unwrap();
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let elsewhere = h.p("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, h.p("via-link")).unwrap();
    let t = |c: &str, path: PathBuf| json!({"content": c, "path": path});
    let m = manifest(
        &h,
        json!({"templates": {
            "a": t("A", open_dir.join("a")),
            "b": t("B", h.p("via-link/b")),
            "c": t("C", h.p("fine/c")),
        }}),
    );
    let o = h.install(&m, &[]);
    assert_eq!(code(&o), 7, "{}", stderr(&o));
    assert!(std::fs::read_dir(&open_dir).unwrap().next().is_none());
    assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none());
    assert_eq!(std::fs::read(h.p("fine/c")).unwrap(), b"C");
    let st: Value = serde_json::from_slice(&std::fs::read(h.p("m/status.json")).unwrap()).unwrap();
    let state = |n: &str| {
        st["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == n)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state("rendered/a"), "failed");
    assert_eq!(state("rendered/b"), "failed");
    assert_eq!(state("rendered/c"), "ok");
    // The secret itself is still installed under symlinkPath.
    assert_eq!(std::fs::read(h.p("secrets/rendered/a")).unwrap(), b"A");
}

#[test]
fn use_tmpfs_mounts_tmpfs() {
    let h = Host::new();
    let _guard = Unmount(h.p("m"));
    let m = manifest(
        &h,
        json!({"useTmpfs": true, "templates": {"t": {"content": "x"}}}),
    );
    let o = common::hostseal(h.t.path())
        .arg("install")
        .arg(&m)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(h.p("m"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "tmpfs");
    // The same mount point asked as ramfs now: refused (wrong type), exit 1.
    let m = manifest(
        &h,
        json!({"useTmpfs": false, "templates": {"t": {"content": "x"}}}),
    );
    let o = common::hostseal(h.t.path())
        .arg("install")
        .arg(&m)
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
}
