//! Look before you act: `plan` / `run --dry-run` report and send nothing;
//! `run` asks for the pool id on a terminal and refuses off one without --yes.

use std::io::Write;
use std::process::Stdio;

use cognito_sim as sim;

use crate::support::*;

/// plan counts users to do, done before, duplicates and invalid rows (with line numbers) and the time at the rate; it only reads the pool (DescribeUserPool, ListUsers), changes no user and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_reports_and_sends_nothing() {
    let t = Scratch::new();
    let sim = sim(60, unlimited()).await;
    let ledger = t.path("l.jsonl");
    // An earlier run did the first 10 users.
    let first = t.users_csv((0..10).map(sim::population_name));
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &first, &ledger))
        .args(["--rate", "2000"]);
    assert_eq!(finish(cmd).await.code, 1);

    let mut csv = String::from("username\n");
    for i in 0..50 {
        csv.push_str(&format!("{}\n", sim::population_name(i)));
    }
    csv.push_str("user-000001\nuser-000002\nuser-000003\nbad name\n\n\"\"\n");
    let input = t.write("all.csv", csv);
    let mutating = sim.stats().mutating_requests;
    let ledger_len = std::fs::metadata(&ledger).unwrap().len();
    for (verb, extra) in [("plan", None), ("run", Some("--dry-run"))] {
        let mut args = with(run_args(&sim, &input, &ledger), "--rate", "20");
        args[0] = verb.into();
        args.retain(|a| a != "--yes");
        let mut cmd = t.bin();
        cmd.args(&args).args(extra);
        let out = finish(cmd).await;
        assert_eq!(out.code, 0, "{verb}: {out:?}");
        for want in [
            "users to do          40",
            "done before          10 (1 failed; --retry-failed redoes them)",
            "duplicate rows       3",
            "invalid rows         2",
            "line 55: username contains whitespace",
            "line 57: username is empty",
            "20/s: about 2s",
        ] {
            assert!(
                out.stdout.contains(want),
                "{verb}: expected '{want}' in {out:?}"
            );
        }
        assert_eq!(
            sim.stats().mutating_requests,
            mutating,
            "{verb}: no user changed"
        );
        assert_eq!(
            std::fs::metadata(&ledger).unwrap().len(),
            ledger_len,
            "{verb}: nothing written"
        );
    }
}

/// Off a terminal, run without --yes refuses (exit 2) saying to add --yes; nothing is sent and no ledger is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_confirmation_off_a_terminal() {
    let t = Scratch::new();
    let sim = sim(10, unlimited()).await;
    let input = t.users_csv(resettable(10));
    let ledger = t.path("l.jsonl");
    let mut args = run_args(&sim, &input, &ledger);
    args.retain(|a| a != "--yes");
    let mut cmd = t.bin();
    cmd.args(&args);
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("add --yes"), "{out:?}");
    assert_eq!(sim.stats().requests, 0);
    assert!(!ledger.exists());
}

/// On a terminal, run shows the plan and asks for the pool id: a wrong answer sends nothing (exit 2), the right one goes ahead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_confirmation_on_a_terminal() {
    let t = Scratch::new();
    let sim = sim(10, unlimited()).await;
    let input = t.users_csv(resettable(10));
    let ledger = t.path("l.jsonl");
    let mut args = run_args(&sim, &input, &ledger);
    args.retain(|a| a != "--yes");
    let base = t.bin();
    let line: Vec<String> = std::iter::once(base.get_program().to_string_lossy().into_owned())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect();
    for (answer, code) in [("us-east-1_Wrong", 2), (sim.pool_id(), 0)] {
        // `script` gives the tool a pseudo-terminal and types our answer into it.
        let mut cmd = t.wrapped("script");
        cmd.args(["-qec", &line.join(" "), "/dev/null"]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("script (util-linux) runs");
        let mut stdin = child.stdin.take().unwrap();
        let typed = format!("{answer}\n");
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(1500));
            let _ = stdin.write_all(typed.as_bytes());
        });
        let out = finish_child(child).await;
        assert_eq!(out.code, code, "answer {answer}: {out:?}");
        assert!(
            out.stdout.contains("Type the pool id to go ahead"),
            "{out:?}"
        );
        assert!(out.stdout.contains("This will reset 9 users"), "{out:?}");
    }
    assert!(sim.stats().requests > 0);
    for name in resettable(10) {
        assert_eq!(sim.user(&name).unwrap().messages, 1);
    }
}
