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
    // `run` keeps a file ledger in this version, and says so before any call.
    let mut run = t.bin();
    run.args(run_args(&sim, &input, std::path::Path::new(table)));
    let out = finish(run).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("ledger copy"), "{out:?}");
    sim.stop().await;
}
