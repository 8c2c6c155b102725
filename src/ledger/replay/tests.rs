//! Tests of replay: torn and corrupt lines, escaped names, counts; then properties over any interleaving of users' histories.

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
        sign_out: false,
        disable: false,
        input_version: None,
        run_id: String::new(),
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
        format!(
            "{{\"record\":\"intent\",\"username\":\"{name}\",\"at\":\"2026-01-01T00:00:00.000Z\"}}"
        )
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
