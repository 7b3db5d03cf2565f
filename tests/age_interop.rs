//! Interoperability with Go `age`/`age-keygen`/`ssh-keygen` and agenix's example data:
//! whole-file age both ways (binary and armored; X25519, ssh-ed25519, ssh-rsa), ssh-to-age
//! both ways, and the agenix peer files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{age_keygen, peer, run_ok};
use hostseal::age_file;
use hostseal::error::Kind;
use hostseal::keys::identity::IdentitySet;
use hostseal::keys::recipient::Recipient;
use hostseal::keys::ssh_to_age;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Makes an ssh key pair with `ssh-keygen` (no passphrase unless given); returns the private
/// key path (the public key is beside it, `.pub`).
fn ssh_keygen(dir: &Path, name: &str, kind: &str, passphrase: &str) -> PathBuf {
    let path = dir.join(name);
    let mut cmd = Command::new("ssh-keygen");
    cmd.args([
        "-q",
        "-t",
        kind,
        "-N",
        passphrase,
        "-C",
        "test@hostseal",
        "-f",
    ])
    .arg(&path);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    run_ok(&mut cmd);
    path
}

fn pub_line(key: &Path) -> String {
    std::fs::read_to_string(key.with_extension("pub"))
        .unwrap()
        .trim()
        .to_string()
}

/// Go `age -d -i IDENTITY FILE` → plaintext.
fn go_decrypt(identity: &Path, file: &Path) -> Vec<u8> {
    run_ok(
        Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(identity)
            .arg(file),
    )
}

/// Go `age [-a] ARGS -o OUT` of `plaintext`.
fn go_encrypt(dir: &Path, args: &[&str], armor: bool, plaintext: &[u8]) -> Vec<u8> {
    let input = dir.join("plain.in");
    let out = dir.join("go.age");
    let _ = std::fs::remove_file(&out);
    std::fs::write(&input, plaintext).unwrap();
    let mut cmd = Command::new("age");
    if armor {
        cmd.arg("-a");
    }
    run_ok(cmd.args(args).arg("-o").arg(&out).arg(&input));
    std::fs::read(out).unwrap()
}

/// Our encrypt to `recipients`, written to a file for Go age.
fn ours_encrypt(dir: &Path, recipients: &[Recipient], armor: bool, plaintext: &[u8]) -> PathBuf {
    let sealed = age_file::encrypt(plaintext, recipients, armor).unwrap();
    let path = dir.join(if armor { "ours.asc.age" } else { "ours.age" });
    std::fs::write(&path, sealed).unwrap();
    path
}

#[test]
fn x25519_both_ways_binary_and_armored() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_keygen(dir.path(), "alice");
    let r = Recipient::parse(&recipient).unwrap();
    let ids = IdentitySet::from_file(&key).unwrap();
    for armor in [false, true] {
        let msg = format!("x25519 armor={armor}\n");
        let ours = ours_encrypt(dir.path(), std::slice::from_ref(&r), armor, msg.as_bytes());
        assert_eq!(go_decrypt(&key, &ours), msg.as_bytes());
        let theirs = go_encrypt(dir.path(), &["-r", &recipient], armor, msg.as_bytes());
        assert_eq!(
            age_file::decrypt(&theirs, &ids).unwrap().expose(),
            msg.as_bytes()
        );
    }
}

#[test]
fn go_age_armor_is_accepted_by_unwrap_and_ours_matches_its_shape() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_keygen(dir.path(), "k");
    let theirs = go_encrypt(dir.path(), &["-r", &recipient], true, &[7u8; 32]);
    let ids = IdentitySet::from_file(&key).unwrap();
    let text = String::from_utf8(theirs).unwrap();
    assert_eq!(&ids.unwrap(&text).unwrap().unwrap()[..], &[7u8; 32]);
    // Same armor structure as Go's: BEGIN, full 64-column lines, one shorter line, END, final
    // newline. (Not the same length: the age crate adds a random "grease" stanza.)
    let ours = Recipient::parse(&recipient)
        .unwrap()
        .wrap(&[7u8; 32])
        .unwrap();
    let shape = |s: &str| {
        let lens: Vec<usize> = s.lines().map(str::len).collect();
        let n = lens.len();
        assert!(lens[1..n - 2].iter().all(|&l| l == 64), "{lens:?}");
        assert!(lens[n - 2] <= 64);
        (lens[0], lens[n - 1], s.ends_with('\n'))
    };
    assert_eq!(shape(&ours), shape(&text));
    // Go age opens ours.
    let f = dir.path().join("wrapped.age");
    std::fs::write(&f, &ours).unwrap();
    assert_eq!(go_decrypt(&key, &f), [7u8; 32]);
}

#[test]
fn ssh_ed25519_native_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let key = ssh_keygen(dir.path(), "id_ed25519", "ed25519", "");
    let r = Recipient::parse(&pub_line(&key)).unwrap();
    assert!(r.as_str().ends_with("test@hostseal"));
    let ids = IdentitySet::from_file(&key).unwrap();
    let (other, _) = age_keygen(dir.path(), "other");
    let other = IdentitySet::from_file(&other).unwrap();
    for armor in [false, true] {
        let ours = ours_encrypt(dir.path(), std::slice::from_ref(&r), armor, b"ssh native");
        assert_eq!(go_decrypt(&key, &ours), b"ssh native");
        let pubfile = key.with_extension("pub");
        let theirs = go_encrypt(
            dir.path(),
            &["-R", pubfile.to_str().unwrap()],
            armor,
            b"from go",
        );
        assert_eq!(
            age_file::decrypt(&theirs, &ids).unwrap().expose(),
            b"from go"
        );
        // The stanza's tag is the recipient's ssh_tag.
        let tag = hex::encode(r.ssh_tag().unwrap());
        let err = age_file::decrypt(&theirs, &other).unwrap_err();
        assert_eq!(err.kind, Kind::NoKey);
        assert!(err.message.contains(&tag), "{}", err.message);
    }
}

#[test]
fn ssh_rsa_native_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let key = ssh_keygen(dir.path(), "id_rsa", "rsa", "");
    let r = Recipient::parse(&pub_line(&key)).unwrap();
    let ids = IdentitySet::from_file(&key).unwrap();
    assert_eq!(ids.len(), 1, "rsa keys have no derived identity");
    let ours = ours_encrypt(dir.path(), std::slice::from_ref(&r), true, b"rsa");
    assert_eq!(go_decrypt(&key, &ours), b"rsa");
    let pubfile = key.with_extension("pub");
    let theirs = go_encrypt(
        dir.path(),
        &["-R", pubfile.to_str().unwrap()],
        false,
        b"go rsa",
    );
    assert_eq!(
        age_file::decrypt(&theirs, &ids).unwrap().expose(),
        b"go rsa"
    );
}

#[test]
fn ssh_to_age_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let key = ssh_keygen(dir.path(), "host", "ed25519", "");
    let derived_recipient = ssh_to_age::recipient_from_ssh_public(&pub_line(&key)).unwrap();
    let derived_identity =
        ssh_to_age::identity_from_ssh_private(&std::fs::read(&key).unwrap()).unwrap();
    let id_file = dir.path().join("derived.txt");
    std::fs::write(&id_file, format!("{}\n", derived_identity.as_str())).unwrap();
    // Go agrees that the derived identity's public key is the derived recipient.
    let y = run_ok(Command::new("age-keygen").arg("-y").arg(&id_file));
    assert_eq!(String::from_utf8(y).unwrap().trim(), derived_recipient);
    // We encrypt to the derived recipient; Go decrypts with the derived identity.
    let r = Recipient::parse(&derived_recipient).unwrap();
    let ours = ours_encrypt(dir.path(), &[r], false, b"to derived");
    assert_eq!(go_decrypt(&id_file, &ours), b"to derived");
    // Go encrypts to the derived recipient; we decrypt with the ssh key file (in memory).
    let theirs = go_encrypt(dir.path(), &["-r", &derived_recipient], true, b"from go");
    let ids = IdentitySet::from_file(&key).unwrap();
    assert_eq!(
        age_file::decrypt(&theirs, &ids).unwrap().expose(),
        b"from go"
    );
    // The derived key was never written by us anywhere but this test's own file.
    assert!(!std::fs::read_to_string(&key)
        .unwrap()
        .contains("AGE-SECRET"));
}

#[test]
fn passphrase_protected_and_unsupported_ssh_keys_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let locked = ssh_keygen(dir.path(), "locked", "ed25519", "correct horse");
    let err = IdentitySet::from_file(&locked).unwrap_err();
    assert!(err.message.contains("passphrase"), "{}", err.message);
    assert_eq!(
        err.file.as_deref(),
        Some(locked.display().to_string().as_str())
    );
    // pubkey still works on it: the public half is not encrypted.
    let keys = hostseal::keys::public_of(&std::fs::read(&locked).unwrap()).unwrap();
    assert_eq!(
        keys.age,
        ssh_to_age::recipient_from_ssh_public(&pub_line(&locked)).unwrap()
    );
    let ecdsa = ssh_keygen(dir.path(), "ecdsa", "ecdsa", "");
    let err = IdentitySet::from_file(&ecdsa).unwrap_err();
    assert!(
        err.message.contains("ecdsa-sha2-nistp256"),
        "{}",
        err.message
    );
    let err = Recipient::parse(&pub_line(&ecdsa)).unwrap_err();
    assert!(
        err.message.contains("ecdsa-sha2-nistp256"),
        "{}",
        err.message
    );
}

/// agenix's README: contents of each example file.
const AGENIX: &[(&str, &[u8])] = &[
    ("secret1.age", b"hello"),
    ("secret2.age", b"world!"),
    ("armored-secret.age", b"Hello World!"),
    (
        "-leading-hyphen-filename.age",
        b"filename started with hyphen",
    ),
];

fn agenix(name: &str) -> Vec<u8> {
    std::fs::read(peer(&format!("agenix/{name}"))).unwrap()
}

/// The file's text without a trailing newline (agenix's files may or may not have one).
fn trimmed(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\n").unwrap_or(bytes)
}

#[test]
fn agenix_user1_opens_every_file() {
    let ids = IdentitySet::from_file(&peer("agenix/user1")).unwrap();
    for (name, want) in AGENIX {
        let plain = age_file::decrypt(&agenix(name), &ids).unwrap();
        assert_eq!(trimmed(plain.expose()), *want, "{name}");
    }
    let pw = age_file::decrypt(&agenix("passwordfile-user1.age"), &ids).unwrap();
    assert!(pw.expose().starts_with(b"$"), "a crypt(3) hash");
}

#[test]
fn agenix_system1_opens_its_files_and_not_secret2() {
    let ids = IdentitySet::from_file(&peer("agenix/system1")).unwrap();
    for name in [
        "secret1.age",
        "-leading-hyphen-filename.age",
        "passwordfile-user1.age",
    ] {
        assert!(age_file::decrypt(&agenix(name), &ids).is_ok(), "{name}");
    }
    for name in ["secret2.age", "armored-secret.age"] {
        let err = age_file::decrypt(&agenix(name), &ids).unwrap_err();
        assert_eq!(err.kind, Kind::NoKey, "{name}");
        assert_eq!(err.exit_code(), 3);
        assert!(err.message.contains("ssh-ed25519 (tag "), "{}", err.message);
        assert!(err.message.contains("agenix/system1"), "{}", err.message);
    }
    // user1's tag is named in secret2's header: match it to the recipient.
    let user1 = Recipient::parse(&String::from_utf8(agenix("user1.pub")).unwrap()).unwrap();
    let err = age_file::decrypt(&agenix("secret2.age"), &ids).unwrap_err();
    assert!(err.message.contains(&hex::encode(user1.ssh_tag().unwrap())));
}

#[test]
fn agenix_files_decrypt_with_go_age_too() {
    // Sanity check of the peer data itself with the reference implementation.
    let out = go_decrypt(&peer("agenix/user1"), &peer("agenix/secret2.age"));
    assert_eq!(trimmed(&out), b"world!");
}

#[test]
fn pem_rsa_and_crlf_openssh_keys_load() {
    let dir = tempfile::tempdir().unwrap();
    // `ssh-keygen -m PEM` writes `BEGIN RSA PRIVATE KEY`.
    let pem = dir.path().join("pem_rsa");
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f"])
            .arg(&pem),
    );
    assert!(std::fs::read_to_string(&pem)
        .unwrap()
        .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let ids = IdentitySet::from_file(&pem).unwrap();
    let r = Recipient::parse(&pub_line(&pem)).unwrap();
    let sealed = age_file::encrypt(b"pem", &[r], false).unwrap();
    assert_eq!(age_file::decrypt(&sealed, &ids).unwrap().expose(), b"pem");
    // An ed25519 key with CRLF line ends still gives both identities.
    let key = ssh_keygen(dir.path(), "crlf", "ed25519", "");
    let crlf = std::fs::read_to_string(&key).unwrap().replace('\n', "\r\n");
    let mut set = IdentitySet::new();
    assert_eq!(set.add_bytes(crlf.as_bytes(), "crlf key").unwrap(), 2);
}
