//! Row triage: the one place that says, from the ledger, what a row of the
//! input is: a new invalid row, a row naming a person an earlier row
//! already named, a user the ledger already finished, a row the pool's
//! rules could not resolve safely, or a user to do (and whether a lost
//! answer must be read back first). The pipeline acts on these verdicts;
//! `plan` only counts them. Pure: no I/O, no clock.

use std::collections::HashMap;
use std::time::SystemTime;

use crate::exclude::Exclusions;
use crate::identity::{Identity, NameRule};
use crate::ledger::{fingerprint, LostAnswer, Outcome, Replay};
use crate::source::UserRow;

/// The ledger's view of the input, row by row.
pub struct Triage {
    replay: Replay,
    retry_failed: bool,
    /// The run's steps after its action, in order.
    steps: Vec<crate::ledger::Step>,
    /// With lookups in a case-insensitive pool: the rule, and the first
    /// line each folded name was seen on.
    folded: Option<(NameRule, HashMap<u128, u64>)>,
    /// People never to touch (`--exclude`).
    excluded: Exclusions,
}

/// What to do with a row naming a user (an invalid row is recorded, once:
/// see [`Triage::invalid_recorded`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The person an earlier row of this input already named (the same
    /// text, another case, an alias, the sub).
    Duplicate { first_line: u64 },
    /// Finished by an earlier run (`succeeded` says how).
    Done { succeeded: bool },
    /// On an exclusion list (`why`: which, and its line): not called.
    /// `recorded`: no record is to be written (the ledger's last record
    /// says so already, or the action was done before the exclusion).
    Excluded {
        why: std::sync::Arc<str>,
        recorded: bool,
    },
    /// The pool's rules could not be read to tell whom the row names:
    /// nothing is called, and the run says why (a re-run resolves it again).
    Ambiguous(String),
    /// To do. `lost_answer`: an earlier call's answer was lost (when it was
    /// sent, and the user's status before it), so the user is read back
    /// before any call. `from_step`: the action succeeded in an earlier
    /// run; only the run's steps from this one on remain (the index into
    /// its steps: 0 the sign-out with `--sign-out`, ...).
    ToDo {
        lost_answer: Option<LostAnswer>,
        from_step: Option<usize>,
    },
}

impl Triage {
    /// `rows`: the input's rows when known, to size the user table once.
    /// `folded`: also de-duplicate names the `rule` folds together (see
    /// `Resolver::dedupe_folded`). `excluded`: people never to call.
    pub fn new(
        mut replay: Replay,
        retry_failed: bool,
        steps: Vec<crate::ledger::Step>,
        rows: Option<u64>,
        folded: Option<NameRule>,
        excluded: Exclusions,
    ) -> Triage {
        // Users the ledger holds are marked seen in their own slot; only the
        // input's new users need room.
        if let Some(rows) = rows {
            replay
                .users
                .reserve((rows as usize).saturating_sub(replay.users.len()));
        }
        Triage {
            replay,
            retry_failed,
            steps,
            folded: folded.map(|rule| (rule, HashMap::new())),
            excluded,
        }
    }

    /// Whether an earlier run recorded the invalid row at `line` (else it
    /// is to be recorded).
    pub fn invalid_recorded(&self, line: u64) -> bool {
        self.replay.invalid_lines.contains(&line)
    }

    /// Whether the ledger already finished the row's value (under that very
    /// text), so that it needs no resolving: the run skips it whoever it
    /// names. Reads only; the row's verdict still comes from [`Triage::user`].
    pub fn finished(&self, value: &str) -> bool {
        self.replay
            .users
            .get(fingerprint(value))
            .and_then(|state| self.settled(state))
            .is_some_and(|v| matches!(v, Verdict::Done { .. }))
    }

    /// What the ledger's state settles for a user: done, or only steps
    /// after the action left; `None` when the action is still to do.
    fn settled(&self, state: crate::ledger::UserState) -> Option<Verdict> {
        let last = state.last()?;
        if last == Outcome::Succeeded && !self.steps.is_empty() {
            // The action is done; its steps may not be. Each step follows
            // the last one's success.
            for (i, step) in self.steps.iter().enumerate() {
                match state.step(*step) {
                    Some(Outcome::Succeeded) => continue,
                    Some(Outcome::Failed) if !self.retry_failed => {
                        return Some(Verdict::Done { succeeded: false })
                    }
                    _ => {
                        return Some(Verdict::ToDo {
                            lost_answer: None,
                            from_step: Some(i),
                        })
                    }
                }
            }
            return Some(Verdict::Done { succeeded: true });
        }
        let skip = match last {
            Outcome::Succeeded => true,
            Outcome::Deferred | Outcome::Excluded => false,
            Outcome::Failed | Outcome::Invalid | Outcome::Skipped => !self.retry_failed,
        };
        skip.then_some(Verdict::Done {
            succeeded: last == Outcome::Succeeded,
        })
    }

    /// The verdict on a valid row. A resolved row is keyed by its person's
    /// canonical username; the ledger is also asked under the row's own
    /// text, which is how ledgers written before resolution (and rows that
    /// named nobody) keep their records.
    pub fn user(&mut self, row: &UserRow) -> Verdict {
        let exact = fingerprint(&row.username);
        let (key, alt) = match &row.identity {
            Identity::Person(p) => (p.key, (p.key != exact).then_some(exact)),
            Identity::Ambiguous(reason) => {
                return match self.replay.users.see(exact, row.line) {
                    Some(first_line) => Verdict::Duplicate { first_line },
                    None => Verdict::Ambiguous(reason.clone()),
                };
            }
            Identity::Nobody | Identity::Unresolved | Identity::Recorded => (exact, None),
        };
        if let Some(first_line) = self.replay.users.see(key, row.line) {
            return Verdict::Duplicate { first_line };
        }
        if let Some((rule, seen)) = &mut self.folded {
            let name = row.identity.username().unwrap_or(&row.username);
            let folded = rule.folded_key(name);
            if let Some(first_line) = seen.get(&folded) {
                return Verdict::Duplicate {
                    first_line: *first_line,
                };
            }
            seen.insert(folded, row.line);
        }
        let mut state = self.replay.users.get(key).unwrap_or_default();
        if state.last().is_none() {
            if let Some(s) = alt.and_then(|a| self.replay.users.get(a)) {
                state = s;
            }
        }
        let settled = self.settled(state);
        if let Some(verdict @ Verdict::Done { .. }) = settled {
            return verdict;
        }
        // Done before stays done; anything still to do is asked of the
        // exclusion lists first.
        if let Some(why) = self
            .excluded
            .why(key)
            .or_else(|| alt.and_then(|a| self.excluded.why(a)))
        {
            // A person whose action an earlier run did (only the sign-out
            // left) keeps that record: no `excluded` one over it.
            let steps_only = matches!(
                settled,
                Some(Verdict::ToDo {
                    from_step: Some(_),
                    ..
                })
            );
            return Verdict::Excluded {
                why: why.clone(),
                recorded: steps_only || state.last() == Some(Outcome::Excluded),
            };
        }
        if let Some(verdict) = settled {
            return verdict;
        }
        let lost_answer = self
            .replay
            .pending
            .get(&key)
            .or_else(|| alt.and_then(|a| self.replay.pending.get(&a)))
            .map(|(at, before)| LostAnswer {
                sent: humantime::parse_rfc3339_weak(at).unwrap_or(SystemTime::UNIX_EPOCH),
                before: before.as_deref().map(str::to_string),
            });
        Verdict::ToDo {
            lost_answer,
            from_step: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::replay_reader;
    use std::path::Path;

    const HEADER: &str = "{\"record\":\"header\",\"tool_version\":\"0\",\"pool_id\":\"us-east-1_Abc\",\"action\":\"reset\",\"region\":\"us-east-1\",\"input\":\"x\",\"started_at\":\"t\",\"resolves\":true}";

    fn replay(lines: &[&str]) -> Replay {
        let text: String = std::iter::once(HEADER)
            .chain(lines.iter().copied())
            .map(|l| format!("{l}\n"))
            .collect();
        replay_reader(text.as_bytes(), Path::new("l.jsonl")).unwrap()
    }

    fn outcome(user: &str, outcome: &str) -> String {
        format!("{{\"record\":\"user\",\"username\":\"{user}\",\"outcome\":\"{outcome}\",\"attempts\":1,\"at\":\"2026-01-01T00:00:00.000Z\"}}")
    }

    fn row(line: u64, name: &str) -> UserRow {
        UserRow {
            line,
            username: name.into(),
            password: None,
            identity: Identity::Unresolved,
        }
    }

    /// A finished user is done (and, like a failed one, needs no resolving); a failed one is done unless --retry-failed; a new one is to do; the same name twice is a duplicate naming the first line.
    #[test]
    fn verdicts_from_the_ledger() {
        let ok = outcome("alice", "succeeded");
        let failed = outcome("bob", "failed");
        let mut t = Triage::new(
            replay(&[&ok, &failed]),
            false,
            vec![],
            Some(10),
            None,
            Exclusions::default(),
        );
        assert_eq!(t.user(&row(2, "alice")), Verdict::Done { succeeded: true });
        assert_eq!(t.user(&row(3, "bob")), Verdict::Done { succeeded: false });
        let todo = Verdict::ToDo {
            lost_answer: None,
            from_step: None,
        };
        assert_eq!(t.user(&row(4, "carol")), todo);
        assert_eq!(
            t.user(&row(5, "carol")),
            Verdict::Duplicate { first_line: 4 }
        );
        assert!(t.finished("alice") && t.finished("bob") && !t.finished("carol"));

        let mut retry = Triage::new(
            replay(&[&failed]),
            true,
            vec![],
            None,
            None,
            Exclusions::default(),
        );
        assert_eq!(retry.user(&row(2, "bob")), todo);
    }

    /// With steps after the action, a user whose reset succeeded has the steps left from the first one not done: the sign-out, else the disable; with both done, nothing.
    #[test]
    fn sign_out_step_remains() {
        let ok = outcome("alice", "succeeded");
        let step = |user: &str, step: &str| {
            format!("{{\"record\":\"user\",\"username\":\"{user}\",\"outcome\":\"succeeded\",\"step\":\"{step}\",\"attempts\":1,\"at\":\"2026-01-01T00:00:00.000Z\"}}")
        };
        let (bob, carol) = (outcome("bob", "succeeded"), outcome("carol", "succeeded"));
        let (bob_out, carol_out, carol_off) = (
            step("bob", "sign-out"),
            step("carol", "sign-out"),
            step("carol", "disable"),
        );
        let mut t = Triage::new(
            replay(&[&ok, &bob, &bob_out, &carol, &carol_out, &carol_off]),
            false,
            vec![crate::ledger::Step::SignOut, crate::ledger::Step::Disable],
            None,
            None,
            Exclusions::default(),
        );
        assert_eq!(
            t.user(&row(2, "alice")),
            Verdict::ToDo {
                lost_answer: None,
                from_step: Some(0)
            }
        );
        assert_eq!(
            t.user(&row(3, "bob")),
            Verdict::ToDo {
                lost_answer: None,
                from_step: Some(1)
            },
            "signed out; the disable remains"
        );
        assert_eq!(t.user(&row(4, "carol")), Verdict::Done { succeeded: true });
    }

    /// An intent with no outcome is a lost answer to read back, with when it was sent; invalid rows an earlier run recorded are not recorded again.
    #[test]
    fn lost_answers_and_recorded_invalid_rows() {
        let intent = "{\"record\":\"intent\",\"username\":\"dan\",\"at\":\"2026-01-01T00:00:00.000Z\",\"before\":\"CONFIRMED\"}";
        let invalid = "{\"record\":\"user\",\"username\":\"x y\",\"outcome\":\"invalid\",\"line\":7,\"attempts\":0,\"at\":\"2026-01-01T00:00:00.000Z\"}";
        let mut t = Triage::new(
            replay(&[intent, invalid]),
            false,
            vec![],
            None,
            None,
            Exclusions::default(),
        );
        match t.user(&row(2, "dan")) {
            Verdict::ToDo {
                lost_answer: Some(lost),
                from_step: None,
            } => {
                assert_eq!(lost.before.as_deref(), Some("CONFIRMED"));
                assert!(lost.sent > SystemTime::UNIX_EPOCH);
            }
            other => panic!("{other:?}"),
        }
        assert!(t.invalid_recorded(7));
        assert!(!t.invalid_recorded(8));
    }

    /// A row that might name someone else (the pool's rules unknown) is ambiguous, unless the same text came before.
    #[test]
    fn ambiguous_rows() {
        let mut t = Triage::new(
            replay(&[]),
            false,
            vec![],
            None,
            None,
            Exclusions::default(),
        );
        let mut r = row(2, "Alice");
        r.identity = Identity::Ambiguous("case rule unknown".into());
        assert_eq!(t.user(&r), Verdict::Ambiguous("case rule unknown".into()));
        let mut again = row(3, "Alice");
        again.identity = Identity::Ambiguous("case rule unknown".into());
        assert_eq!(t.user(&again), Verdict::Duplicate { first_line: 2 });
    }
}
