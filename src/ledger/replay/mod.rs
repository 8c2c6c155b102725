//! Reading a ledger back: each user's last outcome, the intents left
//! without an outcome, the counts, and where the last complete line ends.
//!
//! A user's *last* outcome counts (a re-run with `--retry-failed` may follow
//! a failure with a success). An intent with no outcome after it is a call
//! whose result the run never learnt; the pipeline reconciles it before
//! calling again. A last line with no newline is a write torn by a crash:
//! its record was never acknowledged as durable, so it does not count;
//! replay reports it and the writer cuts it off before appending. A line
//! that does not parse anywhere else means the file is corrupt, and replay
//! stops with an error naming the line rather than guess.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader};

use super::lines::{LineError, Lines, MAX_LINE};
use std::path::Path;

use serde::Deserialize;

use super::{fingerprint, Entry, Header, Outcome, Step, UserTable};
use crate::error::UsageError;

/// What a ledger holds.
#[derive(Debug, Default)]
pub struct Replay {
    /// The first header: the job this ledger belongs to.
    pub header: Option<Header>,
    /// The last header: the latest run.
    pub last_header: Option<Header>,
    /// How many runs wrote to it (headers seen).
    pub runs: u32,
    /// Each user's last outcome and sign-out step outcome, by
    /// [`fingerprint`] of the canonical username; a record whose input
    /// value was another name (an alias, another case) also keeps the state
    /// under that value's fingerprint, so a resume can tell a finished row
    /// without resolving it again.
    pub users: UserTable,
    /// Users with an intent and no outcome after it: the intent's time,
    /// and the user's status before the call when the intent gave it.
    pub pending: HashMap<u128, (String, Option<Box<str>>)>,
    /// Input lines recorded invalid (not recorded twice on a re-run).
    pub invalid_lines: HashSet<u64>,
    /// Invalid records that carry no line number.
    invalid_without_line: u64,
    /// Error codes seen, interned.
    codes: Vec<String>,
    /// Records written by runs that did not resolve rows to people (ledgers
    /// of earlier versions, `--resolve exact`): a resolving run maps each
    /// to its person ([`Replay::adopt`], reading their names again with
    /// [`unresolved_names`]) so that a person such a run finished under
    /// another name is not called again.
    pub unresolved: u64,
    /// The first header of another job than the first header's (its line),
    /// if any: such a ledger is refused.
    pub other_job: Option<(u64, Header)>,
    /// The latest run's users recorded (outcomes of its action: not
    /// invalid rows or sign-out steps), and when the last of them was
    /// (RFC 3339, as written): with the run's start, its achieved pace.
    pub last_run_users: u64,
    pub last_run_end: String,
    /// Byte length up to the end of the last complete line.
    pub valid_len: u64,
    /// The file ended in a torn (incomplete) line of this many bytes.
    pub torn_bytes: u64,
}

/// Counts of users by last outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub succeeded: u64,
    pub failed: BTreeMap<String, u64>,
    pub invalid: u64,
    pub deferred: u64,
    /// Skipped by `--precheck`.
    pub skipped: u64,
    /// Calls whose result is unknown (intent without outcome).
    pub pending: u64,
    /// Left alone, on an exclusion list when last run.
    pub excluded: u64,
    /// Users the sign-out step (`--sign-out`) signed out.
    pub signed_out: u64,
    /// Users whose action succeeded and who are not signed out (yet): no
    /// sign-out record, or one that failed or was deferred.
    pub not_signed_out: u64,
    /// Users the disable step (`--disable`) disabled.
    pub disabled: u64,
}

impl Counts {
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

impl Replay {
    /// The last outcome recorded for `username`, if any.
    pub fn last_outcome(&self, username: &str) -> Option<Outcome> {
        self.users.get(fingerprint(username))?.last()
    }

    /// Users by last outcome.
    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            invalid: self.invalid_lines.len() as u64 + self.invalid_without_line,
            pending: self.pending.len() as u64,
            ..Counts::default()
        };
        for state in self.users.states() {
            if state.alias() {
                continue;
            }
            let Some(outcome) = state.last() else {
                continue;
            };
            c.disabled +=
                u64::from(state.step(crate::ledger::Step::Disable) == Some(Outcome::Succeeded));
            match state.step(crate::ledger::Step::SignOut) {
                Some(Outcome::Succeeded) => c.signed_out += 1,
                _ if outcome == Outcome::Succeeded => c.not_signed_out += 1,
                _ => {}
            }
            match outcome {
                Outcome::Succeeded => c.succeeded += 1,
                Outcome::Deferred => c.deferred += 1,
                Outcome::Skipped => c.skipped += 1,
                Outcome::Excluded => c.excluded += 1,
                Outcome::Invalid => c.invalid += 1,
                Outcome::Failed => {
                    let code = self
                        .codes
                        .get(usize::from(state.code()))
                        .cloned()
                        .unwrap_or_default();
                    *c.failed.entry(code).or_default() += 1;
                }
            }
        }
        c
    }

    /// Keeps what the ledger says of the row text `from` (a record of a run
    /// that did not resolve rows) under the person `to` it names too,
    /// unless the ledger already says something of `to`.
    pub fn adopt(&mut self, from: u128, to: u128) {
        if from == to {
            return;
        }
        if let Some(state) = self.users.get(from) {
            let person = self.users.entry(to);
            if person.last().is_none() {
                if let Some(last) = state.last() {
                    person.set_last(last, state.code());
                }
                for step in crate::ledger::Step::ALL {
                    if let Some(outcome) = state.step(step) {
                        person.set_step(step, outcome);
                    }
                }
                self.users.entry(from).set_alias();
            }
        }
        if let Some(at) = self.pending.get(&from).cloned() {
            self.pending.entry(to).or_insert(at);
            self.pending.remove(&from);
        }
    }

    fn intern(&mut self, code: Option<&str>) -> u16 {
        let code = code.unwrap_or("Unknown");
        match self.codes.iter().position(|c| c == code) {
            Some(i) => i as u16,
            None if self.codes.len() < usize::from(u16::MAX) => {
                self.codes.push(code.to_string());
                (self.codes.len() - 1) as u16
            }
            None => u16::MAX,
        }
    }
}

/// Replays the ledger at `path` for reading only (`plan`, `status`);
/// `Ok(None)` when there is no such file yet. A FIFO or a device is
/// refused, not read (it could hang the tool, or feed it without end).
pub fn replay_path(path: &Path) -> Result<Option<Replay>, UsageError> {
    match super::lines::open(path)? {
        Some(file) => replay_file(&file, path).map(Some),
        None => Ok(None),
    }
}

/// Replays the ledger open as `file` (the one a run has locked), from its
/// start, and checks that it is a ledger of one job (see
/// [`Replay::check_ledger`]).
pub fn replay_file(file: &File, path: &Path) -> Result<Replay, UsageError> {
    use std::io::Seek;
    let mut f = file.try_clone().map_err(|e| UsageError::LedgerRead {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    f.seek(io::SeekFrom::Start(0))
        .map_err(|e| UsageError::LedgerRead {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let len = f.metadata().map_or(0, |m| m.len());
    let replay = replay_sized(BufReader::with_capacity(1 << 16, f), path, len)?;
    replay.check_ledger(path)?;
    Ok(replay)
}

impl Replay {
    /// Refuses what is not a ledger of one job: a non-empty file whose
    /// first line is no ledger header (a torn line is repaired only after a
    /// header, so a stray file is never cut), and a ledger holding headers
    /// of more than one job (`cat a.jsonl b.jsonl`), naming the line.
    pub fn check_ledger(&self, path: &Path) -> Result<(), UsageError> {
        if self.header.is_none() && (self.valid_len > 0 || self.torn_bytes > 0) {
            return Err(UsageError::NotALedger {
                path: path.to_owned(),
            });
        }
        if let Some((line, h)) = &self.other_job {
            return Err(UsageError::LedgerCorrupt {
                path: path.to_owned(),
                line: *line,
                reason: format!(
                    "it is the header of another job (pool {}, action {}) than the ledger's first (pool {}, action {}); a ledger holds one job",
                    h.pool_id,
                    h.action.as_str(),
                    self.header.as_ref().map_or("", |f| f.pool_id.as_str()),
                    self.header.as_ref().map_or("", |f| f.action.as_str()),
                ),
            });
        }
        Ok(())
    }
}

/// Replays ledger text; `path` only names the file in errors.
pub fn replay_reader<R: BufRead>(reader: R, path: &Path) -> Result<Replay, UsageError> {
    replay_sized(reader, path, 0)
}

/// A ledger spends about 270 bytes on a user (an intent and an outcome);
/// sizing the table for a user every 200 bytes means it never grows while
/// the ledger is read (growing would hold the old and the new table at once).
const LEDGER_BYTES_PER_USER: u64 = 200;

/// The fields replay reads from an intent or outcome line, borrowed from the
/// line (no allocation) where the JSON string has no escapes.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    record: Cow<'a, str>,
    #[serde(borrow, default)]
    username: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user: Option<Cow<'a, str>>,
    #[serde(default)]
    outcome: Option<Outcome>,
    #[serde(default)]
    step: Option<Step>,
    #[serde(default)]
    line: Option<u64>,
    #[serde(borrow, default)]
    code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    at: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    before: Option<Cow<'a, str>>,
}

fn replay_sized<R: BufRead>(reader: R, path: &Path, ledger_len: u64) -> Result<Replay, UsageError> {
    let mut replay = Replay {
        users: UserTable::with_capacity((ledger_len / LEDGER_BYTES_PER_USER) as usize),
        ..Replay::default()
    };
    let mut lines = Lines::new(reader);
    // Whether the run whose records follow resolved rows to people.
    let mut resolving = true;
    loop {
        // Nothing but a ledger header may open the file: anything else is
        // some other file, refused untouched (never "repaired").
        let first = replay.header.is_none();
        let (line_no, text) = match lines.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(LineError::Io(e)) => {
                return Err(UsageError::LedgerRead {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })
            }
            Err(LineError::TooLong { line }) if first => {
                let _ = line;
                return Err(UsageError::NotALedger {
                    path: path.to_owned(),
                });
            }
            Err(LineError::TooLong { line }) => {
                return Err(UsageError::LedgerCorrupt {
                    path: path.to_owned(),
                    line,
                    reason: format!(
                        "the line is longer than {} KiB, which no record is",
                        MAX_LINE / 1024
                    ),
                })
            }
        };
        let corrupt = |reason: String| {
            if first {
                UsageError::NotALedger {
                    path: path.to_owned(),
                }
            } else {
                UsageError::LedgerCorrupt {
                    path: path.to_owned(),
                    line: line_no,
                    reason,
                }
            }
        };
        let line: Line = serde_json::from_slice(text).map_err(|e| corrupt(e.to_string()))?;
        if first && line.record != "header" {
            return Err(corrupt("not a header".into()));
        }
        match (&*line.record, line.username, line.at) {
            ("header", _, _) => {
                let Entry::Header(h) =
                    serde_json::from_slice(text).map_err(|e| corrupt(e.to_string()))?
                else {
                    return Err(corrupt("not a header".into()));
                };
                replay.runs += 1;
                replay.last_run_users = 0;
                replay.last_run_end.clear();
                resolving = h.resolves;
                match &replay.header {
                    None => replay.header = Some(h.clone()),
                    Some(first)
                        if replay.other_job.is_none()
                            && (first.pool_id != h.pool_id || first.action != h.action) =>
                    {
                        replay.other_job = Some((line_no, h.clone()));
                    }
                    Some(_) => {}
                }
                replay.last_header = Some(h);
            }
            ("intent", Some(username), Some(at)) => {
                let name = line.user.as_deref().unwrap_or(&username);
                let before = line.before.as_deref().map(Into::into);
                replay
                    .pending
                    .insert(fingerprint(name), (at.into_owned(), before));
                replay.unresolved += u64::from(!resolving);
            }
            ("user", Some(username), Some(at)) => {
                let Some(outcome) = line.outcome else {
                    return Err(corrupt("missing field `outcome`".into()));
                };
                if outcome == Outcome::Invalid {
                    match line.line {
                        Some(l) => {
                            replay.invalid_lines.insert(l);
                        }
                        None => replay.invalid_without_line += 1,
                    }
                    continue;
                }
                let key = fingerprint(line.user.as_deref().unwrap_or(&username));
                let value = line.user.is_some().then(|| fingerprint(&username));
                replay.unresolved += u64::from(!resolving && line.user.is_none());
                if let Some(step) = line.step {
                    for k in std::iter::once(key).chain(value) {
                        replay.users.entry(k).set_step(step, outcome);
                    }
                    continue;
                }
                replay.pending.remove(&key);
                replay.last_run_users += 1;
                replay.last_run_end.clear();
                replay.last_run_end.push_str(&at);
                let code = if outcome == Outcome::Failed {
                    replay.intern(line.code.as_deref())
                } else {
                    0
                };
                replay.users.entry(key).set_last(outcome, code);
                if let Some(v) = value {
                    let state = replay.users.entry(v);
                    state.set_last(outcome, code);
                    state.set_alias();
                }
            }
            ("intent" | "user", None, _) => return Err(corrupt("missing field `username`".into())),
            ("intent" | "user", _, None) => return Err(corrupt("missing field `at`".into())),
            (other, _, _) => {
                return Err(corrupt(format!(
                    "unknown variant `{other}`, expected one of `header`, `intent`, `user`"
                )))
            }
        }
    }
    replay.valid_len = lines.valid_len();
    replay.torn_bytes = lines.torn_bytes();
    Ok(replay)
}

/// The row texts of the records written by runs that did not resolve rows
/// (see [`Replay::unresolved`]), read again from `reader` one at a time so
/// that a large ledger costs no memory. Lines that do not parse, and a torn
/// last line, are passed over: replay has judged them already.
pub fn unresolved_names<R: BufRead>(reader: R) -> impl Iterator<Item = io::Result<String>> {
    let mut lines = Lines::new(reader);
    let mut resolving = true;
    std::iter::from_fn(move || loop {
        let text = match lines.next_line() {
            Ok(Some((_, text))) => text,
            Ok(None) => return None,
            Err(LineError::Io(e)) => return Some(Err(e)),
            Err(LineError::TooLong { line }) => {
                return Some(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("ledger line {line} is too long"),
                )))
            }
        };
        let Ok(line) = serde_json::from_slice::<Line>(text) else {
            continue;
        };
        match (&*line.record, line.username) {
            ("header", _) => {
                resolving = serde_json::from_slice::<Entry>(text)
                    .ok()
                    .is_some_and(|e| matches!(e, Entry::Header(h) if h.resolves));
            }
            ("intent" | "user", Some(name))
                if !resolving && line.user.is_none() && line.outcome != Some(Outcome::Invalid) =>
            {
                return Some(Ok(name.into_owned()));
            }
            _ => {}
        }
    })
}

#[cfg(test)]
mod tests;
