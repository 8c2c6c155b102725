//! Input from S3 (`--input s3://BUCKET/KEY`), against moto's S3 (the same
//! moto_server as the Cognito tests; path-style addressing, as on any
//! custom endpoint). The users are the simulated pool's; S3's endpoint is
//! set the SDK's way, AWS_ENDPOINT_URL_S3.

use std::process::{Command, Stdio};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use cognito_sim as sim;

use crate::moto::Moto;
use crate::support::*;

/// An S3 client for moto (path-style, as on any custom endpoint).
pub async fn s3_client(moto: &Moto) -> aws_sdk_s3::Client {
    let conf = moto.sdk_config().await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    )
}

async fn put(c: &aws_sdk_s3::Client, key: &str, body: Vec<u8>) {
    c.put_object()
        .bucket("lists")
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .expect("put the object");
}

fn with_s3(t: &Scratch, moto: &Moto) -> Command {
    let mut cmd = t.bin();
    cmd.env("AWS_ENDPOINT_URL_S3", &moto.url);
    cmd
}

/// A run reads its list from S3 and records the object's version; a
/// resume over a changed object is refused before any call (and `plan`
/// says it changed) until --input-changed; then only the new users are
/// called, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_from_s3_and_a_changed_object() {
    let t = Scratch::new();
    let sim = sim(400, unlimited()).await;
    let moto = Moto::start(&t);
    let c = s3_client(&moto).await;
    c.create_bucket().bucket("lists").send().await.unwrap();
    let first: Vec<String> = resettable(400).into_iter().take(200).collect();
    // No newline after the last row: an object is whole, so it is a row.
    put(
        &c,
        "batch.csv",
        format!("username\n{}", first.join("\n")).into_bytes(),
    )
    .await;
    let ledger = t.path("s3.jsonl");
    let input = std::path::Path::new("s3://lists/batch.csv");
    let mut run = with_s3(&t, &moto);
    run.args(run_args(&sim, input, &ledger));
    let out = finish(run).await;
    assert_eq!(out.code, 0, "{out:?}");
    for name in &first {
        assert_eq!(sim.user(name).unwrap().messages, 1, "{name}");
    }
    let header = ledger_header(&ledger);
    assert_eq!(header["input"], "s3://lists/batch.csv");
    assert!(
        header["input_version"]
            .as_str()
            .unwrap()
            .starts_with("etag "),
        "{header}"
    );

    // The object changes: more users.
    let second: Vec<String> = resettable(400);
    put(
        &c,
        "batch.csv",
        format!("username\n{}\n", second.join("\n")).into_bytes(),
    )
    .await;
    let mut plan = with_s3(&t, &moto);
    plan.args(run_args(&sim, input, &ledger));
    plan.args(["--dry-run"]);
    let out = finish(plan).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("input changed"), "{out:?}");
    let before = sim.stats().requests;
    let mut run = with_s3(&t, &moto);
    run.args(run_args(&sim, input, &ledger));
    let out = finish(run).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--input-changed"), "{out:?}");
    assert_eq!(sim.stats().requests, before, "nothing sent");
    let mut run = with_s3(&t, &moto);
    run.args(run_args(&sim, input, &ledger))
        .arg("--input-changed");
    let out = finish(run).await;
    assert_eq!(out.code, 0, "{out:?}");
    for name in &second {
        assert_eq!(sim.user(name).unwrap().messages, 1, "{name}");
    }
    // A missing object is named, with the fix.
    let mut run = with_s3(&t, &moto);
    run.args(run_args(
        &sim,
        std::path::Path::new("s3://lists/nope.csv"),
        &t.path("x.jsonl"),
    ));
    let out = finish(run).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("s3://lists/nope.csv") && out.stderr.contains("NoSuchKey"),
        "{out:?}"
    );
    sim.stop().await;
}

/// The peak resident memory of `cmd` (VmHWM, polled) and its exit code.
async fn peak_rss_kb(mut cmd: Command) -> (u64, i32) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        }
        if let Some(exit) = child.try_wait().unwrap() {
            return (peak, exit.code().unwrap_or(-1));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A 1,000,000-row object (12 MB) is streamed, not downloaded: `plan` over
/// it peaks within 6 MB of `plan` over the same rows from standard input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_object_is_streamed_with_flat_memory() {
    const ROWS: usize = 1_000_000;
    let t = Scratch::new();
    let sim = sim(10, unlimited()).await;
    let moto = Moto::start(&t);
    let c = s3_client(&moto).await;
    c.create_bucket().bucket("lists").send().await.unwrap();
    let mut body = String::with_capacity(ROWS * 12 + 9);
    body.push_str("username\n");
    for i in 0..ROWS {
        body.push_str(&sim::population_name(i));
        body.push('\n');
    }
    let local = t.write("big.csv", &body);
    put(&c, "big.csv", body.into_bytes()).await;
    let plan = |input: &str| {
        let mut cmd = with_s3(&t, &moto);
        cmd.args([
            "plan",
            "--user-pool-id",
            sim.pool_id(),
            "--endpoint-url",
            &sim.endpoint_url(),
        ])
        .args([
            "--resolve",
            "exact",
            "--input",
            input,
            "--ledger",
            "big.jsonl",
        ]);
        cmd
    };
    let (from_s3, code) = peak_rss_kb(plan("s3://lists/big.csv")).await;
    assert_eq!(code, 0);
    let mut piped = plan("-");
    piped.stdin(std::fs::File::open(&local).unwrap());
    let (from_pipe, code) = peak_rss_kb(piped).await;
    assert_eq!(code, 0);
    eprintln!("peak RSS: S3 {from_s3} kB, stdin {from_pipe} kB");
    assert!(
        from_s3 < from_pipe + 6 * 1024,
        "S3 {from_s3} kB vs stdin {from_pipe} kB: the 12 MB object must not be held whole"
    );
    sim.stop().await;
}
