//! Atomicity under `kill -9` and the permission watcher (docs/install.md): 100 runs of a
//! 300-item manifest on a real ramfs, each stopped (SIGSTOP) at a point the test chooses and
//! checks — mid-build (a staging directory with items, the link not yet switched) or after the
//! switch (the process still running) — then killed with SIGKILL. After each, `symlinkPath`
//! points at a complete generation with the right contents, and a watcher scanning the mount
//! point in a tight loop never sees a file that a uid/gid other than root and the item's final
//! owner/group could open. Needs root (ramfs, chown); skipped with a message otherwise.
//!
//! The secrets come from two JSON files sealed by the real sops (A and B contents); runs
//! alternate between them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod common;

use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

const ITEMS: usize = 300;
const RUNS: usize = 100;
const OWNER: u32 = 4242;

/// Item `i`'s final owner/group and mode.
fn expected(i: usize) -> (u32, u32, u32) {
    if i.is_multiple_of(2) {
        (OWNER, OWNER, 0o440)
    } else {
        (0, OWNER, 0o040)
    }
}

/// Item `i`'s name: ten subdirectories, so directory creation is interrupted too.
fn name(i: usize) -> String {
    format!("d{}/t{i}", i % 10)
}

/// Seals `{k0: "<tag>-0", …}` with the real sops to `recipient`; root-owned 0444.
fn seal(root: &Path, tag: &str, recipient: &str) -> PathBuf {
    let plain: serde_json::Map<String, Value> = (0..ITEMS)
        .map(|i| (format!("k{i}"), json!(format!("{tag}-{i}"))))
        .collect();
    let plain_path = root.join(format!("{tag}.plain.json"));
    std::fs::write(&plain_path, serde_json::to_vec(&plain).unwrap()).unwrap();
    let out = common::run_ok(
        common::sops(root)
            .args([
                "encrypt",
                "--age",
                recipient,
                "--input-type",
                "json",
                "--output-type",
                "json",
            ])
            .arg(&plain_path),
    );
    let p = root.join(format!("{tag}.json"));
    std::fs::write(&p, out).unwrap();
    p
}

/// A manifest of `ITEMS` secrets taken from one sealed file.
fn manifest(root: &Path, tag: &str, key: &Path, recipient: &str) -> PathBuf {
    let sealed = seal(root, tag, recipient);
    let secrets: Vec<Value> = (0..ITEMS)
        .map(|i| {
            let (u, g, m) = expected(i);
            json!({"name": name(i), "sopsFile": sealed, "format": "json", "key": format!("k{i}"),
                   "mode": format!("{m:04o}"), "owner": null, "uid": u, "group": null, "gid": g})
        })
        .collect();
    let m = json!({
        "secretsMountPoint": root.join("m"), "symlinkPath": root.join("secrets"),
        "lockPath": root.join("lock/lock"), "keepGenerations": 3, "secrets": secrets,
        "ageKeyFile": key,
    });
    let p = root.join(format!("manifest-{tag}.json"));
    std::fs::write(&p, serde_json::to_vec(&m).unwrap()).unwrap();
    p
}

fn install(root: &Path, manifest: &Path) -> Command {
    let mut c = common::hostseal(root);
    c.arg("install").arg(manifest);
    c.stderr(std::process::Stdio::null());
    c
}

/// The generation the link points at is complete: every item, one tag for all, right owners.
fn check_complete(root: &Path) {
    let target = std::fs::read_link(root.join("secrets")).unwrap();
    assert_eq!(target.parent().unwrap(), root.join("m"));
    let mut tag = None;
    for i in 0..ITEMS {
        let f = target.join(name(i));
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let (t, n) = text.split_once('-').unwrap();
        assert_eq!(n, i.to_string());
        assert!(
            *tag.get_or_insert(t.to_string()) == t,
            "mixed generation at {}",
            f.display()
        );
        let meta = std::fs::metadata(&f).unwrap();
        let (u, g, m) = expected(i);
        assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o7777), (u, g, m));
    }
}

/// One scan of the mount point: every regular file must be openable only by root and its final
/// owner/group (owner bits → uid in {0, owner}; group bits → gid in {0, group}; no other bits).
fn scan(dir: &Path, seen: &AtomicUsize) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            scan(&p, seen)?;
        } else if meta.is_file() {
            seen.fetch_add(1, Ordering::Relaxed);
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let Some(i) = name.strip_prefix('t').and_then(|n| n.parse::<usize>().ok()) else {
                continue; // status file, lists
            };
            let (u, g, _) = expected(i);
            let mode = meta.mode();
            let bad = mode & 0o007 != 0
                || (mode & 0o700 != 0 && meta.uid() != 0 && meta.uid() != u)
                || (mode & 0o070 != 0 && meta.gid() != 0 && meta.gid() != g);
            if bad {
                return Err(format!(
                    "{} openable by others: {}:{} {:o}",
                    p.display(),
                    meta.uid(),
                    meta.gid(),
                    mode & 0o7777
                ));
            }
        }
    }
    Ok(())
}

/// The staging directories under the mount point, by inode (a killed run leaves its own).
fn stagings(mount: &Path) -> Vec<(PathBuf, u64)> {
    let Ok(entries) = std::fs::read_dir(mount) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".staging"))
        .filter_map(|e| Some((e.path(), e.metadata().ok()?.ino())))
        .collect()
}

/// Whether a staging directory that was not there before (`old`) already holds items.
fn new_staging_has_items(mount: &Path, old: &[(PathBuf, u64)]) -> bool {
    stagings(mount)
        .into_iter()
        .any(|s| !old.contains(&s) && std::fs::read_dir(&s.0).is_ok_and(|mut d| d.next().is_some()))
}

use common::install_host::Unmount;

#[test]
fn kill_9_mid_build_and_after_switch_never_breaks_the_link_and_watcher_sees_no_leak() {
    if !common::root_or_skip(
        "kill_9_mid_build_and_after_switch_never_breaks_the_link_and_watcher_sees_no_leak",
    ) {
        return;
    }
    let t = common::trusted_tempdir();
    let root = t.path();
    let (key, recipient) = common::age_keygen(root, "host");
    let a = manifest(root, "A", &key, &recipient);
    let b = manifest(root, "B", &key, &recipient);
    let _unmount = Unmount(root.join("m"));
    assert!(install(root, &a).status().unwrap().success());
    check_complete(root);
    let mnt = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        mnt.contains(&format!("{} ", root.join("m").display())),
        "not mounted"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicUsize::new(0));
    let watcher = {
        let (stop, seen, m) = (stop.clone(), seen.clone(), root.join("m"));
        std::thread::spawn(move || -> Result<(), String> {
            while !stop.load(Ordering::Relaxed) {
                scan(&m, &seen)?;
            }
            Ok(())
        })
    };
    let link = root.join("secrets");
    let mount = root.join("m");
    let (mut mid_build, mut after_switch) = (0usize, 0usize);
    for run in 0..RUNS {
        // Alternate contents (so a switch is visible) and the point the kill lands on.
        let m = if (run / 2) % 2 == 0 { &b } else { &a };
        let before = std::fs::read_link(&link).unwrap();
        let old = stagings(&mount);
        let mut child = install(root, m).spawn().unwrap();
        if run % 2 == 0 {
            // Mid-build: items already in a staging directory, the link not yet switched.
            let stopped = common::stop_when(&mut child, || new_staging_has_items(&mount, &old));
            if stopped
                && std::fs::read_link(&link).unwrap() == before
                && new_staging_has_items(&mount, &old)
            {
                mid_build += 1;
            }
        } else {
            // After the switch, before the process is done.
            let stopped = common::stop_when(&mut child, || {
                std::fs::read_link(&link).is_ok_and(|l| l != before)
            });
            after_switch += usize::from(stopped);
        }
        common::kill_9(&mut child);
        check_complete(root);
    }
    eprintln!("{RUNS} runs: {mid_build} killed mid-build, {after_switch} killed after the switch");
    // Each kill counted here provably landed where it says (checked while stopped).
    assert!(mid_build > 0, "no kill landed mid-build");
    assert!(after_switch > 0, "no kill landed after the switch");
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap().unwrap();
    assert!(
        seen.load(Ordering::Relaxed) > ITEMS,
        "the watcher saw too little"
    );
    // A normal run afterwards completes, cleans staging leftovers and clears in_progress.
    assert!(install(root, &b).status().unwrap().success());
    check_complete(root);
    let left: Vec<_> = std::fs::read_dir(root.join("m"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".staging"))
        .collect();
    assert!(left.is_empty());
    let st: Value =
        serde_json::from_slice(&std::fs::read(root.join("m/status.json")).unwrap()).unwrap();
    assert_eq!(st["in_progress"], false);
}
