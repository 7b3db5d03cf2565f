//! `edit` killed with SIGKILL (which no process can catch) left the plaintext in `/dev/shm`,
//! and no later `edit` removed it. Now the next `edit` of the same user sweeps the directories
//! of that user's dead edits, with a warning naming each; other users' directories and live
//! edits are left alone. Run as root, with the edits run as a local user made for the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod common;

use common::host::{chown, root_or_skip, stderr, TempUser};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn edit_as(u: &TempUser, work: &Path, key: &Path, editor: &str) -> Command {
    let mut c = Command::new("setpriv");
    c.arg(format!("--reuid={}", u.uid))
        .arg(format!("--regid={}", u.gid))
        .arg("--clear-groups")
        .arg(env!("CARGO_BIN_EXE_hostseal"))
        .args(["edit", "s.json"])
        .current_dir(work)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", work)
        .env("SOPS_AGE_KEY_FILE", key)
        .env("EDITOR", editor);
    c
}

/// Waits (bounded) for the editor to write `marker`: "<plaintext path> <editor pid>".
fn wait_marker(marker: &Path, child: &mut Child) -> (PathBuf, i32) {
    let start = Instant::now();
    loop {
        if let Ok(t) = std::fs::read_to_string(marker) {
            if let Some((path, pid)) = t.trim().rsplit_once(' ') {
                return (PathBuf::from(path), pid.parse().unwrap());
            }
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("edit exited early: {st}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the editor never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn killed_edit_plaintext_is_swept_by_the_next_edit() {
    if !root_or_skip("killed_edit_plaintext_is_swept_by_the_next_edit") {
        return;
    }
    if !hostseal::commit::edit::is_ram_fs(Path::new("/dev/shm")) {
        eprintln!("SKIPPED killed_edit_plaintext_is_swept_by_the_next_edit: /dev/shm is not tmpfs");
        return;
    }
    let u = TempUser::new();
    let t = common::trusted_tempdir();
    let work = u.dir(&t.path().join("work"));
    let (key, recipient) = common::age_keygen(&work, "admin");
    std::fs::write(
        work.join(".sops.yaml"),
        format!("creation_rules:\n  - path_regex: \\.json$\n    age: {recipient}\n"),
    )
    .unwrap();
    std::fs::write(
        work.join("s.json"),
        "{\"password\": \"PLAINTEXT-CANARY\"}\n",
    )
    .unwrap();
    common::run_ok(common::sops(&work).args(["encrypt", "-i", "s.json"]));
    for f in ["admin.key", ".sops.yaml", "s.json"] {
        chown(&work.join(f), u.uid, u.gid);
    }
    let marker = work.join("marker");
    let editor = work.join("slow-editor.sh");
    std::fs::write(
        &editor,
        format!(
            "#!/bin/sh\necho \"$1 $$\" > {}\nexec sleep 120\n",
            marker.display()
        ),
    )
    .unwrap();
    chown(&editor, u.uid, u.gid);
    let slow = format!("sh {}", editor.display());
    let mut child = edit_as(&u, &work, &key, &slow)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (plain, editor_pid) = wait_marker(&marker, &mut child);
    let dir = plain.parent().unwrap().to_path_buf();
    let hostseal_pid = child.id();
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("hostseal-edit-{hostseal_pid}-")),
        "{name}"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(editor_pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    // The attack: the plaintext outlives the killed edit.
    assert!(plain.exists(), "{} should still be there", plain.display());
    // Another user's leftover (root's) with a dead pid must not be touched.
    let foreign = Path::new("/dev/shm").join(format!(
        "hostseal-edit-{}-foreign",
        999_999_000 + hostseal_pid % 1000
    ));
    std::fs::create_dir_all(&foreign).unwrap();
    let o = edit_as(&u, &work, &key, "true").output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "hostseal: warning: removed {}, the plaintext of an edit whose process ({hostseal_pid}) was killed",
            dir.display()
        )),
        "{err}"
    );
    assert!(!dir.exists(), "{} was not swept", dir.display());
    assert!(foreign.exists(), "another user's directory was removed");
    std::fs::remove_dir(&foreign).unwrap();
    assert!(!err.contains("PLAINTEXT-CANARY"));
}
