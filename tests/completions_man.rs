//! `hostseal completions SHELL` and `hostseal man --out-dir DIR`, run through the built binary:
//! every shell gets a script naming the subcommands, and every visible command gets a man page
//! that groff reads without a warning.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{hostseal, run_ok};
use std::collections::BTreeSet;
use std::process::Command;

/// The visible subcommands, as `hostseal --help` lists them (the source of truth).
fn subcommands() -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let help = String::from_utf8(run_ok(hostseal(dir.path()).arg("--help"))).unwrap();
    let list = help.split("Commands:").nth(1).expect("a Commands: section");
    let list = list.split("Options:").next().unwrap();
    let names: Vec<String> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_string)
        .collect();
    assert!(
        names.len() >= 10,
        "too few subcommands in --help: {names:?}"
    );
    names
}

#[test]
fn bash_completion_names_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let script =
        String::from_utf8(run_ok(hostseal(dir.path()).args(["completions", "bash"]))).unwrap();
    assert!(
        script.contains("complete -F _hostseal"),
        "not a bash completion script"
    );
    for sub in subcommands() {
        assert!(
            script.contains(&format!("hostseal__subcmd__{sub}")),
            "bash completion lacks {sub}"
        );
    }
    // Flags of a subcommand are completed too.
    assert!(script.contains("--in-place"));
    // The script is valid bash.
    let path = dir.path().join("hostseal.bash");
    std::fs::write(&path, &script).unwrap();
    run_ok(Command::new("bash").arg("-n").arg(&path));
    // And it completes: `hostseal upd<TAB>` offers updatekeys.
    let probe = format!(
        "source {}; COMP_WORDS=(hostseal upd); COMP_CWORD=1; _hostseal hostseal upd hostseal; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let offered = String::from_utf8(run_ok(Command::new("bash").args(["-c", &probe]))).unwrap();
    assert_eq!(offered.trim(), "updatekeys");
}

#[test]
fn every_shell_gets_a_script() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "_hostseal()"),
        ("zsh", "#compdef hostseal"),
        ("fish", "complete -c hostseal"),
        ("elvish", "edit:completion:arg-completer[hostseal]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out =
            String::from_utf8(run_ok(hostseal(dir.path()).args(["completions", shell]))).unwrap();
        assert!(out.contains(marker), "{shell}: no {marker:?}");
        assert!(out.contains("updatekeys"), "{shell}: no subcommand");
    }
}

#[test]
fn unknown_shell_is_a_one_line_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = hostseal(dir.path())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tcsh") && err.contains("bash"), "{err}");
}

#[test]
fn man_pages_exist_for_every_command_and_are_valid_roff() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man/man1");
    let listed = String::from_utf8(run_ok(
        hostseal(dir.path())
            .args(["man", "--out-dir"])
            .arg(&out_dir),
    ))
    .unwrap();
    let files: BTreeSet<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        listed.lines().count(),
        files.len(),
        "stdout lists each page written"
    );

    let mut want: BTreeSet<String> = subcommands()
        .iter()
        .map(|s| format!("hostseal-{s}.1"))
        .collect();
    want.insert("hostseal.1".into());
    // Nested commands get their own pages.
    want.insert("hostseal-hook-install.1".into());
    want.insert("hostseal-tunnel-token.1".into());
    want.insert("hostseal-tunnel-credentials.1".into());
    assert_eq!(files, want);

    for name in &files {
        let path = out_dir.join(name);
        let page = std::fs::read_to_string(&path).unwrap();
        let stem = name.trim_end_matches(".1");
        // clap_mangen's two-line string preamble (`.ie`/`.el`), then the title macro.
        let first_macro = page
            .lines()
            .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
            .unwrap();
        assert!(
            first_macro.starts_with(&format!(".TH {stem} 1 ")),
            "{name}: starts with {first_macro:?}"
        );
        assert!(
            page.contains(".SH NAME") && page.contains(".SH SYNOPSIS"),
            "{name}"
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(&path.metadata().unwrap().permissions());
        assert_eq!(mode & 0o777, 0o644, "{name}: man pages are public");
        // groff parses it with every warning enabled and says nothing (`-k`: the help texts hold
        // UTF-8, which man-db also feeds through preconv).
        let lint = Command::new("groff")
            .args(["-k", "-man", "-ww", "-z", "-Tutf8"])
            .arg(&path)
            .output()
            .expect("groff is needed to check the man pages (Debian: groff-base)");
        assert!(
            lint.status.success() && lint.stderr.is_empty(),
            "{name}: groff: {}",
            String::from_utf8_lossy(&lint.stderr)
        );
    }
    let encrypt = std::fs::read_to_string(out_dir.join("hostseal-encrypt.1")).unwrap();
    assert!(encrypt.contains("in\\-place"), "options are documented");
}
