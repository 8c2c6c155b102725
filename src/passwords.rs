//! Generated passwords for migrations (`set-password --generate-passwords`).
//!
//! Each password comes from the operating system's CSPRNG, holds at least
//! one upper-case letter, lower-case letter, digit and symbol (so it meets
//! any Cognito password policy) and is as long as the pool's policy asks,
//! at least 20 characters. The pool's minimum length is read with
//! DescribeUserPool; where that cannot be read, 20 it is.
//!
//! Passwords go to one place only: `--passwords-out`, a `username,password`
//! CSV created with mode 0600 and only ever appended to (never overwritten,
//! and refused if others may read it). Each line is made durable before the
//! call that sets the password, so a crash never loses a password that was
//! set. A user may have several lines after a resume; the last one is the
//! password Cognito has.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::UsageError;
use crate::secret::Password;

/// Length of a generated password when the policy asks for less.
pub const MIN_GENERATED_LEN: usize = 20;

const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGITS: &[u8] = b"23456789";
/// Cognito's symbols, less those that need quoting in CSV or a shell.
const SYMBOLS: &[u8] = b"!#%()*+-.:=?@[]^_{}~";

/// A uniformly random index below `n` (rejection sampling on OS randomness).
fn random_below(n: usize) -> usize {
    let n = n as u32;
    let zone = u32::MAX - u32::MAX % n;
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).expect("the operating system's random source works");
        let v = u32::from_le_bytes(b);
        if v < zone {
            return (v % n) as usize;
        }
    }
}

/// A new password of `len` characters (at least 4) with every class.
pub fn generate(len: usize) -> Password {
    let len = len.clamp(4, 256);
    let all: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS].concat();
    let mut chars: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS]
        .iter()
        .map(|class| class[random_below(class.len())])
        .collect();
    while chars.len() < len {
        chars.push(all[random_below(all.len())]);
    }
    // Fisher-Yates, so the guaranteed classes are not always first.
    for i in (1..chars.len()).rev() {
        chars.swap(i, random_below(i + 1));
    }
    Password::new(String::from_utf8(chars).expect("ASCII"))
}

/// The `--passwords-out` file.
#[derive(Clone)]
pub struct PasswordsOut {
    file: Arc<Mutex<File>>,
    path: PathBuf,
}

impl PasswordsOut {
    /// Opens (creating, mode 0600, with a header) the file for appending.
    /// An existing file that others may read is refused.
    pub fn open(path: &Path) -> Result<PasswordsOut, UsageError> {
        let err = |reason: String| UsageError::Value {
            flag: "--passwords-out",
            reason: format!("{}: {reason}", path.display()),
        };
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| err(e.to_string()))?;
        let meta = file.metadata().map_err(|e| err(e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(err(
                    "others may read it; it will hold passwords: chmod 600 it or name a new file"
                        .into(),
                ));
            }
        }
        if meta.len() == 0 {
            file.write_all(b"username,password\n")
                .and_then(|()| file.sync_data())
                .map_err(|e| err(e.to_string()))?;
        }
        Ok(PasswordsOut {
            file: Arc::new(Mutex::new(file)),
            path: path.to_owned(),
        })
    }

    /// Appends `username,password` and makes it durable.
    pub async fn record(&self, username: &str, password: &Password) -> Result<(), String> {
        let mut line = Vec::with_capacity(username.len() + 40);
        {
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(&mut line);
            w.write_record([username, password.expose()])
                .map_err(|e| e.to_string())?;
            w.flush().map_err(|e| e.to_string())?;
        }
        let file = self.file.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
            f.write_all(&line).and_then(|()| f.sync_data())
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("could not write {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generated passwords have every character class, the asked length, Cognito's character set, and differ.
    #[test]
    fn generated_passwords_meet_any_policy() {
        let mut seen = std::collections::HashSet::new();
        for len in [4, 8, 20, 64] {
            for _ in 0..200 {
                let p = generate(len);
                let t = p.expose();
                assert_eq!(t.len(), len);
                assert!(t.bytes().any(|b| UPPER.contains(&b)));
                assert!(t.bytes().any(|b| LOWER.contains(&b)));
                assert!(t.bytes().any(|b| DIGITS.contains(&b)));
                assert!(t.bytes().any(|b| SYMBOLS.contains(&b)));
                assert!(crate::validate::check_password(t).is_ok());
                assert!(seen.insert(t.to_string()), "no repeats");
            }
        }
    }
}
