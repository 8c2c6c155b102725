//! Users from the pool itself: --from-pool [--filter] streams ListUsers.

use std::time::Duration;

use cognito_sim::{self as sim, SimHandle};

use crate::support::*;

fn pool_args(sim: &SimHandle, ledger: &std::path::Path) -> Vec<String> {
    let mut args = run_args(sim, std::path::Path::new("-"), ledger);
    let i = args.iter().position(|a| a == "--input").unwrap();
    args.drain(i..i + 2);
    args.push("--from-pool".into());
    args
}

/// A filter on CONFIRMED lists only those users, page by page: users in other states are never called; the others are done once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_listing_resets_only_matching_users() {
    let t = Scratch::new();
    let sim = sim(250, unlimited()).await;
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(pool_args(&sim, &ledger)).args([
        "--filter",
        "cognito:user_status = \"CONFIRMED\"",
        "--rate",
        "2000",
        "--list-rate",
        "50",
    ]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "disabled and unverified users fail: {out:?}");
    let o = outcomes(&ledger);
    for i in 0..250 {
        let name = sim::population_name(i);
        let u = sim.user(&name).unwrap();
        if i % 50 == 7 {
            assert_eq!(
                u.calls, 0,
                "{name} (FORCE_CHANGE_PASSWORD) is not listed by the filter"
            );
            assert!(!o.contains_key(&name));
        } else {
            assert_eq!(u.calls, 1, "{name}");
            assert!(o.contains_key(&name), "{name} recorded");
        }
    }
    assert_eq!(o.len(), 245);
    assert!(
        sim.counters().applied_count("ListUsers") >= 5,
        "listed page by page (60 a page)"
    );
}

/// A listing run killed mid-way and re-run lists again and finishes: every user ends with one outcome, none called twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_resumes_after_a_kill() {
    let t = Scratch::new();
    let sim = sim_answering_after(600, 3).await;
    let ledger = t.path("l.jsonl");
    let args = pool_args(&sim, &ledger);
    let mut cmd = t.bin();
    cmd.args(&args).args(["--rate", "300", "--list-rate", "50"]);
    kill_after(cmd, Duration::from_millis(900)).await;
    let done = outcomes(&ledger).len();
    assert!(done > 0 && done < 600, "killed mid-run ({done})");

    let mut cmd = t.bin();
    cmd.args(&args)
        .args(["--rate", "2000", "--list-rate", "50"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout.contains(&format!("skipped, done before {done}")),
        "{out:?}"
    );
    assert_eq!(outcomes(&ledger).len(), 600);
    for i in 0..600 {
        let u = sim.user(&sim::population_name(i)).unwrap();
        assert!(
            u.messages <= 1 && u.calls >= 1,
            "user {i}: {} calls, {} messages",
            u.calls,
            u.messages
        );
    }
}

/// A filter ListUsers refuses stops before any mutating call (exit 2), naming the fix; plan --from-pool counts without a mutating call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_filter_and_plan() {
    let t = Scratch::new();
    let sim = sim(100, unlimited()).await;
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(pool_args(&sim, &ledger))
        .args(["--filter", "no operator here"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("ListUsers was refused") && out.stderr.contains("--filter"),
        "{out:?}"
    );

    let mut args = pool_args(&sim, &ledger);
    args[0] = "plan".into();
    let mut cmd = t.bin();
    cmd.args(&args)
        .args(["--filter", "username ^= \"user-00000\"", "--rate", "20"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("users to do          10"), "{out:?}");
    assert_eq!(
        sim.counters().applied_count("AdminResetUserPassword"),
        0,
        "no mutating call"
    );
}
