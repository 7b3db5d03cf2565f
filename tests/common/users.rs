//! Real local users for the tests of `install` (made with `groupadd`/`useradd` under unique
//! names, removed on drop), and the runtime directory systemd-logind would give a login user.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

/// Makes a system user `name` (no home, no login shell) with a group of the same name, after
/// removing any left over from an earlier run.
pub fn add_system_user(name: &str) {
    remove_user(name, false);
    assert!(Command::new("groupadd")
        .args(["-r", name])
        .status()
        .unwrap()
        .success());
    let ok = Command::new("useradd")
        .args(["-r", "-M", "-s", "/usr/sbin/nologin", "-g", name, name])
        .status()
        .unwrap()
        .success();
    assert!(ok, "useradd {name}");
}

/// Deletes user `name` (with its home when `home`) and its group; quiet when either is gone.
pub fn remove_user(name: &str, home: bool) {
    let mut userdel = Command::new("userdel");
    if home {
        userdel.arg("-r");
    }
    let _ = userdel.arg(name).output();
    let _ = Command::new("groupdel").arg(name).output();
}

/// (uid, primary gid) of user `name`.
pub fn ids(name: &str) -> (u32, u32) {
    let u = nix::unistd::User::from_name(name).unwrap().unwrap();
    (u.uid.as_raw(), u.gid.as_raw())
}

/// A system user and group of the same name, `<prefix><pid>`, deleted on drop.
pub struct SystemUser {
    /// Its name.
    pub name: String,
}

impl SystemUser {
    /// Makes the user `<prefix><pid % 100000>`.
    pub fn new(prefix: &str) -> SystemUser {
        let name = format!("{prefix}{}", std::process::id() % 100_000);
        add_system_user(&name);
        SystemUser { name }
    }

    /// Its (uid, primary gid).
    pub fn ids(&self) -> (u32, u32) {
        ids(&self.name)
    }
}

impl Drop for SystemUser {
    fn drop(&mut self) {
        remove_user(&self.name, false);
    }
}

/// A login user `<prefix><pid>` with its own group and home, deleted (with its home) on drop.
pub struct LoginUser {
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
    /// Its home directory.
    pub home: PathBuf,
}

impl LoginUser {
    /// Makes the user `<prefix><pid % 100000>`.
    pub fn new(prefix: &str) -> LoginUser {
        let name = format!("{prefix}{}", std::process::id() % 100_000);
        remove_user(&name, true);
        let ok = Command::new("useradd")
            .args(["-m", "-U", "-s", "/usr/sbin/nologin", &name])
            .status()
            .unwrap()
            .success();
        assert!(ok, "useradd {name}");
        let u = nix::unistd::User::from_name(&name).unwrap().unwrap();
        LoginUser {
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home: u.dir,
            name,
        }
    }
}

impl Drop for LoginUser {
    fn drop(&mut self) {
        remove_user(&self.name, true);
    }
}

/// `/run/user/<uid>`: made 0700 for the user and a tmpfs mounted on it (as logind does),
/// unmounted and removed on drop.
pub struct RuntimeDir {
    /// `/run/user/<uid>`.
    pub path: PathBuf,
}

impl RuntimeDir {
    /// Mounts the runtime directory of `u`.
    pub fn new(u: &LoginUser) -> RuntimeDir {
        let path = PathBuf::from(format!("/run/user/{}", u.uid));
        std::fs::create_dir_all(&path).unwrap();
        let opts = format!("mode=0700,uid={},gid={},size=16m", u.uid, u.gid);
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
            .arg(&path)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount tmpfs on {}", path.display());
        RuntimeDir { path }
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Every path owned by `uid` under `roots` (searched whole, not following symlinks), except
/// the trees at `skip`: for a new user, anything it owns there was made by what it ran.
pub fn owned_by(uid: u32, roots: &[&str], skip: &[&std::path::Path]) -> BTreeSet<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeSet::new();
    let mut stack: Vec<PathBuf> = roots.iter().map(PathBuf::from).collect();
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if skip.contains(&p.as_path()) {
                continue;
            }
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if m.uid() == uid {
                out.insert(p.clone());
            }
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}
