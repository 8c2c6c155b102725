//! The deployment examples cannot drift from the flags: each example's
//! command line (the CronJob's `args`, the ECS task's `command`) is taken
//! from the file and run with `--dry-run` against the simulated pool (as
//! the example's pool id) and moto (its S3 object and DynamoDB table). The
//! IAM policy allows every call the tool makes.

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use cognito_sim::{self as sim, SimConfig};

use crate::moto::Moto;
use crate::support::*;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// The items of the YAML list under `key:` (one scalar a line).
fn yaml_list(text: &str, key: &str) -> Vec<String> {
    let mut lines = text.lines().skip_while(|l| l.trim() != format!("{key}:"));
    let head = lines.next().expect("the key is there");
    let indent = head.len() - head.trim_start().len();
    lines
        .take_while(|l| {
            let t = l.trim_start();
            t.starts_with("- ") && l.len() - t.len() >= indent
        })
        .map(|l| l.trim_start()[2..].trim().trim_matches('"').to_string())
        .collect()
}

/// Runs an example's command line with --dry-run against the simulated
/// pool and moto; returns what it printed.
async fn dry_run(args: &[String]) -> Finished {
    let t = Scratch::new();
    let pool = sim::start_local(SimConfig {
        pool_id: "us-east-1_AbCdEfGhI".into(),
        users: 100,
        behaviour: unlimited(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let moto = Moto::start(&t);
    let s3 = crate::s3::s3_client(&moto).await;
    s3.create_bucket()
        .bucket("example-migrations")
        .send()
        .await
        .unwrap();
    let rows: Vec<String> = resettable(100)
        .iter()
        .map(|n| format!("{n},Migrated-{n}-Pw1!"))
        .collect();
    s3.put_object()
        .bucket("example-migrations")
        .key("batch-42.csv")
        .body(ByteStream::from(
            format!("username,password\n{}\n", rows.join("\n")).into_bytes(),
        ))
        .send()
        .await
        .unwrap();
    let env = |cmd: &mut std::process::Command| {
        cmd.env("AWS_ENDPOINT_URL_S3", &moto.url)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &moto.url)
            .env("AWS_REGION", "us-east-1");
    };
    let mut create = t.bin();
    env(&mut create);
    create.args(["ledger", "create-table", "cognito-bulk-reset"]);
    assert_eq!(finish(create).await.code, 0);
    let mut cmd = t.bin();
    env(&mut cmd);
    cmd.args(args)
        .args(["--dry-run", "--endpoint-url", &pool.endpoint_url()]);
    let out = finish(cmd).await;
    pool.stop().await;
    out
}

/// The Kubernetes CronJob: Forbid, IRSA, exit 75 ending the Job for the
/// next schedule; its command line plans against the simulator and moto.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_cronjob_runs() {
    let text = read("examples/kubernetes/cronjob.yaml");
    assert!(text.contains("concurrencyPolicy: Forbid"));
    assert!(text.contains("eks.amazonaws.com/role-arn:"));
    assert!(text.contains("values: [1, 2, 75]"));
    let args = yaml_list(&text, "args");
    assert!(args.len() > 8 && args[0] == "run", "{args:?}");
    assert!(args.iter().any(|a| a.starts_with("s3://")));
    assert!(args.iter().any(|a| a.starts_with("dynamodb://")));
    let out = dry_run(&args).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("users to do"), "{out:?}");
}

/// The ECS task definition's command plans against the simulator and moto.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecs_task_runs() {
    let task: serde_json::Value =
        serde_json::from_str(&read("examples/ecs/task-definition.json")).unwrap();
    let args: Vec<String> = task["containerDefinitions"][0]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(args[0], "run");
    let out = dry_run(&args).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("users to do"), "{out:?}");
}

/// The IAM policy allows every AWS call the tool makes (cognito/sdk.rs,
/// ledger/table.rs, source/s3.rs).
#[test]
fn iam_policy_allows_every_call() {
    let policy: serde_json::Value =
        serde_json::from_str(&read("examples/iam/policy.json")).unwrap();
    let allowed: Vec<String> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    for action in [
        "cognito-idp:DescribeUserPool",
        "cognito-idp:ListUsers",
        "cognito-idp:AdminGetUser",
        "cognito-idp:AdminResetUserPassword",
        "cognito-idp:AdminSetUserPassword",
        "cognito-idp:AdminUserGlobalSignOut",
        "cognito-idp:AdminDisableUser",
        "cognito-idp:AdminEnableUser",
        "cognito-idp:ListUsersInGroup",
        "cognito-idp:ListUserPoolClients",
        "cognito-idp:DescribeUserPoolClient",
        "cognito-idp:GetProvisionedLimit",
        "dynamodb:DescribeTable",
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
        "s3:GetObject",
    ] {
        assert!(
            allowed.iter().any(|a| a == action),
            "{action} is not allowed"
        );
    }
}
