//! --precheck: users a reset cannot work for are recorded `skipped` with
//! the reason, from what ListUsers says of them, and never sent a reset.

use cognito_sim::{self as sim, SimUser, Status};

use crate::support::*;

/// Disabled, unverified, FORCE_CHANGE_PASSWORD and federated users are skipped with their reasons and no reset reaches them; the rest are reset once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn precheck_skips_what_cannot_work() {
    let t = Scratch::new();
    let sim = sim(100, unlimited()).await;
    sim.put_user(
        "federated_google_1",
        SimUser::new(Status::ExternalProvider, true, true),
    );
    let mut names: Vec<String> = (0..100).map(sim::population_name).collect();
    names.push("federated_google_1".into());
    names.push("nobody".into());
    let input = t.users_csv(names);
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger)).args([
        "--precheck",
        "--rate",
        "2000",
        "--read-rate",
        "2000",
    ]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    let o = outcomes(&ledger);
    let reason = |name: &str| {
        assert_eq!(o[name]["outcome"], "skipped", "{name}: {}", o[name]);
        assert_eq!(sim.user(name).unwrap().calls, 0, "{name}: no reset sent");
        o[name]["message"].as_str().unwrap().to_string()
    };
    assert!(reason("user-000007").contains("FORCE_CHANGE_PASSWORD"));
    assert!(reason("user-000023").contains("disabled"));
    assert!(reason("user-000041").contains("no verified email or phone"));
    assert!(reason("federated_google_1").contains("external identity provider"));
    assert_eq!(o["nobody"]["code"], "UserNotFoundException");
    for name in resettable(100) {
        assert_eq!(o[&name]["outcome"], "succeeded");
        assert_eq!(sim.user(&name).unwrap().messages, 1);
    }
    assert!(out.stdout.contains("skipped by precheck  7"), "{out:?}");
    assert_eq!(
        sim.stats().mau,
        0,
        "the precheck reads the pool's listing, billing no one"
    );
    assert_eq!(
        sim.counters().applied_count("AdminGetUser"),
        0,
        "no user read one by one"
    );
    // Every row is recorded (skipped ones included): nothing is left.
    let status = t
        .bin()
        .args(["status", "--json", "--ledger"])
        .arg(&ledger)
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["remaining"], 0, "{status}");
}
