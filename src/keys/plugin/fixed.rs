//! Running a plugin identity in `install`: the binary at an absolute path the manifest named,
//! spoken to directly over the age plugin protocol (`identity-v1`), because the age crate
//! only finds plugins on `PATH` and `install` reads no environment.
//!
//! The plugin runs with an empty environment, in `/`, stderr discarded. It may show messages
//! (ignored) but every question (`confirm`, `request-public`, `request-secret`) is refused:
//! activation has nobody to ask, so the file fails with a message saying the plugin needs a
//! human. Replies are bounded (lines, stanzas, commands) so a broken plugin cannot exhaust
//! memory.

use age_core::format::{FileKey, Stanza, FILE_KEY_BYTES};
use base64::prelude::{Engine, BASE64_STANDARD_NO_PAD};
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Longest line accepted from a plugin (a stanza header or a body line).
const MAX_LINE: u64 = 64 * 1024;
/// Most commands accepted from one plugin run.
const MAX_COMMANDS: usize = 1000;
/// Most body lines of one stanza.
const MAX_BODY_LINES: usize = 1024;
/// How long one plugin run may take before it is killed (activation must not hang on a plugin
/// waiting for something that never comes); a TPM unwrap takes well under a second.
const PLUGIN_TIME_LIMIT: Duration = Duration::from_secs(60);

/// One plugin binary with the identities it holds, usable as an age identity.
pub struct FixedPlugin {
    name: String,
    binary: PathBuf,
    identities: Vec<String>,
}

impl FixedPlugin {
    /// The plugin `name` at `binary` (absolute), with its identity lines.
    pub fn new(name: &str, binary: &Path, identities: Vec<String>) -> Self {
        FixedPlugin {
            name: name.to_string(),
            binary: binary.to_path_buf(),
            identities,
        }
    }
}

/// Why a plugin run gave no file key; carried inside age's error to the caller.
#[derive(Debug)]
pub struct PluginFailure(pub String);

impl fmt::Display for PluginFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PluginFailure {}

impl age::Identity for FixedPlugin {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        self.unwrap_stanzas(std::slice::from_ref(stanza))
    }

    fn unwrap_stanzas(&self, stanzas: &[Stanza]) -> Option<Result<FileKey, age::DecryptError>> {
        let _one_at_a_time = super::call_guard();
        match run_identity_v1(&self.binary, &self.identities, stanzas, PLUGIN_TIME_LIMIT) {
            Ok(key) => key.map(Ok),
            Err(message) => {
                let failure = PluginFailure(format!(
                    "{}{}: {}",
                    super::BINARY_PREFIX,
                    self.name,
                    super::printable(&message)
                ));
                Some(Err(age::DecryptError::Io(std::io::Error::other(failure))))
            }
        }
    }
}

/// One `identity-v1` session: `Ok(None)` when the plugin recognised no stanza.
fn run_identity_v1(
    binary: &Path,
    identities: &[String],
    stanzas: &[Stanza],
    limit: Duration,
) -> Result<Option<FileKey>, String> {
    if !binary.is_absolute() {
        return Err("the plugin binary path is not absolute".into());
    }
    use std::os::unix::process::CommandExt;
    // `binary` passed install's trust rule (identities.rs): it is the checked inode's
    // /proc/self/fd path, so what runs is what was checked.
    let mut child = Command::new(binary)
        .arg("--age-plugin=identity-v1")
        .process_group(0)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run: {}", crate::error::io_message(&e)))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err("cannot connect to the plugin".into());
    };
    let watchdog = Watchdog::start(child.id(), limit);
    let mut session = Session {
        to: stdin,
        from: BufReader::new(stdout),
    };
    let result = session.identity_v1(identities, stanzas);
    drop(session);
    let timed_out = watchdog.stop();
    if result.is_err() {
        let _ = child.kill();
    }
    // Reaped only after the watchdog stopped: the pid it may kill is still this child's.
    let _ = child.wait();
    if timed_out {
        return Err(format!(
            "the plugin did not finish within {} seconds and was stopped",
            limit.as_secs()
        ));
    }
    result
}

/// Kills a plugin process that runs past its time limit.
struct Watchdog {
    stop: mpsc::Sender<()>,
    fired: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Watchdog {
    fn start(pid: u32, limit: Duration) -> Watchdog {
        let (stop, stopped) = mpsc::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&fired);
        let thread = std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(limit) {
                flag.store(true, Ordering::SeqCst);
                // The plugin leads its own process group: its helpers go too (one of them
                // holding the pipe open would keep us waiting).
                if let Ok(pid) = i32::try_from(pid) {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        });
        Watchdog {
            stop,
            fired,
            thread,
        }
    }

    /// Stops the watchdog; whether it had fired.
    fn stop(self) -> bool {
        let _ = self.stop.send(());
        let _ = self.thread.join();
        self.fired.load(Ordering::SeqCst)
    }
}

/// The pipes to one running plugin.
struct Session<W: Write, R: BufRead> {
    to: W,
    from: R,
}

impl<W: Write, R: BufRead> Session<W, R> {
    /// Phase 1 sends identities and stanzas; phase 2 answers the plugin until `done`.
    fn identity_v1(
        &mut self,
        identities: &[String],
        stanzas: &[Stanza],
    ) -> Result<Option<FileKey>, String> {
        let broken = |e: std::io::Error| format!("the plugin stopped early ({e})");
        for id in identities {
            self.send("add-identity", &[id.as_str()], &[])
                .map_err(broken)?;
        }
        for s in stanzas {
            let mut args = vec!["0", s.tag.as_str()];
            args.extend(s.args.iter().map(String::as_str));
            self.send("recipient-stanza", &args, &s.body)
                .map_err(broken)?;
        }
        self.send("done", &[], &[]).map_err(broken)?;

        let mut file_key = None;
        let mut errors: Vec<String> = Vec::new();
        let mut asked_human = None;
        for _ in 0..MAX_COMMANDS {
            let command = self.receive()?;
            let reply = match command.tag.as_str() {
                "done" => return finish(file_key, errors, asked_human),
                "msg" => "ok",
                "confirm" | "request-public" | "request-secret" => {
                    asked_human.get_or_insert(command.tag.clone());
                    "fail"
                }
                "file-key" => {
                    let fits = command.args == ["0"]
                        && command.body.len() == FILE_KEY_BYTES
                        && file_key.is_none();
                    if fits {
                        file_key =
                            Some(FileKey::init_with_mut(|k| k.copy_from_slice(&command.body)));
                        "ok"
                    } else {
                        "fail"
                    }
                }
                "error" => {
                    let text = String::from_utf8_lossy(&command.body);
                    errors.push(text.chars().take(300).collect());
                    "ok"
                }
                _ => "unsupported",
            };
            self.send(reply, &[], &[]).map_err(broken)?;
        }
        Err("the plugin sent too many commands".into())
    }

    /// Writes one stanza: `-> tag args…`, then the body in base64 lines of 64 columns, the
    /// last line shorter than 64 (empty when needed).
    fn send(&mut self, tag: &str, args: &[&str], body: &[u8]) -> std::io::Result<()> {
        let mut text = String::from("-> ");
        text.push_str(tag);
        for a in args {
            text.push(' ');
            text.push_str(a);
        }
        text.push('\n');
        let encoded = zeroize::Zeroizing::new(BASE64_STANDARD_NO_PAD.encode(body));
        let mut rest = encoded.as_str();
        loop {
            let (line, tail) = rest.split_at(rest.len().min(64));
            text.push_str(line);
            text.push('\n');
            rest = tail;
            if line.len() < 64 {
                break;
            }
        }
        let text = zeroize::Zeroizing::new(text);
        self.to.write_all(text.as_bytes())?;
        self.to.flush()
    }

    /// Reads one stanza from the plugin.
    fn receive(&mut self) -> Result<Stanza, String> {
        let header = self.line()?;
        let mut words = header
            .strip_prefix("-> ")
            .ok_or("the plugin sent something that is not a stanza")?
            .split(' ');
        let tag = words.next().unwrap_or_default().to_string();
        let args: Vec<String> = words.map(str::to_string).collect();
        if tag.is_empty() || args.iter().any(String::is_empty) {
            return Err("the plugin sent a malformed stanza".into());
        }
        let mut encoded = zeroize::Zeroizing::new(String::new());
        for _ in 0..MAX_BODY_LINES {
            let line = self.line()?;
            encoded.push_str(&line);
            if line.len() < 64 {
                let body = BASE64_STANDARD_NO_PAD
                    .decode(encoded.as_bytes())
                    .map_err(|_| "the plugin sent a malformed stanza body")?;
                return Ok(Stanza { tag, args, body });
            }
        }
        Err("the plugin sent a stanza body that is too long".into())
    }

    /// One line without its `\n`, at most [`MAX_LINE`] bytes.
    fn line(&mut self) -> Result<zeroize::Zeroizing<String>, String> {
        let mut line = zeroize::Zeroizing::new(Vec::new());
        let n = (&mut self.from)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("reading from the plugin failed ({e})"))?;
        if n == 0 {
            return Err("the plugin exited before it was done".into());
        }
        if line.pop() != Some(b'\n') {
            return Err("the plugin sent an overlong or unterminated line".into());
        }
        String::from_utf8(std::mem::take(&mut *line))
            .map(zeroize::Zeroizing::new)
            .map_err(|_| "the plugin sent a line that is not UTF-8".into())
    }
}

/// The outcome once the plugin said `done`.
fn finish(
    file_key: Option<FileKey>,
    errors: Vec<String>,
    asked_human: Option<String>,
) -> Result<Option<FileKey>, String> {
    if let Some(key) = file_key {
        return Ok(Some(key));
    }
    if let Some(what) = asked_human {
        let detail = errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(format!(
            "the plugin asked for a human ({what}); install never prompts{detail}"
        ));
    }
    match errors.first() {
        Some(e) => Err(e.clone()),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    /// A scripted plugin: its replies are `script`; what the client sent is collected.
    fn session(script: &str) -> Session<Vec<u8>, &[u8]> {
        Session {
            to: Vec::new(),
            from: script.as_bytes(),
        }
    }

    fn stanza() -> Stanza {
        Stanza {
            tag: "hstest".into(),
            args: vec!["abc".into()],
            body: vec![7u8; 48],
        }
    }

    #[test]
    fn sends_identities_stanzas_and_done_in_protocol_shape() {
        let mut s = session("-> done\n\n");
        let out = s
            .identity_v1(&["AGE-PLUGIN-X-1Q".into()], &[stanza()])
            .unwrap();
        assert!(out.is_none());
        let sent = String::from_utf8(s.to).unwrap();
        let body = BASE64_STANDARD_NO_PAD.encode([7u8; 48]);
        assert_eq!(
            sent,
            format!("-> add-identity AGE-PLUGIN-X-1Q\n\n-> recipient-stanza 0 hstest abc\n{body}\n\n-> done\n\n")
        );
    }

    #[test]
    fn returns_the_file_key_and_refuses_questions() {
        let key = BASE64_STANDARD_NO_PAD.encode([9u8; 16]);
        let script = format!("-> msg\naGk\n-> file-key 0\n{key}\n-> done\n\n");
        let mut s = session(&script);
        let got = s.identity_v1(&[], &[stanza()]).unwrap().unwrap();
        assert_eq!(got.expose_secret(), &[9u8; 16]);
        assert!(String::from_utf8(s.to)
            .unwrap()
            .ends_with("-> ok\n\n-> ok\n\n"));

        let mut s = session("-> confirm eWVz\nb2s\n-> error identity 0\nbm8\n-> done\n\n");
        let err = s.identity_v1(&[], &[stanza()]).err().unwrap();
        assert!(err.contains("asked for a human (confirm)"), "{err}");
        assert!(err.contains("install never prompts"), "{err}");
        assert!(String::from_utf8(s.to).unwrap().contains("-> fail\n\n"));
    }

    #[test]
    fn broken_plugins_are_errors_not_panics() {
        for script in [
            "",
            "garbage\n",
            "-> file-key 0\n!!!\n-> done\n\n",
            "-> msg\n",
            "->  \n\n",
        ] {
            assert!(
                session(script).identity_v1(&[], &[stanza()]).is_err(),
                "{script:?}"
            );
        }
        let long = format!("-> msg\n{}", "A".repeat(70_000));
        assert!(session(&long).identity_v1(&[], &[]).is_err());
        // A wrong-sized file key is refused; the plugin then has nothing.
        let mut s = session("-> file-key 0\nAAAA\n-> done\n\n");
        assert!(s.identity_v1(&[], &[]).unwrap().is_none());
    }

    #[test]
    fn relative_binary_is_refused() {
        let err = run_identity_v1(Path::new("age-plugin-x"), &[], &[], PLUGIN_TIME_LIMIT)
            .err()
            .unwrap();
        assert!(err.contains("absolute"));
    }

    #[test]
    fn a_plugin_that_never_answers_is_stopped() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("age-plugin-silent");
        // A helper process keeps the pipe open after the shell: the whole group is stopped.
        std::fs::write(&bin, "#!/bin/sh\nsleep 600\necho\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = run_identity_v1(&bin, &[], &[stanza()], Duration::from_millis(200))
            .err()
            .unwrap();
        assert!(err.contains("did not finish"), "{err}");
    }

    #[test]
    fn a_plugin_that_exits_at_once_is_an_error() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("age-plugin-quits");
        std::fs::write(&bin, "#!/bin/sh\nexit 3\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = run_identity_v1(&bin, &[], &[stanza()], PLUGIN_TIME_LIMIT)
            .err()
            .unwrap();
        assert!(
            err.contains("stopped early") || err.contains("exited"),
            "{err}"
        );
    }
}
