//! Generated passwords for migrations (`set-password --generate-passwords`).
//!
//! Each password comes from the operating system's CSPRNG, holds at least
//! one upper-case letter, lower-case letter, digit and symbol (so it meets
//! any Cognito password policy) and is as long as the pool's policy asks,
//! at least 20 characters. The pool's minimum length is read with
//! DescribeUserPool; where that cannot be read, 20 it is.
//!
//! Passwords go to one place only: `--passwords-out`, a
//! `username,password,status` CSV opened as a private file (created 0600,
//! never through a link, never a FIFO or a device, never another user's,
//! refused if others may read it) and only ever appended to. For each user:
//!
//! - a `pending` line with the password is made durable before the call
//!   that sets it, so a crash never loses a password that was set;
//! - once the call's ending is known, a line with the same password and
//!   `applied`, or with no password and `not applied: <why>` (the call was
//!   refused, or never sent), or `unknown: <why>` (an answer was lost and
//!   the call was not confirmed).
//!
//! The password a user has is on their last `applied` line. A `pending`
//! line with nothing after it is what a crash left; the next run settles it
//! from the ledger ([`PasswordsOut::settle`]) before any call. A torn last
//! line (a crash or a full disk mid-write) is cut off before appending, and
//! said: its call was never sent. Usernames are written as CSV cells a
//! spreadsheet will not evaluate ([`crate::files::safe_cell`]), and no
//! generated password begins with `=`, `+`, `-` or `@`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::UsageError;
use crate::files::{self, Role};
use crate::secret::Password;

/// Length of a generated password when the policy asks for less.
pub const MIN_GENERATED_LEN: usize = 20;

const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGITS: &[u8] = b"23456789";
/// Cognito's symbols, less those that need quoting in CSV or a shell.
const SYMBOLS: &[u8] = b"!#%()*+-.:=?@[]^_{}~";

/// A uniformly random index below `n` (rejection sampling on OS randomness).
fn random_below(n: usize) -> Result<usize, String> {
    let n = n as u32;
    let zone = u32::MAX - u32::MAX % n;
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b)
            .map_err(|e| format!("the operating system's random source failed ({e})"))?;
        let v = u32::from_le_bytes(b);
        if v < zone {
            return Ok((v % n) as usize);
        }
    }
}

/// A new password of `len` characters (at least 4) with every class; an
/// error only if the operating system gives no randomness.
pub fn generate(len: usize) -> Result<Password, String> {
    let len = len.clamp(4, 256);
    let all: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS].concat();
    let mut chars: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS]
        .iter()
        .map(|class| random_below(class.len()).map(|i| class[i]))
        .collect::<Result<_, _>>()?;
    while chars.len() < len {
        chars.push(all[random_below(all.len())?]);
    }
    // Fisher-Yates, so the guaranteed classes are not always first.
    for i in (1..chars.len()).rev() {
        chars.swap(i, random_below(i + 1)?);
    }
    // A letter or digit first, so no spreadsheet takes it for a formula
    // (`=`, `+`, `-`, `@`).
    if !chars[0].is_ascii_alphanumeric() {
        let letters: Vec<usize> = (1..chars.len())
            .filter(|i| chars[*i].is_ascii_alphanumeric())
            .collect();
        chars.swap(0, letters[random_below(letters.len())?]);
    }
    Ok(Password::new(
        chars.iter().map(|&b| char::from(b)).collect(),
    ))
}

/// The `--passwords-out` file.
#[derive(Clone)]
pub struct PasswordsOut {
    file: Arc<Mutex<File>>,
    path: PathBuf,
}

/// How a generated password's call ended, for its line in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Cognito has this password.
    Yes,
    /// It was not set (the reason).
    No(String),
    /// An answer was lost and the call was not confirmed (the reason).
    Unknown(String),
}

impl PasswordsOut {
    /// Opens the file as a private file (see the module documentation),
    /// writes the header of a new file, and cuts off a torn last line.
    pub fn open(path: &Path) -> Result<PasswordsOut, UsageError> {
        let err = |reason: String| UsageError::Path {
            flag: "--passwords-out",
            path: path.to_owned(),
            reason,
        };
        let mut file = files::open_private(Role::PasswordsOut, path, files::Loose::Refuse)?;
        let len = file.metadata().map_err(|e| err(e.to_string()))?.len();
        if len == 0 {
            file.write_all(b"username,password,status\n")
                .and_then(|()| file.sync_data())
                .map_err(|e| err(e.to_string()))?;
        } else if !ours(&mut file).map_err(|e| err(e.to_string()))? {
            return Err(err(
                "it is not a passwords file of this tool (its first line is not `username,password,status`), and the tool leaves it untouched; name a new file".into(),
            ));
        } else if let Some(keep) = torn_tail(&mut file, len).map_err(|e| err(e.to_string()))? {
            file.set_len(keep)
                .and_then(|()| file.sync_data())
                .map_err(|e| err(e.to_string()))?;
            tracing::warn!(
                file = %path.display(),
                bytes = len - keep,
                "the passwords file ended in a torn line (a crash or a full disk mid-write); cut it off: its call was never sent"
            );
        }
        Ok(PasswordsOut {
            file: Arc::new(Mutex::new(file)),
            path: path.to_owned(),
        })
    }

    /// Appends the `pending` line of a password about to be set, durably.
    pub async fn record(&self, username: &str, password: &Password) -> Result<(), String> {
        self.append(username, password.expose(), "pending").await
    }

    /// Appends how the call that was to set `password` ended, durably.
    pub async fn mark(
        &self,
        username: &str,
        password: &Password,
        applied: &Applied,
    ) -> Result<(), String> {
        match applied {
            Applied::Yes => self.append(username, password.expose(), "applied").await,
            Applied::No(why) => {
                self.append(username, "", &format!("not applied: {why}"))
                    .await
            }
            Applied::Unknown(why) => self.append(username, "", &format!("unknown: {why}")).await,
        }
    }

    /// Settles what a crash left: a user whose last line is `pending` gets
    /// the line the ledger's record of them decides: `applied` (the ledger
    /// records the call succeeded), `not applied` (it records a failure, or
    /// nothing: the call was never sent), or `unknown` (an intent without
    /// an outcome: the answer was lost; the next call sets a new password).
    /// Returns how many lines it settled.
    pub async fn settle(&self, replay: &crate::ledger::Replay) -> Result<usize, String> {
        use std::io::{Seek, SeekFrom};
        let left: Vec<(String, String)> = {
            let file = self.file.clone();
            tokio::task::spawn_blocking(move || -> std::io::Result<Vec<(String, String)>> {
                let mut f = file.lock().unwrap_or_else(|e| e.into_inner()).try_clone()?;
                f.seek(SeekFrom::Start(0))?;
                let mut pending: std::collections::HashMap<String, String> = Default::default();
                let mut reader = csv::ReaderBuilder::new()
                    .flexible(true)
                    .from_reader(std::io::BufReader::new(f));
                for record in reader.records() {
                    let Ok(r) = record else { continue };
                    let (Some(user), Some(pw), Some(status)) = (r.get(0), r.get(1), r.get(2))
                    else {
                        continue;
                    };
                    let user = user.strip_prefix('\'').unwrap_or(user).to_string();
                    if status == "pending" {
                        pending.insert(user, pw.to_string());
                    } else {
                        pending.remove(&user);
                    }
                }
                Ok(pending.into_iter().collect())
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("could not read {}: {e}", self.path.display()))?
        };
        for (user, password) in &left {
            let key = crate::ledger::fingerprint(user);
            let password = Password::new(password.clone());
            let applied = if replay.pending.contains_key(&key) {
                Applied::Unknown("the run stopped with the call's answer lost".into())
            } else {
                match replay.users.get(key).and_then(|s| s.last()) {
                    Some(crate::ledger::Outcome::Succeeded) => Applied::Yes,
                    Some(_) => Applied::No("the call was refused".into()),
                    None => Applied::No("the run stopped before the call".into()),
                }
            };
            self.mark(user, &password, &applied).await?;
        }
        Ok(left.len())
    }

    async fn append(&self, username: &str, password: &str, status: &str) -> Result<(), String> {
        let mut line = Vec::with_capacity(username.len() + password.len() + 32);
        {
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(&mut line);
            w.write_record([&*files::safe_cell(username), password, status])
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

/// Whether the file begins with this tool's header (or the two-column one
/// of earlier versions).
fn ours(file: &mut File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut head = [0u8; 25];
    file.seek(SeekFrom::Start(0))?;
    let n = file.read(&mut head)?;
    let head = &head[..n];
    Ok(head.starts_with(b"username,password,status\n") || head.starts_with(b"username,password\n"))
}

/// Where a file of `len` bytes should end to drop a torn last line (one
/// with no newline), if it has one.
fn torn_tail(file: &mut File, len: u64) -> std::io::Result<Option<u64>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut buf = vec![0u8; len.min(64 * 1024) as usize];
    let start = len - buf.len() as u64;
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut buf)?;
    if buf.last() == Some(&b'\n') {
        return Ok(None);
    }
    match buf.iter().rposition(|b| *b == b'\n') {
        Some(i) => Ok(Some(start + i as u64 + 1)),
        // No line of this file is that long.
        None => Err(std::io::Error::other(
            "its last 64 KiB hold no line end; it is not a passwords file of this tool",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generated passwords have every character class, the asked length, Cognito's character set, and (from eight characters) differ.
    #[test]
    fn generated_passwords_meet_any_policy() {
        let mut seen = std::collections::HashSet::new();
        for len in [4, 8, 20, 64] {
            for _ in 0..200 {
                let p = generate(len).unwrap();
                let t = p.expose();
                assert_eq!(t.len(), len);
                assert!(t.bytes().any(|b| UPPER.contains(&b)));
                assert!(t.bytes().any(|b| LOWER.contains(&b)));
                assert!(t.bytes().any(|b| DIGITS.contains(&b)));
                assert!(t.bytes().any(|b| SYMBOLS.contains(&b)));
                assert!(crate::validate::check_password(t).is_ok());
                assert!(
                    t.as_bytes()[0].is_ascii_alphanumeric(),
                    "{t}: no formula start"
                );
                // Four characters (one of each class, a few million such
                // passwords) repeat by chance in about 1 run of 100; from
                // eight on, a repeat means a bug.
                if len >= 8 {
                    assert!(seen.insert(t.to_string()), "no repeats");
                }
            }
        }
    }
}
