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

use aws_sdk_cloudwatch::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_sdk_cloudwatch::Client;
use serde::Serialize;

use crate::cognito::AwsSettings;

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
    let query = |id: &str, metric: &str| {
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
    };
    let out = client
        .get_metric_data()
        .metric_data_queries(query("calls", "CallCount"))
        .metric_data_queries(query("throttles", "ThrottleCount"))
        .start_time(DateTime::from(start))
        .end_time(DateTime::from(now))
        .scan_by(ScanBy::TimestampAscending)
        .send()
        .await
        .map_err(|e| {
            format!(
                "CloudWatch GetMetricData answered {}: {}",
                e.code().unwrap_or("no code"),
                DisplayErrorContext(&e)
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
