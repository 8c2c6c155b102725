//! The token bucket every attempt passes through, retries included, and the
//! adaptive rate that moves it.
//!
//! The bucket is governor's direct rate limiter: `rate` requests per second
//! with a bucket of `burst`. The bucket must hold more than one call: with
//! one, every late timer wake-up is capacity lost for good (measured: 10% of
//! the rate at 1,000/s); see [`default_burst`]. Fractional rates are
//! allowed (`0.5` is one call every two seconds).
//!
//! Adaptive rate (on by default, [`Aimd`]): a throttled answer
//! (TooManyRequests) cuts the rate to [`DECREASE`] of itself, at most once
//! per [`CUT_WINDOW`], and only for calls sent after the last change (the
//! calls already in flight when the rate was cut say nothing about the new
//! rate). While answers come back unthrottled the rate climbs back by
//! [`INCREASE_STEP`] of the configured rate every [`INCREASE_EVERY`], never
//! above the configured rate.
//!
//! governor's quota cannot change after construction, so a change swaps in
//! a new bucket, created empty (the next call waits one interval of the new
//! rate) so that a swap never adds a burst. Waiting callers queue on a fair
//! async mutex; the one at the head sleeps until the bucket allows a call,
//! or until the rate changes, whichever is first.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Notify;

/// A cut keeps this share of the current rate.
pub const DECREASE: f64 = 0.85;
/// At most one cut per window.
pub const CUT_WINDOW: Duration = Duration::from_millis(100);
/// How often the rate climbs while answers come back unthrottled.
pub const INCREASE_EVERY: Duration = Duration::from_secs(1);
/// How much it climbs each time, as a share of the configured rate.
pub const INCREASE_STEP: f64 = 0.02;
/// The rate never falls below this share of the configured rate.
pub const FLOOR: f64 = 0.01;

/// About 20 ms worth of calls, at least 2. A bucket of one loses every late
/// timer wake-up for good (10% of the rate at 1,000/s); a small bucket
/// absorbs them, and any one-second window still sees at most
/// `rate + burst` calls.
pub fn default_burst(rate: f64) -> u32 {
    ((rate / 50.0).ceil() as u32).max(2)
}

/// Proof that a call was let through, and when: hand it back with the
/// call's answer ([`Limiter::answered`]) so the adaptive rate can learn.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    at: Instant,
}

/// The additive-increase, multiplicative-decrease controller, apart from
/// any clock or bucket so it can be driven by tests.
#[derive(Debug, Clone)]
pub struct Aimd {
    max: f64,
    /// The highest rate for now (at most `max`): where others leave less.
    ceiling: f64,
    floor: f64,
    current: f64,
    last_change: Instant,
    last_cut: Option<Instant>,
    cuts: u64,
    lowest: f64,
}

impl Aimd {
    pub fn new(max: f64, now: Instant) -> Aimd {
        Aimd {
            max,
            ceiling: max,
            floor: (max * FLOOR).min(max),
            current: max,
            last_change: now,
            last_cut: None,
            cuts: 0,
            lowest: max,
        }
    }

    /// A call let through at `sent` was throttled. Returns the new rate if
    /// it changed.
    pub fn throttled(&mut self, sent: Instant, now: Instant) -> Option<f64> {
        if self
            .last_cut
            .is_some_and(|cut| sent < cut || now.duration_since(cut) < CUT_WINDOW)
        {
            return None;
        }
        let next = (self.current * DECREASE).max(self.floor);
        if next == self.current {
            return None;
        }
        self.last_cut = Some(now);
        self.last_change = now;
        self.cuts += 1;
        self.current = next;
        self.lowest = self.lowest.min(next);
        Some(next)
    }

    /// A call let through at `sent` was answered without throttling.
    /// Returns the new rate if it changed.
    pub fn answered(&mut self, sent: Instant, now: Instant) -> Option<f64> {
        if self.current >= self.ceiling
            || sent < self.last_change
            || now.duration_since(self.last_change) < INCREASE_EVERY
        {
            return None;
        }
        self.current = (self.current + self.max * INCREASE_STEP).min(self.ceiling);
        self.last_change = now;
        Some(self.current)
    }

    /// Holds the rate at or under `ceiling` (kept within the floor and the
    /// configured rate): lowered at once if above, climbing back to it
    /// otherwise. Returns the new rate if it changed.
    pub fn set_ceiling(&mut self, ceiling: f64, now: Instant) -> Option<f64> {
        self.ceiling = ceiling.clamp(self.floor, self.max);
        if self.current <= self.ceiling {
            return None;
        }
        self.current = self.ceiling;
        self.last_change = now;
        self.lowest = self.lowest.min(self.current);
        Some(self.current)
    }

    #[cfg(test)]
    pub fn current(&self) -> f64 {
        self.current
    }
}

/// Where the rate stands, for progress and the summary.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RateState {
    /// The configured (highest) rate.
    pub max: f64,
    /// The rate now.
    pub current: f64,
    /// The lowest rate reached.
    pub lowest: f64,
    /// Times the rate was cut.
    pub cuts: u64,
    pub adaptive: bool,
}

struct Bucket {
    limiter: DefaultDirectRateLimiter,
}

struct State {
    bucket: Arc<Bucket>,
    aimd: Option<Aimd>,
}

/// The limiters of one account and region, one per quota category a job
/// calls. A single run has its own; a fleet gives every pool of an account
/// and region the same ones, since Cognito's quotas are per account and
/// region, shared by all its pools.
#[derive(Clone)]
pub struct Limits {
    /// AdminResetUserPassword, AdminSetUserPassword (UserAccountRecovery).
    pub recovery: Arc<Limiter>,
    /// AdminUserGlobalSignOut (UserUpdate): the sign-out action's calls and
    /// the sign-outs that follow a reset alike, so one quota is never spent
    /// through two limiters.
    pub update: Arc<Limiter>,
    /// AdminGetUser (UserRead).
    pub read: Arc<Limiter>,
    /// ListUsers (UserList).
    pub list: Arc<Limiter>,
    /// DescribeUserPool (UserPoolRead).
    pub pool_read: Arc<Limiter>,
    /// ListUserPoolClients, DescribeUserPoolClient (UserPoolClientRead).
    pub client_read: Arc<Limiter>,
}

impl Limits {
    /// The limiter of an action's quota category.
    pub fn of(&self, category: crate::action::QuotaCategory) -> &Arc<Limiter> {
        match category {
            crate::action::QuotaCategory::UserAccountRecovery => &self.recovery,
            crate::action::QuotaCategory::UserUpdate => &self.update,
        }
    }
}

/// DescribeUserPool calls per second: one per job, retries included, in
/// the UserPoolRead category (15/s by default).
pub const POOL_READ_RATE: f64 = 5.0;

/// App client reads per second (`plan`'s token lifetimes), in the
/// UserPoolClientRead category (15/s by default, 5/s per pool).
pub const CLIENT_READ_RATE: f64 = 5.0;

pub struct Limiter {
    max: f64,
    /// `None`: the burst follows the rate ([`default_burst`]).
    burst: Option<NonZeroU32>,
    clock: DefaultClock,
    state: Mutex<State>,
    /// Wakes the waiter at the head of the queue when the rate changes.
    changed: Notify,
    /// Waiters take turns, first come first served.
    turn: tokio::sync::Mutex<()>,
    /// The current rate's bits, readable without the lock.
    current: AtomicU64,
    /// Calls let through, and of those answered throttled.
    sent: AtomicU64,
    throttles: AtomicU64,
}

impl Limiter {
    /// A fixed rate. `rate` must be positive and finite (checked by settings).
    pub fn new(rate: f64, burst: NonZeroU32) -> Limiter {
        Limiter::build(rate, Some(burst), false)
    }

    /// `rate` with the default burst ([`default_burst`]).
    pub fn with_default_burst(rate: f64) -> Limiter {
        Limiter::build(rate, None, false)
    }

    /// A rate that adapts to throttling (see the module docs), starting at
    /// and never above `rate`. `burst`: `None` follows the rate.
    pub fn adaptive(rate: f64, burst: Option<NonZeroU32>) -> Limiter {
        Limiter::build(rate, burst, true)
    }

    fn build(rate: f64, burst: Option<NonZeroU32>, adaptive: bool) -> Limiter {
        let clock = DefaultClock::default();
        let bucket = Arc::new(Bucket::new(rate, burst, &clock, false));
        Limiter {
            max: rate,
            burst,
            clock,
            state: Mutex::new(State {
                bucket,
                aimd: adaptive.then(|| Aimd::new(rate, Instant::now())),
            }),
            changed: Notify::new(),
            turn: tokio::sync::Mutex::new(()),
            current: AtomicU64::new(rate.to_bits()),
            sent: AtomicU64::new(0),
            throttles: AtomicU64::new(0),
        }
    }

    /// Calls let through so far, and of those answered throttled: this
    /// limiter's share of its quota category.
    pub fn sent(&self) -> (u64, u64) {
        (self.sent.load(Relaxed), self.throttles.load(Relaxed))
    }

    /// Holds the rate at or under `ceiling` (between the floor and the
    /// configured rate) until it is set again: where the quota's other
    /// callers leave less than the configured rate. An adaptive rate above
    /// it drops at once and climbs no higher; a fixed rate moves to it.
    pub fn set_ceiling(&self, ceiling: f64) {
        let mut state = self.lock();
        let changed = match state.aimd.as_mut() {
            Some(aimd) => aimd.set_ceiling(ceiling, Instant::now()),
            None => {
                let rate = ceiling.clamp(self.max * FLOOR, self.max);
                (rate != self.current()).then_some(rate)
            }
        };
        if let Some(rate) = changed {
            state.bucket = Arc::new(Bucket::new(rate, self.burst, &self.clock, true));
            drop(state);
            self.current.store(rate.to_bits(), Relaxed);
            tracing::debug!(rate, "rate ceiling changed");
            self.changed.notify_waiters();
        }
    }

    /// Waits until one more call may be sent.
    pub async fn acquire(&self) -> Ticket {
        let _turn = self.turn.lock().await;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let bucket = self.lock().bucket.clone();
            match bucket.limiter.check() {
                Ok(()) => {
                    self.sent.fetch_add(1, Relaxed);
                    return Ticket { at: Instant::now() };
                }
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = changed => {}
                    }
                }
            }
        }
    }

    /// Feeds back the answer to a call let through with `ticket`:
    /// `throttled` for TooManyRequests, otherwise any answer that was not a
    /// transient failure.
    pub fn answered(&self, ticket: Ticket, throttled: bool) {
        if throttled {
            self.throttles.fetch_add(1, Relaxed);
        }
        let mut state = self.lock();
        let Some(aimd) = state.aimd.as_mut() else {
            return;
        };
        let now = Instant::now();
        let changed = if throttled {
            aimd.throttled(ticket.at, now)
        } else {
            aimd.answered(ticket.at, now)
        };
        if let Some(rate) = changed {
            state.bucket = Arc::new(Bucket::new(rate, self.burst, &self.clock, true));
            drop(state);
            self.current.store(rate.to_bits(), Relaxed);
            tracing::debug!(rate, throttled, "rate changed");
            self.changed.notify_waiters();
        }
    }

    /// The configured (highest) rate, requests per second.
    pub fn rate(&self) -> f64 {
        self.max
    }

    /// The rate now.
    pub fn current(&self) -> f64 {
        f64::from_bits(self.current.load(Relaxed))
    }

    pub fn state(&self) -> RateState {
        let state = self.lock();
        match &state.aimd {
            Some(aimd) => RateState {
                max: self.max,
                current: aimd.current,
                lowest: aimd.lowest,
                cuts: aimd.cuts,
                adaptive: true,
            },
            None => RateState {
                max: self.max,
                current: self.max,
                lowest: self.max,
                cuts: 0,
                adaptive: false,
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Bucket {
    /// A bucket for `rate`; `empty` starts it with no calls to spare.
    fn new(rate: f64, burst: Option<NonZeroU32>, clock: &DefaultClock, empty: bool) -> Bucket {
        let burst = burst
            .unwrap_or_else(|| NonZeroU32::new(default_burst(rate)).unwrap_or(NonZeroU32::MIN));
        let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .expect("period is positive")
            .allow_burst(burst);
        let limiter = RateLimiter::direct_with_clock(quota, clock.clone());
        if empty {
            let _ = limiter.check_n(burst);
        }
        Bucket { limiter }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn a_ceiling_lowers_the_rate_at_once_and_caps_the_climb() {
        let t0 = Instant::now();
        let mut aimd = Aimd::new(30.0, t0);
        assert_eq!(aimd.set_ceiling(18.0, at(t0, 10)), Some(18.0));
        // Climbing stops at the ceiling, not the configured rate.
        assert_eq!(aimd.answered(at(t0, 20), at(t0, 1500)), None);
        // A higher ceiling lets it climb back, by steps.
        assert_eq!(aimd.set_ceiling(25.0, at(t0, 1600)), None);
        assert_eq!(aimd.answered(at(t0, 1700), at(t0, 2700)), Some(18.6));
        // Never above the configured rate, never under the floor.
        assert_eq!(aimd.set_ceiling(100.0, at(t0, 2800)), None);
        assert_eq!(aimd.set_ceiling(0.0, at(t0, 2900)), Some(0.3));
    }

    #[test]
    fn a_throttle_cuts_once_per_window_and_only_for_calls_sent_after_the_last_change() {
        let t0 = Instant::now();
        let mut aimd = Aimd::new(200.0, t0);
        assert_eq!(aimd.throttled(at(t0, 10), at(t0, 20)), Some(170.0));
        // Sent before the cut: says nothing about the new rate.
        assert_eq!(aimd.throttled(at(t0, 15), at(t0, 30)), None);
        // Sent after the cut, but inside the window.
        assert_eq!(aimd.throttled(at(t0, 25), at(t0, 60)), None);
        // After the window.
        assert_eq!(aimd.throttled(at(t0, 121), at(t0, 130)), Some(144.5));
        assert_eq!(aimd.cuts, 2);
        assert_eq!(aimd.lowest, 144.5);
    }

    #[test]
    fn unthrottled_answers_climb_additively_back_to_the_configured_rate_and_no_further() {
        let t0 = Instant::now();
        let mut aimd = Aimd::new(100.0, t0);
        // At the configured rate: nothing to climb.
        assert_eq!(aimd.answered(at(t0, 5000), at(t0, 5000)), None);
        aimd.throttled(at(t0, 5000), at(t0, 5000));
        assert_eq!(aimd.current(), 85.0);
        // Not before a whole interval has passed since the cut.
        assert_eq!(aimd.answered(at(t0, 5100), at(t0, 5900)), None);
        let mut now = 6000;
        let mut climbs = Vec::new();
        while let Some(rate) = aimd.answered(at(t0, now), at(t0, now)) {
            climbs.push(rate);
            now += 1000;
        }
        assert_eq!(climbs, [87.0, 89.0, 91.0, 93.0, 95.0, 97.0, 99.0, 100.0]);
        assert_eq!(aimd.current(), 100.0);
    }

    #[test]
    fn the_rate_never_falls_below_the_floor() {
        let t0 = Instant::now();
        let mut aimd = Aimd::new(10.0, t0);
        let mut now = 0;
        for _ in 0..200 {
            now += 200;
            aimd.throttled(at(t0, now), at(t0, now));
        }
        assert_eq!(aimd.current(), 0.1);
        assert_eq!(aimd.cuts, 29);
    }

    #[tokio::test]
    async fn a_cut_slows_the_waiters_down_and_a_fixed_limiter_ignores_feedback() {
        let fixed = Limiter::new(1000.0, NonZeroU32::new(2).unwrap());
        let ticket = fixed.acquire().await;
        fixed.answered(ticket, true);
        assert_eq!(fixed.current(), 1000.0);
        assert!(!fixed.state().adaptive);

        let limiter = Limiter::adaptive(1000.0, None);
        let ticket = limiter.acquire().await;
        limiter.answered(ticket, true);
        assert_eq!(limiter.current(), 850.0);
        let state = limiter.state();
        assert_eq!((state.max, state.cuts, state.lowest), (1000.0, 1, 850.0));
    }
}
