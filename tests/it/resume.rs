//! Stopping a run at any moment and running it again: the ledger finishes
//! the job, and no user it recorded as done is called again.

use std::collections::HashMap;
use std::time::Duration;

use cognito_bulk_reset::sim::{self, Behaviour};

use crate::support::*;

/// Per-user call counts the simulated pool saw.
fn calls(sim: &cognito_bulk_reset::sim::SimHandle) -> HashMap<String, u32> {
    let mut m = HashMap::new();
    sim.for_each_user(|name, u| {
        m.insert(name.to_string(), u.calls);
    });
    m
}

/// Killed with SIGKILL three times mid-run, then re-run: every user ends with exactly one outcome, users recorded before a kill are never called again, and only calls in flight at a kill can repeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_run_resumes_without_touching_done_users() {
    const USERS: usize = 1500;
    const CONCURRENCY: usize = 16;
    let t = Scratch::new();
    let sim = sim(
        USERS,
        Behaviour {
            latency_ms: 5,
            fail_rate: 0.02,
            ..unlimited()
        },
    )
    .await;
    let input = t.users_csv((0..USERS).map(sim::population_name));
    let ledger = t.path("l.jsonl");
    let args = run_args(&sim, &input, &ledger);
    let concurrency = CONCURRENCY.to_string();
    let extra = ["--rate", "400", "--concurrency", concurrency.as_str()];

    // Kill runs at varied moments. Before each run, note what the ledger
    // has done and how often the pool saw each user; after it, no done user
    // may have been called again, and the users called but left unrecorded
    // are the ones in flight at the kill.
    let mut in_flight_at_kills = 0;
    for (round, ms) in [600u64, 250, 450, 150, 900, 350].into_iter().enumerate() {
        let done_before: Vec<String> = if ledger.exists() {
            outcomes(&ledger).into_keys().collect()
        } else {
            vec![]
        };
        let calls_before = calls(&sim);

        let mut cmd = t.bin();
        cmd.args(&args).args(extra);
        let mut child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(ms)).await;
        child.kill().expect("SIGKILL");
        tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();

        let done_after = outcomes(&ledger); // panics if a user has two outcomes
        assert!(
            done_after.len() < USERS,
            "round {round}: the kill landed mid-run ({} done)",
            done_after.len()
        );
        let calls_after = calls(&sim);
        for name in &done_before {
            assert_eq!(
                calls_after[name], calls_before[name],
                "round {round}: {name} was done before this run and was called again"
            );
        }
        let in_flight = calls_after
            .iter()
            .filter(|(name, c)| **c > calls_before[*name] && !done_after.contains_key(*name))
            .count();
        assert!(
            in_flight <= CONCURRENCY,
            "round {round}: {in_flight} unrecorded calls, more than could be in flight"
        );
        in_flight_at_kills += in_flight;
    }
    assert!(
        outcomes(&ledger).len() > 100,
        "the killed runs made progress"
    );

    let mut cmd = t.bin();
    cmd.args(&args).args(extra);
    let out = finish(cmd).await;
    assert_eq!(
        out.code, 1,
        "ineligible users fail, the rest succeed: {out:?}"
    );
    let o = outcomes(&ledger); // panics if any user has two outcomes
    assert_eq!(o.len(), USERS, "every user has exactly one outcome");
    let mut repeated = 0;
    for i in 0..USERS {
        let name = sim::population_name(i);
        let want = if sim::population_resettable(i) {
            "succeeded"
        } else {
            "failed"
        };
        assert_eq!(o[&name]["outcome"], want, "{name}");
        let u = sim.user(&name).unwrap();
        if sim::population_resettable(i) {
            assert!(u.messages >= 1, "{name} was reset");
        }
        repeated += usize::from(u.messages > 1);
    }
    assert!(
        repeated <= in_flight_at_kills,
        "only users in flight at a kill may have been reset twice ({repeated} > {in_flight_at_kills})"
    );
}

/// Ctrl-C (SIGINT) finishes the calls in flight, records them, exits 130 and says how to resume; the re-run completes and no user was called twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_is_graceful_and_resumable() {
    const USERS: usize = 800;
    let t = Scratch::new();
    let sim = sim(
        USERS,
        Behaviour {
            latency_ms: 20,
            ..unlimited()
        },
    )
    .await;
    let input = t.users_csv(resettable(USERS));
    let ledger = t.path("l.jsonl");
    let args = run_args(&sim, &input, &ledger);
    let mut cmd = t.bin();
    cmd.args(&args).args(["--rate", "300"]);
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("run the same command again"), "{stdout}");
    let done = outcomes(&ledger).len();
    assert!(
        done > 0 && done < resettable(USERS).len(),
        "interrupted mid-run ({done} done)"
    );

    let mut cmd = t.bin();
    cmd.args(&args).args(["--rate", "1000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains(&format!("skipped, done before {done}")),
        "{out:?}"
    );
    for name in resettable(USERS) {
        let u = sim.user(&name).unwrap();
        assert_eq!(
            (u.calls, u.messages),
            (1, 1),
            "{name}: called once, messaged once"
        );
    }
    assert_eq!(outcomes(&ledger).len(), resettable(USERS).len());
}
