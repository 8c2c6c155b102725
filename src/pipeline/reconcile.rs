//! Reading a user back after a call whose answer was lost: did it land?

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tracing::{debug, warn};

use crate::cognito::{CallError, ErrorClass, Operation, UserState};
use crate::ledger::{self, Detail, LostAnswer};
use crate::report::StopReason;
use crate::retry::{attempt, retry_kind, Attempts, Failed, Next, RetryKind};

use super::worker::Worker;

/// How far a user's last-modified time may precede the call it is matched
/// with (clock skew between this machine and Cognito).
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Reads of a user, at most, when reconciling one lost answer.
const RECONCILE_READS: u32 = 8;

/// What reading a user back says about a call whose answer was lost.
pub(super) enum Reconciled {
    /// The call landed (or, for a reset, the user was already in its
    /// state): record succeeded with this detail, and the evidence.
    Landed(Detail, String),
    /// The call did not land: call (again).
    NotLanded,
    /// Reading the user failed for this user (e.g. UserNotFoundException).
    Failed(CallError),
    /// The user could not be read; leave the intent for the next run.
    Unknown,
}

/// What reading a user gave.
pub(super) enum Read {
    State(UserState),
    /// A per-user answer (e.g. UserNotFoundException).
    Failed(CallError),
    /// The user could not be read (retries ran out).
    Unknown(CallError),
}

impl Worker {
    /// Reads the user back to learn whether a call whose answer was lost
    /// landed. `None` if the run stopped meanwhile.
    ///
    /// The evidence, strongest first: the user's status before the call,
    /// from the pool's listing (recorded in the intent). In the call's
    /// target status now and not before: it landed. Already in it before:
    /// for a reset, the tool cannot tell whether a code went out and does
    /// not call again (`already_reset_required`). Without that status (rows
    /// not resolved), the user's last change is compared with when the call
    /// was sent, allowing [`CLOCK_SKEW`] between the clocks.
    pub(super) async fn reconcile(
        &self,
        username: &str,
        lost: &LostAnswer,
        op: &Operation,
    ) -> Option<Reconciled> {
        let state = match self.read_user(username).await? {
            Read::State(state) => state,
            Read::Failed(err) => return Some(Reconciled::Failed(err)),
            Read::Unknown(err) => {
                warn!(user = %username, code = %err.code, "could not read the user back; the next run will");
                return Some(Reconciled::Unknown);
            }
        };
        let Some(target) = op.target_status() else {
            return Some(Reconciled::NotLanded);
        };
        if state.status != target {
            return Some(Reconciled::NotLanded);
        }
        let landed = |evidence: String| {
            debug!(user = %username, %evidence, "the lost call landed");
            Some(Reconciled::Landed(Detail::Reconciled, evidence))
        };
        let already = |evidence: String| {
            warn!(user = %username, "already {target} before the lost call; not calling again");
            Some(Reconciled::Landed(Detail::AlreadyResetRequired, evidence))
        };
        match lost.before.as_deref() {
            Some(before) if before == target && op.sends_message() => already(format!(
                "{target} before the call (the pool's listing) and after it (AdminGetUser)"
            )),
            Some(before) if before == target => Some(Reconciled::NotLanded),
            Some(before) => landed(format!(
                "{before} before the call (the pool's listing), {target} after it (AdminGetUser)"
            )),
            None => {
                let changed_since_sent = state
                    .last_modified
                    .is_none_or(|m| m + CLOCK_SKEW >= lost.sent);
                let when = state
                    .last_modified
                    .map_or("unknown".to_string(), ledger::timestamp);
                if changed_since_sent {
                    landed(format!(
                        "{target} after the call, last changed {when}, within {}s of sending it at {}",
                        CLOCK_SKEW.as_secs(),
                        ledger::timestamp(lost.sent)
                    ))
                } else if op.sends_message() {
                    already(format!(
                        "{target}, last changed {when}, before the call was sent at {}",
                        ledger::timestamp(lost.sent)
                    ))
                } else {
                    Some(Reconciled::NotLanded)
                }
            }
        }
    }

    /// AdminGetUser on the read limiter, with retries. `None` if the run
    /// stopped meanwhile.
    pub(super) async fn read_user(&self, username: &str) -> Option<Read> {
        let mut tries = Attempts::default();
        loop {
            let ticket = self.until_stopped(self.read_limiter.acquire()).await?;
            self.counters.reads.fetch_add(1, Relaxed);
            let failed = match attempt(
                &self.read_limiter,
                ticket,
                &self.retry,
                &mut tries,
                read_kind,
                || self.cognito.user_state(username),
            )
            .await
            {
                Ok(state) => return Some(Read::State(state)),
                Err(failed) => failed,
            };
            let Failed { err, next } = failed;
            let next = match next {
                Some(Next::RetryAfter(_)) if tries.calls >= RECONCILE_READS => Next::GiveUp,
                Some(next) => next,
                None if err.class == ErrorClass::UserFailed => return Some(Read::Failed(err)),
                None if err.class == ErrorClass::Fenced => {
                    self.stop_run(StopReason::LeaseLost);
                    return None;
                }
                None => {
                    self.stop_run(StopReason::Service {
                        code: err.code,
                        message: err.message,
                    });
                    return None;
                }
            };
            match next {
                Next::RetryAfter(delay) => {
                    self.until_stopped(tokio::time::sleep(delay)).await?;
                }
                Next::GiveUp if err.class == ErrorClass::Unreachable => {
                    self.stop_run(StopReason::Unreachable {
                        endpoint: self.endpoint.clone(),
                        code: err.code,
                        message: err.message,
                    });
                    return None;
                }
                Next::GiveUp => return Some(Read::Unknown(err)),
            }
        }
    }
}

/// How a read-back's failure is retried: as any call ([`retry_kind`]),
/// except that a limit (the daily email limit, a user's attempt limit)
/// says nothing about reading a user and clears like a transient failure.
fn read_kind(class: ErrorClass) -> Option<RetryKind> {
    match class {
        ErrorClass::Pause | ErrorClass::UserLimited => Some(RetryKind::Transient),
        other => retry_kind(other),
    }
}
