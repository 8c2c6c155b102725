//! Full runs against the simulated pool: reset, set-password, stdin, status.

use std::io::Write;
use std::process::Stdio;

use cognito_sim::{self as sim, Status};

use crate::support::*;

/// Every listed user is reset once, recorded succeeded with a request id, and the exit code is 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_run_resets_every_user_once() {
    let t = Scratch::new();
    let sim = sim(400, unlimited()).await;
    let names = resettable(400);
    let input = t.users_csv(names.clone());
    let ledger = t.path("ledger.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains(&format!("succeeded            {}", names.len())),
        "{out:?}"
    );

    let outcomes = outcomes(&ledger);
    assert_eq!(outcomes.len(), names.len());
    for name in &names {
        let r = &outcomes[name];
        assert_eq!(r["outcome"], "succeeded", "{r}");
        assert_eq!(r["attempts"], 1, "{r}");
        assert!(
            r["request_id"]
                .as_str()
                .is_some_and(|id| id.contains("-5151-")),
            "request id recorded: {r}"
        );
        let u = sim.user(name).unwrap();
        assert_eq!(
            (u.status, u.messages, u.calls),
            (Status::ResetRequired, 1, 1),
            "{name}"
        );
    }
    let header = ledger_header(&ledger);
    assert_eq!(header["record"], "header");
    assert_eq!(header["pool_id"], sim.pool_id());
    assert_eq!(header["action"], "reset");
    assert_eq!(header["region"], "us-east-1");
    sim.stop().await;
}

/// Users that cannot be reset are recorded failed with Cognito's code, the others succeed, and the exit code is 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ineligible_users_fail_with_their_codes() {
    let t = Scratch::new();
    let sim = sim(100, unlimited()).await;
    let mut names: Vec<String> = (0..100).map(sim::population_name).collect();
    names.push("nobody-here".into());
    let input = t.users_csv(names);
    let ledger = t.path("ledger.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    let o = outcomes(&ledger);
    let code = |name: &str| o[name]["code"].as_str().unwrap_or("-").to_string();
    assert_eq!(
        code("user-000007"),
        "NotAuthorizedException",
        "FORCE_CHANGE_PASSWORD"
    );
    assert_eq!(code("user-000023"), "NotAuthorizedException", "disabled");
    assert_eq!(
        code("user-000041"),
        "InvalidParameterException",
        "no verified email"
    );
    assert_eq!(code("nobody-here"), "UserNotFoundException");
    assert_eq!(o["user-000000"]["outcome"], "succeeded");
    assert_eq!(o.values().filter(|r| r["outcome"] == "failed").count(), 7);
    assert!(o["nobody-here"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    sim.stop().await;
}

/// set-password sets each row's password (temporary or permanent) and no password reaches output or ledger, even at -vv.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_password_keeps_passwords_secret() {
    let t = Scratch::new();
    let sim = sim(30, unlimited()).await;
    let mut csv = String::from("password,username\n");
    for i in 0..30 {
        csv.push_str(&format!("Secret-{i:04}-Xy!,{}\n", sim::population_name(i)));
    }
    csv.push_str("short1,user-000001\n"); // duplicate row: processed once
    csv.push_str("tiny,user-000029\n");
    let input = t.write("passwords.csv", csv);
    for (permanent, status) in [
        (false, Status::ForceChangePassword),
        (true, Status::Confirmed),
    ] {
        let ledger = t.path(&format!("ledger-{permanent}.jsonl"));
        let mut cmd = t.bin();
        cmd.args(run_args(&sim, &input, &ledger)).args([
            "--action",
            "set-password",
            "--rate",
            "2000",
            "-vv",
        ]);
        if permanent {
            cmd.arg("--permanent");
        }
        let out = finish(cmd).await;
        assert_eq!(out.code, 0, "{out:?}");
        let ledger_text = std::fs::read_to_string(&ledger).unwrap();
        for i in 0..30 {
            let secret = format!("Secret-{i:04}-Xy!");
            assert!(
                !out.stdout.contains(&secret) && !out.stderr.contains(&secret),
                "password {i} leaked to output"
            );
            assert!(
                !ledger_text.contains(&secret),
                "password {i} leaked to the ledger"
            );
            let u = sim.user(&sim::population_name(i)).unwrap();
            assert_eq!(u.password.as_deref(), Some(secret.as_str()));
            assert_eq!(u.status, status, "permanent={permanent}");
        }
        assert!(out.stdout.contains("duplicate rows       2"), "{out:?}");
    }
    sim.stop().await;
}

/// A password Cognito refuses fails that user with InvalidPasswordException; the message does not echo it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_password_is_a_user_failure() {
    let t = Scratch::new();
    let sim = sim(5, unlimited()).await;
    let input = t.write(
        "p.csv",
        "username,password\nuser-000000,Sh0rt!\nuser-000001,Long-Enough-1\n",
    );
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--action", "set-password"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    let o = outcomes(&ledger);
    assert_eq!(o["user-000000"]["code"], "InvalidPasswordException");
    assert_eq!(o["user-000001"]["outcome"], "succeeded");
    assert!(!std::fs::read_to_string(&ledger).unwrap().contains("Sh0rt!"));
    sim.stop().await;
}

/// `--input -` reads a plain list from stdin with --no-header; `status --json` reports the ledger's counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_plain_list_and_status() {
    let t = Scratch::new();
    let sim = sim(60, unlimited()).await;
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, std::path::Path::new("-"), &ledger))
        .args(["--no-header", "--rate", "2000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let list: String = (0..60)
        .map(|i| format!("{}\r\n", sim::population_name(i)))
        .collect();
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(list.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut status = t.bin();
    status.args(["status", "--json", "--ledger"]).arg(&ledger);
    let s = finish(status).await;
    assert_eq!(s.code, 0, "{s:?}");
    let v: serde_json::Value = serde_json::from_str(&s.stdout).expect("status --json prints JSON");
    assert_eq!(v["pool_id"], sim.pool_id());
    assert_eq!(v["action"], "reset");
    // Users 7, 23, 41 and 57 of 0..60 cannot be reset.
    assert_eq!(v["succeeded"], 56);
    assert_eq!(v["failed"], 4);
    assert_eq!(v["invalid"], 0);
    assert_eq!(v["failed_by_code"]["NotAuthorizedException"], 3);
    assert_eq!(v["failed_by_code"]["InvalidParameterException"], 1);
    assert_eq!(v["input"], "stdin");
    sim.stop().await;
}
