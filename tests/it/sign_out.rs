//! Ending sessions: --sign-out after each reset, --action sign-out alone,
//! each step its own ledger record, a resume picking up each user's step.

use std::time::Duration;

use cognito_sim as sim;

use crate::support::*;

fn steps(ledger: &std::path::Path, name: &str) -> Vec<(String, String)> {
    user_records(ledger)
        .iter()
        .filter(|r| r["username"] == name)
        .map(|r| {
            (
                r["step"].as_str().unwrap_or("action").to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// --sign-out signs each user out after a successful reset, as a record of its own; users whose reset failed are not signed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_then_sign_out() {
    let t = Scratch::new();
    let sim = sim(100, unlimited()).await;
    let input = t.users_csv((0..100).map(sim::population_name));
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger)).args([
        "--sign-out",
        "--rate",
        "2000",
        "--sign-out-rate",
        "2000",
    ]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "ineligible users fail: {out:?}");
    for i in 0..100 {
        let name = sim::population_name(i);
        let u = sim.user(&name).unwrap();
        if sim::population_resettable(i) {
            assert_eq!((u.messages, u.sign_outs), (1, 1), "{name}");
            assert_eq!(
                steps(&ledger, &name),
                [
                    ("action".into(), "succeeded".into()),
                    ("sign-out".into(), "succeeded".into())
                ],
                "{name}"
            );
        } else {
            assert_eq!(u.sign_outs, 0, "{name}: reset failed, not signed out");
        }
    }
    assert!(
        out.stdout
            .contains("signed out           94 (0 sign-outs failed)"),
        "{out:?}"
    );
}

/// A resume picks each user up at its step: users reset earlier without --sign-out are only signed out; a run killed mid-way finishes both steps with one message each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_picks_up_each_step() {
    let t = Scratch::new();
    let sim = sim_answering_after(400, 3).await;
    let names = resettable(400);
    let first = t.users_csv(names[..100].to_vec());
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &first, &ledger))
        .args(["--rate", "2000"]);
    assert_eq!(finish(cmd).await.code, 0);

    let all = t.users_csv(names.clone());
    let args = run_args(&sim, &all, &ledger);
    let mut cmd = t.bin();
    cmd.args(&args)
        .args(["--sign-out", "--rate", "200", "--sign-out-rate", "200"]);
    kill_after(cmd, Duration::from_millis(900)).await;
    // Who is still signed in is what an incident is about: status counts
    // it, and export has a column for it.
    let status = |t: &Scratch| {
        let mut cmd = t.bin();
        cmd.args(["status", "--json", "--ledger"]).arg(&ledger);
        cmd
    };
    let mid: serde_json::Value = serde_json::from_str(&finish(status(&t)).await.stdout).unwrap();
    let (done, left) = (
        mid["signed_out"].as_u64().unwrap(),
        mid["not_signed_out"].as_u64().unwrap(),
    );
    assert_eq!(done + left, mid["succeeded"].as_u64().unwrap(), "{mid}");
    assert!(
        left > 0,
        "the kill left users reset and not signed out: {mid}"
    );

    let mut cmd = t.bin();
    cmd.args(&args)
        .args(["--sign-out", "--rate", "2000", "--sign-out-rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let end: serde_json::Value = serde_json::from_str(&finish(status(&t)).await.stdout).unwrap();
    assert_eq!(
        (end["signed_out"].as_u64(), end["not_signed_out"].as_u64()),
        (Some(names.len() as u64), Some(0)),
        "{end}"
    );
    let mut text = t.bin();
    text.args(["status", "--ledger"]).arg(&ledger);
    let text = finish(text).await.stdout;
    assert!(
        text.contains(&format!("signed out {}", names.len())),
        "{text}"
    );
    let mut export = t.bin();
    export
        .args(["export", "--format", "jsonl", "--ledger"])
        .arg(&ledger);
    let rows = finish(export).await.stdout;
    for row in rows.lines() {
        let row: serde_json::Value = serde_json::from_str(row).unwrap();
        assert_eq!(
            (&row["outcome"], &row["sign_out"]),
            (
                &serde_json::json!("succeeded"),
                &serde_json::json!("succeeded")
            ),
            "{row}"
        );
    }
    for name in &names {
        let u = sim.user(name).unwrap();
        assert_eq!(u.messages, 1, "{name}: reset once");
        assert!(u.sign_outs >= 1, "{name}: signed out");
        let s = steps(&ledger, name);
        assert_eq!(
            s.iter()
                .filter(|(step, o)| step == "action" && o == "succeeded")
                .count(),
            1,
            "{name}: {s:?}"
        );
        assert_eq!(
            s.iter()
                .filter(|(step, o)| step == "sign-out" && o == "succeeded")
                .count(),
            1,
            "{name}: {s:?}"
        );
    }
}

/// --action sign-out only ends sessions: no reset, no message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_only() {
    let t = Scratch::new();
    let sim = sim(50, unlimited()).await;
    let names = resettable(50);
    let input = t.users_csv(names.clone());
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--action", "sign-out", "--rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    for name in &names {
        let u = sim.user(name).unwrap();
        assert_eq!((u.messages, u.sign_outs), (0, 1), "{name}");
    }
    let mut bad = t.bin();
    bad.args(run_args(&sim, &input, &t.path("x.jsonl"))).args([
        "--action",
        "sign-out",
        "--sign-out",
    ]);
    let out = finish(bad).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--action sign-out"), "{out:?}");
}
