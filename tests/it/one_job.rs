//! One job per pool and action (docs/failures.md, "Two jobs on one pool"):
//! a second live job with another ledger is refused before any change,
//! naming the first; plan shows it; `--allow-concurrent-jobs` goes on
//! with a warning; another action, or the same pool once the first job
//! ended, goes ahead. The claims of two hosts in one DynamoDB table are in
//! tests/it/dynamodb.rs.

use std::process::Stdio;
use std::time::Duration;

use crate::support::*;

/// A second job on the pool is refused (exit 2, before any change, naming the first's ledger and the flag), plan shows the first, --allow-concurrent-jobs goes on, sign-out on the same pool is another job; once the first ends a new job goes ahead, and nobody got two messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_job_on_the_same_pool_is_refused() {
    let t = Scratch::new();
    let sim = sim_answering_after(300, 5).await;
    let names = resettable(300);
    let (first_half, second_half) = names.split_at(names.len() / 2);
    let input = t.users_csv(first_half.to_vec());
    let other_input = t.write(
        "others.csv",
        format!("username\n{}\n", second_half.join("\n")),
    );
    let first_ledger = t.path("first.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &first_ledger))
        .args(["--rate", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let first = cmd.spawn().unwrap();
    while sim.stats().messages < 5 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The same input, another ledger: refused before any change.
    let second_ledger = t.path("second.jsonl");
    let mutating = sim.stats().mutating_requests;
    let mut second = t.bin();
    second.args(run_args(&sim, &input, &second_ledger));
    let out = finish(second).await;
    assert_eq!(out.code, 2, "{out:?}");
    for want in [
        "another job is running reset on pool",
        "first.jsonl",
        &format!("pid {}", first.id()),
        "--allow-concurrent-jobs",
        "nothing was sent",
    ] {
        assert!(out.stderr.contains(want), "wanted {want:?}: {out:?}");
    }
    assert!(
        user_records(&second_ledger).is_empty(),
        "the refused job recorded no one"
    );

    // plan says so.
    let mut plan = t.bin();
    plan.args(
        run_args(&sim, &input, &second_ledger)
            .into_iter()
            .filter(|a| a != "--yes")
            .collect::<Vec<_>>(),
    )
    .arg("--dry-run");
    let out = finish(plan).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("ANOTHER JOB") && out.stdout.contains("first.jsonl"),
        "{out:?}"
    );

    // Sign-out on the same pool is another action: it goes ahead.
    let mut sign_out = t.bin();
    sign_out
        .args(run_args(&sim, &other_input, &t.path("sign-out.jsonl")))
        .args(["--action", "sign-out", "--rate", "500"]);
    let out = finish(sign_out).await;
    assert_eq!(out.code, 0, "{out:?}");

    // Users that surely differ, with the flag: goes on, saying why.
    let mut alongside = t.bin();
    alongside
        .args(run_args(&sim, &other_input, &t.path("alongside.jsonl")))
        .args(["--allow-concurrent-jobs", "--rate", "500"]);
    let out = finish(alongside).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("another job is running this action on this pool"),
        "{out:?}"
    );
    assert!(sim.stats().mutating_requests > mutating);

    let out = finish_child(first).await;
    assert_eq!(out.code, 0, "{out:?}");
    // The first job ended: its claim is gone, and a job on the pool goes
    // ahead (done before: the ledger is the first's).
    let mut again = t.bin();
    again.args(run_args(&sim, &input, &first_ledger));
    let out = finish(again).await;
    assert_eq!(out.code, 0, "{out:?}");
    for name in &names {
        assert_eq!(sim.user(name).unwrap().messages, 1, "{name}");
    }
    sim.stop().await;
}

/// A job killed with SIGKILL leaves no claim behind on its host: the kernel drops the lock, and the next job on the pool goes ahead at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_job_leaves_no_claim() {
    let t = Scratch::new();
    let sim = sim_answering_after(100, 5).await;
    let input = t.users_csv(resettable(100));
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &t.path("killed.jsonl")))
        .args(["--rate", "10"]);
    kill_after(cmd, Duration::from_millis(1500)).await;
    let mut next = t.bin();
    next.args(run_args(&sim, &input, &t.path("killed.jsonl")))
        .args(["--rate", "1000"]);
    let out = finish(next).await;
    assert_eq!(out.code, 0, "{out:?}");
    sim.stop().await;
}
