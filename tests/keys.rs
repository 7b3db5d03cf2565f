//! The ssh-to-age vector of sops-nix's test data (`tests/fixtures/peers/sops-nix/`), and key
//! loading against it: the derived recipient is the one the real file lists, the derived
//! identity opens that recipient's stanza, and the data key it yields decrypts a value.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use hostseal::error::Kind;
use hostseal::keys::identity::IdentitySet;
use hostseal::keys::{public_of, ssh_to_age};
use zeroize::Zeroizing;

/// The recipient that sops-nix's `secrets.yaml` lists for its ssh key.
const DERIVED: &str = "age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs";
/// The recipient of sops-nix's `age-keys.txt`.
const AGE_KEY: &str = "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw";

fn read(name: &str) -> Vec<u8> {
    std::fs::read(common::peer(name)).unwrap()
}

/// The `enc` armor stored for `recipient` in a sops YAML file (read by hand: the YAML store
/// is someone else's module).
fn enc_for(yaml: &str, recipient: &str) -> String {
    let mut lines = yaml
        .lines()
        .skip_while(|l| !l.ends_with(&format!("recipient: {recipient}")));
    assert!(lines.next().is_some(), "{recipient} not listed");
    let mut out = String::new();
    for l in lines.skip(1) {
        let t = l.trim();
        out.push_str(t);
        out.push('\n');
        if t == "-----END AGE ENCRYPTED FILE-----" {
            return out;
        }
    }
    panic!("no enc block for {recipient}");
}

/// Decrypts one sops value `ENC[AES256_GCM,data:…,iv:…,tag:…,type:str]` with `key` and AAD.
fn open_value(enc: &str, key: &[u8], aad: &str) -> Vec<u8> {
    use aes_gcm::aead::{consts::U32, Aead, KeyInit, Payload};
    use base64::prelude::{Engine, BASE64_STANDARD};
    let field = |name: &str| {
        let start = enc.find(&format!("{name}:")).unwrap() + name.len() + 1;
        let end = enc[start..].find(',').map_or(enc.len() - 1, |e| start + e);
        BASE64_STANDARD.decode(&enc[start..end]).unwrap()
    };
    let (data, iv, tag) = (field("data"), field("iv"), field("tag"));
    let cipher = aes_gcm::AesGcm::<aes_gcm::aes::Aes256, U32>::new_from_slice(key).unwrap();
    let mut ct = data;
    ct.extend_from_slice(&tag);
    cipher
        .decrypt(
            aes_gcm::Nonce::<U32>::from_slice(&iv),
            Payload {
                msg: &ct,
                aad: aad.as_bytes(),
            },
        )
        .unwrap()
}

#[test]
fn sops_nix_file_lists_the_derived_recipient() {
    let yaml = String::from_utf8(read("sops-nix/secrets.yaml")).unwrap();
    assert!(yaml.contains(&format!("recipient: {DERIVED}")));
    let public = String::from_utf8(read("sops-nix/ssh-ed25519-key.pub")).unwrap();
    assert_eq!(
        ssh_to_age::recipient_from_ssh_public(&public).unwrap(),
        DERIVED
    );
}

#[test]
fn pubkey_of_the_ssh_key_public_and_private_and_of_the_age_file() {
    let from_pub = public_of(&read("sops-nix/ssh-ed25519-key.pub")).unwrap();
    let from_priv = public_of(&read("sops-nix/ssh-ed25519-key")).unwrap();
    assert_eq!(from_pub.age, DERIVED);
    assert_eq!(from_priv.age, DERIVED);
    let pub_line = String::from_utf8(read("sops-nix/ssh-ed25519-key.pub")).unwrap();
    let native = from_pub.ssh.unwrap();
    assert!(pub_line.trim().starts_with(&native), "{native}");
    assert!(from_priv.ssh.unwrap().starts_with("ssh-ed25519 AAAA"));
    assert_eq!(
        public_of(&read("sops-nix/age-keys.txt")).unwrap().age,
        AGE_KEY
    );
}

#[test]
fn derived_identity_opens_the_stanza_and_the_value() {
    let yaml = String::from_utf8(read("sops-nix/secrets.yaml")).unwrap();
    // Derived identity alone (as Mic92's ssh-to-age prints it).
    let derived = ssh_to_age::identity_from_ssh_private(&read("sops-nix/ssh-ed25519-key")).unwrap();
    let only_derived = IdentitySet::parse_text(&derived, "derived").unwrap();
    let key_ssh = only_derived
        .unwrap(&enc_for(&yaml, DERIVED))
        .unwrap()
        .unwrap();
    assert_eq!(key_ssh.len(), 32);
    // It is not the identity of the other recipient.
    assert!(only_derived
        .unwrap(&enc_for(&yaml, AGE_KEY))
        .unwrap()
        .is_none());
    // The age key file opens the other stanza: the same data key.
    let age_ids = IdentitySet::from_file(&common::peer("sops-nix/age-keys.txt")).unwrap();
    let key_age = age_ids.unwrap(&enc_for(&yaml, AGE_KEY)).unwrap().unwrap();
    assert_eq!(&key_ssh[..], &key_age[..]);
    // And that data key decrypts `test_key` to `test_value`.
    let enc = yaml
        .lines()
        .find_map(|l| l.strip_prefix("test_key: "))
        .unwrap();
    assert_eq!(open_value(enc, &key_ssh, "test_key:"), b"test_value");
}

#[test]
fn ssh_key_file_loads_native_and_derived_identities() {
    let path = common::peer("sops-nix/ssh-ed25519-key");
    let ids = IdentitySet::from_file(&path).unwrap();
    assert_eq!(ids.len(), 2);
    let labels = ids.labels();
    assert!(labels[0].ends_with("(ssh-ed25519)"), "{labels:?}");
    assert!(labels[1].ends_with("(ssh-to-age)"), "{labels:?}");
    let yaml = String::from_utf8(read("sops-nix/secrets.yaml")).unwrap();
    let key: Zeroizing<Vec<u8>> = ids.unwrap(&enc_for(&yaml, DERIVED)).unwrap().unwrap();
    assert_eq!(key.len(), 32);
    // add_bytes gives the same, from bytes only.
    let mut set = IdentitySet::new();
    assert_eq!(
        set.add_bytes(&read("sops-nix/ssh-ed25519-key"), "host key")
            .unwrap(),
        2
    );
    assert_eq!(set.sources(), ["host key".to_string()]);
}

#[test]
fn a_stanza_for_someone_else_is_none_and_bad_armor_is_malformed() {
    let yaml = String::from_utf8(read("sops-nix/secrets.yaml")).unwrap();
    let ids = IdentitySet::from_file(&common::peer("sops-nix/ssh-ed25519-key")).unwrap();
    assert!(ids.unwrap(&enc_for(&yaml, AGE_KEY)).unwrap().is_none());
    let enc = enc_for(&yaml, DERIVED);
    let broken = enc.replacen("YWdl", "YWd", 1);
    assert_eq!(ids.unwrap(&broken).unwrap_err().kind, Kind::Malformed);
}

/// Replaces the `enc` armor of `recipient` in a sops YAML text by `armored`, same indentation.
fn replace_enc(yaml: &str, recipient: &str, armored: &str) -> String {
    let lines: Vec<&str> = yaml.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.ends_with(&format!("recipient: {recipient}")))
        .unwrap();
    let begin = at
        + lines[at..]
            .iter()
            .position(|l| l.trim().starts_with("-----BEGIN"))
            .unwrap();
    let end = at
        + lines[at..]
            .iter()
            .position(|l| l.trim().starts_with("-----END"))
            .unwrap();
    let indent = &lines[begin][..lines[begin].len() - lines[begin].trim_start().len()];
    let mut out: Vec<String> = lines[..begin].iter().map(|s| s.to_string()).collect();
    out.extend(armored.lines().map(|l| format!("{indent}{l}")));
    out.extend(lines[end + 1..].iter().map(|s| s.to_string()));
    out.join("\n") + "\n"
}

/// Real sops with two key groups (threshold 2): our unwrap + combine recovers its data key,
/// and a file whose shares we re-split and re-wrapped ourselves decrypts with real sops.
#[test]
fn shamir_and_wrap_interoperate_with_real_sops() {
    use hostseal::keys::recipient::Recipient;
    use hostseal::keys::shamir;
    let dir = tempfile::tempdir().unwrap();
    let (ka, ra) = common::age_keygen(dir.path(), "a");
    let (kb, rb) = common::age_keygen(dir.path(), "b");
    std::fs::write(
        dir.path().join(".sops.yaml"),
        format!(
            "creation_rules:\n  - path_regex: .*\n    shamir_threshold: 2\n    key_groups:\n      - age:\n          - {ra}\n      - age:\n          - {rb}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("plain.yaml"), "secret: hello\n").unwrap();
    let sealed = common::run_ok(common::sops(dir.path()).args(["-e", "plain.yaml"]));
    let sealed = String::from_utf8(sealed).unwrap();
    assert!(sealed.contains("shamir_threshold: 2"));

    // sops → us: one share per group, combined, opens the value.
    let ids_a = IdentitySet::from_file(&ka).unwrap();
    let ids_b = IdentitySet::from_file(&kb).unwrap();
    let share_a = ids_a.unwrap(&enc_for(&sealed, &ra)).unwrap().unwrap();
    let share_b = ids_b.unwrap(&enc_for(&sealed, &rb)).unwrap().unwrap();
    assert_eq!((share_a.len(), share_a[32], share_b[32]), (33, 1, 2));
    let key = shamir::combine(&[&share_a, &share_b]).unwrap();
    let enc = sealed
        .lines()
        .find_map(|l| l.strip_prefix("secret: "))
        .unwrap();
    assert_eq!(open_value(enc, &key, "secret:"), b"hello");

    // us → sops: new shares of the same data key, wrapped by us, replace sops's.
    let shares = shamir::split(&key, 2, 2).unwrap();
    let ours = replace_enc(
        &sealed,
        &ra,
        &Recipient::parse(&ra).unwrap().wrap(&shares[0]).unwrap(),
    );
    let ours = replace_enc(
        &ours,
        &rb,
        &Recipient::parse(&rb).unwrap().wrap(&shares[1]).unwrap(),
    );
    assert_ne!(ours, sealed);
    std::fs::write(dir.path().join("ours.yaml"), &ours).unwrap();
    let both = dir.path().join("both.txt");
    let text = std::fs::read_to_string(&ka).unwrap() + &std::fs::read_to_string(&kb).unwrap();
    std::fs::write(&both, text).unwrap();
    let plain = common::run_ok(
        common::sops(dir.path())
            .env("SOPS_AGE_KEY_FILE", &both)
            .args(["-d", "ours.yaml"]),
    );
    assert_eq!(String::from_utf8(plain).unwrap(), "secret: hello\n");
    // One group is not enough for sops either.
    let out = common::sops(dir.path())
        .env("SOPS_AGE_KEY_FILE", &ka)
        .args(["-d", "ours.yaml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
