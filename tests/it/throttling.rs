//! Throttling and transient faults: retried, counted, never a user failure
//! because the quota was busy.

use cognito_sim::Behaviour;

use crate::support::*;

/// Above the quota, every user still ends succeeded, throttled calls are recorded per user, and the ledger's count matches the pool's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_users_all_succeed() {
    let t = Scratch::new();
    let sim = sim(
        200,
        Behaviour {
            quota_recovery: 25.0,
            ..unlimited()
        },
    )
    .await;
    let names = resettable(200);
    let input = t.users_csv(names.clone());
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger)).args([
        "--rate",
        "80",
        "--burst",
        "10",
        "--concurrency",
        "16",
        "--max-attempts",
        "2",
    ]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let o = outcomes(&ledger);
    assert_eq!(o.len(), names.len());
    let mut throttled = 0;
    let mut max_attempts = 0;
    for r in o.values() {
        assert_eq!(r["outcome"], "succeeded", "{r}");
        throttled += r["throttled"].as_u64().unwrap_or(0);
        max_attempts = max_attempts.max(r["attempts"].as_u64().unwrap());
    }
    let stats = sim.stats();
    assert!(stats.throttled > 0, "the quota was exceeded: {stats:?}");
    assert_eq!(
        throttled, stats.throttled,
        "every throttled call is in the ledger"
    );
    assert!(
        max_attempts > 2,
        "throttled calls did not use up the 2 attempts (max attempts seen {max_attempts})"
    );
    assert!(
        out.stdout
            .contains(&format!("{} throttled", stats.throttled)),
        "{out:?}"
    );
    sim.stop().await;
}

/// 5xx (JSON and HTML) and LimitExceeded are retried until the user succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_are_retried() {
    let t = Scratch::new();
    let sim = sim(
        150,
        Behaviour {
            fail_rate: 0.25,
            limit_exceeded_rate: 0.1,
            ..unlimited()
        },
    )
    .await;
    let names = resettable(150);
    let input = t.users_csv(names.clone());
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--rate", "1000", "--max-attempts", "12"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let o = outcomes(&ledger);
    let retried = o
        .values()
        .filter(|r| r["attempts"].as_u64().unwrap() > 1)
        .count();
    assert!(
        retried > 10,
        "faults were injected and retried ({retried} users retried)"
    );
    for name in &names {
        assert_eq!(o[name]["outcome"], "succeeded");
        assert_eq!(sim.user(name).unwrap().messages, 1, "{name} messaged once");
    }
    sim.stop().await;
}

/// When attempts run out on transient errors, the user is recorded failed with the last code and the run goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_run_out() {
    let t = Scratch::new();
    let sim = sim(
        10,
        Behaviour {
            error_code: Some("InternalErrorException".into()),
            ..unlimited()
        },
    )
    .await;
    let input = t.users_csv(resettable(10));
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--rate", "1000", "--max-attempts", "3"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    for r in outcomes(&ledger).values() {
        assert_eq!(r["outcome"], "failed", "{r}");
        assert_eq!(r["attempts"], 3, "{r}");
        assert_eq!(r["code"], "InternalErrorException", "{r}");
    }
    sim.stop().await;
}

/// When an answer is lost (an HTML 502) and the user cannot be read back, no failure is recorded for it: the user is left for the next run (exit 75), which reads it back first and finishes. Failures are recorded only when every answer was known (JSON 500s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_outcomes_are_left_for_the_next_run() {
    let t = Scratch::new();
    let sim = sim(
        10,
        Behaviour {
            fail_rate: 1.0,
            ..unlimited()
        },
    )
    .await;
    let names = resettable(10);
    let input = t.users_csv(names.clone());
    let ledger = t.path("l.jsonl");
    let args = run_args(&sim, &input, &ledger);
    // Every call fails, reads too: the pool's settings cannot be read and
    // its users cannot be listed, so rows are keyed by their exact text.
    let mut cmd = t.bin();
    cmd.args(&args).args([
        "--rate",
        "1000",
        "--max-attempts",
        "2",
        "--resolve",
        "exact",
    ]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 75, "{out:?}");
    let first = outcomes(&ledger);
    for r in first.values() {
        assert_eq!(
            r["code"], "InternalErrorException",
            "only users whose every answer was known are recorded: {r}"
        );
    }
    assert!(first.len() < names.len(), "some users were left unrecorded");
    assert!(
        out.stdout.contains(&format!(
            "result unknown       {}",
            names.len() - first.len()
        )),
        "{out:?}"
    );

    sim.set_behaviour(unlimited());
    let mut cmd = t.bin();
    cmd.args(&args).arg("--retry-failed");
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let o = outcomes_last(&ledger);
    for name in &names {
        assert_eq!(o[name]["outcome"], "succeeded", "{name}");
        assert_eq!(sim.user(name).unwrap().messages, 1, "{name}: one message");
    }
    sim.stop().await;
}

/// Answers lost to dropped connections and to slow replies past the attempt timeout are read back: the users are recorded succeeded (`reconciled`) and none gets a second message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_are_read_back_not_repeated() {
    let t = Scratch::new();
    let sim = sim(
        200,
        Behaviour {
            drop_rate: 0.2,
            slow_rate: 0.1,
            slow_ms: 1500,
            ..unlimited()
        },
    )
    .await;
    let names = resettable(200);
    let input = t.users_csv(names.clone());
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger)).args([
        "--rate",
        "1000",
        "--read-rate",
        "1000",
        "--attempt-timeout",
        "0.5",
        "--concurrency",
        "32",
    ]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let o = outcomes(&ledger);
    let reconciled = o.values().filter(|r| r["detail"] == "reconciled").count();
    assert!(
        reconciled > 20,
        "lost answers were reconciled ({reconciled})"
    );
    for name in &names {
        assert_eq!(o[name]["outcome"], "succeeded", "{name}");
        let u = sim.user(name).unwrap();
        assert_eq!(
            (u.messages, u.calls),
            (1, 1),
            "{name}: called once, messaged once"
        );
    }
    assert!(
        out.stdout
            .contains(&format!("({reconciled} confirmed by reading the user back")),
        "{out:?}"
    );
    sim.stop().await;
}

/// Above the quota, the adaptive rate (the default) cuts itself down to the
/// quota and wastes few calls; with --no-adaptive the same run keeps hitting
/// the quota. The summary says which, and every user is done exactly once
/// either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_rate_stops_wasting_calls_on_throttling() {
    let t = Scratch::new();
    let names = resettable(700);
    let input = t.users_csv(names.clone());
    let run = |extra: &'static [&'static str], name: &'static str| {
        let (t, input, names) = (&t, &input, &names);
        async move {
            let sim = sim(
                700,
                Behaviour {
                    quota_recovery: 100.0,
                    ..unlimited()
                },
            )
            .await;
            let ledger = t.path(&format!("{name}.jsonl"));
            let summary = t.path(&format!("{name}.json"));
            let mut cmd = t.bin();
            cmd.args(run_args(&sim, input, &ledger))
                .args(["--rate", "400", "--concurrency", "32"])
                .args(extra)
                .arg("--summary-json")
                .arg(&summary);
            let out = finish(cmd).await;
            assert_eq!(out.code, 0, "{out:?}");
            assert_eq!(outcomes(&ledger).len(), names.len());
            let stats = sim.stats();
            assert_eq!(stats.messages, names.len() as u64, "{stats:?}");
            assert_eq!(stats.max_messages_per_user, 1, "{stats:?}");
            sim.stop().await;
            let s: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
            (out, s)
        }
    };
    let ((adaptive, a), (_, fixed)) =
        tokio::join!(run(&[], "adaptive"), run(&["--no-adaptive"], "fixed"));

    assert_eq!(a["rate"]["adaptive"], true);
    assert_eq!(a["rate"]["max"], 400.0);
    assert!(a["rate"]["cuts"].as_u64().unwrap() > 0, "{a}");
    assert!(a["rate"]["lowest"].as_f64().unwrap() < 150.0, "{a}");
    assert!(
        adaptive.stdout.contains("adaptive: "),
        "the summary shows the rate: {adaptive:?}"
    );
    assert_eq!(fixed["rate"]["adaptive"], false);
    assert_eq!(fixed["rate"]["cuts"], 0);
    let (ta, tf) = (
        a["throttled"].as_u64().unwrap(),
        fixed["throttled"].as_u64().unwrap(),
    );
    assert!(
        tf > 300 && ta * 5 < tf,
        "adaptive: {ta} throttled calls, fixed: {tf}"
    );
}
