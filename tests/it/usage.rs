//! The simulated Cognito's usage metrics and production traffic, read
//! through the real AWS SDK for CloudWatch (Smithy RPC v2 CBOR), as the
//! tool will read them: the test bench for sharing the quota with the
//! production app.

use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::MetricDataQuery;
use aws_sdk_cloudwatch::Client;
use cognito_bulk_reset::usage::metric_query;
use cognito_sim::{self as sim, Behaviour, SimHandle};

use crate::support::*;

async fn cloudwatch(sim: &SimHandle) -> Client {
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(sim.endpoint_url())
        .test_credentials()
        .load()
        .await;
    Client::new(&conf)
}

/// The last `minutes` minutes of CallCount and ThrottleCount for
/// UserAccountRecovery: (timestamps, calls, throttles), newest first.
async fn usage(cw: &Client, minutes: u64) -> (Vec<i64>, Vec<f64>, Vec<f64>) {
    let now = SystemTime::now();
    let out = cw
        .get_metric_data()
        .metric_data_queries(metric_query("calls", "CallCount", "UserAccountRecovery"))
        .metric_data_queries(metric_query(
            "throttles",
            "ThrottleCount",
            "UserAccountRecovery",
        ))
        .start_time(DateTime::from(now - Duration::from_secs(minutes * 60)))
        .end_time(DateTime::from(now))
        .send()
        .await
        .expect("GetMetricData");
    let results = out.metric_data_results();
    let calls = &results[0];
    let throttles = &results[1];
    assert_eq!(calls.id(), Some("calls"));
    (
        calls.timestamps().iter().map(|t| t.secs()).collect(),
        calls.values().to_vec(),
        throttles.values().to_vec(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_metrics_over_rpc_v2_cbor_count_production_and_jobs() {
    let sim = sim(
        200,
        Behaviour {
            production_rate: 10.0,
            metrics_delay_secs: 0,
            reset_attempts_per_hour: 0,
            ..Behaviour::default()
        },
    )
    .await;
    // Five minutes of production before now, at 10/s.
    sim.backfill_production(5, 10.0);
    let cw = cloudwatch(&sim).await;
    let (times, calls, throttles) = usage(&cw, 10).await;
    assert!(times.len() >= 5, "{times:?}");
    assert!(
        times.windows(2).all(|w| w[0] > w[1]),
        "newest first: {times:?}"
    );
    assert!(times.iter().all(|t| t % 60 == 0), "{times:?}");
    // The five backfilled minutes: 600 calls each, none throttled (a
    // minute still running is not published).
    assert_eq!(&calls[calls.len() - 5..], &[600.0; 5]);
    assert!(throttles.iter().all(|t| *t == 0.0));

    // Published in five-minute batches (Cognito's "available at five
    // minute intervals"): no minute after the last five-minute boundary.
    sim.set_behaviour(Behaviour {
        production_rate: 10.0,
        metrics_delay_secs: 0,
        metrics_interval_secs: 300,
        reset_attempts_per_hour: 0,
        ..Behaviour::default()
    });
    let (batched, _, _) = usage(&cw, 10).await;
    let boundary = sim::usage::unix_secs() as i64 / 300 * 300;
    assert!(
        batched.iter().all(|t| t + 60 <= boundary),
        "{batched:?} published by {boundary}"
    );
    assert!(batched.iter().all(|t| times.contains(t)), "{batched:?}");

    // Production runs live too: 10/s, none throttled under a 30/s quota.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s = sim.stats();
    assert!((15..=25).contains(&s.production_calls), "{s:?}");
    assert_eq!(s.production_throttled, 0);

    // Another category has no data; an Expression query is refused.
    let out = cw
        .get_metric_data()
        .metric_data_queries(metric_query("reads", "CallCount", "UserRead"))
        .start_time(DateTime::from(SystemTime::now() - Duration::from_secs(600)))
        .end_time(DateTime::from(SystemTime::now()))
        .send()
        .await
        .unwrap();
    assert!(out.metric_data_results()[0].values().is_empty());
    let refused = cw
        .get_metric_data()
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("e")
                .expression("SUM(METRICS())")
                .build(),
        )
        .start_time(DateTime::from(SystemTime::now() - Duration::from_secs(600)))
        .end_time(DateTime::from(SystemTime::now()))
        .send()
        .await;
    let e = refused.expect_err("refused");
    assert!(format!("{e:?}").contains("InvalidParameterValue"), "{e:?}");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_bursts_meet_a_job_at_the_quota_and_are_throttled() {
    // Production at 10/s in bursts of 30 every 3 s, a job at 21/s on a
    // 30/s quota: production's bursts find the bucket drained.
    let sim = sim(
        2000,
        Behaviour {
            production_rate: 10.0,
            production_burst: 30,
            reset_attempts_per_hour: 0,
            ..Behaviour::default()
        },
    )
    .await;
    let t = Scratch::new();
    let input = t.users_csv(resettable(400));
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &t.path("job.jsonl")))
        .args(["--rate", "21", "--resolve", "exact"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let s = sim.stats();
    assert!(s.production_calls >= 150, "{s:?}");
    assert!(
        s.production_throttled > 0,
        "bursts into a bucket the job keeps low are throttled: {s:?}"
    );
    sim.stop().await;
}
