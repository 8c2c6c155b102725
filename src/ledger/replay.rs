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
            match outcome {
                Outcome::Succeeded => c.succeeded += 1,
                Outcome::Deferred => c.deferred += 1,
                Outcome::Skipped => c.skipped += 1,
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
                if let Some(step) = state.signed_out() {
                    person.set_signed_out(step);
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
            ("user", Some(username), Some(_)) => {
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
                if line.step.is_some() {
                    for k in std::iter::once(key).chain(value) {
                        replay.users.entry(k).set_signed_out(outcome);
                    }
                    continue;
                }
                replay.pending.remove(&key);
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
mod tests {
    use super::*;
    use crate::ledger::{Action, UserRecord};

    pub(super) fn header() -> String {
        serde_json::to_string(&Entry::Header(Header {
            tool_version: "0.1.0".into(),
            pool_id: "us-east-1_Test".into(),
            action: Action::Reset,
            region: "us-east-1".into(),
            input: "users.csv".into(),
            started_at: "2026-01-01T00:00:00.000Z".into(),
            pid: 1,
            host: "h".into(),
            rate: None,
            input_rows: None,
            resolves: true,
        }))
        .unwrap()
    }

    fn user(name: &str, outcome: Outcome, code: Option<&str>, line: u64) -> String {
        serde_json::to_string(&Entry::User(UserRecord {
            username: name.into(),
            user: None,
            outcome,
            step: None,
            line: Some(line),
            code: code.map(Into::into),
            message: None,
            detail: None,
            attempts: 1,
            throttled: 0,
            request_id: None,
            at: "2026-01-01T00:00:00.000Z".into(),
        }))
        .unwrap()
    }

    fn replay(text: &str) -> Result<Replay, UsageError> {
        replay_reader(text.as_bytes(), Path::new("test.jsonl"))
    }

    /// Finished users, counts by outcome and code, and the header come back.
    /// Records of a run that did not resolve rows keep their text for adoption; adopting maps a row's state (and a pending intent) to the person it names, without counting the person twice.
    #[test]
    fn unresolved_records_are_adopted_by_their_person() {
        let old_header = header().replace(",\"resolves\":true", "");
        let intent =
            "{\"record\":\"intent\",\"username\":\"CAROL\",\"at\":\"2026-01-01T00:00:00.000Z\"}";
        let text = [
            old_header,
            user("ALICE", Outcome::Succeeded, None, 2),
            intent.to_string(),
            header(),
            user("bob@x", Outcome::Succeeded, None, 3).replace(
                "\"username\":\"bob@x\"",
                "\"username\":\"bob@x\",\"user\":\"bob\"",
            ),
        ]
        .join("\n")
            + "\n";
        let mut r = replay(&text).unwrap();
        assert_eq!(r.unresolved, 2);
        let names: Vec<String> = unresolved_names(text.as_bytes())
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            names,
            ["ALICE", "CAROL"],
            "only the records of the run that did not resolve"
        );
        assert_eq!(r.counts().succeeded, 2);
        r.adopt(fingerprint("ALICE"), fingerprint("alice"));
        r.adopt(fingerprint("CAROL"), fingerprint("carol"));
        assert_eq!(r.last_outcome("alice"), Some(Outcome::Succeeded));
        assert!(r.pending.contains_key(&fingerprint("carol")));
        assert!(!r.pending.contains_key(&fingerprint("CAROL")));
        assert_eq!(r.counts().succeeded, 2, "alice is counted once");
        // bob's record resolved already: kept under both names.
        assert_eq!(r.last_outcome("bob"), Some(Outcome::Succeeded));
        assert_eq!(r.last_outcome("bob@x"), Some(Outcome::Succeeded));
    }

    #[test]
    fn counts_and_done_set() {
        let text = [
            header(),
            user("alice", Outcome::Succeeded, None, 2),
            user("bob", Outcome::Failed, Some("UserNotFoundException"), 3),
            user("", Outcome::Invalid, None, 4),
            header(),
            user("carol", Outcome::Succeeded, None, 5),
        ]
        .join("\n")
            + "\n";
        let r = replay(&text).unwrap();
        assert_eq!(r.runs, 2);
        assert_eq!(r.header.as_ref().unwrap().pool_id, "us-east-1_Test");
        let c = r.counts();
        assert_eq!((c.succeeded, c.invalid, c.failed_total()), (2, 1, 1));
        assert_eq!(c.failed["UserNotFoundException"], 1);
        assert_eq!(r.last_outcome("bob"), Some(Outcome::Failed));
        assert_eq!(r.last_outcome("dave"), None);
        assert!(r.invalid_lines.contains(&4));
        assert_eq!(r.valid_len, text.len() as u64);
        assert_eq!(r.torn_bytes, 0);
    }

    /// A torn last line (a crash mid-write) is not a record: its user is not done, and the repair point is the end of the last complete line.
    #[test]
    fn torn_last_line_is_tolerated() {
        let good = format!(
            "{}\n{}\n",
            header(),
            user("alice", Outcome::Succeeded, None, 2)
        );
        let torn = user("bob", Outcome::Succeeded, None, 3);
        let text = format!("{good}{}", &torn[..torn.len() / 2]);
        let r = replay(&text).unwrap();
        assert_eq!(r.counts().succeeded, 1);
        assert_eq!(r.last_outcome("bob"), None);
        assert_eq!(r.valid_len, good.len() as u64);
        assert_eq!(r.torn_bytes, (torn.len() / 2) as u64);
        // A complete record that lost only its newline is torn too: it was never acknowledged.
        let r = replay(&format!("{good}{torn}")).unwrap();
        assert_eq!(r.last_outcome("bob"), None);
    }

    /// A corrupt line before the end is an error naming the line.
    #[test]
    fn corrupt_middle_line_is_an_error() {
        let text = format!(
            "{}\n{{not json\n{}\n",
            header(),
            user("a", Outcome::Succeeded, None, 2)
        );
        let err = replay(&text).unwrap_err().to_string();
        assert!(err.contains("corrupt at line 2"), "{err}");
    }

    /// Valid JSON that is not a ledger record (missing fields, an unknown
    /// record kind, a wrong type) is corrupt too, naming its line.
    #[test]
    fn lines_that_are_not_records_are_errors() {
        for (bad, why) in [
            (r#"{"record":"user","username":"a","at":"t"}"#, "outcome"),
            (
                r#"{"record":"user","outcome":"succeeded","at":"t"}"#,
                "username",
            ),
            (r#"{"record":"intent","username":"a"}"#, "at"),
            (
                r#"{"record":"note","username":"a","at":"t"}"#,
                "unknown variant",
            ),
            (
                r#"{"record":"user","username":"a","outcome":"fine","at":"t"}"#,
                "unknown variant",
            ),
            (r#"{"username":"a"}"#, "record"),
            (r#"{"record":"header","pool_id":3}"#, "line 3"),
        ] {
            let text = format!(
                "{}\n{}\n{bad}\n",
                header(),
                user("a", Outcome::Succeeded, None, 2)
            );
            let err = replay(&text).unwrap_err().to_string();
            assert!(
                err.contains("corrupt at line 3") && err.contains(why),
                "{bad}: {err}"
            );
        }
    }

    /// Usernames with JSON escapes replay to the same user as written.
    #[test]
    fn escaped_usernames_match() {
        let text = format!(
            "{}\n{}\n",
            header(),
            user("a\"b\\c\u{e9}", Outcome::Failed, Some("X"), 2)
        );
        let r = replay(&text).unwrap();
        assert_eq!(r.last_outcome("a\"b\\c\u{e9}"), Some(Outcome::Failed));
    }

    /// A user recorded twice counts once, by its last outcome (a retried failure that then succeeded is a success).
    #[test]
    fn last_outcome_wins() {
        let text = [
            header(),
            user("alice", Outcome::Failed, Some("X"), 2),
            user("alice", Outcome::Succeeded, None, 2),
        ]
        .join("\n")
            + "\n";
        let r = replay(&text).unwrap();
        let c = r.counts();
        assert_eq!((c.succeeded, c.failed_total()), (1, 0));
        assert_eq!(r.last_outcome("alice"), Some(Outcome::Succeeded));
    }

    /// An intent with no outcome after it is pending; an outcome clears it; deferred is not final.
    #[test]
    fn intents_pending_until_an_outcome() {
        let intent = |name: &str| {
            format!("{{\"record\":\"intent\",\"username\":\"{name}\",\"at\":\"2026-01-01T00:00:00.000Z\"}}")
        };
        let text = [
            header(),
            intent("alice"),
            intent("bob"),
            user("alice", Outcome::Succeeded, None, 2),
            intent("carol"),
            user(
                "carol",
                Outcome::Deferred,
                Some("LimitExceededException"),
                4,
            ),
        ]
        .join("\n")
            + "\n";
        let r = replay(&text).unwrap();
        assert_eq!(r.pending.len(), 1);
        assert!(r.pending.contains_key(&fingerprint("bob")));
        assert_eq!(r.last_outcome("carol"), Some(Outcome::Deferred));
        assert!(!Outcome::Deferred.is_final());
        let c = r.counts();
        assert_eq!((c.succeeded, c.deferred, c.pending), (1, 1, 1));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::ledger::{IntentRecord, UserRecord};
    use proptest::prelude::*;

    /// One user's history: each step an intent, optionally followed by an outcome.
    fn history() -> impl Strategy<Value = Vec<(bool, Option<u8>)>> {
        proptest::collection::vec((any::<bool>(), proptest::option::of(0u8..3)), 1..4)
    }

    fn entries(user: usize, steps: &[(bool, Option<u8>)]) -> Vec<Entry> {
        let name = format!("user-{user}");
        let mut out = Vec::new();
        for (intent, outcome) in steps {
            if *intent {
                out.push(Entry::Intent(IntentRecord {
                    username: name.clone(),
                    user: None,
                    line: None,
                    at: "t".into(),
                    before: None,
                }));
            }
            if let Some(o) = outcome {
                let outcome =
                    [Outcome::Succeeded, Outcome::Failed, Outcome::Deferred][usize::from(*o)];
                out.push(Entry::User(UserRecord {
                    username: name.clone(),
                    user: None,
                    outcome,
                    step: None,
                    line: None,
                    code: (outcome != Outcome::Succeeded).then(|| format!("Code{o}")),
                    message: None,
                    detail: None,
                    attempts: 1,
                    throttled: 0,
                    request_id: None,
                    at: "t".into(),
                }));
            }
        }
        out
    }

    fn text(entries: &[Entry]) -> String {
        let mut text = tests::header() + "\n";
        for e in entries {
            text.push_str(&(serde_json::to_string(e).unwrap() + "\n"));
        }
        text
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Replaying any interleaving of the users' histories (each user's own order kept) gives the same last outcomes, pending intents and counts.
        #[test]
        fn interleavings_replay_alike(
            histories in proptest::collection::vec(history(), 1..12),
            order in proptest::collection::vec(any::<u16>(), 0..200),
        ) {
            let per_user: Vec<Vec<Entry>> = histories.iter().enumerate().map(|(u, h)| entries(u, h)).collect();
            let sequential: Vec<Entry> = per_user.iter().flatten().cloned().collect();

            let mut queues: Vec<std::collections::VecDeque<Entry>> = per_user.into_iter().map(Into::into).collect();
            let mut mixed = Vec::new();
            let mut choices = order.into_iter();
            while queues.iter().any(|q| !q.is_empty()) {
                let live: Vec<usize> = (0..queues.len()).filter(|i| !queues[*i].is_empty()).collect();
                let pick = live[usize::from(choices.next().unwrap_or(0)) % live.len()];
                mixed.push(queues[pick].pop_front().unwrap());
            }

            let a = replay_reader(text(&sequential).as_bytes(), Path::new("a")).unwrap();
            let b = replay_reader(text(&mixed).as_bytes(), Path::new("b")).unwrap();
            prop_assert_eq!(a.users.len(), b.users.len());
            for (k, v) in a.users.iter() {
                prop_assert_eq!(Some(v.last()), b.users.get(k).map(|s| s.last()));
            }
            prop_assert_eq!(a.pending.keys().collect::<HashSet<_>>(), b.pending.keys().collect::<HashSet<_>>());
            prop_assert_eq!(a.counts(), b.counts());
        }
    }
}
