//! One user's job for one operation, as explicit phases:
//!
//! ```text
//!            ┌──────────────────────────── Resume ◄──────────────┐
//!            ▼                                │                  │
//!   ReadBack (a lost answer)  ──landed──► end │           Backoff (sleep)
//!            │ not landed                     │                  ▲
//!            ▼                                ▼                  │
//!   Prepare (precheck, password) ──────────► Call ──retry────────┘
//!                     (the limiter's permit, │
//!                      then the intent once) │ ok / final error / gave up
//!                                             ▼
//!                                        the user's Ending
//! ```
//!
//! `Resume` picks the next phase after a failed attempt or a read-back: a
//! lost answer is read back before anything else (a reset only, since only
//! a reset sends a message), then a user whose attempts ran out ends, then
//! the user is prepared once, then called. The outcome record and the
//! steps after the action follow in `journey` ([`Worker::process`]).

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime};

use tracing::debug;

use crate::cognito::{CallError, ErrorClass, Operation};
use crate::ledger::{self, Detail, Entry, IntentRecord, LostAnswer};
use crate::limiter::Limiter;
use crate::passwords;
use crate::report::StopReason;
use crate::retry::{attempt, retry_kind, Attempts, Failed, Next};
use crate::secret::Password;
use crate::source::UserRow;

use super::reconcile::Reconciled;
use super::worker::{before, canonical, target, Ending, Worker};

/// Where a user's job stands.
enum Phase {
    /// Choose the next phase (see the module's diagram).
    Resume,
    /// Read the user back: did a call whose answer was lost land?
    ReadBack(LostAnswer),
    /// Once, before the first call: the precheck, a generated password.
    Prepare,
    /// One attempt, paced by the limiter; before the first, once the
    /// limiter lets it go, the intent record.
    Call,
    /// Wait before the next attempt.
    Backoff(Duration),
    /// The attempts ran out with this error.
    GiveUp(CallError),
}

/// What a phase leads to.
enum Flow {
    Next(Phase),
    End(Ending),
}

/// One user's job: the state its phases share.
pub(super) struct UserJob<'a> {
    worker: &'a Worker,
    row: &'a UserRow,
    op: &'a Operation,
    limiter: &'a Limiter,
    pub(super) attempts: Attempts,
    /// A lost answer of a reset, to read back before anything else.
    lost: Option<LostAnswer>,
    /// The attempts ran out; ends the job once any lost answer is read.
    gave_up: Option<CallError>,
    /// A set-password whose answer was lost may have landed: a retry
    /// refused as a repeat of a recent password shows that it did.
    maybe_landed: bool,
    prepared: bool,
    /// This run's intent for the user is durable.
    intended: bool,
    /// The password generated for this user (`--generate-passwords`).
    pub(super) generated: Option<Password>,
    /// A call's answer was lost (the passwords file says so).
    pub(super) answer_lost: bool,
}

impl<'a> UserJob<'a> {
    /// A job for `op`; `lost_answer` is an earlier call for the user that
    /// was sent and whose answer never came (a pending intent).
    pub(super) fn new(
        worker: &'a Worker,
        row: &'a UserRow,
        op: &'a Operation,
        limiter: &'a Limiter,
        lost_answer: Option<LostAnswer>,
    ) -> UserJob<'a> {
        // Only a reset sends a message, so only a reset's lost answer is
        // read back before calling again. Set-password and sign-out are
        // safe to repeat (a status cannot tell whether a password changed
        // anyway): their lost answers are retried.
        let read_back = op.sends_message();
        UserJob {
            worker,
            row,
            op,
            limiter,
            attempts: Attempts::default(),
            maybe_landed: lost_answer.is_some() && !read_back,
            lost: lost_answer.filter(|_| read_back),
            gave_up: None,
            prepared: false,
            intended: false,
            generated: None,
            answer_lost: false,
        }
    }

    /// Steps through the phases until the user's ending is known. `None`
    /// leaves the user unrecorded: the run stopped first, or a lost answer
    /// could not be read back.
    pub(super) async fn run(&mut self) -> Option<Ending> {
        let mut phase = Phase::Resume;
        loop {
            let flow = match phase {
                Phase::Resume => Flow::Next(self.resume()),
                Phase::ReadBack(lost) => self.read_back(lost).await?,
                Phase::Prepare => self.prepare().await?,
                Phase::Call => self.call().await?,
                Phase::Backoff(delay) => {
                    self.worker.until_stopped(tokio::time::sleep(delay)).await?;
                    Flow::Next(Phase::Resume)
                }
                Phase::GiveUp(err) => Flow::End(self.give_up(err)),
            };
            phase = match flow {
                Flow::Next(next) => next,
                Flow::End(ending) => return Some(ending),
            };
        }
    }

    fn resume(&mut self) -> Phase {
        if let Some(lost) = self.lost.take() {
            Phase::ReadBack(lost)
        } else if let Some(err) = self.gave_up.take() {
            Phase::GiveUp(err)
        } else if !self.prepared {
            Phase::Prepare
        } else {
            Phase::Call
        }
    }

    /// Reads a lost answer back, before anything else, including recording
    /// a failure that may not be one.
    async fn read_back(&mut self, lost: LostAnswer) -> Option<Flow> {
        let w = self.worker;
        Some(match w.reconcile(target(self.row), &lost, self.op).await? {
            Reconciled::Landed(detail, evidence) => Flow::End(Ending::Succeeded {
                request_id: None,
                detail: Some(detail),
                evidence: Some(evidence),
            }),
            Reconciled::NotLanded => Flow::Next(Phase::Resume),
            Reconciled::Failed(err) => Flow::End(Ending::Failed(err)),
            Reconciled::Unknown => {
                w.counters.unresolved.fetch_add(1, Relaxed);
                return None;
            }
        })
    }

    /// Before the first call: whether the user is to be skipped, and the
    /// generated password (durable in its file before the call that sets
    /// it).
    async fn prepare(&mut self) -> Option<Flow> {
        let w = self.worker;
        self.prepared = true;
        if let Some(skip) = w.skip(self.row, self.op) {
            return Some(Flow::End(skip));
        }
        if let (Some((out, len)), Operation::SetPassword { .. }) = (&w.generate, self.op) {
            let password = match passwords::generate(*len) {
                Ok(password) => password,
                Err(why) => {
                    w.stop_run(StopReason::Local {
                        message: format!("could not generate a password: {why}"),
                    });
                    return None;
                }
            };
            if let Err(message) = out.record(target(self.row), &password).await {
                w.stop_run(StopReason::Ledger { message });
                return None;
            }
            self.generated = Some(password);
        }
        Some(Flow::Next(Phase::Call))
    }

    /// Makes the intent durable before the user's first password call of
    /// the run, once the limiter has let that call go: an intent means
    /// "this call may have been sent", never "it was waiting its turn".
    /// `false`: it could not be written, and the run stops.
    async fn intend(&mut self) -> bool {
        if self.intended || self.op.target_status().is_none() {
            return true;
        }
        let intent = Entry::Intent(IntentRecord {
            username: self.row.username.clone(),
            user: canonical(self.row),
            line: Some(self.row.line),
            at: ledger::now(),
            before: before(self.row),
        });
        if let Err(e) = self.worker.writer.append(intent).await {
            self.worker.stop_run(StopReason::Ledger {
                message: e.to_string(),
            });
            return false;
        }
        self.intended = true;
        true
    }

    /// One attempt, and what its answer leads to.
    async fn call(&mut self) -> Option<Flow> {
        let w = self.worker;
        let row = self.row;
        let ticket = w.until_stopped(self.limiter.acquire()).await?;
        // Once the intent is durable the call goes out (unless the lease
        // lapsed meanwhile): a stop now lets it finish and be recorded.
        if !w.may_call() || !self.intend().await || !w.may_call() {
            return None;
        }
        let sent = SystemTime::now();
        w.counters.calls.fetch_add(1, Relaxed);
        let password = self.generated.as_ref().or(row.password.as_ref());
        let attempted = attempt(
            self.limiter,
            ticket,
            &w.retry,
            &mut self.attempts,
            retry_kind,
            || w.cognito.apply(self.op, target(row), password),
        )
        .await;
        let Failed { err, next } = match attempted {
            Ok(ok) => {
                return Some(Flow::End(Ending::Succeeded {
                    request_id: ok.request_id,
                    detail: None,
                    evidence: None,
                }))
            }
            Err(failed) => failed,
        };
        if err.outcome_unknown {
            self.answer_lost = true;
            if self.op.sends_message() {
                self.lost = Some(LostAnswer {
                    sent,
                    before: before(row),
                });
            } else {
                self.maybe_landed = true;
            }
        }
        if self.maybe_landed && err.is_recent_password() {
            return Some(Flow::End(Ending::Succeeded {
                request_id: err.request_id,
                detail: Some(Detail::Reconciled),
                evidence: Some(
                    "a retry after a lost answer was refused as a repeat of a recent password"
                        .into(),
                ),
            }));
        }
        Some(match next {
            Some(Next::RetryAfter(delay)) => {
                if err.class == ErrorClass::Throttled {
                    w.counters.throttled.fetch_add(1, Relaxed);
                }
                w.counters.retries.fetch_add(1, Relaxed);
                debug!(user = %row.username, code = %err.code, attempt = self.attempts.calls, ?delay, "retrying");
                Flow::Next(Phase::Backoff(delay))
            }
            Some(Next::GiveUp) => {
                self.gave_up = Some(err);
                Flow::Next(Phase::Resume)
            }
            None => match err.class {
                ErrorClass::UserFailed => Flow::End(Ending::Failed(err)),
                ErrorClass::UserLimited => {
                    debug!(user = %row.username, "the user's own attempt limit; deferred");
                    Flow::End(Ending::Deferred {
                        err,
                        per_user: true,
                    })
                }
                ErrorClass::Pause => {
                    w.stop_run(StopReason::DailyEmailLimit {
                        message: err.message.clone(),
                    });
                    Flow::End(Ending::Deferred {
                        err,
                        per_user: false,
                    })
                }
                ErrorClass::Fenced => {
                    w.stop_run(StopReason::LeaseLost);
                    return None;
                }
                _ => {
                    w.stop_run(StopReason::Service {
                        code: err.code,
                        message: err.message,
                    });
                    return None;
                }
            },
        })
    }

    /// The ending of a user whose attempts ran out.
    fn give_up(&self, err: CallError) -> Ending {
        if err.class == ErrorClass::Unreachable {
            // Nothing was sent: the user is not failed, and its intent is
            // closed as deferred; the run stops.
            self.worker.stop_run(StopReason::Unreachable {
                endpoint: self.worker.endpoint.clone(),
                code: err.code.clone(),
                message: err.message.clone(),
            });
            return Ending::Deferred {
                err,
                per_user: true,
            };
        }
        if err.is_limit_exceeded() {
            Ending::Deferred {
                err,
                per_user: false,
            }
        } else {
            Ending::Failed(err)
        }
    }
}
