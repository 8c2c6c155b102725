//! A good neighbour: with `--rate auto`, the job's rate follows what the
//! quota's other callers leave it while it runs.
//!
//! Every minute it reads the account's usage of the category ([`usage`]:
//! every caller's calls and throttles per minute, the job's included) and
//! takes out the job's own, counted by its limiter per minute. What is left
//! is the others' load, the production app's above all:
//! - the rate's ceiling becomes the quota less the others' busiest recent
//!   minute and a reserve ([`Headroom`]), or less `--leave-for-production`,
//!   at most the cap ([`AutoRate::ceiling`]);
//! - any throttled call that is not the job's means production is being
//!   throttled: the ceiling is cut at once to half the rate ([`CUT`]), and
//!   stays cut until a whole published minute shows production throttled no
//!   more; then each clean minute raises it by a tenth of the headroom
//!   ([`RAISE`]) until the cut is gone. A jump straight back would meet the
//!   same throttling a minute later: production whose bursts take the
//!   quota's whole bucket at once is throttled by any call in the instant
//!   before, and only a low rate makes that rare (docs/neighbour.md).
//!
//! CloudWatch publishes a minute a little after it ends, so this steers by
//! minutes that are one to a few minutes old; the adaptive rate still
//! answers the job's own throttles at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cognito::AwsSettings;
use crate::limiter::Limiter;
use crate::report::ProductionSeen;
use crate::settings::AutoRate;
use crate::usage::{self, Headroom, MinuteUse, Usage};

/// How often the account's usage is read.
pub const REFRESH: Duration = Duration::from_secs(60);

/// A cut keeps this share of the rate.
pub const CUT: f64 = 0.5;

/// Each whole published minute with none of production's calls throttled
/// raises a cut by this share of the headroom, until it reaches it.
pub const RAISE: f64 = 0.1;

/// What the job watches, and with what it paces.
#[derive(Clone)]
pub struct Watch {
    pub aws: AwsSettings,
    /// The quota, its category, the cap and any explicit
    /// `--leave-for-production`.
    pub auto: AutoRate,
    /// The category's limiter (in a fleet, the account and region's).
    pub limiter: Arc<Limiter>,
}

impl Watch {
    /// The watch of `--rate auto`'s figures, for calls through `aws`.
    pub fn of(aws: &AwsSettings, auto: &AutoRate, limiter: Arc<Limiter>) -> Watch {
        Watch {
            aws: aws.clone(),
            auto: *auto,
            limiter,
        }
    }
}

/// The job's own calls per minute, from its limiter's counts.
#[derive(Default)]
struct Own {
    minutes: BTreeMap<i64, (u64, u64)>,
    last: (u64, u64),
}

impl Own {
    fn sample(&mut self, limiter: &Limiter, now: i64) {
        let (sent, throttled) = limiter.sent();
        let e = self.minutes.entry(now / 60 * 60).or_default();
        e.0 += sent - self.last.0;
        e.1 += throttled - self.last.1;
        self.last = (sent, throttled);
        // An hour is more than any read looks back.
        let old = now - 3600;
        self.minutes.retain(|m, _| *m >= old);
    }

    /// `used` less the job's own calls: the others' use.
    fn others(&self, used: &Usage) -> Usage {
        Usage {
            minutes: used
                .minutes
                .iter()
                .map(|m| {
                    let (sent, throttled) = self.minutes.get(&m.at).copied().unwrap_or((0, 0));
                    MinuteUse {
                        at: m.at,
                        calls: m.calls.saturating_sub(sent),
                        throttles: m.throttles.saturating_sub(throttled),
                    }
                })
                .collect(),
            ..used.clone()
        }
    }
}

/// Keeps the limiter's ceiling at what others leave, until `stop`; returns
/// what it saw.
pub async fn keep(w: Watch, stop: CancellationToken) -> ProductionSeen {
    let started = usage::unix_now() / 60 * 60;
    let mut own = Own::default();
    let mut seen = ProductionSeen::default();
    // Minutes whose production throttles were counted; the cut, and the
    // minute from which a clean minute lifts it.
    let mut counted = std::collections::BTreeSet::new();
    let mut cut: Option<(f64, i64)> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut next_read = tokio::time::Instant::now() + REFRESH;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = usage::unix_now();
        own.sample(&w.limiter, now);
        if tokio::time::Instant::now() < next_read {
            continue;
        }
        next_read += REFRESH;
        seen.reads += 1;
        let used = match usage::read(&w.aws, w.auto.category, usage::PEAK_WINDOW_MINUTES).await {
            Ok(u) => u,
            Err(e) => {
                seen.unreadable += 1;
                warn!(error = %e, "the account's usage metrics could not be read; the rate stays where it is");
                continue;
            }
        };
        let others = own.others(&used);
        // Production's throttles in the run's published minutes.
        let mut fresh = 0;
        for m in others.minutes.iter().filter(|m| m.at >= started) {
            if counted.insert(m.at) {
                seen.production_throttled += m.throttles;
                fresh += m.throttles;
            }
        }
        // A whole minute after the cut has passed and been published (a
        // minute with no calls is not published at all) with nothing of
        // production's throttled.
        let clean_since_cut = cut.is_some_and(|(_, from)| {
            now >= from + 120
                && others
                    .minutes
                    .iter()
                    .all(|m| m.at < from || m.throttles == 0)
        });
        let headroom = Headroom::of(w.auto.quota, &others, now);
        let mut ceiling = w.auto.ceiling(&headroom);
        if fresh > 0 {
            let level = w.limiter.current() * CUT;
            seen.cuts += 1;
            warn!(
                throttled = fresh,
                rate = level,
                "production is being throttled: cutting the job's rate"
            );
            // Stays cut until a minute after this one shows none.
            cut = Some((level, now / 60 * 60 + 60));
        } else if clean_since_cut {
            let (level, _) = cut.unwrap_or_default();
            let raised = level + RAISE * ceiling;
            if raised >= ceiling {
                info!("a whole minute without production throttled: the cut is lifted");
                cut = None;
            } else {
                info!(
                    rate = raised,
                    "a whole minute without production throttled: the cut is raised"
                );
                cut = Some((raised, now / 60 * 60 + 60));
            }
        }
        if let Some((level, _)) = cut {
            ceiling = ceiling.min(level);
        }
        info!(
            others_busiest = format_args!("{:.1}/s", headroom.busiest),
            reserve = format_args!("{:.1}/s", headroom.reserve),
            ceiling = format_args!("{ceiling:.1}/s"),
            production_throttled = fresh,
            "what the quota's other callers leave"
        );
        w.limiter.set_ceiling(ceiling);
        seen.ceiling = Some(ceiling);
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jobs_own_calls_are_not_the_others() {
        let mut own = Own::default();
        own.minutes.insert(600, (900, 2));
        let used = Usage {
            category: "UserAccountRecovery".into(),
            window_minutes: 15,
            minutes: vec![
                MinuteUse {
                    at: 540,
                    calls: 600,
                    throttles: 0,
                },
                MinuteUse {
                    at: 600,
                    calls: 1500,
                    throttles: 5,
                },
            ],
        };
        let others = own.others(&used);
        assert_eq!(others.minutes[0].calls, 600);
        assert_eq!(
            (others.minutes[1].calls, others.minutes[1].throttles),
            (600, 3)
        );
    }
}
