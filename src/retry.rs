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
        | ErrorClass::StopRun => None,
    }
}

/// Tells `limiter` how the call it let through with `ticket` ended: a
/// throttled call cuts an adaptive rate, any other answer from Cognito lets
/// it climb, and a transient failure or a call that never left says
/// nothing about the quota.
pub fn feedback<T>(limiter: &Limiter, ticket: Ticket, result: &Result<T, CallError>) {
    match result.as_ref().map_err(|e| e.class) {
        Ok(_) => limiter.answered(ticket, false),
        Err(ErrorClass::Throttled) => limiter.answered(ticket, true),
        Err(ErrorClass::Transient | ErrorClass::Unreachable) => {}
        Err(_) => limiter.answered(ticket, false),
    }
}

/// One call of a read (ListUsers, DescribeUserPool) through `limiter`,
/// retried by `policy` on throttling and transient errors; any other error
/// comes back at once. The rate limiter hears every answer.
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
        attempts.calls += 1;
        let result = call().await;
        feedback(limiter, ticket, &result);
        let err = match result {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let Some(kind) = retry_kind(err.class) else {
            return Err(err);
        };
        match policy.next(kind, &mut attempts) {
            Next::RetryAfter(delay) => tokio::time::sleep(delay).await,
            Next::GiveUp => return Err(err),
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
}
