//! A call that never left the machine is no lost answer: a dead endpoint
//! stops the run at once naming it, and local limits (open files) are
//! retried, never read back as if the call might have landed.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use cognito_sim::{self as sim, Behaviour, SimConfig};

use crate::support::*;

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Against an endpoint nothing listens on, reset and set-password stop before any call with exit 3, naming the endpoint (not Lambda triggers), within seconds, with no user recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_endpoint_stops_at_once_naming_it() {
    let t = Scratch::new();
    let url = format!("http://127.0.0.1:{}", closed_port());
    let input = t.write(
        "users.csv",
        (0..200).fold(String::from("username,password\n"), |s, i| {
            s + &format!("user-{i:06},Secret-Passw0rd!\n")
        }),
    );
    for action in ["reset", "set-password"] {
        let ledger = t.path(&format!("{action}.jsonl"));
        let mut cmd = t.bin();
        cmd.args([
            "run",
            "--yes",
            "--user-pool-id",
            "us-east-1_SimPool01",
            "--endpoint-url",
            &url,
            "--action",
            action,
            "--ledger",
        ])
        .arg(&ledger)
        .arg("--input")
        .arg(&input);
        let started = Instant::now();
        let out = finish(cmd).await;
        assert_eq!(out.code, 3, "{action}: {out:?}");
        assert!(
            out.stderr
                .contains(&format!("could not reach Cognito at {url}"))
                && out.stderr.contains("Connection refused")
                && out.stderr.contains("nothing was sent")
                && !out.stderr.contains("Lambda"),
            "{action}: {out:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{action}: failed fast, not after a read-back of every user"
        );
        assert!(
            !ledger.exists() || user_records(&ledger).is_empty(),
            "{action}: no user recorded"
        );
    }
}

/// When the endpoint dies mid-run, the run stops with exit 3 naming it; users whose calls never left are deferred or left unrecorded (never failed, never "reconciled"), and the same command finishes the job once the endpoint is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_dying_mid_run_stops_and_resumes() {
    let t = Scratch::new();
    let config = SimConfig {
        users: 400,
        behaviour: Behaviour {
            latency_ms: 5,
            ..unlimited()
        },
        ..SimConfig::default()
    };
    let first = sim::start_local(config.clone()).await.unwrap();
    let addr = first.addr;
    let input = t.users_csv(resettable(400));
    let ledger = t.path("l.jsonl");
    let args = run_args(&first, &input, &ledger);
    let mut cmd = t.bin();
    cmd.args(&args)
        .args(["--rate", "100", "--max-attempts", "3"]);
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while first.stats().messages < 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reset_before_death = first.stats().messages;
    first.stop().await;
    let out = finish_child(child).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stdout.contains("could not reach Cognito at") && out.stdout.contains("STOPPED"),
        "{out:?}"
    );
    let records = user_records(&ledger);
    assert!(
        records
            .iter()
            .all(|r| r["detail"] != "reconciled" && r["detail"] != "already_reset_required"),
        "no call that never left was taken for a lost answer: {records:?}"
    );
    let succeeded = records
        .iter()
        .filter(|r| r["outcome"] == "succeeded")
        .count() as u64;
    assert!(
        succeeded <= reset_before_death + 16,
        "only calls that reached the pool succeeded"
    );
    assert!(
        records
            .iter()
            .filter(|r| r["outcome"] != "succeeded")
            .all(|r| r["outcome"] == "deferred" && r["code"] == "ConnectionRefused"),
        "a call that could not leave leaves its user deferred (or unrecorded), never failed: {records:?}"
    );

    // The endpoint is back (a fresh pool on the same address).
    let second = sim::start(config, addr).await.unwrap();
    let mut cmd = t.bin();
    cmd.args(&args).args(["--rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let o = outcomes(&ledger);
    assert_eq!(o.len(), resettable(400).len(), "every user finished");
    assert!(o.values().all(|r| r["outcome"] == "succeeded"));
    second.stop().await;
}

/// With too few file descriptors for the concurrency, calls that cannot open a connection are retried as never sent, never read back as lost answers; no user is recorded as reconciled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_open_files_is_no_lost_answer() {
    let t = Scratch::new();
    let sim = sim_answering_after(400, 20).await;
    let input = t.users_csv(resettable(400));
    // An earlier run (another ledger) reset them all a moment ago.
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &t.path("earlier.jsonl")))
        .args(["--rate", "5000", "--concurrency", "64"]);
    assert_eq!(finish(cmd).await.code, 0);

    let ledger = t.path("l.jsonl");
    let mut line = vec![env!("CARGO_BIN_EXE_cognito-bulk-reset").to_string()];
    line.extend(run_args(&sim, &input, &ledger));
    line.extend(["--rate", "5000", "--concurrency", "64", "-v"].map(String::from));
    let mut cmd = t.wrapped("bash");
    cmd.arg("-c")
        .arg("ulimit -n 30 && exec \"$@\"")
        .arg("bash")
        .args(&line);
    let out = finish(cmd).await;
    assert!(
        out.stderr.contains("code=TooManyOpenFiles"),
        "the limit was hit: {out:?}"
    );
    assert!(matches!(out.code, 0 | 3), "{out:?}");
    let records = user_records(&ledger);
    assert!(
        records.iter().all(|r| r["detail"].is_null()),
        "no record settled by a read-back: {records:?}"
    );
    assert!(
        out.stdout.contains("0 AdminGetUser reads"),
        "nothing read back: {out:?}"
    );
}

/// The lease's fence holds at the last moment the SDK offers: a call whose fence goes down after the handle's own check, before the request is transmitted, is not sent (the pool receives nothing) and comes back LeaseLost, known not sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fence_down_at_transmit_sends_nothing() {
    use cognito_bulk_reset::cognito::{
        AwsSettings, Connect, ErrorClass, LoopbackSimulator, Operation,
    };
    use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
    use std::sync::Arc;
    let sim = sim(10, unlimited()).await;
    let aws = AwsSettings {
        region: "us-east-1".into(),
        profile: None,
        endpoint_url: Some(sim.endpoint_url()),
        attempt_timeout: Duration::from_secs(5),
        role: None,
    };
    let cognito = LoopbackSimulator
        .connect(&aws, sim.pool_id())
        .await
        .unwrap();
    let checks = Arc::new(AtomicU32::new(0));
    let counted = checks.clone();
    // Up for the handle's check, down from the next one on.
    cognito.fence(Arc::new(move || counted.fetch_add(1, SeqCst) == 0));
    let before = sim.stats().requests;
    let reset = Operation::Reset {
        client_metadata: Default::default(),
    };
    let err = cognito
        .apply(&reset, &resettable(1)[0], None)
        .await
        .unwrap_err();
    assert_eq!(
        (err.class, err.code.as_str(), err.outcome_unknown),
        (ErrorClass::Fenced, "LeaseLost", false),
        "{err:?}"
    );
    assert_eq!(sim.stats().requests, before, "nothing reached the pool");
    assert_eq!(
        checks.load(SeqCst),
        2,
        "checked by the handle, then before transmit"
    );
    sim.stop().await;
}
