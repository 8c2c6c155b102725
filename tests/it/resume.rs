//! Stopping a run at any moment and running it again: the ledger finishes
//! the job, and no user it recorded as done is called again.

use std::collections::HashMap;
use std::time::Duration;

use cognito_sim::{self as sim, Behaviour};

use crate::support::*;

/// Per-user call counts the simulated pool saw.
fn calls(sim: &cognito_sim::SimHandle) -> HashMap<String, u32> {
    let mut m = HashMap::new();
    sim.for_each_user(|name, u| {
        m.insert(name.to_string(), u.calls);
    });
    m
}

/// Killed with SIGKILL at 22 random moments (half counted from the start, half from a random number of further reset messages) of a 4,000-user run with throttling, 5xx, dropped connections and slow replies past the attempt timeout, re-run after each kill: every resettable user ends with exactly one `succeeded`, no user gets two messages, no user the ledger had finished is called again, and the ledger's counts match the pool's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_nothing_lost_nothing_twice() {
    const USERS: usize = 4000;
    const KILLS: usize = 22;
    let t = Scratch::new();
    let sim = sim(
        USERS,
        Behaviour {
            // Well under --rate 400 so every run throttles, however fast the
            // machine: the pool's one-second bucket cannot hide the excess.
            quota_recovery: 150.0,
            latency_ms: 3,
            fail_rate: 0.02,
            drop_rate: 0.02,
            slow_rate: 0.02,
            slow_ms: 1200,
            ..unlimited()
        },
    )
    .await;
    let input = t.users_csv((0..USERS).map(sim::population_name));
    let ledger = t.path("l.jsonl");
    let args = run_args(&sim, &input, &ledger);
    let extra = [
        "--rate",
        "400",
        "--read-rate",
        "400",
        "--list-rate",
        "2000",
        "--attempt-timeout",
        "0.5",
        "--concurrency",
        "16",
    ];

    let mut rng = fastrand::Rng::with_seed(0x5eed);
    for round in 0..KILLS {
        let done_before: Vec<String> = if ledger.exists() {
            outcomes(&ledger).into_keys().collect()
        } else {
            vec![]
        };
        let calls_before = calls(&sim);

        let mut cmd = t.bin();
        cmd.args(&args).args(extra);
        // Each run first resolves the input against an index of the pool
        // (67 ListUsers pages), then calls. Even rounds kill at a moment
        // counted from the start, which may land anywhere in either phase;
        // odd rounds once the pool has sent some more reset messages, so
        // the job makes progress however slowly a loaded machine starts it.
        // No round may send more than PER_ROUND messages before its kill,
        // so however fast the machine, the 22 kills cannot finish the job
        // (22 x (120 + 16 in flight) is well under the 3,760 resettable).
        const PER_ROUND: u64 = 120;
        if round % 2 == 0 {
            let after = Duration::from_millis(rng.u64(100..1500));
            kill_by(cmd, &sim, after, PER_ROUND).await;
        } else {
            let sent = sim.stats().messages;
            let more = rng.u64(50..=PER_ROUND);
            let then = Duration::from_millis(rng.u64(0..40));
            kill_when(cmd, || sim.stats().messages >= sent + more, then).await;
        }

        let done_after = outcomes(&ledger); // panics if a user has two final outcomes
        assert!(
            done_after.len() < USERS,
            "round {round}: the kill landed mid-run"
        );
        let calls_after = calls(&sim);
        for name in &done_before {
            assert_eq!(
                calls_after[name], calls_before[name],
                "round {round}: {name} was done before this run and was called again"
            );
        }
    }
    let killed_done = outcomes(&ledger).len();
    assert!(
        killed_done > 500,
        "the killed runs made progress ({killed_done} users)"
    );

    let mut cmd = t.bin();
    cmd.args(&args).args(extra);
    let out = finish(cmd).await;
    assert_eq!(
        out.code, 1,
        "ineligible users fail, the rest succeed: {out:?}"
    );

    let o = outcomes(&ledger); // panics if any user has two final outcomes
    assert_eq!(o.len(), USERS, "every user has exactly one final outcome");
    let (mut succeeded, mut reset_required) = (0u64, 0u64);
    for i in 0..USERS {
        let name = sim::population_name(i);
        let u = sim.user(&name).unwrap();
        assert!(u.messages <= 1, "{name} got {} messages", u.messages);
        if sim::population_resettable(i) {
            assert_eq!(o[&name]["outcome"], "succeeded", "{name}");
            assert_eq!(u.messages, 1, "{name} was reset");
        } else {
            assert_eq!(o[&name]["outcome"], "failed", "{name}");
        }
        succeeded += u64::from(o[&name]["outcome"] == "succeeded");
        reset_required += u64::from(u.status == cognito_sim::Status::ResetRequired);
    }
    let stats = sim.stats();
    assert_eq!(
        succeeded, stats.messages,
        "ledger successes match the messages the pool sent"
    );
    assert_eq!(
        succeeded, reset_required,
        "ledger successes match the users the pool has reset"
    );
    assert_eq!(stats.users_with_repeat_messages, 0);
    assert!(
        stats.throttled > 0 && stats.faults > 0,
        "throttling and faults were injected: {stats:?}"
    );
    eprintln!(
        "kill test: {KILLS} kills, {USERS} users, {killed_done} done by the killed runs, {succeeded} reset, {} reconciled after lost answers, duplicates: 0; pool stats {stats:?}",
        o.values().filter(|r| r["detail"].is_string()).count()
    );
}

/// Ctrl-C (SIGINT) finishes the calls in flight, records them, exits 130 and says how to resume; the re-run completes and no user was called twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_is_graceful_and_resumable() {
    const USERS: usize = 800;
    let t = Scratch::new();
    let sim = sim_answering_after(USERS, 20).await;
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
    // Interrupt once users are being reset (the pool is indexed first).
    while sim.stats().messages < 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    send_signal(child.id(), "-INT");
    let out = finish_child(child).await;
    assert_eq!(out.code, 130, "{out:?}");
    assert!(out.stdout.contains("run the same command again"), "{out:?}");
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

/// SIGTERM is graceful like Ctrl-C but exits 143.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_143() {
    let t = Scratch::new();
    let sim = sim_answering_after(400, 20).await;
    let input = t.users_csv(resettable(400));
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--rate", "100"]);
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once calls are under way: before the first call a signal ends the
    // run at once, with nothing to resume (tests/it/signals.rs).
    while sim.stats().messages < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    send_signal(child.id(), "-TERM");
    let out = finish_child(child).await;
    assert_eq!(out.code, 143, "{out:?}");
    assert!(out.stdout.contains("run the same command again"), "{out:?}");
}

/// A second Ctrl-C exits at once even while calls hang; the ledger stays readable, and the re-run reads the hung calls back instead of sending them twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_interrupt_exits_at_once() {
    let t = Scratch::new();
    let sim = sim_answering_after(100, 5).await;
    let names = resettable(100);
    let input = t.users_csv(names.clone());
    let ledger = t.path("l.jsonl");
    let args = run_args(&sim, &input, &ledger);
    let mut cmd = t.bin();
    cmd.args(&args)
        .args(["--rate", "50", "--attempt-timeout", "30"]);
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while sim.stats().messages < 10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Every reply from now on hangs for 20 s (after the call is carried out).
    sim.set_behaviour(Behaviour {
        slow_rate: 1.0,
        slow_ms: 20_000,
        ..unlimited()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = child.id();
    send_signal(pid, "-INT");
    tokio::time::sleep(Duration::from_millis(200)).await;
    send_signal(pid, "-INT");
    let out = finish_child(child).await;
    assert_eq!(out.code, 130, "{out:?}");
    // Exited without waiting: users whose calls were hanging are unrecorded.
    let recorded = outcomes(&ledger);
    let hung = names
        .iter()
        .filter(|n| sim.user(n).unwrap().calls > 0 && !recorded.contains_key(*n))
        .count();
    assert!(
        hung > 0,
        "the process exited while calls were still hanging"
    );
    crate::support::user_records(&ledger); // every complete line still parses

    sim.set_behaviour(unlimited());
    let mut cmd = t.bin();
    cmd.args(&args).args(["--rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("confirmed by reading the user back"),
        "hung calls were read back: {out:?}"
    );
    for name in &names {
        assert_eq!(sim.user(name).unwrap().messages, 1, "{name}: one message");
    }
}
