//! Ledgers in DynamoDB, against moto's DynamoDB (the same moto_server as
//! the Cognito tests; it enforces conditional writes and transactions as
//! DynamoDB does): `ledger create-table`, `ledger copy` both ways, and
//! `status` and `export` reading a table as they read a file.
//!
//! The job is run against the simulated pool with a file ledger; the
//! table's endpoint is set the SDK's standard way, AWS_ENDPOINT_URL_DYNAMODB,
//! so `--endpoint-url` stays Cognito's.

use std::process::Command;

use crate::moto::Moto;
use crate::support::*;

/// The binary, reaching moto's DynamoDB in us-east-1.
fn with_table(t: &Scratch, moto: &Moto) -> Command {
    let mut cmd = t.bin();
    cmd.env("AWS_ENDPOINT_URL_DYNAMODB", &moto.url)
        .env("AWS_REGION", "us-east-1");
    cmd
}

async fn ok(cmd: Command) -> Finished {
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    out
}

/// A job's ledger goes file -> table -> file unchanged, record for record;
/// status and export read the table as they read the file; a table that
/// holds the job already, a missing table and a bad name are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_copy_round_trips_and_tables_read_like_files() {
    let t = Scratch::new();
    let sim = sim(300, unlimited()).await;
    let mut names = resettable(300);
    let resettable_users = names.len();
    names.push("ghost-1".into());
    let input = t.users_csv(names);
    let ledger = t.path("run.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger));
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}"); // ghost-1 failed
    let moto = Moto::start(&t);

    let mut create = with_table(&t, &moto);
    create.args(["ledger", "create-table", "ledgers"]);
    assert!(ok(create).await.stdout.contains("created table ledgers"));
    let mut again = with_table(&t, &moto);
    again.args(["ledger", "create-table", "ledgers"]);
    assert!(ok(again).await.stdout.contains("already exists"));

    let table = "dynamodb://ledgers/incident-42";
    let mut copy = with_table(&t, &moto);
    copy.args(["ledger", "copy"]).arg(&ledger).arg(table);
    let records = std::fs::read_to_string(&ledger).unwrap().lines().count();
    assert!(ok(copy)
        .await
        .stdout
        .contains(&format!("copied {records} records")));

    // status and export: the same from the table as from the file.
    let status = |ledger: &str| {
        let mut cmd = with_table(&t, &moto);
        cmd.args(["status", "--json", "--ledger", ledger]);
        cmd
    };
    let from_file = ok(status(ledger.to_str().unwrap())).await.stdout;
    let from_table = ok(status(table)).await.stdout;
    let mut file_json: serde_json::Value = serde_json::from_str(&from_file).unwrap();
    let mut table_json: serde_json::Value = serde_json::from_str(&from_table).unwrap();
    assert_eq!(table_json["ledger"], table);
    file_json["ledger"] = serde_json::Value::Null;
    table_json["ledger"] = serde_json::Value::Null;
    assert_eq!(file_json, table_json);
    assert_eq!(table_json["succeeded"], resettable_users);
    let export = |ledger: &str| {
        let mut cmd = with_table(&t, &moto);
        cmd.args(["export", "--format", "jsonl", "--ledger", ledger]);
        cmd
    };
    assert_eq!(
        ok(export(ledger.to_str().unwrap())).await.stdout,
        ok(export(table)).await.stdout
    );

    // Back to a file: byte for byte.
    let back = t.path("back.jsonl");
    let mut copy = with_table(&t, &moto);
    copy.args(["ledger", "copy", table]).arg(&back);
    ok(copy).await;
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(&ledger).unwrap()
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&back).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Refusals, exit 2, naming the fix.
    let mut twice = with_table(&t, &moto);
    twice.args(["ledger", "copy"]).arg(&ledger).arg(table);
    let out = finish(twice).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("already holds records"), "{out:?}");
    let mut over = with_table(&t, &moto);
    over.args(["ledger", "copy", table]).arg(&back);
    let out = finish(over).await;
    assert_eq!(out.code, 2, "{out:?}");
    let mut missing = with_table(&t, &moto);
    missing.args(["status", "--ledger", "dynamodb://nosuchtable/job"]);
    let out = finish(missing).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("ledger create-table nosuchtable"),
        "{out:?}"
    );
    let mut bad = with_table(&t, &moto);
    bad.args(["status", "--ledger", "dynamodb://x/job"]);
    let out = finish(bad).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("no DynamoDB table name"), "{out:?}");
    // A run for another job is refused before any call, as with a file.
    let mut other = with_table(&t, &moto);
    other
        .args(run_args(&sim, &input, std::path::Path::new(table)))
        .args(["--action", "sign-out"]);
    let before = sim.stats().requests;
    let out = finish(other).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("was written for action 'reset'"),
        "{out:?}"
    );
    assert_eq!(sim.stats().requests, before, "nothing sent");
    sim.stop().await;
}

/// `run` arguments with the ledger in moto's table.
fn table_run(
    t: &Scratch,
    moto: &Moto,
    sim: &cognito_sim::SimHandle,
    input: &std::path::Path,
    ledger: &str,
    extra: &[&str],
) -> Command {
    let mut cmd = with_table(t, moto);
    cmd.args(run_args(sim, input, std::path::Path::new(ledger)))
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

/// Every resettable user of `names` got exactly one message.
fn messaged_once(sim: &cognito_sim::SimHandle, names: &[String]) {
    let wrong: Vec<(String, u32)> = names
        .iter()
        .map(|n| (n.clone(), sim.user(n).expect("a generated user").messages))
        .filter(|(_, m)| *m != 1)
        .collect();
    assert!(
        wrong.is_empty(),
        "users not messaged exactly once: {wrong:?}"
    );
}

async fn make_table(t: &Scratch, moto: &Moto) {
    let mut create = with_table(t, moto);
    create.args(["ledger", "create-table", "ledgers"]);
    ok(create).await;
}

/// A run keeps its ledger in the table: a second runner is refused while
/// the first holds the job (exit 2, naming host, pid and expiry); a runner
/// killed with SIGKILL is taken over once its lease expires, and the
/// resumed run finishes the job with nobody messaged twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_runner_per_job_and_takeover_after_a_kill() {
    let t = Scratch::new();
    let sim = sim(
        400,
        cognito_sim::Behaviour {
            latency_ms: 20,
            ..unlimited()
        },
    )
    .await;
    let names = resettable(400);
    let input = t.users_csv(names.clone());
    let moto = Moto::start(&t);
    make_table(&t, &moto).await;
    let job = "dynamodb://ledgers/takeover";
    let flags = ["--rate", "60", "--lease-seconds", "6"];

    let first = table_run(&t, &moto, &sim, &input, job, &flags)
        .spawn()
        .expect("the binary starts");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let out = finish(table_run(&t, &moto, &sim, &input, job, &flags)).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("is held by a run on host")
            && out.stderr.contains(&format!("pid {}", first.id())),
        "{out:?}"
    );
    send_signal(first.id(), "-KILL");
    let _ = finish_child(first).await;
    // Still held: the lease has not expired yet.
    let out = finish(table_run(&t, &moto, &sim, &input, job, &flags)).await;
    assert_eq!(out.code, 2, "{out:?}");
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    let out = finish(table_run(
        &t,
        &moto,
        &sim,
        &input,
        job,
        &["--rate", "60", "--lease-seconds", "20"],
    ))
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    messaged_once(&sim, &names);
    let mut status = with_table(&t, &moto);
    status.args(["status", "--json", "--ledger", job]);
    let status: serde_json::Value = serde_json::from_str(&ok(status).await.stdout).unwrap();
    assert_eq!(status["succeeded"], names.len(), "{status}");
    assert_eq!(status["runs"], 2, "{status}");
    sim.stop().await;
}

/// Fencing: a runner paused (SIGSTOP) past its lease, while a second runner
/// takes the job over and finishes it, makes no call and writes no record
/// once resumed (SIGCONT), and says why; nobody is messaged twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_runner_is_fenced_off() {
    let t = Scratch::new();
    let sim = sim(
        300,
        cognito_sim::Behaviour {
            latency_ms: 20,
            ..unlimited()
        },
    )
    .await;
    let names = resettable(300);
    let input = t.users_csv(names.clone());
    let moto = Moto::start(&t);
    make_table(&t, &moto).await;
    let job = "dynamodb://ledgers/fenced";
    let flags = ["--rate", "40", "--lease-seconds", "3"];

    let paused = table_run(&t, &moto, &sim, &input, job, &flags)
        .spawn()
        .expect("the binary starts");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    send_signal(paused.id(), "-STOP");
    let calls_at_pause = sim.stats().requests;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let second = finish(table_run(
        &t,
        &moto,
        &sim,
        &input,
        job,
        &["--rate", "500", "--lease-seconds", "20"],
    ))
    .await;
    assert_eq!(second.code, 0, "{second:?}");
    let records_after_second = std::fs::read_to_string({
        let back = t.path("after-second.jsonl");
        let mut copy = with_table(&t, &moto);
        copy.args(["ledger", "copy", job]).arg(&back);
        ok(copy).await;
        back
    })
    .unwrap();
    let requests_after_second = sim.stats().requests;
    assert!(requests_after_second > calls_at_pause);
    send_signal(paused.id(), "-CONT");
    let first = finish_child(paused).await;
    assert_eq!(first.code, 3, "{first:?}");
    assert!(
        first.stdout.contains("lease") || first.stderr.contains("lease"),
        "{first:?}"
    );
    // After SIGCONT: no call from the first runner, no record of it.
    assert_eq!(
        sim.stats().requests,
        requests_after_second,
        "no call after SIGCONT"
    );
    let back = t.path("after-first.jsonl");
    let mut copy = with_table(&t, &moto);
    copy.args(["ledger", "copy", job]).arg(&back);
    ok(copy).await;
    assert_eq!(
        std::fs::read_to_string(&back).unwrap(),
        records_after_second,
        "no record after SIGCONT"
    );
    messaged_once(&sim, &names);
    sim.stop().await;
}

/// The job's records, copied out of the table into a file to read.
async fn table_to_file(t: &Scratch, moto: &Moto, job: &str, name: &str) -> std::path::PathBuf {
    let file = t.path(name);
    let _ = std::fs::remove_file(&file);
    let mut copy = with_table(t, moto);
    copy.args(["ledger", "copy", job]).arg(&file);
    ok(copy).await;
    file
}

/// Killed with SIGKILL at 10 random moments of a run with throttling,
/// faults, lost answers and slow replies, each time taken over once the
/// lease expires, then run to the end: every user has exactly one final
/// outcome, no user done before a run is called by it, nobody gets two
/// messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_with_a_table_ledger() {
    use cognito_sim as sim;
    const USERS: usize = 3000;
    const KILLS: usize = 10;
    let t = Scratch::new();
    let sim = sim(
        USERS,
        cognito_sim::Behaviour {
            // Under --rate, so every run throttles.
            quota_recovery: 120.0,
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
    let moto = Moto::start(&t);
    make_table(&t, &moto).await;
    let job = "dynamodb://ledgers/kills";
    let extra = [
        "--rate",
        "200",
        "--read-rate",
        "300",
        "--list-rate",
        "2000",
        "--attempt-timeout",
        "0.5",
        "--lease-seconds",
        "3",
    ];
    let calls = |sim: &cognito_sim::SimHandle| -> std::collections::HashMap<String, u32> {
        (0..USERS)
            .map(|i| {
                let name = sim::population_name(i);
                let calls = sim.user(&name).expect("a generated user").calls;
                (name, calls)
            })
            .collect()
    };
    let mut rng = fastrand::Rng::with_seed(0xd1ce);
    let mut done_before: Vec<String> = Vec::new();
    for round in 0..KILLS {
        let calls_before = calls(&sim);
        let mut cmd = table_run(&t, &moto, &sim, &input, job, &extra);
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        kill_after(cmd, std::time::Duration::from_millis(rng.u64(500..2500))).await;
        // The killed runner's lease expires within --lease-seconds.
        tokio::time::sleep(std::time::Duration::from_millis(3300)).await;
        let file = table_to_file(&t, &moto, job, "kills.jsonl").await;
        let done_after = outcomes(&file); // panics if a user has two final outcomes
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
        done_before = done_after.into_keys().collect();
    }
    assert!(
        done_before.len() > 200,
        "the killed runs made progress ({})",
        done_before.len()
    );

    // The last run keeps a long lease: on a loaded machine a 3 s lease can
    // lapse between renewals, which stops a run (as it should).
    let last = [&extra[..8], &["--lease-seconds", "30"]].concat();
    let out = finish(table_run(&t, &moto, &sim, &input, job, &last)).await;
    assert_eq!(
        out.code, 1,
        "ineligible users fail, the rest succeed: {out:?}"
    );
    let file = table_to_file(&t, &moto, job, "kills.jsonl").await;
    let o = outcomes(&file);
    assert_eq!(o.len(), USERS, "every user has exactly one final outcome");
    for i in 0..USERS {
        let name = sim::population_name(i);
        let u = sim.user(&name).unwrap();
        assert!(u.messages <= 1, "{name} got {} messages", u.messages);
        if sim::population_resettable(i) {
            assert_eq!(o[&name]["outcome"], "succeeded", "{name}");
            assert_eq!(u.messages, 1, "{name} was reset");
        }
    }
    sim.stop().await;
}
