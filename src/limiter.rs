//! The token bucket every attempt passes through, retries included.
//!
//! A thin wrapper over governor's direct rate limiter: `rate` requests per
//! second with a bucket of `burst`. The bucket must hold more than one call:
//! with one, every late timer wake-up is capacity lost for good (measured:
//! 10% of the rate at 1,000/s); see `settings::default_burst`. Fractional
//! rates are allowed (`0.5` is one call every two seconds).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

pub struct Limiter {
    inner: DefaultDirectRateLimiter,
    rate: f64,
}

impl Limiter {
    /// `rate` must be positive and finite (checked by settings).
    pub fn new(rate: f64, burst: NonZeroU32) -> Limiter {
        let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .expect("period is positive")
            .allow_burst(burst);
        Limiter {
            inner: RateLimiter::direct(quota),
            rate,
        }
    }

    /// `rate` with the default burst (`settings::default_burst`).
    pub fn with_default_burst(rate: f64) -> Limiter {
        let burst =
            NonZeroU32::new(crate::settings::default_burst(rate)).unwrap_or(NonZeroU32::MIN);
        Limiter::new(rate, burst)
    }

    /// Waits until one more call may be sent.
    pub async fn acquire(&self) {
        self.inner.until_ready().await;
    }

    /// The configured rate, requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }
}
