//! Quota usage as Cognito reports it, and production traffic to fill it.
//!
//! - **Usage history.** Cognito publishes, per account and region, a
//!   `CallCount` and a `ThrottleCount` for each quota category in the
//!   `AWS/Usage` namespace (dimensions `Service` = "Cognito User Pools",
//!   `Type` = "API", `Resource` = the category, `Class` = "None"), every
//!   caller's calls included: the app's as well as a bulk job's (Cognito
//!   Developer Guide, "User pool metrics in CloudWatch" and "Track quota
//!   usage"). [`Usage`] keeps those counts per minute; `cloudwatch` serves
//!   them.
//! - **Production traffic.** The app that shares the quota: its
//!   ForgotPassword and ConfirmForgotPassword calls take tokens from the
//!   same UserAccountRecovery bucket of the main pool's account and region
//!   as a bulk job's resets, steadily or in bursts (`--production-rate`,
//!   `--production-burst`). Its calls and throttles are counted apart, and
//!   in the usage history; a throttled call is not retried (the person
//!   tries again later, or gives up).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use super::accounts::BucketKey;
use super::{Category, State};

/// The quota categories' names, as the `Resource` dimension gives them.
pub(crate) fn category_name(c: Category) -> &'static str {
    match c {
        Category::Recovery => "UserAccountRecovery",
        Category::Read => "UserRead",
        Category::List => "UserList",
        Category::Update => "UserUpdate",
        Category::Create => "UserCreation",
        Category::PoolRead => "UserPoolRead",
        Category::ClientRead => "UserPoolClientRead",
    }
}

/// Calls and throttled calls in one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Minute {
    pub calls: u64,
    pub throttles: u64,
}

/// Usage per account and region, category and minute (Unix time / 60).
#[derive(Default)]
pub struct Usage {
    minutes: Mutex<BTreeMap<(BucketKey, &'static str, u64), Minute>>,
}

impl Usage {
    /// Counts one call at `unix_secs`.
    pub fn record(
        &self,
        bucket: &BucketKey,
        category: &'static str,
        unix_secs: u64,
        throttled: bool,
    ) {
        self.add(bucket, category, unix_secs / 60, 1, u64::from(throttled));
    }

    /// Adds `calls` (of which `throttles` throttled) to the minute that
    /// starts at `minute * 60`: usage from before the simulation started.
    pub fn add(
        &self,
        bucket: &BucketKey,
        category: &'static str,
        minute: u64,
        calls: u64,
        throttles: u64,
    ) {
        let mut m = self.minutes.lock().unwrap_or_else(|e| e.into_inner());
        let e = m.entry((bucket.clone(), category, minute)).or_default();
        e.calls += calls;
        e.throttles += throttles;
    }

    /// The minutes in `[from, to)` (Unix seconds) that saw calls.
    pub fn minutes(
        &self,
        bucket: &BucketKey,
        category: &str,
        from: u64,
        to: u64,
    ) -> Vec<(u64, Minute)> {
        let m = self.minutes.lock().unwrap_or_else(|e| e.into_inner());
        m.iter()
            .filter(|((b, c, minute), _)| {
                b == bucket && *c == category && minute * 60 >= from && minute * 60 < to
            })
            .map(|((_, _, minute), v)| (*minute, *v))
            .collect()
    }
}

/// Production's own counters.
#[derive(Debug, Default)]
pub struct ProductionCounters {
    pub calls: AtomicU64,
    pub throttled: AtomicU64,
}

pub fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Sends production's calls until `stop`: `rate` a second on average, in
/// bursts of `burst` (1: one call every 1/rate s, or at random with
/// `--production-poisson`), into the bucket of `bucket`. The rate and
/// burst are read from the behaviour at each burst,
/// so they can change while it runs.
pub(crate) async fn production(state: Arc<State>, bucket: BucketKey, stop: CancellationToken) {
    let mut next = tokio::time::Instant::now();
    loop {
        let b = state.behaviour();
        let (rate, burst) = (b.production_rate, b.production_burst.max(1));
        if rate <= 0.0 {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            next = tokio::time::Instant::now();
            continue;
        }
        for _ in 0..burst {
            let admitted = state.take_token(&bucket, Category::Recovery);
            state.production.calls.fetch_add(1, Relaxed);
            if !admitted {
                state.production.throttled.fetch_add(1, Relaxed);
            }
            state
                .usage
                .record(&bucket, "UserAccountRecovery", unix_secs(), !admitted);
        }
        let gap = f64::from(burst) / rate;
        next += Duration::from_secs_f64(if b.production_poisson {
            // Exponential with mean `gap`; 1 - U is in (0, 1].
            -gap * (1.0 - fastrand::f64()).ln()
        } else {
            gap
        });
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(next) => {}
        }
    }
}
