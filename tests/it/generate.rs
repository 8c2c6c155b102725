//! Generated passwords for migrations: random per user, written only to a
//! 0600 file, each line durable before the call that sets it.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use cognito_sim::{Behaviour, Status};

use crate::support::*;

/// Each user's password as the passwords file says Cognito has it: the
/// password of their last `applied` line.
fn passwords(path: &std::path::Path) -> HashMap<String, String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records()
        .map(|rec| rec.unwrap())
        .filter(|rec| &rec[2] == "applied")
        .map(|rec| (rec[0].to_string(), rec[1].to_string()))
        .collect()
}

/// Killed mid-run and resumed: every user's password in the pool is the one on their last `applied` line of the 0600 file (a crash's leftovers settled by the ledger); no password appears in output, logs or ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_passwords_are_kept_and_secret() {
    let t = Scratch::new();
    let sim = sim(
        300,
        Behaviour {
            latency_ms: 5,
            drop_rate: 0.05,
            ..unlimited()
        },
    )
    .await;
    let names = resettable(300);
    let input = t.users_csv(names.clone());
    let ledger = t.path("l.jsonl");
    let out_file = t.path("passwords.csv");
    let extra = [
        "--action",
        "set-password",
        "--permanent",
        "--generate-passwords",
        "--passwords-out",
    ];
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(extra)
        .arg(&out_file)
        .args(["--rate", "150"]);
    kill_after(cmd, Duration::from_millis(900)).await;

    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(extra)
        .arg(&out_file)
        .args(["--rate", "2000", "-vv"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        std::fs::metadata(&out_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let file = passwords(&out_file);
    let ledger_text = std::fs::read_to_string(&ledger).unwrap();
    for name in &names {
        let u = sim.user(name).unwrap();
        assert_eq!(u.status, Status::Confirmed, "{name}");
        let set = u.password.clone().expect("a password was set");
        assert_eq!(
            file.get(name),
            Some(&set),
            "{name}: the last applied line is the password the pool has"
        );
        assert!(set.len() >= 20);
        assert!(
            !out.stdout.contains(&set) && !out.stderr.contains(&set) && !ledger_text.contains(&set),
            "{name}: leaked"
        );
    }
}

/// A passwords file others may read is refused before any call; --passwords-out is required.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_file_must_be_private() {
    let t = Scratch::new();
    let sim = sim(5, unlimited()).await;
    let input = t.users_csv(resettable(5));
    let open = t.write("open.csv", "username,password\n");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &t.path("l.jsonl")))
        .args([
            "--action",
            "set-password",
            "--generate-passwords",
            "--passwords-out",
        ])
        .arg(&open);
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("others may read it"), "{out:?}");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &t.path("l2.jsonl"))).args([
        "--action",
        "set-password",
        "--generate-passwords",
    ]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--passwords-out"), "{out:?}");
    assert_eq!(sim.stats().requests, 0);
}

/// set-password answers lost to dropped connections are retried with the same password; where the pool refuses it as a repeat (password history), the first call landed and the user is recorded succeeded (`reconciled`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_set_password_answers_with_password_history() {
    let t = Scratch::new();
    let sim = sim(
        200,
        Behaviour {
            drop_rate: 0.3,
            password_history: true,
            ..unlimited()
        },
    )
    .await;
    let names = resettable(200);
    let mut csv = String::from("username,password\n");
    for (i, n) in names.iter().enumerate() {
        csv.push_str(&format!("{n},History-Test-{i:04}!\n"));
    }
    let input = t.write("pw.csv", csv);
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger)).args([
        "--action",
        "set-password",
        "--rate",
        "2000",
        "--max-attempts",
        "20",
    ]);
    let out = finish(cmd).await;
    let o = outcomes(&ledger);
    let failed: Vec<_> = o.values().filter(|r| r["outcome"] != "succeeded").collect();
    assert_eq!(out.code, 0, "{failed:?} {out:?}");
    let reconciled = o.values().filter(|r| r["detail"] == "reconciled").count();
    assert!(
        reconciled > 20,
        "repeats after lost answers were recognised ({reconciled})"
    );
    for (i, n) in names.iter().enumerate() {
        assert_eq!(o[n]["outcome"], "succeeded", "{n}");
        assert_eq!(
            sim.user(n).unwrap().password,
            Some(format!("History-Test-{i:04}!")),
            "{n}"
        );
    }
}
