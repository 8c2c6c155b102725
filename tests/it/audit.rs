//! Audit and automation: --summary-json, export, status on an unfinished run.

use std::time::Duration;

use cognito_sim as sim;

use crate::support::*;

/// --summary-json writes the summary with the exit code; export writes one row per user matching the ledger, as CSV and JSON Lines, and never overwrites.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_json_and_export_match_the_ledger() {
    let t = Scratch::new();
    let sim = sim(30, unlimited()).await;
    let mut names: Vec<String> = (0..30).map(sim::population_name).collect();
    names.push("bad name".into());
    let input = t.users_csv(names);
    let ledger = t.path("l.jsonl");
    let summary = t.path("summary.json");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .arg("--summary-json")
        .arg(&summary);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(s["exit_code"], 1);
    assert_eq!(s["succeeded"], 28);
    // Users 7 (FORCE_CHANGE_PASSWORD) and 23 (disabled) of 0..30 cannot be reset.
    assert_eq!(s["failed_by_code"]["NotAuthorizedException"], 2);
    assert_eq!(s["invalid"], 1);

    let records = outcomes(&ledger);
    for format in ["jsonl", "csv"] {
        let path = t.path(&format!("export.{format}"));
        let mut cmd = t.bin();
        cmd.args(["export", "--format", format, "--ledger"])
            .arg(&ledger)
            .arg("--output")
            .arg(&path);
        let out = finish(cmd).await;
        assert_eq!(out.code, 0, "{out:?}");
        let rows: Vec<serde_json::Value> = if format == "jsonl" {
            std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        } else {
            let mut r = csv::Reader::from_path(&path).unwrap();
            let headers = r.headers().unwrap().clone();
            r.records()
                .map(|rec| {
                    let rec = rec.unwrap();
                    serde_json::Value::Object(
                        headers
                            .iter()
                            .zip(rec.iter())
                            .map(|(h, v)| (h.to_string(), v.into()))
                            .collect(),
                    )
                })
                .collect()
        };
        assert_eq!(rows.len(), 31, "{format}: one row per user and invalid row");
        for row in &rows {
            let name = row["username"].as_str().unwrap();
            if name == "bad name" {
                assert_eq!(row["outcome"], "invalid");
                continue;
            }
            let r = &records[name];
            assert_eq!(row["outcome"], r["outcome"], "{format}: {name}");
            assert_eq!(row["request_ids"], r["request_id"], "{format}: {name}");
            assert_eq!(
                row["steps"].to_string().trim_matches('"'),
                "2",
                "{format}: intent and outcome for {name}"
            );
        }
        // A torn last line (a crash mid-write) is passed over.
        let torn = t.path(&format!("torn-{format}.jsonl"));
        std::fs::write(
            &torn,
            std::fs::read_to_string(&ledger).unwrap() + "{\"record\":\"user\",\"userna",
        )
        .unwrap();
        let mut cmd = t.bin();
        cmd.args(["export", "--format", format, "--ledger"])
            .arg(&torn);
        let out = finish(cmd).await;
        assert_eq!(out.code, 0, "{out:?}");
        // Never overwrites.
        let mut again = t.bin();
        again
            .args(["export", "--format", format, "--ledger"])
            .arg(&ledger)
            .arg("--output")
            .arg(&path);
        let out = finish(again).await;
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains("never overwrites"), "{out:?}");
        // `--output -` is standard output, not a file named `-`.
        let mut dash = t.bin();
        dash.args(["export", "--format", format, "--output", "-", "--ledger"])
            .arg(&ledger);
        let out = finish(dash).await;
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(out.stdout, std::fs::read_to_string(&path).unwrap());
        assert!(!t.path("-").exists(), "no file named '-'");
    }
    // A reader that closes the pipe early ends the export quietly.
    let mut many = String::from("username\n");
    // Rows past a pipe's 64 KiB buffer.
    for i in 0..2_000 {
        many.push_str(&format!("ghost-{i}\n"));
    }
    let wide = t.path("wide.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &t.write("many.csv", many), &wide))
        .args([
            "--resolve",
            "exact",
            "--rate",
            "100000",
            "--stop-after-failures",
            "0",
        ]);
    finish(cmd).await;
    let mut head = t.wrapped("bash");
    head.arg("-c")
        .arg("set -o pipefail; \"$0\" export --ledger \"$1\" | head -n 1")
        .arg(bin_path())
        .arg(&wide);
    let out = finish(head).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("username,"), "{out:?}");
    assert!(
        !out.stderr.contains("Broken pipe") && !out.stderr.contains("error"),
        "{out:?}"
    );
}

/// status on an unfinished run says what remains and the time left at its rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_what_remains() {
    let t = Scratch::new();
    let sim = sim_answering_after(200, 5).await;
    let input = t.users_csv(resettable(200));
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--rate", "40"]);
    kill_after(cmd, Duration::from_millis(1500)).await;

    let done = outcomes(&ledger).len();
    let mut status = t.bin();
    status.args(["status", "--json", "--ledger"]).arg(&ledger);
    let out = finish(status).await;
    assert_eq!(out.code, 0, "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let remaining = v["remaining"].as_u64().unwrap();
    assert_eq!(remaining as usize, resettable(200).len() - done);
    // At the pace the run achieved (its configured 40/s only when it
    // recorded too little to tell).
    let rate = v["achieved_rate"].as_f64().unwrap_or(40.0);
    assert!(rate > 0.0 && rate <= 40.0 * 1.5, "{v}");
    let left = v["time_left_secs"].as_f64().unwrap();
    assert!((left - remaining as f64 / rate).abs() < 1e-6, "{v}");
    let mut text = t.bin();
    text.args(["status", "--ledger"]).arg(&ledger);
    let out = finish(text).await;
    assert!(
        out.stdout
            .contains(&format!("remaining  up to {remaining} rows")),
        "{out:?}"
    );
}
