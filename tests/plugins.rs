//! Age plugins end to end with the real test plugin (tests/age-plugin-hstest, built here with
//! `cargo build -p age-plugin-hstest`) and the real sops 3.11: sops and hostseal each encrypt
//! to a plugin recipient and the other decrypts; `updatekeys` adds and removes a plugin
//! recipient; the interactive identity answers on a pseudo-terminal (`script`) and fails
//! cleanly without one; `install` (root) runs only the manifest's `agePlugins` binary and never
//! prompts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod common;

use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The directory holding the built `age-plugin-hstest` (and nothing else we put on PATH).
fn plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        // Same profile as this test's build, so the plugin lands beside the hostseal binary.
        let exe = Path::new(env!("CARGO_BIN_EXE_hostseal"));
        let release = exe.parent().and_then(Path::file_name) == Some("release".as_ref());
        let status = Command::new(cargo)
            .args(["build", "--locked", "--quiet", "-p", "age-plugin-hstest"])
            .args(release.then_some("--release"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo build -p age-plugin-hstest");
        assert!(status.success(), "building the test plugin failed");
        let built = Path::new(env!("CARGO_BIN_EXE_hostseal")).with_file_name("age-plugin-hstest");
        assert!(built.exists(), "{} missing", built.display());
        // A directory holding only the plugin, so PATH exposes nothing else of target/.
        let dir = built.with_file_name("hstest-plugin-path");
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("age-plugin-hstest");
        let _ = std::fs::remove_file(&dest);
        std::fs::copy(&built, &dest).unwrap();
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    })
}

/// `PATH` with the plugin directory first.
fn path_with_plugin() -> String {
    format!("{}:/usr/bin:/bin", plugin_dir().display())
}

/// One fresh test-plugin key: its recipient and identity files for the three modes.
struct PluginKey {
    recipient: String,
    plain: PathBuf,
    confirm: PathBuf,
    pin: PathBuf,
}

fn plugin_key(dir: &Path, name: &str) -> PluginKey {
    let out = common::run_ok(Command::new(plugin_dir().join("age-plugin-hstest")).arg("--keygen"));
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let write = |mode: &str, line: &str| {
        let p = dir.join(format!("{name}.{mode}.key"));
        std::fs::write(
            &p,
            format!("# TEST-ONLY plugin identity ({mode})\n{line}\n"),
        )
        .unwrap();
        p
    };
    PluginKey {
        recipient: lines[0].to_string(),
        plain: write("plain", lines[1]),
        confirm: write("confirm", lines[2]),
        pin: write("pin", lines[3]),
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const PLAIN_YAML: &str = "db_password: hunter2\napi:\n    token: tok-123\n";

/// sops (finding the plugin on PATH) encrypts; hostseal decrypts with the plugin identity.
#[test]
fn sops_encrypts_to_plugin_hostseal_decrypts() {
    let t = tempfile::tempdir().unwrap();
    let key = plugin_key(t.path(), "k");
    std::fs::write(t.path().join("s.yaml"), PLAIN_YAML).unwrap();
    let sealed = common::run_ok(
        common::sops(t.path())
            .env("PATH", path_with_plugin())
            .args(["encrypt", "--age", &key.recipient, "s.yaml"]),
    );
    let text = String::from_utf8(sealed.clone()).unwrap();
    assert!(
        text.contains(&format!("recipient: {}", key.recipient)),
        "{text}"
    );
    std::fs::write(t.path().join("e.yaml"), &sealed).unwrap();
    let plain = common::run_ok(
        common::hostseal(t.path())
            .env("PATH", path_with_plugin())
            .env("SOPS_AGE_KEY_FILE", &key.plain)
            .args(["decrypt", "e.yaml"]),
    );
    assert_eq!(String::from_utf8(plain).unwrap(), PLAIN_YAML);
    // Without the plugin on PATH: a clear error, exit non-zero.
    let o = common::hostseal(t.path())
        .env("SOPS_AGE_KEY_FILE", &key.plain)
        .args(["decrypt", "e.yaml"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("age-plugin-hstest not found on PATH"),
        "{}",
        stderr(&o)
    );
}

/// hostseal encrypts to a plugin recipient (running the plugin's recipient-v1); sops decrypts.
#[test]
fn hostseal_encrypts_to_plugin_sops_decrypts() {
    let t = tempfile::tempdir().unwrap();
    let key = plugin_key(t.path(), "k");
    std::fs::write(t.path().join("s.yaml"), PLAIN_YAML).unwrap();
    let sealed = common::run_ok(
        common::hostseal(t.path())
            .env("PATH", path_with_plugin())
            .args(["encrypt", "--age", &key.recipient, "s.yaml"]),
    );
    std::fs::write(t.path().join("e.yaml"), &sealed).unwrap();
    let plain = common::run_ok(
        common::sops(t.path())
            .env("PATH", path_with_plugin())
            .env("SOPS_AGE_KEY_FILE", &key.plain)
            .args(["decrypt", "e.yaml"]),
    );
    assert_eq!(String::from_utf8(plain).unwrap(), PLAIN_YAML);
    // Encrypting without the plugin on PATH fails cleanly and writes nothing.
    let o = common::hostseal(t.path())
        .args(["encrypt", "--age", &key.recipient, "s.yaml"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(o.stdout.is_empty());
    assert!(
        stderr(&o).contains("age-plugin-hstest not found on PATH"),
        "{}",
        stderr(&o)
    );
}

/// `updatekeys` adds a plugin recipient named by the rules, then removes it again.
#[test]
fn updatekeys_adds_and_removes_a_plugin_recipient() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (admin, admin_r) = common::age_keygen(d, "admin");
    let key = plugin_key(d, "k");
    std::fs::create_dir_all(d.join("secrets")).unwrap();
    let rules = |with_plugin: bool| {
        let list = if with_plugin {
            format!("{admin_r}, {}", key.recipient)
        } else {
            admin_r.clone()
        };
        std::fs::write(
            d.join(".sops.yaml"),
            format!("creation_rules:\n  - path_regex: ^secrets/\n    age: {list}\n"),
        )
        .unwrap();
    };
    rules(false);
    std::fs::write(d.join("secrets/a.yaml"), PLAIN_YAML).unwrap();
    let sealed = common::run_ok(
        common::hostseal(d)
            .env("PATH", path_with_plugin())
            .args(["encrypt", "secrets/a.yaml"]),
    );
    std::fs::write(d.join("secrets/a.yaml"), sealed).unwrap();
    let plugin_decrypt = || {
        common::hostseal(d)
            .env("PATH", path_with_plugin())
            .env("SOPS_AGE_KEY_FILE", &key.plain)
            .args(["decrypt", "secrets/a.yaml"])
            .output()
            .unwrap()
    };
    assert!(!plugin_decrypt().status.success(), "not yet a recipient");

    rules(true);
    common::run_ok(
        common::hostseal(d)
            .env("PATH", path_with_plugin())
            .env("SOPS_AGE_KEY_FILE", &admin)
            .args(["updatekeys", "-y", "secrets"]),
    );
    let text = std::fs::read_to_string(d.join("secrets/a.yaml")).unwrap();
    assert!(text.contains(&key.recipient), "{text}");
    let o = plugin_decrypt();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8(o.stdout).unwrap(), PLAIN_YAML);
    // The real sops opens the re-keyed file through the plugin too.
    let plain = common::run_ok(
        common::sops(d)
            .env("PATH", path_with_plugin())
            .env("SOPS_AGE_KEY_FILE", &key.plain)
            .args(["decrypt", "secrets/a.yaml"]),
    );
    assert_eq!(String::from_utf8(plain).unwrap(), PLAIN_YAML);

    rules(false);
    common::run_ok(
        common::hostseal(d)
            .env("PATH", path_with_plugin())
            .env("SOPS_AGE_KEY_FILE", &admin)
            .args(["updatekeys", "-y", "secrets"]),
    );
    let text = std::fs::read_to_string(d.join("secrets/a.yaml")).unwrap();
    assert!(!text.contains(&key.recipient), "{text}");
    assert!(!plugin_decrypt().status.success(), "removed");
}

/// Runs `hostseal ARGS` on a pseudo-terminal made by `script`, typing `input`.
fn on_terminal(dir: &Path, env: &[(&str, &Path)], args: &str, input: &str) -> Output {
    let mut vars = format!("PATH={} HOME={}", path_with_plugin(), dir.display());
    for (k, v) in env {
        vars.push_str(&format!(" {k}='{}'", v.display()));
    }
    let command = format!("env -i {vars} {} {args}", env!("CARGO_BIN_EXE_hostseal"));
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) is needed");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The confirm and PIN identities answer on a terminal; wrong answers and no terminal fail
/// with the plugin's reason, exit non-zero, and no plaintext.
#[test]
fn interactive_plugin_on_a_terminal_and_without_one() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let key = plugin_key(d, "k");
    std::fs::write(d.join("s.yaml"), PLAIN_YAML).unwrap();
    let sealed = common::run_ok(common::hostseal(d).env("PATH", path_with_plugin()).args([
        "encrypt",
        "--age",
        &key.recipient,
        "s.yaml",
    ]));
    std::fs::write(d.join("e.yaml"), sealed).unwrap();
    let decrypt = "decrypt e.yaml";

    let yes = on_terminal(d, &[("SOPS_AGE_KEY_FILE", &key.confirm)], decrypt, "yes\n");
    let shown = String::from_utf8_lossy(&yes.stdout).into_owned();
    assert!(yes.status.success(), "{shown}");
    assert!(
        shown.contains("hstest: allow decryption? [yes/no]"),
        "{shown}"
    );
    assert!(shown.contains("token: tok-123"), "{shown}");

    let no = on_terminal(d, &[("SOPS_AGE_KEY_FILE", &key.confirm)], decrypt, "no\n");
    let shown = String::from_utf8_lossy(&no.stdout).into_owned();
    assert!(!no.status.success(), "{shown}");
    assert!(shown.contains("hstest: the user declined"), "{shown}");
    assert!(!shown.contains("tok-123"), "{shown}");

    let pin = on_terminal(d, &[("SOPS_AGE_KEY_FILE", &key.pin)], decrypt, "123456\n");
    let shown = String::from_utf8_lossy(&pin.stdout).into_owned();
    assert!(pin.status.success(), "{shown}");
    assert!(shown.contains("hstest PIN:"), "{shown}");
    assert!(shown.contains("token: tok-123"), "{shown}");

    let bad = on_terminal(d, &[("SOPS_AGE_KEY_FILE", &key.pin)], decrypt, "000000\n");
    let shown = String::from_utf8_lossy(&bad.stdout).into_owned();
    assert!(!bad.status.success(), "{shown}");
    assert!(shown.contains("hstest: wrong PIN"), "{shown}");

    // No controlling terminal (a new session by setsid(1), stdin not a tty): a clear failure.
    for id in [&key.confirm, &key.pin] {
        let o = Command::new("setsid")
            .arg("-w")
            .arg(env!("CARGO_BIN_EXE_hostseal"))
            .args(["decrypt", "e.yaml"])
            .current_dir(d)
            .env_clear()
            .env("PATH", path_with_plugin())
            .env("HOME", d)
            .env("SOPS_AGE_KEY_FILE", id)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!o.status.success());
        assert!(o.stdout.is_empty());
        let err = stderr(&o);
        assert!(err.contains("needs a user interface"), "{err}");
        assert!(err.contains("there is no terminal"), "{err}");
    }
}

/// Seals `plain` (JSON) with the real sops to `recipients`.
fn sops_seal_json(dir: &Path, name: &str, plain: &Value, recipients: &str) -> PathBuf {
    let plain_path = dir.join(format!("{name}.plain.json"));
    std::fs::write(&plain_path, serde_json::to_vec(plain).unwrap()).unwrap();
    let out = common::run_ok(
        common::sops(dir)
            .env("PATH", path_with_plugin())
            .args(["encrypt", "--age", recipients, "--input-type", "json"])
            .args(["--output-type", "json"])
            .arg(&plain_path),
    );
    std::fs::remove_file(&plain_path).unwrap();
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, out).unwrap();
    p
}

/// `install --no-mount --allow-disk` of a manifest whose key file holds `identity_lines`; the
/// plugin is on the command's PATH too, to show that install never looks there.
fn install_with(dir: &Path, identity_lines: &str, plugins: Value, secrets: Value) -> Output {
    let keys = dir.join("host-keys.txt");
    std::fs::write(&keys, identity_lines).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o400)).unwrap();
    let m = json!({
        "secretsMountPoint": dir.join("m"), "symlinkPath": dir.join("secrets"),
        "lockPath": dir.join("lock/lock"), "restartListsDir": dir.join("nixos"),
        "ageKeyFile": keys, "agePlugins": plugins, "secrets": secrets,
    });
    let path = dir.join("manifest.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    common::hostseal(dir)
        .env("PATH", path_with_plugin())
        .args(["install", "--no-mount", "--allow-disk"])
        .arg(&path)
        .output()
        .unwrap()
}

fn identity_line(file: &Path) -> String {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-PLUGIN-"))
        .unwrap()
        .to_string()
}

/// `install` opens a secret through a plugin identity, running only the manifest's
/// `agePlugins` binary; an identity that needs a human fails that secret (clear reason) and
/// the others are installed; without `agePlugins` the plugin on PATH is not used.
#[test]
fn install_opens_through_the_manifest_plugin_only_and_never_prompts() {
    if !common::root_or_skip("install_opens_through_the_manifest_plugin_only_and_never_prompts") {
        return;
    }
    let t = common::trusted_tempdir();
    let d = t.path();
    let key = plugin_key(d, "host");
    let (native, native_r) = common::age_keygen(d, "native");
    let native_line = std::fs::read_to_string(&native).unwrap();
    let by_plugin = sops_seal_json(d, "p", &json!({"token": "via-plugin"}), &key.recipient);
    let by_native = sops_seal_json(d, "n", &json!({"token": "via-native"}), &native_r);
    let secrets = json!([
        {"name": "p", "sopsFile": by_plugin, "format": "json", "key": "token"},
        {"name": "n", "sopsFile": by_native, "format": "json", "key": "token"},
    ]);
    // A copy in the trusted directory: install runs plugins only from directories only root
    // can write, which the build directory of a checkout under /tmp is not.
    let plugin_bin = d.join("bin/age-plugin-hstest");
    std::fs::create_dir_all(d.join("bin")).unwrap();
    std::fs::copy(plugin_dir().join("age-plugin-hstest"), &plugin_bin).unwrap();
    std::fs::set_permissions(&plugin_bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let read = |n: &str| std::fs::read_to_string(d.join("secrets").join(n)).ok();

    let plain_ids = format!("{native_line}{}\n", identity_line(&key.plain));
    let o = install_with(d, &plain_ids, json!([plugin_bin]), secrets.clone());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read("p").as_deref(), Some("via-plugin"));
    assert_eq!(read("n").as_deref(), Some("via-native"));

    // The plugin only on PATH, not in agePlugins: not used.
    let _ = std::fs::remove_dir_all(d.join("m"));
    let _ = std::fs::remove_file(d.join("secrets"));
    let o = install_with(d, &plain_ids, json!([]), secrets.clone());
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no binary for plugin \"hstest\""),
        "{}",
        stderr(&o)
    );
    assert_eq!(read("p"), None);
    assert_eq!(read("n").as_deref(), Some("via-native"));

    // A plugin binary others can write is never run (install's trust rule).
    let _ = std::fs::remove_dir_all(d.join("m"));
    let _ = std::fs::remove_file(d.join("secrets"));
    let loose = d.join("loose");
    std::fs::create_dir_all(&loose).unwrap();
    let loose_bin = loose.join("age-plugin-hstest");
    std::fs::copy(&plugin_bin, &loose_bin).unwrap();
    std::fs::set_permissions(&loose_bin, std::fs::Permissions::from_mode(0o757)).unwrap();
    let o = install_with(d, &plain_ids, json!([loose_bin]), secrets.clone());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert!(
        err.contains("age plugin not run: is writable by group/other"),
        "{err}"
    );
    assert_eq!(read("p"), None);
    assert_eq!(read("n").as_deref(), Some("via-native"));

    // The confirm identity: install has nobody to ask.
    let _ = std::fs::remove_dir_all(d.join("m"));
    let _ = std::fs::remove_file(d.join("secrets"));
    let confirm_ids = format!("{native_line}{}\n", identity_line(&key.confirm));
    let o = install_with(d, &confirm_ids, json!([plugin_bin]), secrets);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert!(err.contains("failed \"p\""), "{err}");
    assert!(
        err.contains(
            "age-plugin-hstest: the plugin asked for a human (confirm); install never prompts"
        ),
        "{err}"
    );
    assert_eq!(read("p"), None);
    assert_eq!(read("n").as_deref(), Some("via-native"));
    assert!(!err.contains("via-"), "no secret in the log");
}

/// `edit` and `updatekeys` with the confirming identity on a terminal: the question is asked,
/// the answer used, the file re-sealed; sops opens the result.
#[test]
fn edit_and_updatekeys_ask_on_the_terminal() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let key = plugin_key(d, "k");
    let (native, native_r) = common::age_keygen(d, "native");
    std::fs::create_dir_all(d.join("secrets")).unwrap();
    let rules = |list: &str| {
        std::fs::write(
            d.join(".sops.yaml"),
            format!("creation_rules:\n  - path_regex: ^secrets/\n    age: {list}\n"),
        )
        .unwrap();
    };
    rules(&key.recipient);
    std::fs::write(d.join("secrets/a.yaml"), PLAIN_YAML).unwrap();
    let sealed = common::run_ok(
        common::hostseal(d)
            .env("PATH", path_with_plugin())
            .args(["encrypt", "secrets/a.yaml"]),
    );
    std::fs::write(d.join("secrets/a.yaml"), sealed).unwrap();

    let editor = d.join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/hunter2/hunter3/' \"$1\"\n").unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let env = [
        ("SOPS_AGE_KEY_FILE", key.confirm.as_path()),
        ("EDITOR", editor.as_path()),
    ];
    let o = on_terminal(d, &env, "edit secrets/a.yaml", "yes\n");
    let shown = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{shown}");
    assert!(
        shown.contains("hstest: allow decryption? [yes/no]"),
        "{shown}"
    );

    rules(&format!("{}, {native_r}", key.recipient));
    let o = on_terminal(
        d,
        &[("SOPS_AGE_KEY_FILE", key.confirm.as_path())],
        "updatekeys -y secrets",
        "yes\n",
    );
    let shown = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{shown}");
    assert!(
        shown.contains("hstest: allow decryption? [yes/no]"),
        "{shown}"
    );

    // The native key added by updatekeys opens the edited content, with the real sops.
    let plain = common::run_ok(
        common::sops(d)
            .env("SOPS_AGE_KEY_FILE", &native)
            .args(["decrypt", "secrets/a.yaml"]),
    );
    assert_eq!(
        String::from_utf8(plain).unwrap(),
        PLAIN_YAML.replace("hunter2", "hunter3")
    );
}
