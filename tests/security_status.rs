//! The status file and the restarts: `statusFile` overwrote any regular file and an unwritable
//! one still exited 0; restart lists that could not be written dropped the pending restarts
//! and exited 0; `systemctl try-restart` without `--no-block` deadlocked on hosts that install
//! from a systemd unit. Each asserts the exit code, the message and what is left on disk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod common;

use common::host::{root_or_skip, stderr, Host, TempUser};
use serde_json::json;

fn secret(h: &Host, value: &str) -> serde_json::Value {
    let s = h.seal_json("s.json", &json!({"v": value}));
    json!([{"name": "s", "sopsFile": s, "format": "json", "key": "v",
            "restartUnits": ["app.service"], "reloadUnits": ["web.service"]}])
}

/// L: a `statusFile` naming a file that is not a hostseal status file is never replaced, and a
/// status file that cannot be written makes the run exit 1 (the secrets are still installed).
#[test]
fn status_file_never_replaces_another_file_and_failure_is_exit_1() {
    if !root_or_skip("status_file_never_replaces_another_file_and_failure_is_exit_1") {
        return;
    }
    let h = Host::new();
    let precious = h.p("precious.conf");
    std::fs::write(&precious, "keep me\n").unwrap();
    let m = h.manifest(json!({"secrets": secret(&h, "1"), "statusFile": precious}));
    let o = h.install(&m);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "cannot write the status file {}: exists and is not a hostseal status file; refusing to replace it",
            precious.display()
        )),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me\n");
    assert_eq!(std::fs::read(h.p("secrets/s")).unwrap(), b"1");
    // Under a regular file: cannot be created at all.
    let m = h.manifest(json!({"secrets": secret(&h, "1"),
                              "statusFile": precious.join("status.json")}));
    let o = h.install(&m);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot write the status file"));
    // Its own status file is replaced run after run.
    let m = h.manifest(json!({"secrets": secret(&h, "1")}));
    assert_eq!(h.install(&m).status.code(), Some(0));
    assert_eq!(h.install(&m).status.code(), Some(0));
    assert_eq!(h.status()["version"], 1);
}

/// L: restart lists that cannot be written (a directory a user owns) keep the pending restarts
/// and exit 1; the next run with a usable directory replays them into the lists.
#[test]
fn unwritable_restart_lists_keep_restarts_pending() {
    if !root_or_skip("unwritable_restart_lists_keep_restarts_pending") {
        return;
    }
    let h = Host::new();
    let u = TempUser::new();
    let udir = u.dir(&h.p("userdir"));
    let lists = udir.join("nixos");
    let via = |dir: &std::path::Path, v: &str| {
        h.manifest(
            json!({"secrets": secret(&h, v), "restartVia": "activation-lists",
                          "restartListsDir": dir}),
        )
    };
    assert_eq!(h.install(&via(&lists, "1")).status.code(), Some(0));
    let o = h.install(&via(&lists, "2"));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "restart: {}: a parent directory is writable by or owned by a user other than root",
            lists.display()
        )),
        "{err}"
    );
    assert!(err.contains("stay pending"), "{err}");
    assert!(h.p("lock/pending.json").exists());
    assert!(!lists.exists());
    let good = h.p("nixos");
    let o = h.install(&via(&good, "2"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let restart = std::fs::read_to_string(good.join("activation-restart-list")).unwrap();
    let reload = std::fs::read_to_string(good.join("activation-reload-list")).unwrap();
    assert_eq!(
        (restart.as_str(), reload.as_str()),
        ("app.service\n", "web.service\n")
    );
    assert!(!h.p("lock/pending.json").exists());
}

/// Restarts through `systemctl` queue their jobs with `--no-block` (a unit ordered after the
/// installer's own service would wait for it, and it for the job); `is-active` and
/// `reset-failed` do not queue jobs. The fake `systemctl` is root-owned 0755 in a root-owned
/// directory and records its arguments.
#[test]
fn systemctl_jobs_use_no_block() {
    if !root_or_skip("systemctl_jobs_use_no_block") {
        return;
    }
    let h = Host::new();
    std::fs::create_dir(h.p("bin")).unwrap();
    let bin = h.p("bin/systemctl");
    let log = h.recording_systemctl(&bin);
    let m = |v: &str| {
        h.manifest(json!({"secrets": secret(&h, v), "restartVia": "systemctl", "systemctl": bin}))
    };
    assert_eq!(h.install(&m("1")).status.code(), Some(0));
    let o = h.install(&m("2"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let log = std::fs::read_to_string(log).unwrap();
    assert_eq!(
        log,
        "is-active -- app.service\n--no-block try-restart -- app.service\n\
         is-active -- web.service\n--no-block try-reload-or-restart -- web.service\n"
    );
}
