//! What every worker shares ([`Worker`]), and one user's steps: the
//! precheck, the intent record, the call with its retries, the outcome
//! record, then the sign-out step.

use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::cognito::{CallError, Cognito, ErrorClass, Operation};
use crate::ledger::Step;
use crate::ledger::{self, Entry, IntentRecord, LedgerWriter, LostAnswer, Outcome, UserRecord};
use crate::limiter::Limiter;
use crate::passwords::{self, PasswordsOut};
use crate::report::{Counters, StopReason};
use crate::retry::{feedback, retry_kind, Attempts, Next, RetryKind, RetryPolicy};
use crate::source::UserRow;

use super::breaker::Breaker;
use super::reconcile::Reconciled;

/// What every worker shares.
pub(super) struct Worker {
    pub(super) cognito: Cognito,
    /// Where the calls go, for messages.
    pub(super) endpoint: String,
    pub(super) operation: Operation,
    pub(super) limiter: Arc<Limiter>,
    /// With `--sign-out`: the limiter of the sign-out step (UserUpdate quota).
    pub(super) sign_out: Option<Limiter>,
    /// Paces AdminGetUser reads (UserRead quota).
    pub(super) read_limiter: Limiter,
    pub(super) retry: RetryPolicy,
    pub(super) writer: LedgerWriter,
    pub(super) counters: Arc<Counters>,
    /// Cancelled when the run must stop sending.
    pub(super) stop: CancellationToken,
    pub(super) stop_reason: Mutex<Option<StopReason>>,
    pub(super) breaker: Mutex<Breaker>,
    /// Skip users a reset cannot work for (from what ListUsers said).
    pub(super) precheck: bool,
    /// set-password: give federated users a password too.
    pub(super) include_federated: bool,
    /// `--generate-passwords`: where they go, and their length.
    pub(super) generate: Option<(PasswordsOut, usize)>,
}

/// How a user's processing ended.
pub(super) enum Ending {
    Succeeded {
        request_id: Option<String>,
        detail: Option<&'static str>,
        /// How a read-back established it (for the record's message).
        evidence: Option<String>,
    },
    Failed(CallError),
    /// A limit that clears later stopped the user. `per_user`: it was the
    /// user's own limit, which says nothing about the rest of the run.
    Deferred {
        err: CallError,
        per_user: bool,
    },
    /// Not called: the call cannot work (`--precheck`) or must not be made
    /// (a federated user's password); the reason, and the record's detail.
    Skipped {
        reason: String,
        detail: &'static str,
    },
}

impl Worker {
    /// Stops the run; the first reason given is the one reported.
    pub(super) fn stop_run(&self, reason: StopReason) {
        let mut slot = self.stop_reason.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            warn!(reason = %reason, "stopping the run");
            *slot = Some(reason);
        }
        self.stop.cancel();
    }

    /// Runs `fut` unless the run stops first.
    pub(super) async fn until_stopped<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => None,
            value = fut => Some(value),
        }
    }

    /// Carries out one user's steps with retries and records each outcome:
    /// the action (unless `sign_out_only`), then, with `--sign-out`, the
    /// sign-out once the action succeeded.
    pub(super) async fn process(
        self: Arc<Self>,
        row: UserRow,
        lost_answer: Option<LostAnswer>,
        sign_out_only: bool,
        _permit: OwnedSemaphorePermit,
    ) {
        if !sign_out_only {
            let Some((attempts, ending)) = self
                .decide(&row, lost_answer, &self.operation, &self.limiter)
                .await
            else {
                return;
            };
            let succeeded = matches!(ending, Ending::Succeeded { .. });
            if !self.finish(&row, None, attempts, ending).await || !succeeded {
                return;
            }
        }
        if let Some(limiter) = &self.sign_out {
            if let Some((attempts, ending)) =
                self.decide(&row, None, &Operation::SignOut, limiter).await
            {
                self.finish(&row, Some(Step::SignOut), attempts, ending)
                    .await;
            }
        }
    }

    /// Calls (and retries) until the user's ending is known. `lost_answer`
    /// is when an earlier call for this user was sent whose answer never
    /// came (a pending intent). `None` leaves the user unrecorded: the run
    /// stopped first, or a lost answer could not be read back.
    pub(super) async fn decide(
        &self,
        row: &UserRow,
        lost_answer: Option<LostAnswer>,
        op: &Operation,
        limiter: &Limiter,
    ) -> Option<(Attempts, Ending)> {
        let mut generated = None;
        let mut unknown = false;
        let result = self
            .decide_inner(row, lost_answer, op, limiter, &mut generated, &mut unknown)
            .await;
        // A generated password's line says whether Cognito has it.
        if let (Some(password), Some((out, _))) = (&generated, &self.generate) {
            let applied = match &result {
                Some((_, Ending::Succeeded { .. })) => passwords::Applied::Yes,
                _ if unknown => passwords::Applied::Unknown(
                    "a call's answer was lost; the next run sets a new password".into(),
                ),
                Some((_, Ending::Failed(e) | Ending::Deferred { err: e, .. })) => {
                    passwords::Applied::No(e.code.clone())
                }
                Some((_, Ending::Skipped { detail, .. })) => {
                    passwords::Applied::No((*detail).to_string())
                }
                None => passwords::Applied::No("the run stopped before the call".into()),
            };
            if let Err(message) = out.mark(target(row), password, &applied).await {
                self.stop_run(StopReason::Ledger { message });
            }
        }
        result
    }

    /// [`Worker::decide`], noting the password it generated and whether a
    /// call's answer was lost.
    pub(super) async fn decide_inner(
        &self,
        row: &UserRow,
        mut lost_answer: Option<LostAnswer>,
        op: &Operation,
        limiter: &Limiter,
        generated: &mut Option<crate::secret::Password>,
        unknown: &mut bool,
    ) -> Option<(Attempts, Ending)> {
        // Only a reset sends a message, so only a reset's lost answer is read
        // back before calling again. Set-password and sign-out are safe to
        // repeat (a status cannot tell whether a password changed anyway);
        // their lost answers are retried. Intents are kept for both
        // password operations.
        let read_back = op.sends_message();
        let keep_intent = op.target_status().is_some();
        // A set-password whose answer was lost may have landed: if the retry
        // is refused as a repeat of a recent password, it did.
        let mut maybe_landed = lost_answer.is_some() && !read_back;
        if !read_back {
            lost_answer = None;
        }
        let mut attempts = Attempts::default();
        let mut intent_written = false;
        let mut gave_up: Option<CallError> = None;
        let ending = loop {
            // A lost answer is read back before anything else, including
            // recording a failure that may not be one.
            if let Some(lost) = lost_answer.take() {
                match self.reconcile(target(row), &lost, op).await? {
                    Reconciled::Landed(detail, evidence) => {
                        break Ending::Succeeded {
                            request_id: None,
                            detail: Some(detail),
                            evidence: Some(evidence),
                        }
                    }
                    Reconciled::NotLanded => {}
                    Reconciled::Failed(err) => break Ending::Failed(err),
                    Reconciled::Unknown => {
                        self.counters.unresolved.fetch_add(1, Relaxed);
                        return None;
                    }
                }
            }
            if let Some(err) = gave_up.take() {
                if err.class == ErrorClass::Unreachable {
                    // Nothing was sent: the user is not failed, and its
                    // intent is closed as deferred; the run stops.
                    self.stop_run(StopReason::Unreachable {
                        endpoint: self.endpoint.clone(),
                        code: err.code.clone(),
                        message: err.message.clone(),
                    });
                    break Ending::Deferred {
                        err,
                        per_user: true,
                    };
                }
                break if err.code == "LimitExceededException" {
                    Ending::Deferred {
                        err,
                        per_user: false,
                    }
                } else {
                    Ending::Failed(err)
                };
            }
            if !intent_written {
                if let Some(skip) = self.skip(row, op) {
                    break skip;
                }
            }
            if let (Some((out, len)), Operation::SetPassword { .. }, false) =
                (&self.generate, op, intent_written)
            {
                let password = passwords::generate(*len);
                if let Err(message) = out.record(target(row), &password).await {
                    self.stop_run(StopReason::Ledger { message });
                    return None;
                }
                *generated = Some(password);
            }
            if keep_intent && !intent_written {
                let intent = Entry::Intent(IntentRecord {
                    username: row.username.clone(),
                    user: canonical(row),
                    line: Some(row.line),
                    at: ledger::now(),
                    before: before(row),
                });
                if let Err(e) = self.writer.append(intent).await {
                    self.stop_run(StopReason::Ledger {
                        message: e.to_string(),
                    });
                    return None;
                }
                intent_written = true;
            }
            let ticket = self.until_stopped(limiter.acquire()).await?;
            let sent = SystemTime::now();
            attempts.calls += 1;
            self.counters.calls.fetch_add(1, Relaxed);
            let result = self
                .cognito
                .apply(
                    op,
                    target(row),
                    generated.as_ref().or(row.password.as_ref()),
                )
                .await;
            feedback(limiter, ticket, &result);
            let err = match result {
                Ok(ok) => {
                    break Ending::Succeeded {
                        request_id: ok.request_id,
                        detail: None,
                        evidence: None,
                    };
                }
                Err(err) => err,
            };
            if err.outcome_unknown {
                *unknown = true;
                if read_back {
                    lost_answer = Some(LostAnswer {
                        sent,
                        before: before(row),
                    });
                } else {
                    maybe_landed = true;
                }
            }
            if maybe_landed && err.code == "PasswordHistoryPolicyViolationException" {
                break Ending::Succeeded {
                    request_id: err.request_id,
                    detail: Some("reconciled"),
                    evidence: Some(
                        "a retry after a lost answer was refused as a repeat of a recent password"
                            .into(),
                    ),
                };
            }
            let kind = match (retry_kind(err.class), err.class) {
                (Some(kind), _) => {
                    if kind == RetryKind::Throttled {
                        self.counters.throttled.fetch_add(1, Relaxed);
                    }
                    kind
                }
                (None, ErrorClass::UserFailed) => break Ending::Failed(err),
                (None, ErrorClass::UserLimited) => {
                    debug!(user = %row.username, "the user's own attempt limit; deferred");
                    break Ending::Deferred {
                        err,
                        per_user: true,
                    };
                }
                (None, ErrorClass::Pause) => {
                    self.stop_run(StopReason::DailyEmailLimit {
                        message: err.message.clone(),
                    });
                    break Ending::Deferred {
                        err,
                        per_user: false,
                    };
                }
                (None, _) => {
                    self.stop_run(StopReason::Service {
                        code: err.code,
                        message: err.message,
                    });
                    return None;
                }
            };
            match self.retry.next(kind, &mut attempts) {
                Next::RetryAfter(delay) => {
                    self.counters.retries.fetch_add(1, Relaxed);
                    debug!(user = %row.username, code = %err.code, attempt = attempts.calls, ?delay, "retrying");
                    self.until_stopped(tokio::time::sleep(delay)).await?;
                }
                Next::GiveUp => gave_up = Some(err),
            }
        };
        Some((attempts, ending))
    }

    /// Records a user's ending for `step` and updates the breaker and pause
    /// streaks. Returns whether the record is durable.
    pub(super) async fn finish(
        &self,
        row: &UserRow,
        step: Option<Step>,
        attempts: Attempts,
        ending: Ending,
    ) -> bool {
        let mut record = UserRecord {
            username: row.username.clone(),
            user: canonical(row),
            outcome: Outcome::Succeeded,
            step,
            line: Some(row.line),
            code: None,
            message: None,
            detail: None,
            attempts: attempts.calls,
            throttled: attempts.throttled,
            request_id: None,
            at: ledger::now(),
        };
        let mut streak = true;
        let (outcome, err) = match ending {
            Ending::Succeeded {
                request_id,
                detail,
                evidence,
            } => {
                record.request_id = request_id;
                record.detail = detail.map(str::to_string);
                record.message = evidence;
                (Outcome::Succeeded, None)
            }
            Ending::Failed(err) => (Outcome::Failed, Some(err)),
            Ending::Deferred { err, per_user } => {
                streak = !per_user;
                (Outcome::Deferred, Some(err))
            }
            Ending::Skipped { reason, detail } => {
                record.message = Some(reason);
                record.detail = Some(detail.into());
                (Outcome::Skipped, None)
            }
        };
        record.outcome = outcome;
        if let Some(err) = err {
            debug!(user = %record.username, code = %err.code, outcome = ?outcome, "user not done");
            record.code = Some(err.code);
            record.message = Some(err.message);
            record.request_id = err.request_id;
        }
        let code = record.code.clone();
        if let Err(e) = self.writer.record(record).await {
            self.stop_run(StopReason::Ledger {
                message: e.to_string(),
            });
            return false;
        }
        if streak {
            let stop = lock(&self.breaker).note(outcome, code);
            if let Some(reason) = stop {
                self.stop_run(reason);
            }
        }
        true
    }

    /// Whether `op` must not be called for this user, and why: with
    /// `--precheck`, a reset that cannot work (disabled, federated, no
    /// password yet, nothing verified to send a code to); without
    /// `--include-federated`, a password for a federated user, which would
    /// turn them into a password user (AdminSetUserPassword, API
    /// reference). Both from what ListUsers said of the user; no reads.
    pub(super) fn skip(&self, row: &UserRow, op: &Operation) -> Option<Ending> {
        let facts = row.identity.facts()?;
        match op {
            Operation::Reset { .. } if self.precheck => {
                facts.reset_blocker().map(|reason| Ending::Skipped {
                    reason: reason.to_string(),
                    detail: "precheck",
                })
            }
            Operation::SetPassword { .. } if !self.include_federated && facts.federated() => {
                Some(Ending::Skipped {
                    reason: "the user signs in through an external identity provider (EXTERNAL_PROVIDER); a password would make them a password user; --include-federated sets one anyway".into(),
                    detail: "federated",
                })
            }
            _ => None,
        }
    }
}

/// Locks `m`, whatever a panicking holder left.
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The name to send Cognito for a row: the canonical username when the
/// row was resolved, else the row's own value.
pub(super) fn target(row: &UserRow) -> &str {
    row.identity.username().unwrap_or(&row.username)
}

/// The user's status before the call, from the pool's listing, for a
/// read-back to compare with.
pub(super) fn before(row: &UserRow) -> Option<String> {
    row.identity.facts().map(|f| f.status().to_string())
}

/// The canonical username to record beside the row's value, when it is
/// another name.
pub(super) fn canonical(row: &UserRow) -> Option<String> {
    row.identity
        .username()
        .filter(|u| *u != row.username)
        .map(str::to_string)
}
