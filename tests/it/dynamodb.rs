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
    assert_eq!(table_json["ledger_region"], "us-east-1");
    table_json.as_object_mut().unwrap().remove("ledger_region");
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

    // A copy that stopped part-way leaves its job marked `copying` (put
    // here by hand, as `ledger copy` puts it before its first record): a
    // run, status and export refuse the job, before any call.
    aws_sdk_dynamodb::Client::new(&moto.sdk_config().await)
        .put_item()
        .table_name("ledgers")
        .item(
            "job",
            aws_sdk_dynamodb::types::AttributeValue::S("incident-42".into()),
        )
        .item(
            "k",
            aws_sdk_dynamodb::types::AttributeValue::S("copying".into()),
        )
        .send()
        .await
        .unwrap();
    let out = finish(status(table)).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("did not finish"), "{out:?}");
    let mut resume = with_table(&t, &moto);
    resume.args(run_args(&sim, &input, std::path::Path::new(table)));
    let before = sim.stats().requests;
    let out = finish(resume).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("copy the ledger again into a new job"),
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

/// A test's directory, a simulated pool of `users` answering after
/// `latency_ms`, and moto with the table `ledgers` in us-east-1.
async fn with_a_table(users: usize, latency_ms: u64) -> (Scratch, cognito_sim::SimHandle, Moto) {
    let t = Scratch::new();
    let sim = sim(
        users,
        cognito_sim::Behaviour {
            latency_ms,
            ..unlimited()
        },
    )
    .await;
    let moto = Moto::start(&t);
    make_table(&t, &moto).await;
    (t, sim, moto)
}

/// The binary reaching moto's DynamoDB with no region of its own set.
fn no_region(t: &Scratch, moto: &Moto) -> Command {
    let mut cmd = t.bin();
    cmd.env("AWS_ENDPOINT_URL_DYNAMODB", &moto.url);
    cmd
}

/// One rule finds a ledger's table for every command: --ledger-region,
/// else AWS_REGION, never the pool's. With a table of the same name in two
/// regions, a job copied into eu-west-1 and run there (the pool in
/// us-east-1) is resumed, not redone: status and run agree, nobody is
/// messaged twice; the same table is reached from anywhere with
/// --ledger-region; an empty job says which region was read; no region at
/// all stops before any call, naming the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_is_found_by_one_region_rule() {
    let t = Scratch::new();
    let sim = sim_answering_after(120, 2).await;
    let names = resettable(120);
    let moto = Moto::start(&t);
    for region in ["us-east-1", "eu-west-1"] {
        let mut create = with_table(&t, &moto);
        create.args([
            "ledger",
            "create-table",
            "ledgers",
            "--ledger-region",
            region,
        ]);
        assert!(ok(create).await.stdout.contains(region));
    }
    // Half the job done with a file ledger, then copied into eu-west-1.
    let half = t.users_csv(names[..names.len() / 2].to_vec());
    let file = t.path("half.jsonl");
    let mut first = t.bin();
    first.args(run_args(&sim, &half, &file));
    ok(first).await;
    let job = "dynamodb://ledgers/two-regions";
    let in_eu = |mut cmd: Command| {
        cmd.env("AWS_REGION", "eu-west-1");
        cmd
    };
    let mut copy = in_eu(with_table(&t, &moto));
    copy.args(["ledger", "copy"]).arg(&file).arg(job);
    ok(copy).await;

    // Run the whole list in eu-west-1: the half done is done before.
    let input = t.users_csv(names.clone());
    let calls_before = sim.stats().mutating_requests;
    let out = ok(in_eu(table_run(&t, &moto, &sim, &input, job, &[]))).await;
    assert_eq!(
        sim.stats().mutating_requests - calls_before,
        (names.len() - names.len() / 2) as u64,
        "only the other half was called: {out:?}"
    );
    messaged_once(&sim, &names);
    let status = |cmd: Command, extra: &[&str]| {
        let mut cmd = cmd;
        cmd.args(["status", "--json", "--ledger", job]).args(extra);
        cmd
    };
    let eu: serde_json::Value =
        serde_json::from_str(&ok(status(in_eu(with_table(&t, &moto)), &[])).await.stdout).unwrap();
    assert_eq!(eu["succeeded"], names.len(), "{eu}");
    assert_eq!(eu["ledger_region"], "eu-west-1", "{eu}");
    // From us-east-1, --ledger-region reaches the same table.
    let flag: serde_json::Value = serde_json::from_str(
        &ok(status(
            with_table(&t, &moto),
            &["--ledger-region", "eu-west-1"],
        ))
        .await
        .stdout,
    )
    .unwrap();
    assert_eq!(flag["succeeded"], names.len(), "{flag}");
    // us-east-1's table of the same name holds no such job, and says where
    // it looked.
    let out = finish(status(with_table(&t, &moto), &[])).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("holds no records in table ledgers in us-east-1")
            && out.stderr.contains("--ledger-region"),
        "{out:?}"
    );
    // Run again from us-east-1 with the flag: nothing to do, nobody twice.
    let calls_before = sim.stats().mutating_requests;
    let mut again = table_run(
        &t,
        &moto,
        &sim,
        &input,
        job,
        &["--ledger-region", "eu-west-1"],
    );
    again.env("AWS_REGION", "us-east-1");
    ok(again).await;
    assert_eq!(sim.stats().mutating_requests, calls_before);
    messaged_once(&sim, &names);
    // No region at all: stopped before any call, naming the flag.
    let requests = sim.stats().requests;
    let mut none = no_region(&t, &moto);
    none.args(run_args(&sim, &input, std::path::Path::new(job)));
    let out = finish(none).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--ledger-region"), "{out:?}");
    assert_eq!(sim.stats().requests, requests, "nothing sent");
    sim.stop().await;
}

/// The lease is kept from the moment it is taken: a run whose opening
/// (a pool index at a slow list rate) outlasts two thirds of a short lease
/// renews it meanwhile and finishes the job, instead of fencing itself
/// off as if another runner had taken it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_open_keeps_its_lease() {
    let (t, sim, moto) = with_a_table(720, 2).await;
    let names = resettable(100);
    let input = t.users_csv(names.clone());
    let job = "dynamodb://ledgers/slow-open";
    // 12 pages at 2 a second: about 5 s of opening, a 3 s lease.
    let out = finish(table_run(
        &t,
        &moto,
        &sim,
        &input,
        job,
        &[
            "--resolve",
            "index",
            "--list-rate",
            "2",
            "--lease-seconds",
            "3",
            "--rate",
            "200",
        ],
    ))
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    // The premise: the index took 12 pages, which at 2 a second (a burst
    // of 2 aside) outlast the 2 s a lease not renewed allows calls for.
    assert!(sim.stats().applied["ListUsers"] >= 12);
    messaged_once(&sim, &names);
    sim.stop().await;
}

/// A run keeps its ledger in the table: a second runner is refused while
/// the first holds the job (exit 2, naming host, pid and expiry); a runner
/// killed with SIGKILL is taken over once its lease expires, and the
/// resumed run finishes the job with nobody messaged twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_runner_per_job_and_takeover_after_a_kill() {
    let (t, sim, moto) = with_a_table(400, 20).await;
    let names = resettable(400);
    let input = t.users_csv(names.clone());
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
    let (t, sim, moto) = with_a_table(300, 20).await;
    let names = resettable(300);
    let input = t.users_csv(names.clone());
    let job = "dynamodb://ledgers/fenced";
    // The fence is checked just before each request is transmitted; a
    // process stopped in the microseconds between that check and the
    // send still sends that one request once resumed, which no client can
    // rule out (docs/dynamodb-ledger.md). A slow rate keeps that window
    // from landing under the test's SIGSTOP by chance.
    let flags = ["--rate", "10", "--lease-seconds", "3"];

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

/// The job's records, copied out of the table into a file to read (an
/// empty file while the job holds none: a run killed while opening).
async fn table_to_file(t: &Scratch, moto: &Moto, job: &str, name: &str) -> std::path::PathBuf {
    let file = t.path(name);
    let _ = std::fs::remove_file(&file);
    let mut copy = with_table(t, moto);
    copy.args(["ledger", "copy", job]).arg(&file);
    let out = finish(copy).await;
    if out.code == 2 && out.stderr.contains("it holds no records") {
        std::fs::write(&file, "").unwrap();
    } else {
        assert_eq!(out.code, 0, "{out:?}");
    }
    file
}

/// Killed with SIGKILL at 6 random moments of a run with throttling,
/// faults, lost answers and slow replies, each run opening slower (a pool
/// index at a low list rate) than its short lease would last unrenewed,
/// each time taken over once the lease expires, then run to the end with
/// the same lease: every user has exactly one final outcome, no user done
/// before a run is called by it, nobody gets two messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_with_a_table_ledger() {
    use cognito_sim as sim;
    const USERS: usize = 1000;
    const KILLS: usize = 6;
    let t = Scratch::new();
    let sim = sim(
        USERS,
        cognito_sim::Behaviour {
            // Under --rate, so every run throttles.
            quota_recovery: 40.0,
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
    // 17 pages of index at 4 a second: nearly 4 s of opening, longer than
    // the 2.7 s a 4 s lease allows calls for without a renewal.
    let extra = [
        "--rate",
        "60",
        "--read-rate",
        "300",
        "--resolve",
        "index",
        "--list-rate",
        "4",
        "--attempt-timeout",
        "0.5",
        "--lease-seconds",
        "4",
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
        // A kill at a random moment, or once this run has sent 120 reset
        // messages, whichever comes first: 6 kills can never finish the
        // job on however fast a machine.
        let after = std::time::Duration::from_millis(rng.u64(2000..7000));
        kill_by(cmd, &sim, after, 120).await;
        // The killed runner's lease expires within --lease-seconds.
        tokio::time::sleep(std::time::Duration::from_millis(4300)).await;
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
        !done_before.is_empty(),
        "the killed runs made progress ({})",
        done_before.len()
    );

    // The last run opens as slowly, with the same lease. On a loaded
    // machine a renewal slower than a third of a 4 s lease stops a run
    // (exit 3, as it should); the operator's answer is to run it again.
    let mut out = finish(table_run(&t, &moto, &sim, &input, job, &extra)).await;
    for _ in 0..2 {
        if out.code != 3 {
            break;
        }
        assert!(
            out.stdout.contains("lease") || out.stderr.contains("lease"),
            "{out:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(4300)).await;
        out = finish(table_run(&t, &moto, &sim, &input, job, &extra)).await;
    }
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

/// Two hosts, one table: a job's claim on its pool lives in the table
/// beside its lease, so a second job of the table on the same pool and
/// action is refused from another host (whose own host claims cannot see
/// the first), and plan there names it; nobody is messaged twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_job_in_the_table_is_refused_from_another_host() {
    let (t, sim, moto) = with_a_table(150, 5).await;
    let names = resettable(150);
    let input = t.users_csv(names.clone());
    let host = |name: &str| {
        let home = t.path(name);
        std::fs::create_dir_all(&home).unwrap();
        home
    };
    let (host_a, host_b) = (host("host-a"), host("host-b"));
    let mut first = table_run(
        &t,
        &moto,
        &sim,
        &input,
        "dynamodb://ledgers/job-a",
        &["--rate", "20"],
    );
    first.env("HOME", &host_a);
    let first = first.spawn().unwrap();
    while sim.stats().messages < 5 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let mut second = table_run(&t, &moto, &sim, &input, "dynamodb://ledgers/job-b", &[]);
    second.env("HOME", &host_b);
    let out = finish(second).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("another job is running reset on pool")
            && out.stderr.contains("dynamodb://ledgers/job-a")
            && out.stderr.contains(&format!("pid {}", first.id())),
        "{out:?}"
    );
    let mut plan = with_table(&t, &moto);
    plan.env("HOME", &host_b)
        .args(run_args(
            &sim,
            &input,
            std::path::Path::new("dynamodb://ledgers/job-b"),
        ))
        .arg("--dry-run");
    let out = ok(plan).await;
    assert!(
        out.stdout.contains("ANOTHER JOB") && out.stdout.contains("job-a"),
        "{out:?}"
    );
    let out = finish_child(first).await;
    assert_eq!(out.code, 0, "{out:?}");
    messaged_once(&sim, &names);
    sim.stop().await;
}
