//! The one retry policy.
//!
//! Rule: after a failed attempt the pipeline asks [`RetryPolicy::next`].
//! - Throttling (`TooManyRequestsException`) is the account's signal, not the
//!   user's fault: it never uses up the user's attempts and never makes the
//!   user fail; the user waits (with backoff) and tries again.
//! - Other retryable errors (`LimitExceededException`, `InternalErrorException`,
//!   5xx, timeouts, connection errors) use up one of `max_attempts`; when
//!   they are all used the user is recorded failed with the last error code.
//! - The wait before the next attempt is "full jitter": uniformly random
//!   between zero and `min(cap, base * 2^n)`, where `n` counts the earlier
//!   retries of that kind, so many workers backing off at once spread out.
//!
//! Every attempt, retries included, also waits for the rate limiter.
//!
//! One step makes every retried call: [`attempt`] (wait for the limiter,
//! call, tell the limiter how it ended, ask the policy). The password and
//! sign-out calls (`pipeline`'s user job, which does more between
//! attempts), the read-backs and [`call_with_retry`] (ListUsers,
//! DescribeUserPool) all go through it.

use std::future::Future;
use std::time::Duration;

use crate::cognito::{CallError, ErrorClass};
use crate::limiter::{Limiter, Ticket};

/// What went wrong with an attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryKind {
    /// The quota is busy: retry without using up an attempt.
    Throttled,
    /// A transient failure: retry while attempts remain.
    Transient,
}

/// A user's attempts so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attempts {
    /// Calls made, throttled ones included.
    pub calls: u32,
    /// Calls answered with throttling.
    pub throttled: u32,
    /// Calls that failed transiently (these count against `max_attempts`).
    pub transient: u32,
}

impl Attempts {
    /// Attempts that count against `max_attempts`.
    pub fn counted(&self) -> u32 {
        self.calls - self.throttled
    }
}

/// The decision after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    RetryAfter(Duration),
    GiveUp,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts a user may use on transient errors (throttling excluded).
    pub max_attempts: u32,
    /// First backoff ceiling.
    pub base: Duration,
    /// Largest backoff ceiling.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// Records a failed attempt of `kind` in `attempts` and decides what next.
    /// `attempts.calls` must already count the failed call.
    pub fn next(&self, kind: RetryKind, attempts: &mut Attempts) -> Next {
        let n = match kind {
            RetryKind::Throttled => {
                attempts.throttled += 1;
                attempts.throttled
            }
            RetryKind::Transient => {
                attempts.transient += 1;
                if attempts.counted() >= self.max_attempts {
                    return Next::GiveUp;
                }
                attempts.transient
            }
        };
        Next::RetryAfter(self.full_jitter(n - 1, fastrand::f64()))
    }

    /// The wait before retry number `n + 1` given a uniform sample `u` in [0, 1).
    pub fn full_jitter(&self, n: u32, u: f64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX))
            .min(self.cap);
        ceiling.mul_f64(u.clamp(0.0, 1.0))
    }
}

/// How a failed call is retried: throttling without using up an attempt;
/// transient failures (and calls that never left) while attempts remain;
/// anything else (`None`) is not retried.
pub fn retry_kind(class: ErrorClass) -> Option<RetryKind> {
    match class {
        ErrorClass::Throttled => Some(RetryKind::Throttled),
        ErrorClass::Transient | ErrorClass::Unreachable => Some(RetryKind::Transient),
        ErrorClass::UserFailed
        | ErrorClass::UserLimited
        | ErrorClass::Pause
        | ErrorClass::StopRun
        | ErrorClass::Fenced => None,
    }
}

/// Tells `limiter` how the call it let through with `ticket` ended: a
/// throttled call cuts an adaptive rate, any other answer from Cognito lets
/// it climb, and a transient failure or a call that never left says
/// nothing about the quota.
fn feedback<T>(limiter: &Limiter, ticket: Ticket, result: &Result<T, CallError>) {
    match result.as_ref().map_err(|e| e.class) {
        Ok(_) => limiter.answered(ticket, false),
        Err(ErrorClass::Throttled) => limiter.answered(ticket, true),
        Err(ErrorClass::Transient | ErrorClass::Unreachable | ErrorClass::Fenced) => {}
        Err(_) => limiter.answered(ticket, false),
    }
}

/// A failed attempt of a retried call, and what follows it.
#[derive(Debug)]
pub struct Failed {
    pub err: CallError,
    /// Retry after a wait (the caller waits, so that it can stop
    /// meanwhile) or give up, the attempts having run out; `None`: not
    /// retried (by its class), the caller decides what it means.
    pub next: Option<Next>,
}

/// One attempt of a retried call, once `limiter` gave its `ticket` (the
/// caller waits for it, so that it can stop meanwhile): makes `call`,
/// tells the limiter how it ended, and applies `policy` to a failure,
/// counting it in `attempts`. `kind_of` says which errors are retried and
/// how ([`retry_kind`] for every call but the read-backs).
pub async fn attempt<T, F, Fut>(
    limiter: &Limiter,
    ticket: Ticket,
    policy: &RetryPolicy,
    attempts: &mut Attempts,
    kind_of: fn(ErrorClass) -> Option<RetryKind>,
    call: F,
) -> Result<T, Failed>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    attempts.calls += 1;
    let result = call().await;
    feedback(limiter, ticket, &result);
    result.map_err(|err| Failed {
        next: kind_of(err.class).map(|kind| policy.next(kind, attempts)),
        err,
    })
}

/// A read (ListUsers, DescribeUserPool) through `limiter`, retried by
/// `policy` on throttling and transient errors; any other error, or the
/// last when the attempts run out, comes back.
pub async fn call_with_retry<T, F, Fut>(
    limiter: &Limiter,
    policy: &RetryPolicy,
    mut call: F,
) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    let mut attempts = Attempts::default();
    loop {
        let ticket = limiter.acquire().await;
        match attempt(
            limiter,
            ticket,
            policy,
            &mut attempts,
            retry_kind,
            &mut call,
        )
        .await
        {
            Ok(value) => return Ok(value),
            Err(Failed {
                next: Some(Next::RetryAfter(delay)),
                ..
            }) => tokio::time::sleep(delay).await,
            Err(Failed { err, .. }) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
        }
    }

    /// The backoff ceiling doubles per retry up to the cap; the wait is a fraction of it.
    #[test]
    fn full_jitter_grows_and_caps() {
        let p = policy();
        assert_eq!(p.full_jitter(0, 1.0), Duration::from_millis(100));
        assert_eq!(p.full_jitter(3, 1.0), Duration::from_millis(800));
        assert_eq!(p.full_jitter(10, 1.0), Duration::from_secs(2));
        assert_eq!(p.full_jitter(200, 1.0), Duration::from_secs(2));
        assert_eq!(p.full_jitter(3, 0.5), Duration::from_millis(400));
        assert_eq!(p.full_jitter(3, 0.0), Duration::ZERO);
        for _ in 0..1000 {
            let Next::RetryAfter(d) = p.next(
                RetryKind::Throttled,
                &mut Attempts {
                    calls: 1,
                    ..Default::default()
                },
            ) else {
                panic!("throttling never gives up");
            };
            assert!(d <= Duration::from_millis(100));
        }
    }

    /// Throttling is retried without using an attempt, transient failures and calls that never left use one, and nothing else is retried (docs/errors.md).
    #[test]
    fn which_classes_are_retried() {
        use ErrorClass::*;
        assert_eq!(retry_kind(Throttled), Some(RetryKind::Throttled));
        for class in [Transient, Unreachable] {
            assert_eq!(retry_kind(class), Some(RetryKind::Transient), "{class:?}");
        }
        for class in [UserFailed, UserLimited, Pause, StopRun] {
            assert_eq!(retry_kind(class), None, "{class:?}");
        }
    }

    /// Transient errors give up after max_attempts calls; throttled calls do not count.
    #[test]
    fn throttling_does_not_use_up_attempts() {
        let p = policy();
        let mut a = Attempts::default();
        for _ in 0..50 {
            a.calls += 1;
            assert!(matches!(
                p.next(RetryKind::Throttled, &mut a),
                Next::RetryAfter(_)
            ));
        }
        a.calls += 1;
        assert!(matches!(
            p.next(RetryKind::Transient, &mut a),
            Next::RetryAfter(_)
        ));
        a.calls += 1;
        assert!(matches!(
            p.next(RetryKind::Transient, &mut a),
            Next::RetryAfter(_)
        ));
        a.calls += 1;
        assert_eq!(p.next(RetryKind::Transient, &mut a), Next::GiveUp);
        assert_eq!(
            a,
            Attempts {
                calls: 53,
                throttled: 50,
                transient: 3
            }
        );
    }

    fn error(class: ErrorClass, code: &str) -> CallError {
        CallError {
            class,
            code: code.into(),
            message: String::new(),
            request_id: None,
            outcome_unknown: false,
        }
    }

    /// One attempt: an answer passes through; throttling is retried without using an attempt; a class that is not retried comes back for the caller to decide; the last transient failure gives up.
    #[tokio::test]
    async fn one_attempt_of_each_kind() {
        let limiter = Limiter::new(1000.0, std::num::NonZeroU32::new(10).unwrap());
        let p = policy();
        let mut a = Attempts::default();
        async fn once_with(
            limiter: &Limiter,
            p: &RetryPolicy,
            a: &mut Attempts,
            answer: Result<u8, CallError>,
        ) -> Result<u8, Failed> {
            let ticket = limiter.acquire().await;
            attempt(limiter, ticket, p, a, retry_kind, || async { answer }).await
        }
        macro_rules! once {
            ($answer:expr) => {
                once_with(&limiter, &p, &mut a, $answer)
            };
        }
        assert_eq!(once!(Ok(7)).await.unwrap(), 7);
        let throttled = once!(Err(error(
            ErrorClass::Throttled,
            "TooManyRequestsException",
        )))
        .await
        .unwrap_err();
        assert!(matches!(throttled.next, Some(Next::RetryAfter(_))));
        let final_ = once!(Err(error(ErrorClass::UserFailed, "UserNotFoundException")))
            .await
            .unwrap_err();
        assert_eq!(final_.next, None);
        assert_eq!(
            a,
            Attempts {
                calls: 3,
                throttled: 1,
                transient: 0
            }
        );
        // A fresh user: transient failures use up the attempts.
        a = Attempts::default();
        for _ in 0..2 {
            let f = once!(Err(error(ErrorClass::Transient, "InternalErrorException")))
                .await
                .unwrap_err();
            assert!(matches!(f.next, Some(Next::RetryAfter(_))));
        }
        let last = once!(Err(error(ErrorClass::Transient, "InternalErrorException")))
            .await
            .unwrap_err();
        assert_eq!(last.next, Some(Next::GiveUp));
        assert_eq!(a.transient, 3);
    }
}
