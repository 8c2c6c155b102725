//! The ledger under stress: one writer at a time, a stale lock after a
//! kill, and a disk that stops accepting writes.

use std::process::Stdio;
use std::time::Duration;

use crate::support::*;

/// A second run on a ledger in use is refused (exit 2) naming the holder's pid and host; after the holder is killed with SIGKILL its lock is gone and a re-run finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_writer_per_ledger_and_no_stale_lock() {
    let t = Scratch::new();
    let sim = sim(200, unlimited()).await;
    let input = t.users_csv(resettable(200));
    let ledger = t.path("l.jsonl");
    let args = run_args(&sim, &input, &ledger);
    let mut first = t.bin();
    first.args(&args).args(["--rate", "20"]);
    let mut holder = first
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while !ledger.exists() || outcomes(&ledger).is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut second = t.bin();
    second.args(&args);
    let out = finish(second).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("in use by pid {}", holder.id())),
        "{out:?}"
    );

    holder.kill().unwrap();
    holder.wait().unwrap();
    let mut third = t.bin();
    third.args(&args).args(["--rate", "2000"]);
    let out = finish(third).await;
    assert_eq!(
        out.code, 0,
        "a killed holder's lock does not block: {out:?}"
    );
    for name in resettable(200) {
        assert_eq!(sim.user(&name).unwrap().messages, 1, "{name}");
    }
}

/// When the ledger cannot be written (file size limit reached) the run stops with exit 3 and counts nothing it did not make durable; a re-run with room finishes, and no user is messaged twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_ledger_writes_stop_the_run() {
    let t = Scratch::new();
    let sim = sim_answering_after(400, 2).await;
    let names = resettable(400);
    let input = t.users_csv(names.clone());
    let ledger = t.path("l.jsonl");
    let args = run_args(&sim, &input, &ledger);
    // `ulimit -f 16`: writes past 16 KiB fail with EFBIG (SIGXFSZ ignored).
    let mut cmd = t.bin();
    let program = cmd.get_program().to_owned();
    let mut limited = t.wrapped("bash");
    limited
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 16; exec \"$@\"")
        .arg("bash")
        .arg(&program)
        .args(&args)
        .args(["--rate", "2000"]);
    cmd = limited;
    let out = finish(cmd).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stdout.contains("could not write ledger"), "{out:?}");
    assert!(std::fs::metadata(&ledger).unwrap().len() <= 16 * 1024);
    let recorded = outcomes(&ledger).len();
    assert!(recorded < names.len(), "stopped part-way ({recorded})");
    // The summary counts only what was fsynced and acknowledged; the failed
    // write may have left whole lines it never acknowledged (calls that did
    // succeed, so a re-run may rightly take them as done).
    let reported: usize = out
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("succeeded"))
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .expect("a succeeded line");
    assert!(
        reported > 0 && reported <= recorded,
        "reported {reported}, on disk {recorded}: {out:?}"
    );

    let mut cmd = t.bin();
    cmd.args(&args).args(["--rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let o = outcomes(&ledger);
    for name in &names {
        assert_eq!(o[name]["outcome"], "succeeded", "{name}");
        assert_eq!(sim.user(name).unwrap().messages, 1, "{name}: one message");
    }
}
