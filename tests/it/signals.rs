//! Signals at every stage, on a real pseudo-terminal where a terminal is
//! the point (tests/it/pty_run.py): before the first call a signal ends the
//! run at once with its code; mid-run SIGHUP is handled like SIGTERM (calls
//! in flight finished and recorded, the summary, exit 129); a closed
//! terminal is a SIGHUP; under `nohup` the run outlives its terminal.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

fn summary_code(path: &Path) -> Option<i64> {
    let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v["exit_code"].as_i64()
}

/// SIGTERM, a typed Ctrl-C and SIGHUP at the confirmation prompt end the run at once with 143, 130 and 129, sending nothing; the summary file says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_before_the_first_call_ends_the_run_at_once() {
    let t = Scratch::new();
    let sim = sim(10, unlimited()).await;
    let input = t.users_csv(resettable(10));
    for (action, code) in [
        ("signal:TERM", 143),
        ("type:\\x03", 130),
        ("signal:HUP", 129),
    ] {
        let summary = t.path(&format!("{code}.json"));
        let mut args = run_args(&sim, &input, &t.path(&format!("{code}.jsonl")));
        args.retain(|a| a != "--yes");
        let command = [
            vec![bin_path()],
            args,
            vec!["--summary-json".into(), summary.display().to_string()],
        ]
        .concat();
        let got = on_terminal(&t, command, "text:Type the pool id", action).await;
        assert_eq!(got.code, Some(code), "{action}: {got:?}");
        assert!(got.shown.contains("nothing was sent"), "{action}: {got:?}");
        assert_eq!(summary_code(&summary), Some(code), "{action}");
    }
    assert_eq!(sim.stats().mutating_requests, 0);
}

/// SIGHUP mid-run is handled like SIGTERM: calls in flight finish and are recorded, the summary is printed and written, exit 129; the same command then finishes the job, every user called once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_mid_run_is_like_sigterm() {
    let t = Scratch::new();
    let sim = sim_answering_after(400, 20).await;
    let input = t.users_csv(resettable(400));
    let ledger = t.path("l.jsonl");
    let summary = t.path("summary.json");
    let args = with(
        run_args(&sim, &input, &ledger),
        "--summary-json",
        summary.to_str().unwrap(),
    );
    let mut cmd = t.bin();
    cmd.args(&args).args(["--rate", "100"]);
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while sim.stats().messages < 30 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    send_signal(child.id(), "-HUP");
    let out = finish_child(child).await;
    assert_eq!(out.code, 129, "{out:?}");
    assert!(out.stdout.contains("run the same command again"), "{out:?}");
    assert_eq!(summary_code(&summary), Some(129));
    every_user_once_after_a_rerun(&t, &sim, &args, &ledger, 400).await;
}

/// The same command run again finishes the job; every user was called and
/// messaged exactly once.
async fn every_user_once_after_a_rerun(
    t: &Scratch,
    sim: &cognito_sim::SimHandle,
    args: &[String],
    ledger: &Path,
    users: usize,
) {
    let mut cmd = t.bin();
    cmd.args(args).args(["--rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    for name in resettable(users) {
        let u = sim.user(&name).unwrap();
        assert_eq!((u.calls, u.messages), (1, 1), "{name}");
    }
    assert_eq!(outcomes(ledger).len(), resettable(users).len());
}

/// Closing the terminal mid-run (the kernel's SIGHUP, then every write to it failing) stops the run like SIGTERM: no panic on the dead terminal, exit 129, the summary file written; a re-run finishes the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_terminal_stops_the_run_cleanly() {
    let t = Scratch::new();
    let sim = sim_answering_after(400, 20).await;
    let input = t.users_csv(resettable(400));
    let ledger = t.path("l.jsonl");
    let summary = t.path("summary.json");
    let args = with(
        run_args(&sim, &input, &ledger),
        "--summary-json",
        summary.to_str().unwrap(),
    );
    let command = [
        vec![bin_path()],
        args.clone(),
        vec!["--rate".into(), "100".into()],
    ]
    .concat();
    let wait = format!("ledger:30:{}", ledger.display());
    let got = on_terminal(&t, command, &wait, "close").await;
    assert_eq!((got.code, got.signal), (Some(129), None), "{got:?}");
    assert_eq!(summary_code(&summary), Some(129));
    let done = outcomes(&ledger).len();
    assert!(
        done < resettable(400).len(),
        "stopped mid-run ({done} done)"
    );
    every_user_once_after_a_rerun(&t, &sim, &args, &ledger, 400).await;
}

/// Under `nohup` (SIGHUP ignored when the tool starts) the run outlives its closed terminal and finishes the job, exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_nohup_the_run_outlives_its_terminal() {
    let t = Scratch::new();
    let sim = sim_answering_after(200, 20).await;
    let input = t.users_csv(resettable(200));
    let ledger = t.path("l.jsonl");
    let summary = t.path("summary.json");
    let command = [
        vec!["nohup".into(), bin_path()],
        with(
            run_args(&sim, &input, &ledger),
            "--summary-json",
            summary.to_str().unwrap(),
        ),
        vec!["--rate".into(), "50".into()],
    ]
    .concat();
    let wait = format!("ledger:20:{}", ledger.display());
    let got = on_terminal(&t, command, &wait, "close").await;
    assert_eq!(got.code, Some(0), "{got:?}");
    assert_eq!(summary_code(&summary), Some(0));
    assert_eq!(outcomes(&ledger).len(), resettable(200).len());
    let nohup_out = std::fs::read_to_string(t.path("nohup.out")).unwrap_or_default();
    assert!(nohup_out.contains("succeeded"), "{nohup_out}");
}

/// An intent means "this call may have been sent": SIGTERM at a low rate, with many users waiting for the limiter, leaves an outcome for every intent (none pending), and the resume reads no one back (0 AdminGetUser) and messages each user once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_at_a_low_rate_leaves_no_intent_for_an_unsent_call() {
    let t = Scratch::new();
    let sim = sim_answering_after(40, 20).await;
    let input = t.users_csv(resettable(40));
    let ledger = t.path("l.jsonl");
    let args = run_args(&sim, &input, &ledger);
    let mut cmd = t.bin();
    // 16 users wait for the limiter at once; about one call a second goes.
    cmd.args(&args)
        .args(["--rate", "1", "--burst", "1", "--concurrency", "16"]);
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while sim.stats().messages < 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    send_signal(child.id(), "-TERM");
    let out = finish_child(child).await;
    assert_eq!(out.code, 143, "{out:?}");
    let sent = sim.stats().mutating_requests;
    let intents = std::fs::read_to_string(&ledger)
        .unwrap()
        .lines()
        .filter(|l| l.contains(r#""record":"intent""#))
        .count() as u64;
    assert_eq!(
        intents, sent,
        "one intent per call sent, none for users still waiting for the limiter"
    );
    let mut status = t.bin();
    status.args(["status", "--json", "--ledger"]).arg(&ledger);
    let status: Value = serde_json::from_str(&finish(status).await.stdout).unwrap();
    assert_eq!(status["pending"], 0, "{status}");

    let reads_before = sim
        .stats()
        .applied
        .get("AdminGetUser")
        .copied()
        .unwrap_or(0);
    every_user_once_after_a_rerun(&t, &sim, &args, &ledger, 40).await;
    let reads = sim
        .stats()
        .applied
        .get("AdminGetUser")
        .copied()
        .unwrap_or(0)
        - reads_before;
    assert_eq!(reads, 0, "the resume read no one back");
}
