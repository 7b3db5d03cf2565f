//! `age-plugin-hstest`: a test-only age plugin (not shipped).
//!
//! Keys: a recipient `age1hstest1…` holds a 32-byte X25519 public key; an identity
//! `AGE-PLUGIN-HSTEST-1…` holds one mode byte and the 32-byte X25519 secret. Wrapping is age's
//! own X25519 recipient stanza under the tag `hstest` (simple but real cryptography). The
//! identity modes exercise the client's callbacks:
//! - `0` plain: unwraps without asking anything;
//! - `1` confirm: asks the client to confirm (`confirm`), fails on "no" or without a UI;
//! - `2` pin: asks for a PIN (`request-secret`), which must be `123456`.
//!
//! `age-plugin-hstest --keygen` prints four lines: the recipient and the plain, confirm and pin
//! identities of one fresh key.

use age::secrecy::ExposeSecret;
use age::{Identity as _, Recipient as _};
use age_core::format::{FileKey, Stanza};
use age_plugin::{identity, recipient, run_state_machine, Callbacks, PluginHandler};
use bech32::{Bech32, Hrp};
use std::collections::{HashMap, HashSet};
use std::io;

const NAME: &str = "hstest";
const TAG: &str = "hstest";
const MODE_PLAIN: u8 = 0;
const MODE_CONFIRM: u8 = 1;
const MODE_PIN: u8 = 2;
const PIN: &str = "123456";

fn encode(hrp: &str, data: &[u8]) -> String {
    bech32::encode::<Bech32>(Hrp::parse_unchecked(hrp), data).expect("short data")
}

/// age's X25519 recipient for 32 public-key bytes.
fn x25519_recipient(public: &[u8]) -> Option<age::x25519::Recipient> {
    encode("age", public).parse().ok()
}

/// age's X25519 identity for 32 secret bytes.
fn x25519_identity(secret: &[u8]) -> Option<age::x25519::Identity> {
    encode("age-secret-key-", secret)
        .to_uppercase()
        .parse()
        .ok()
}

struct Handler;

impl PluginHandler for Handler {
    type RecipientV1 = Wrapper;
    type IdentityV1 = Unwrapper;

    fn recipient_v1(self) -> io::Result<Wrapper> {
        Ok(Wrapper(Vec::new()))
    }

    fn identity_v1(self) -> io::Result<Unwrapper> {
        Ok(Unwrapper(Vec::new()))
    }
}

struct Wrapper(Vec<age::x25519::Recipient>);

impl recipient::RecipientPluginV1 for Wrapper {
    fn add_recipient(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), recipient::Error> {
        match (plugin_name == NAME && bytes.len() == 32)
            .then(|| x25519_recipient(bytes))
            .flatten()
        {
            Some(r) => {
                self.0.push(r);
                Ok(())
            }
            None => Err(recipient::Error::Recipient {
                index,
                message: "invalid hstest recipient".into(),
            }),
        }
    }

    fn add_identity(
        &mut self,
        index: usize,
        _plugin_name: &str,
        _bytes: &[u8],
    ) -> Result<(), recipient::Error> {
        Err(recipient::Error::Identity {
            index,
            message: "hstest cannot encrypt to identities".into(),
        })
    }

    fn labels(&mut self) -> HashSet<String> {
        HashSet::new()
    }

    fn wrap_file_keys(
        &mut self,
        file_keys: Vec<FileKey>,
        _callbacks: impl Callbacks<recipient::Error>,
    ) -> io::Result<Result<Vec<Vec<Stanza>>, Vec<recipient::Error>>> {
        let mut out = Vec::with_capacity(file_keys.len());
        for file_key in &file_keys {
            let mut stanzas = Vec::new();
            for r in &self.0 {
                let (wrapped, _) = r
                    .wrap_file_key(file_key)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                stanzas.extend(wrapped.into_iter().map(|mut s| {
                    s.tag = TAG.into();
                    s
                }));
            }
            out.push(stanzas);
        }
        Ok(Ok(out))
    }
}

struct Unwrapper(Vec<(u8, age::x25519::Identity)>);

impl identity::IdentityPluginV1 for Unwrapper {
    fn add_identity(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), identity::Error> {
        let parsed = match bytes {
            [mode @ (MODE_PLAIN | MODE_CONFIRM | MODE_PIN), secret @ ..]
                if plugin_name == NAME && secret.len() == 32 =>
            {
                x25519_identity(secret).map(|id| (*mode, id))
            }
            _ => None,
        };
        match parsed {
            Some(p) => {
                self.0.push(p);
                Ok(())
            }
            None => Err(identity::Error::Identity {
                index,
                message: "invalid hstest identity".into(),
            }),
        }
    }

    fn unwrap_file_keys(
        &mut self,
        files: Vec<Vec<Stanza>>,
        mut callbacks: impl Callbacks<identity::Error>,
    ) -> io::Result<HashMap<usize, Result<FileKey, Vec<identity::Error>>>> {
        let mut keys = HashMap::new();
        for (file, stanzas) in files.into_iter().enumerate() {
            'file: for stanza in stanzas.into_iter().filter(|s| s.tag == TAG) {
                let native = Stanza {
                    tag: "X25519".into(),
                    ..stanza
                };
                for (index, (mode, id)) in self.0.iter().enumerate() {
                    let Some(Ok(key)) = id.unwrap_stanza(&native) else {
                        continue;
                    };
                    let refused = |message: &str| identity::Error::Identity {
                        index,
                        message: message.into(),
                    };
                    let allowed = match *mode {
                        MODE_CONFIRM => {
                            match callbacks.confirm(
                                "hstest: allow decryption?",
                                "yes",
                                Some("no"),
                            )? {
                                Ok(true) => Ok(()),
                                Ok(false) => Err(refused("hstest: the user declined")),
                                Err(_) => {
                                    Err(refused("hstest: confirmation needs a user interface"))
                                }
                            }
                        }
                        MODE_PIN => match callbacks.request_secret("hstest PIN")? {
                            Ok(pin) if pin.expose_secret() == PIN => Ok(()),
                            Ok(_) => Err(refused("hstest: wrong PIN")),
                            Err(_) => Err(refused("hstest: the PIN needs a user interface")),
                        },
                        _ => Ok(()),
                    };
                    if *mode != MODE_PLAIN && allowed.is_ok() {
                        callbacks.message("hstest: unwrapped")?.ok();
                    }
                    keys.insert(file, allowed.map(|()| key).map_err(|e| vec![e]));
                    break 'file;
                }
            }
        }
        Ok(keys)
    }
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(machine) = args.iter().find_map(|a| a.strip_prefix("--age-plugin=")) {
        return run_state_machine(machine, Handler);
    }
    if args.first().map(String::as_str) == Some("--keygen") {
        let id = age::x25519::Identity::generate();
        let secret_text = id.to_string();
        let (_, secret) = bech32::decode(secret_text.expose_secret()).map_err(io::Error::other)?;
        let (_, public) = bech32::decode(&id.to_public().to_string()).map_err(io::Error::other)?;
        println!("{}", encode(&format!("age1{NAME}"), &public));
        for mode in [MODE_PLAIN, MODE_CONFIRM, MODE_PIN] {
            let mut bytes = vec![mode];
            bytes.extend_from_slice(&secret);
            println!(
                "{}",
                encode(&format!("AGE-PLUGIN-{}-", NAME.to_uppercase()), &bytes).to_uppercase()
            );
        }
        return Ok(());
    }
    eprintln!("age-plugin-hstest: test-only age plugin; use --keygen");
    std::process::exit(2)
}
