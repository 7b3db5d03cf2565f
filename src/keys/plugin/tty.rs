//! The workstation's answers to a plugin's questions (touch your key, PIN, confirm), asked on
//! the controlling terminal `/dev/tty` so they work while stdin/stdout carry file data
//! (`hostseal decrypt < f > g`, `edit`). Without a terminal every question is refused, and the
//! plugin's error is reported together with [`TtyCallbacks::lacked_terminal`].

use super::printable;
use age::secrecy::SecretString;
use std::fs::File;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The terminal device questions go to.
const TTY: &str = "/dev/tty";
/// Longest answer read from the terminal.
const MAX_ANSWER: usize = 4096;

/// age callbacks that prompt on `/dev/tty`.
#[derive(Clone, Default)]
pub struct TtyCallbacks {
    lacked_terminal: Arc<AtomicBool>,
}

impl TtyCallbacks {
    /// Callbacks with a fresh "had no terminal" flag.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a plugin asked a question that could not be put to anyone (no terminal).
    pub fn lacked_terminal(&self) -> bool {
        self.lacked_terminal.load(Ordering::Relaxed)
    }

    /// The terminal, read-write; `None` (and the flag set) when there is none.
    fn open(&self) -> Option<File> {
        let tty = std::fs::OpenOptions::new().read(true).write(true).open(TTY);
        if tty.is_err() {
            self.lacked_terminal.store(true, Ordering::Relaxed);
        }
        tty.ok()
    }

    /// Writes `prompt` and reads one line (without its line end); `None` at end of input.
    fn ask(&self, prompt: &str, hidden: bool) -> Option<Zeroizing<String>> {
        let mut tty = self.open()?;
        tty.write_all(printable(prompt).as_bytes()).ok()?;
        tty.flush().ok()?;
        let answer = {
            let _echo = hidden.then(|| EchoOff::new(&tty)).flatten();
            read_line(&mut tty)
        };
        if hidden {
            let _ = tty.write_all(b"\n");
        }
        answer
    }
}

/// Reads up to a line end, byte by byte (nothing read past it), at most [`MAX_ANSWER`] bytes.
fn read_line(tty: &mut File) -> Option<Zeroizing<String>> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_ANSWER));
    let mut byte = [0u8; 1];
    loop {
        match tty.read(&mut byte) {
            Ok(0) if bytes.is_empty() => return None,
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) if bytes.len() < MAX_ANSWER => bytes.push(byte[0]),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    let text = std::str::from_utf8(&bytes).ok()?;
    Some(Zeroizing::new(text.to_string()))
}

/// Terminal echo switched off until dropped (for PINs and passphrases).
struct EchoOff {
    tty: File,
    saved: nix::sys::termios::Termios,
}

impl EchoOff {
    fn new(tty: &File) -> Option<Self> {
        use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
        let tty = tty.try_clone().ok()?;
        let saved = tcgetattr(&tty).ok()?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(&tty, SetArg::TCSANOW, &quiet).ok()?;
        Some(EchoOff { tty, saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        use nix::sys::termios::{tcsetattr, SetArg};
        let _ = tcsetattr(&self.tty, SetArg::TCSANOW, &self.saved);
    }
}

impl age::Callbacks for TtyCallbacks {
    fn display_message(&self, message: &str) {
        let line = format!("{}\n", printable(message));
        match self.open() {
            Some(mut tty) => {
                let _ = tty.write_all(line.as_bytes());
            }
            None => eprint!("hostseal: {line}"),
        }
    }

    fn confirm(&self, message: &str, yes: &str, no: Option<&str>) -> Option<bool> {
        let no = no.unwrap_or("no");
        let prompt = format!("{message} [{yes}/{no}]: ");
        for _ in 0..3 {
            let answer = self.ask(&prompt, false)?;
            let answer = answer.trim();
            if answer.eq_ignore_ascii_case(yes) || answer.eq_ignore_ascii_case("y") {
                return Some(true);
            }
            if answer.eq_ignore_ascii_case(no) || answer.eq_ignore_ascii_case("n") {
                return Some(false);
            }
        }
        Some(false)
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        self.ask(&format!("{description}: "), false)
            .map(|a| a.to_string())
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        self.ask(&format!("{description}: "), true)
            .map(|a| SecretString::from(a.to_string()))
    }
}
