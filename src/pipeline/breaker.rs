//! The breaker: runs of like outcomes, in the order users finish, that stop
//! or pause the run. Pure: the workers feed it each outcome and act on what
//! it says.

use crate::ledger::Outcome;
use crate::report::StopReason;

/// Users in a row whose attempts ran out on LimitExceededException that
/// pause the run.
pub const LIMIT_EXCEEDED_PAUSE_STREAK: u32 = 5;

/// Runs of like outcomes.
#[derive(Debug, Default)]
pub struct Breaker {
    /// Users in a row failing with one code that stop the run; 0 never.
    stop_after_failures: u32,
    /// The code the last users failed with, and how many in a row.
    failed_code: Option<String>,
    failed: u32,
    /// Users in a row deferred by LimitExceededException.
    deferred: u32,
}

impl Breaker {
    pub fn new(stop_after_failures: u32) -> Breaker {
        Breaker {
            stop_after_failures,
            ..Breaker::default()
        }
    }

    /// Notes a user's outcome (a per-user deferral is not noted: it says
    /// nothing about the run); returns why the run must stop, if it must.
    pub fn note(&mut self, outcome: Outcome, code: Option<String>) -> Option<StopReason> {
        match outcome {
            Outcome::Succeeded => {
                *self = Breaker::new(self.stop_after_failures);
                None
            }
            Outcome::Invalid | Outcome::Skipped | Outcome::Excluded => None,
            Outcome::Failed => {
                self.deferred = 0;
                if self.failed_code == code {
                    self.failed += 1;
                } else {
                    self.failed_code = code;
                    self.failed = 1;
                }
                (self.stop_after_failures > 0 && self.failed >= self.stop_after_failures).then(
                    || StopReason::Breaker {
                        code: self.failed_code.clone().unwrap_or_default(),
                        count: self.failed,
                    },
                )
            }
            Outcome::Deferred => {
                self.deferred += 1;
                (self.deferred >= LIMIT_EXCEEDED_PAUSE_STREAK).then_some(
                    StopReason::LimitPersists {
                        count: self.deferred,
                    },
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(b: &mut Breaker, code: &str) -> Option<StopReason> {
        b.note(Outcome::Failed, Some(code.into()))
    }

    /// N users in a row failing with one code stop the run; another code, or a success, starts the count again; 0 never stops.
    #[test]
    fn like_failures_in_a_row_stop_the_run() {
        let mut b = Breaker::new(3);
        assert_eq!(failed(&mut b, "A"), None);
        assert_eq!(failed(&mut b, "A"), None);
        assert_eq!(failed(&mut b, "B"), None, "another code starts again");
        assert_eq!(failed(&mut b, "B"), None);
        assert_eq!(b.note(Outcome::Succeeded, None), None);
        assert_eq!(failed(&mut b, "B"), None, "a success starts again");
        assert_eq!(
            b.note(Outcome::Invalid, None),
            None,
            "invalid rows do not break a run"
        );
        assert_eq!(failed(&mut b, "B"), None);
        assert_eq!(
            failed(&mut b, "B"),
            Some(StopReason::Breaker {
                code: "B".into(),
                count: 3
            })
        );
        let mut never = Breaker::new(0);
        assert!((0..1000).all(|_| failed(&mut never, "A").is_none()));
    }

    /// Five deferred users in a row pause the run; a failure or a success in between starts again.
    #[test]
    fn deferred_users_in_a_row_pause_the_run() {
        let mut b = Breaker::new(50);
        for _ in 0..LIMIT_EXCEEDED_PAUSE_STREAK - 1 {
            assert_eq!(
                b.note(Outcome::Deferred, Some("LimitExceededException".into())),
                None
            );
        }
        assert_eq!(failed(&mut b, "X"), None);
        for _ in 0..LIMIT_EXCEEDED_PAUSE_STREAK - 1 {
            assert_eq!(b.note(Outcome::Deferred, None), None);
        }
        assert_eq!(
            b.note(Outcome::Deferred, None),
            Some(StopReason::LimitPersists {
                count: LIMIT_EXCEEDED_PAUSE_STREAK
            })
        );
    }
}
