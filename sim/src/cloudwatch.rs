//! CloudWatch GetMetricData for Cognito's usage metrics, over the protocol
//! the AWS SDK for Rust speaks to CloudWatch: Smithy RPC v2 CBOR (`POST
//! /service/GraniteServiceVersion20100801/operation/GetMetricData`,
//! `Content-Type: application/cbor`, `smithy-protocol: rpc-v2-cbor`;
//! timestamps are CBOR tag 1, epoch seconds; errors a map with `__type`
//! and `message`). Smithy's "RPC v2 CBOR protocol" specification gives the
//! wire format, CloudWatch's API reference ("GetMetricData") the shapes.
//!
//! It answers for the `AWS/Usage` namespace's `CallCount` and
//! `ThrottleCount` of Cognito user pools (dimensions `Service` = "Cognito
//! User Pools", `Type` = "API", `Resource` = the quota category, `Class` =
//! "None"; Cognito Developer Guide, "Track quota usage"), from the
//! simulation's per-minute history of the caller's account and region.
//! Like CloudWatch, it returns only the periods that hold data, newest
//! first unless `ScanBy` is `TimestampAscending`, and a minute is
//! published only `--metrics-delay-secs` after it ends (metrics are not
//! real-time), with the others of its `--metrics-interval-secs` batch.

use ciborium::value::Value;

use super::accounts::BucketKey;
use super::usage::unix_secs;
use super::State;

/// The operation's path.
pub const PATH: &str = "/service/GraniteServiceVersion20100801/operation/GetMetricData";

/// Answers a GetMetricData request: (HTTP status, CBOR body).
pub fn get_metric_data(state: &State, bucket: &BucketKey, body: &[u8]) -> (u16, Vec<u8>) {
    match answer(state, bucket, body) {
        Ok(v) => (200, encode(&v)),
        Err((code, message)) => (
            400,
            encode(&Value::Map(vec![
                (text("__type"), text(code)),
                (text("message"), text(&message)),
            ])),
        ),
    }
}

type Failure = (&'static str, String);

fn answer(state: &State, bucket: &BucketKey, body: &[u8]) -> Result<Value, Failure> {
    let input: Value = ciborium::de::from_reader(body).map_err(|e| {
        (
            "SerializationException",
            format!("the body is not CBOR: {e}"),
        )
    })?;
    let start = time(field(&input, "StartTime"))
        .ok_or_else(|| invalid("StartTime is required (a timestamp)"))?;
    let end = time(field(&input, "EndTime"))
        .ok_or_else(|| invalid("EndTime is required (a timestamp)"))?;
    if end <= start {
        return Err(invalid("EndTime must be after StartTime"));
    }
    // "CloudWatch rounds the specified time": a start less than 15 days
    // ago down to the whole minute (API reference, GetMetricData).
    let start = start / 60 * 60;
    let ascending = field(&input, "ScanBy").and_then(as_text) == Some("TimestampAscending");
    let Some(Value::Array(queries)) = field(&input, "MetricDataQueries") else {
        return Err(invalid("MetricDataQueries is required"));
    };
    // Minutes that ended `--metrics-delay-secs` ago, published together at
    // each `--metrics-interval-secs`.
    let b = state.behaviour();
    let interval = (b.metrics_interval_secs / 60).max(1) * 60;
    let published = unix_secs().saturating_sub(b.metrics_delay_secs) / interval * interval;
    let mut results = Vec::new();
    for q in queries {
        let id = field(q, "Id")
            .and_then(as_text)
            .ok_or_else(|| invalid("each query needs an Id"))?;
        let stat = field(q, "MetricStat")
            .ok_or_else(|| invalid("only MetricStat queries are served (no Expression)"))?;
        let metric =
            field(stat, "Metric").ok_or_else(|| invalid("MetricStat.Metric is required"))?;
        let period = field(stat, "Period")
            .and_then(as_u64)
            .filter(|p| *p >= 60 && p % 60 == 0)
            .ok_or_else(|| invalid("Period must be a multiple of 60 seconds"))?;
        let statistic = field(stat, "Stat").and_then(as_text).unwrap_or("");
        if !matches!(
            statistic,
            "Sum" | "Maximum" | "Minimum" | "Average" | "SampleCount"
        ) {
            return Err(invalid(&format!(
                "The value {statistic} for parameter MetricDataQueries.member.1.MetricStat.Stat is not a valid statistic"
            )));
        }
        let name = field(metric, "MetricName").and_then(as_text).unwrap_or("");
        let namespace = field(metric, "Namespace").and_then(as_text).unwrap_or("");
        let dims: Vec<(&str, &str)> = match field(metric, "Dimensions") {
            Some(Value::Array(d)) => d
                .iter()
                .filter_map(|d| {
                    Some((
                        field(d, "Name").and_then(as_text)?,
                        field(d, "Value").and_then(as_text)?,
                    ))
                })
                .collect(),
            _ => Vec::new(),
        };
        let dim = |n: &str| dims.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
        let ours = namespace == "AWS/Usage"
            && matches!(name, "CallCount" | "ThrottleCount")
            && dim("Service") == Some("Cognito User Pools")
            && dim("Type") == Some("API")
            && dim("Class") == Some("None");
        let mut points: Vec<(u64, f64)> = Vec::new();
        if let (true, Some(resource)) = (ours, dim("Resource")) {
            // Minutes published by now, grouped into periods.
            let minutes = state
                .usage
                .minutes(bucket, resource, start, end.min(published));
            let mut periods: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
            for (minute, m) in minutes {
                if (minute + 1) * 60 > published {
                    continue;
                }
                let value = if name == "CallCount" {
                    m.calls
                } else {
                    m.throttles
                } as f64;
                let at = start + (minute * 60 - start) / period * period;
                periods.entry(at).or_default().push(value);
            }
            points = periods
                .into_iter()
                .map(|(at, v)| {
                    let sum: f64 = v.iter().sum();
                    let value = match statistic {
                        "Sum" => sum,
                        "Maximum" => v.iter().copied().fold(f64::MIN, f64::max),
                        "Minimum" => v.iter().copied().fold(f64::MAX, f64::min),
                        "Average" => sum / v.len() as f64,
                        _ => v.len() as f64,
                    };
                    (at, value)
                })
                .collect();
        }
        if !ascending {
            points.reverse();
        }
        results.push(Value::Map(vec![
            (text("Id"), text(id)),
            (text("Label"), text(name)),
            (
                text("Timestamps"),
                Value::Array(
                    points
                        .iter()
                        .map(|(t, _)| Value::Tag(1, Box::new(Value::Integer((*t).into()))))
                        .collect(),
                ),
            ),
            (
                text("Values"),
                Value::Array(points.iter().map(|(_, v)| Value::Float(*v)).collect()),
            ),
            (text("StatusCode"), text("Complete")),
        ]));
    }
    Ok(Value::Map(vec![
        (text("MetricDataResults"), Value::Array(results)),
        (text("Messages"), Value::Array(Vec::new())),
    ]))
}

fn invalid(message: &str) -> Failure {
    ("InvalidParameterValueException", message.to_string())
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    match v {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| matches!(k, Value::Text(t) if t == name))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn as_text(v: &Value) -> Option<&str> {
    match v {
        Value::Text(t) => Some(t),
        _ => None,
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Integer(i) => u64::try_from(*i).ok(),
        Value::Float(f) if *f >= 0.0 => Some(*f as u64),
        _ => None,
    }
}

/// A timestamp: tag 1 over epoch seconds (integer or float), or a bare
/// number.
fn time(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Tag(1, inner) => as_u64(inner),
        other => as_u64(other),
    }
}

fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = ciborium::ser::into_writer(v, &mut out);
    out
}
