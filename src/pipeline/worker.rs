//! What every worker shares ([`Worker`]): the run's context (the pool, the
//! limiters, the ledger writer, the counters, the stop), and what every
//! user's journey uses of it: recording an ending (`finish`), the skip
//! rule, stopping the run. A user's way through it is `journey`; one
//! call's phases are `user`; reading back a lost answer is `reconcile`.
//! This module depends on none of them.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::cognito::{CallError, Cognito, Operation};
use crate::ledger::table::LeaseKeeper;
use crate::ledger::{self, Detail, LedgerWriter, Outcome, Step, UserRecord};
use crate::limiter::Limiter;
use crate::passwords::PasswordsOut;
use crate::report::{Counters, StopReason};
use crate::retry::{Attempts, RetryPolicy};
use crate::source::UserRow;

use super::breaker::Breaker;

/// What every worker shares.
pub(super) struct Worker {
    pub(super) cognito: Cognito,
    /// Where the calls go, for messages.
    pub(super) endpoint: String,
    pub(super) operation: Operation,
    pub(super) limiter: Arc<Limiter>,
    /// The steps after the action, in order (`--sign-out`, `--disable`),
    /// each with its call and its limiter (both UserUpdate: one limiter).
    pub(super) follow_ups: Vec<(Step, Operation, Arc<Limiter>)>,
    /// Paces AdminGetUser reads (UserRead quota).
    pub(super) read_limiter: Arc<Limiter>,
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
    /// A DynamoDB ledger's lease: no call once it may have passed on.
    pub(super) lease: Option<Arc<LeaseKeeper>>,
    /// In a fleet: the stop of every pool of this pool's account.
    pub(super) account: Option<AccountStop>,
}

/// A fleet's stop for every pool of one account: the daily email limit is
/// the account's, so the first pool to meet it pauses them all.
#[derive(Clone, Default)]
pub(crate) struct AccountStop {
    token: CancellationToken,
    /// The pool that met the limit.
    by: Arc<Mutex<Option<String>>>,
}

impl AccountStop {
    /// Pauses every pool of the account, `pool` having met the limit.
    pub(crate) fn pause(&self, pool: &str) {
        self.by
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(|| pool.to_string());
        self.token.cancel();
    }

    /// Resolves once the account is paused, with the pool that paused it.
    pub(crate) async fn paused(&self) -> String {
        self.token.cancelled().await;
        self.by
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default()
    }
}

/// How a user's processing ended.
pub(super) enum Ending {
    Succeeded {
        request_id: Option<String>,
        detail: Option<Detail>,
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
        detail: Detail,
    },
}

impl Worker {
    /// Stops the run; the first reason given is the one reported.
    pub(super) fn stop_run(&self, reason: StopReason) {
        let mut slot = self.stop_reason.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            warn!(reason = %reason, "stopping the run");
            if let (StopReason::DailyEmailLimit { .. }, Some(account)) = (&reason, &self.account) {
                account.pause(self.cognito.pool_id());
            }
            *slot = Some(reason);
        }
        self.stop.cancel();
    }

    /// Whether a call may go out: always with a file ledger; with a
    /// table's, only while the lease is surely this run's. Otherwise the
    /// run stops, saying why.
    pub(super) fn may_call(&self) -> bool {
        match &self.lease {
            Some(lease) if !lease.valid() => {
                self.stop_run(StopReason::LeaseLost);
                false
            }
            _ => true,
        }
    }

    /// Runs `fut` unless the run stops first.
    pub(super) async fn until_stopped<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => None,
            value = fut => Some(value),
        }
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
                record.detail = detail.map(|d| d.as_str().to_string());
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
                record.detail = Some(detail.as_str().to_string());
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

    /// Whether `op` must not be called for this user, and why (the rule
    /// `plan` uses too: [`crate::action::skip`]).
    pub(super) fn skip(&self, row: &UserRow, op: &Operation) -> Option<Ending> {
        let rules = crate::action::SkipRules {
            precheck: self.precheck,
            include_federated: self.include_federated,
        };
        crate::action::skip(op, row.identity.facts()?, rules).map(|skip| match skip.already {
            true => Ending::Succeeded {
                request_id: None,
                detail: Some(skip.detail),
                evidence: Some(skip.reason.to_string()),
            },
            false => Ending::Skipped {
                reason: skip.reason.to_string(),
                detail: skip.detail,
            },
        })
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
