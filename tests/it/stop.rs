//! Mistakes refused before any call (exit 2).

use cognito_sim as sim;

use crate::support::*;

/// A pool that does not exist is found out by DescribeUserPool before any call: exit 2, naming the pool and the fix; no user is touched and nothing is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_pool_stops_the_run() {
    let t = Scratch::new();
    let sim = sim_answering_after(200, 5).await;
    let input = t.users_csv((0..200).map(sim::population_name));
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(with(
        run_args(&sim, &input, &ledger),
        "--user-pool-id",
        "us-east-1_NoSuchPool",
    ))
    .args(["--concurrency", "4", "--rate", "1000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("us-east-1_NoSuchPool does not exist")
            && out.stderr.contains("check --user-pool-id")
            && out.stderr.contains("nothing was sent"),
        "{out:?}"
    );
    assert_eq!(sim.stats().mutating_requests, 0, "no user touched");
    assert!(
        !ledger.exists() || user_records(&ledger).is_empty(),
        "nothing recorded"
    );
}

/// Mistakes the operator can fix stop with exit 2, a message naming the fix, and no call sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_send_nothing() {
    let t = Scratch::new();
    let sim = sim(10, unlimited()).await;
    let good = t.users_csv((0..10).map(sim::population_name));
    let no_column = t.write("nocol.csv", "email,id\na@x,1\n");
    let ledger = t.path("l.jsonl");
    let bad_config = t.write("bad.toml", "rat = 5\n");
    let other_ledger = t.write(
        "other.jsonl",
        "{\"record\":\"header\",\"tool_version\":\"0\",\"pool_id\":\"us-east-1_SimPool01\",\"action\":\"set-password\",\"region\":\"us-east-1\",\"input\":\"x\",\"started_at\":\"t\"}\n",
    );
    let missing = t.path("missing.csv");
    let cases: Vec<(&str, &str, &str)> = vec![
        ("--user-pool-id", "not a pool", "invalid user pool id"),
        (
            "--input",
            no_column.to_str().unwrap(),
            "'username' not found",
        ),
        ("--input", missing.to_str().unwrap(), "could not open input"),
        ("--rate", "0", "--rate"),
        ("--config", bad_config.to_str().unwrap(), "rat"),
        (
            "--ledger",
            other_ledger.to_str().unwrap(),
            "written for action 'set-password'",
        ),
        ("--client-metadata", "oops", "KEY=VALUE"),
        ("--no-such-flag", "x", "--no-such-flag"),
        // Every number flag names its range; none panics.
        ("--rate", "1e-20", "give 0.001 to 100000"),
        ("--rate", "100001", "give 0.001 to 100000"),
        ("--read-rate", "1e-20", "give 0.001 to 100000"),
        ("--sign-out-rate", "1e-20", "give 0.001 to 100000"),
        ("--list-rate", "1e-20", "give 0.001 to 10000"),
        ("--attempt-timeout", "1e-20", "give 0.1 to 3600"),
        ("--rate", "NaN", "out of range"),
        // An unwritable summary is found before any call, not after all.
        (
            "--summary-json",
            "/nonexistent-dir/summary.json",
            "its directory does not take a new file",
        ),
    ];
    for (flag, value, expect) in cases {
        let extra = (flag, value);
        let mut cmd = t.bin();
        cmd.args(with(run_args(&sim, &good, &ledger), flag, value));
        let out = finish(cmd).await;
        assert_eq!(out.code, 2, "{extra:?}: {out:?}");
        assert!(
            out.stderr.contains(expect),
            "{extra:?}: expected '{expect}' in {out:?}"
        );
        assert!(!out.stderr.contains("panicked"), "{out:?}");
    }
    assert!(!ledger.exists(), "no file written for a refused flag");
    // Standard input closed, or a device: said so, not "empty".
    for (redirect, expect) in [
        ("<&-", "standard input was closed"),
        ("</dev/zero", "standard input is a device"),
    ] {
        let mut cmd = t.wrapped("bash");
        cmd.arg("-c")
            .arg(format!("exec \"$0\" \"$@\" {redirect}"))
            .arg(bin_path())
            .args(run_args(&sim, std::path::Path::new("-"), &ledger));
        let out = finish_within(cmd, 120).await;
        assert_eq!(out.code, 2, "{redirect}: {out:?}");
        assert!(out.stderr.contains(expect), "{redirect}: {out:?}");
    }
    // No credentials anywhere: refused before any call.
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &good, &ledger))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("credentials"), "{out:?}");
    assert_eq!(sim.stats().requests, 0, "nothing was sent");
}
