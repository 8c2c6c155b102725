//! One user's journey through the run: the action's job (`user`), its
//! outcome record, then each step after it (the sign-out, the disable),
//! each a record of its own, each once the one before succeeded.

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use crate::cognito::Operation;
use crate::ledger::LostAnswer;
use crate::limiter::Limiter;
use crate::passwords;
use crate::report::StopReason;
use crate::retry::Attempts;
use crate::source::UserRow;

use super::user::UserJob;
use super::worker::{target, Ending, Worker};

impl Worker {
    /// Carries out one user's steps with retries and records each outcome:
    /// the action (unless `from_step`: an earlier run did it), then each
    /// step after it (from `from_step`), each once the one before
    /// succeeded.
    pub(super) async fn process(
        self: Arc<Self>,
        row: UserRow,
        lost_answer: Option<LostAnswer>,
        from_step: Option<usize>,
        _permit: OwnedSemaphorePermit,
    ) {
        if from_step.is_none() {
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
        let mut first = true;
        for (step, op, limiter) in self.follow_ups.iter().skip(from_step.unwrap_or(0)) {
            let Some((attempts, ending)) = self.decide(&row, None, op, limiter).await else {
                return;
            };
            let succeeded = matches!(ending, Ending::Succeeded { .. });
            let recorded = self.finish(&row, Some(*step), attempts, ending).await;
            if recorded && first && from_step.is_some() {
                self.counters
                    .sign_out_only
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            first = false;
            if !recorded || !succeeded {
                return;
            }
        }
    }

    /// Steps through one user's job for `op` (see `user`) until the user's
    /// ending is known, and marks a generated password's line with it.
    /// `lost_answer` is when an earlier call for this user was sent whose
    /// answer never came (a pending intent). `None` leaves the user
    /// unrecorded: the run stopped first, or a lost answer could not be
    /// read back.
    pub(super) async fn decide(
        &self,
        row: &UserRow,
        lost_answer: Option<LostAnswer>,
        op: &Operation,
        limiter: &Limiter,
    ) -> Option<(Attempts, Ending)> {
        let mut job = UserJob::new(self, row, op, limiter, lost_answer);
        let ending = job.run().await;
        // A generated password's line says whether Cognito has it.
        if let (Some(password), Some((out, _))) = (&job.generated, &self.generate) {
            let applied = match &ending {
                Some(Ending::Succeeded { .. }) => passwords::Applied::Yes,
                _ if job.answer_lost => passwords::Applied::Unknown(
                    "a call's answer was lost; the next run sets a new password".into(),
                ),
                Some(Ending::Failed(e) | Ending::Deferred { err: e, .. }) => {
                    passwords::Applied::No(e.code.clone())
                }
                Some(Ending::Skipped { detail, .. }) => {
                    passwords::Applied::No(detail.as_str().to_string())
                }
                None => passwords::Applied::No("the run stopped before the call".into()),
            };
            if let Err(message) = out.mark(target(row), password, &applied).await {
                self.stop_run(StopReason::Ledger { message });
            }
        }
        Some((job.attempts, ending?))
    }
}
