//! How much of a quota category the account and region used recently,
//! production included: Cognito's usage metrics in CloudWatch (`AWS/Usage`,
//! `CallCount` and `ThrottleCount`, dimensions `Service` = "Cognito User
//! Pools", `Type` = "API", `Resource` = the category, `Class` = "None";
//! Cognito Developer Guide, "User pool metrics in CloudWatch" and "Track
//! quota usage"). These count every caller's calls, the production app's as
//! well as a job's, per minute. The only code that knows the CloudWatch SDK.
//!
//! CloudWatch's endpoint follows the SDK's settings
//! (`AWS_ENDPOINT_URL_CLOUDWATCH`, `AWS_ENDPOINT_URL`), never Cognito's
//! `--endpoint-url`.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_sdk_cloudwatch::Client;
use serde::Serialize;

use crate::cognito::AwsSettings;

/// Now, Unix seconds: the clock CloudWatch's minutes are on.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// One minute of a category's use.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MinuteUse {
    /// The minute's start, Unix seconds.
    pub at: i64,
    pub calls: u64,
    pub throttles: u64,
}

/// A category's recent use, oldest minute first; minutes with no calls
/// are absent, as CloudWatch leaves them out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    pub category: String,
    /// The minutes asked for.
    pub window_minutes: u64,
    pub minutes: Vec<MinuteUse>,
}

impl Usage {
    /// The busiest minute's calls per second.
    pub fn peak_rate(&self) -> f64 {
        self.minutes.iter().map(|m| m.calls).max().unwrap_or(0) as f64 / 60.0
    }

    /// The latest published minute's calls per second (0 when none).
    pub fn latest_rate(&self) -> f64 {
        self.minutes.last().map_or(0, |m| m.calls) as f64 / 60.0
    }

    /// Calls throttled in the window.
    pub fn throttles(&self) -> u64 {
        self.minutes.iter().map(|m| m.throttles).sum()
    }

    /// The minutes that start within the last `minutes` minutes before
    /// `now` (Unix seconds).
    pub fn since(&self, now: i64, minutes: u64) -> Usage {
        let from = now - (minutes as i64) * 60;
        Usage {
            category: self.category.clone(),
            window_minutes: minutes,
            minutes: self
                .minutes
                .iter()
                .filter(|m| m.at >= from)
                .copied()
                .collect(),
        }
    }
}

/// What `--rate auto` leaves the production app: of the quota, the busiest
/// recent minute of every other caller (production included), and a
/// reserve on top, so that production's bursts find tokens left in the
/// quota's bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Headroom {
    pub quota: f64,
    /// The busiest minute's calls per second in the recent window.
    pub busiest: f64,
    pub reserve: f64,
    /// The rate that follows, before any cap.
    pub rate: f64,
}

/// Minutes whose busiest one sets the headroom: long enough to catch
/// production's recent peak, short enough that a job resumed within the
/// hour is not held down long by its own earlier calls (CloudWatch counts
/// them too).
pub const PEAK_WINDOW_MINUTES: u64 = 15;

/// The reserve: a tenth of what other callers leave, at least 1/s.
pub const RESERVE_SHARE: f64 = 0.1;

/// The lowest rate `--rate auto` runs at, however busy the quota is.
pub const MIN_AUTO_RATE: f64 = 1.0;

impl Headroom {
    /// The headroom of `quota` given the recent `usage` (minutes since
    /// `now - PEAK_WINDOW_MINUTES`).
    pub fn of(quota: f64, usage: &Usage, now: i64) -> Headroom {
        let busiest = usage.since(now, PEAK_WINDOW_MINUTES).peak_rate();
        let left = (quota - busiest).max(0.0);
        let reserve = (left * RESERVE_SHARE).max(1.0);
        Headroom {
            quota,
            busiest,
            reserve,
            rate: (left - reserve).max(MIN_AUTO_RATE),
        }
    }
}

/// The query `id` for `metric` (`CallCount` or `ThrottleCount`) of
/// `category`: its `Sum` per minute.
pub fn metric_query(id: &str, metric: &str, category: &str) -> MetricDataQuery {
    let dim = |n: &str, v: &str| Dimension::builder().name(n).value(v).build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace("AWS/Usage")
                        .metric_name(metric)
                        .dimensions(dim("Service", "Cognito User Pools"))
                        .dimensions(dim("Type", "API"))
                        .dimensions(dim("Resource", category))
                        .dimensions(dim("Class", "None"))
                        .build(),
                )
                .period(60)
                .stat("Sum")
                .build(),
        )
        .build()
}

/// Reads the last `window_minutes` whole minutes of `category` for the
/// account and region `aws` reaches. The error says why it could not be
/// read (e.g. no `cloudwatch:GetMetricData` permission).
pub async fn read(aws: &AwsSettings, category: &str, window_minutes: u64) -> Result<Usage, String> {
    let config = crate::aws::load(crate::aws::Load {
        region: Some(&aws.region),
        profile: aws.profile.as_deref(),
        endpoint_url: None,
        sdk_retries: true,
        attempt_timeout: aws.attempt_timeout,
        placeholder_credentials: false,
        role: aws.role.as_ref(),
    })
    .await
    .map_err(|e| e.to_string())?;
    let client = Client::new(&config);
    let now = SystemTime::now();
    let start = now - Duration::from_secs(window_minutes * 60);
    let out = client
        .get_metric_data()
        .metric_data_queries(metric_query("calls", "CallCount", category))
        .metric_data_queries(metric_query("throttles", "ThrottleCount", category))
        .start_time(DateTime::from(start))
        .end_time(DateTime::from(now))
        .scan_by(ScanBy::TimestampAscending)
        .send()
        .await
        .map_err(|e| {
            let at = crate::aws::endpoint_of("CLOUDWATCH", "monitoring", &aws.region);
            let unreachable = crate::aws::unreachable(&e);
            let fix = match e.code() {
                _ if unreachable => "check the network, any proxy, DNS and AWS_ENDPOINT_URL_CLOUDWATCH (or AWS_ENDPOINT_URL)",
                Some("AccessDenied" | "AccessDeniedException") => "allow cloudwatch:GetMetricData",
                _ => "see the answer",
            };
            let what = if unreachable { "could not reach" } else { "at" };
            format!(
                "CloudWatch GetMetricData {what} {at}: {}; {fix}",
                crate::aws::brief(&e)
            )
        })?;
    let series = |id: &str| -> Vec<(i64, f64)> {
        out.metric_data_results()
            .iter()
            .find(|r| r.id() == Some(id))
            .map(|r| {
                r.timestamps()
                    .iter()
                    .map(DateTime::secs)
                    .zip(r.values().iter().copied())
                    .collect()
            })
            .unwrap_or_default()
    };
    let throttles = series("throttles");
    let mut minutes: Vec<MinuteUse> = series("calls")
        .into_iter()
        .map(|(at, calls)| MinuteUse {
            at,
            calls: calls.max(0.0) as u64,
            throttles: throttles
                .iter()
                .find(|(t, _)| *t == at)
                .map_or(0, |(_, v)| v.max(0.0) as u64),
        })
        .collect();
    minutes.sort_by_key(|m| m.at);
    Ok(Usage {
        category: category.to_string(),
        window_minutes,
        minutes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(minutes: &[(i64, u64)]) -> Usage {
        Usage {
            category: "UserAccountRecovery".into(),
            window_minutes: 60,
            minutes: minutes
                .iter()
                .map(|&(at, calls)| MinuteUse {
                    at,
                    calls,
                    throttles: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn headroom_leaves_the_busiest_recent_minute_and_a_reserve() {
        let now = 100 * 60;
        // 10/s lately (600 a minute), 25/s an hour ago (outside the window).
        let u = usage(&[
            (now - 50 * 60, 1500),
            (now - 5 * 60, 600),
            (now - 3 * 60, 540),
        ]);
        let h = Headroom::of(30.0, &u, now);
        assert_eq!(h.busiest, 10.0);
        assert_eq!(h.reserve, 2.0);
        assert_eq!(h.rate, 18.0);
        // Nothing else called: a tenth of the quota kept in reserve.
        let h = Headroom::of(30.0, &usage(&[]), now);
        assert_eq!((h.busiest, h.reserve, h.rate), (0.0, 3.0, 27.0));
        // The quota used up: the floor.
        let h = Headroom::of(30.0, &usage(&[(now - 60, 1800)]), now);
        assert_eq!(h.rate, MIN_AUTO_RATE);
    }
}
