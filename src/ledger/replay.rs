//! Reading a ledger back: which users are finished, what the counts are, and
//! where the last complete line ends.
//!
//! A last line with no newline is a write torn by a crash: its record was
//! never acknowledged as durable, so its user is not done. Replay reports it
//! and the writer cuts it off before appending. A line that does not parse
//! anywhere else means the file is corrupt, and replay stops with an error
//! naming the line rather than guess.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use super::{fingerprint, Entry, Header, Outcome};
use crate::error::UsageError;

/// What a ledger holds.
#[derive(Debug, Default)]
pub struct Replay {
    /// The first header: the job this ledger belongs to.
    pub header: Option<Header>,
    /// How many runs wrote to it (headers seen).
    pub runs: u32,
    /// Users with a final outcome, by [`fingerprint`].
    pub done: HashMap<u128, Outcome>,
    /// Input lines already recorded invalid (not recorded twice on a re-run).
    pub invalid_lines: HashSet<u64>,
    pub succeeded: u64,
    pub failed: BTreeMap<String, u64>,
    pub invalid: u64,
    /// Byte length up to the end of the last complete line.
    pub valid_len: u64,
    /// The file ended in a torn (incomplete) line of this many bytes.
    pub torn_bytes: u64,
}

impl Replay {
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

/// Replays the ledger at `path`; `Ok(None)` when there is no such file yet.
pub fn replay_path(path: &Path) -> Result<Option<Replay>, UsageError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(UsageError::LedgerRead {
                path: path.to_owned(),
                reason: e.to_string(),
            })
        }
    };
    replay_reader(BufReader::with_capacity(1 << 16, file), path).map(Some)
}

/// Replays ledger text; `path` only names the file in errors.
pub fn replay_reader<R: BufRead>(mut reader: R, path: &Path) -> Result<Replay, UsageError> {
    let mut replay = Replay::default();
    let mut buf = Vec::with_capacity(256);
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| UsageError::LedgerRead {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.last() != Some(&b'\n') {
            replay.torn_bytes = n as u64;
            break;
        }
        replay.valid_len += n as u64;
        let text = &buf[..n - 1];
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry: Entry = serde_json::from_slice(text).map_err(|e| UsageError::LedgerCorrupt {
            path: path.to_owned(),
            line: line_no,
            reason: e.to_string(),
        })?;
        match entry {
            Entry::Header(h) => {
                replay.runs += 1;
                if replay.header.is_none() {
                    replay.header = Some(h);
                }
            }
            Entry::User(u) => match u.outcome {
                Outcome::Invalid => {
                    if u.line.is_none_or(|l| replay.invalid_lines.insert(l)) {
                        replay.invalid += 1;
                    }
                }
                outcome => {
                    if replay
                        .done
                        .insert(fingerprint(&u.username), outcome)
                        .is_none()
                    {
                        match outcome {
                            Outcome::Succeeded => replay.succeeded += 1,
                            _ => {
                                *replay
                                    .failed
                                    .entry(u.code.unwrap_or_else(|| "Unknown".into()))
                                    .or_default() += 1
                            }
                        }
                    }
                }
            },
        }
    }
    Ok(replay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Action, UserRecord};

    fn header() -> String {
        serde_json::to_string(&Entry::Header(Header {
            tool_version: "0.1.0".into(),
            pool_id: "us-east-1_Test".into(),
            action: Action::Reset,
            region: "us-east-1".into(),
            input: "users.csv".into(),
            started_at: "2026-01-01T00:00:00.000Z".into(),
        }))
        .unwrap()
    }

    fn user(name: &str, outcome: Outcome, code: Option<&str>, line: u64) -> String {
        serde_json::to_string(&Entry::User(UserRecord {
            username: name.into(),
            outcome,
            line: Some(line),
            code: code.map(Into::into),
            message: None,
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
        assert_eq!((r.succeeded, r.invalid, r.failed_total()), (2, 1, 1));
        assert_eq!(r.failed["UserNotFoundException"], 1);
        assert_eq!(r.done[&fingerprint("bob")], Outcome::Failed);
        assert!(!r.done.contains_key(&fingerprint("dave")));
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
        assert_eq!(r.succeeded, 1);
        assert!(!r.done.contains_key(&fingerprint("bob")));
        assert_eq!(r.valid_len, good.len() as u64);
        assert_eq!(r.torn_bytes, (torn.len() / 2) as u64);
        // A complete record that lost only its newline is torn too: it was never acknowledged.
        let r = replay(&format!("{good}{torn}")).unwrap();
        assert!(!r.done.contains_key(&fingerprint("bob")));
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

    /// The same user recorded twice counts once (the first outcome wins).
    #[test]
    fn duplicates_count_once() {
        let text = [
            header(),
            user("alice", Outcome::Succeeded, None, 2),
            user("alice", Outcome::Failed, Some("X"), 2),
        ]
        .join("\n")
            + "\n";
        let r = replay(&text).unwrap();
        assert_eq!((r.succeeded, r.failed_total()), (1, 0));
    }
}
