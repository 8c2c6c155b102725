//! The input as a stream: a FIFO is read once (never also counted), a pipe
//! whose writer died mid-line leaves an invalid row rather than a cut-short
//! username, memory stays bounded on a line of hundreds of megabytes, a
//! quote left open stops the input at its line, and a CSV given to
//! `--no-header` is refused before its passwords could reach the ledger.

use std::io::Write;
use std::process::Stdio;

use crate::files::mkfifo;
use crate::support::*;

/// A FIFO as --input is read once, by the run: every user in it is reset (the progress total is not counted from it, which would eat its rows); without --yes it is refused, since the plan and the run could not read the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_is_read_once() {
    let t = Scratch::new();
    let sim = sim(40, unlimited()).await;
    let users = resettable(40);
    let fifo = t.path("users.fifo");
    mkfifo(&fifo);
    let writer = {
        let fifo = fifo.clone();
        let users = users.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            writeln!(f, "username").unwrap();
            for u in users {
                writeln!(f, "{u}").unwrap();
            }
        })
    };
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &fifo, &ledger))
        .args(["--rate", "2000"]);
    let out = finish_within(cmd, 120).await;
    writer.join().unwrap();
    assert_eq!(out.code, 0, "{out:?}");
    let records = user_records(&ledger);
    assert_eq!(records.len(), users.len(), "{out:?}");
    assert!(records.iter().all(|r| r["outcome"] == "succeeded"));

    // Without --yes: refused before anything is read from it.
    let args: Vec<String> = run_args(&sim, &fifo, &t.path("m.jsonl"))
        .into_iter()
        .filter(|a| a != "--yes")
        .collect();
    let mut cmd = t.bin();
    cmd.args(&args);
    let out = finish_within(cmd, 120).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--yes"), "{out:?}");
}

/// Rows piped on stdin whose writer stopped mid-line: the cut-short last value is recorded invalid, never sent as a username.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipe_cut_mid_line_sends_nothing_cut_short() {
    let t = Scratch::new();
    let sim = sim(10, unlimited()).await;
    let users = resettable(10);
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, std::path::Path::new("-"), &ledger))
        .args(["--rate", "2000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let cut_short = &users[1][..users[1].len() - 2];
    write!(
        child.stdin.take().unwrap(),
        "username\n{}\n{cut_short}",
        users[0]
    )
    .unwrap();
    let out = finish_child(child).await;
    assert_eq!(out.code, 1, "{out:?}");
    let invalid = invalid_rows(&ledger);
    assert_eq!(invalid.len(), 1, "{invalid:?}");
    assert_eq!(invalid[0].0, 3);
    assert!(invalid[0].1.contains("no newline"), "{invalid:?}");
    assert_eq!(
        sim.stats().mutating_requests,
        1,
        "only the whole row was sent"
    );
}

/// Runs `args` with `stdin` fed by a thread writing `feed`, under a small
/// python wrapper that reports the tool's peak resident memory (KiB).
async fn run_measured(
    t: &Scratch,
    args: Vec<String>,
    feed: impl FnOnce(&mut std::process::ChildStdin) + Send + 'static,
) -> (Finished, u64) {
    let wrapper = "import resource, subprocess, sys\n\
        r = subprocess.run(sys.argv[1:])\n\
        print('maxrss', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n\
        sys.exit(r.returncode)\n";
    let mut cmd = t.wrapped("python3");
    cmd.arg("-c").arg(wrapper).arg(bin_path()).args(&args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || feed(&mut stdin));
    let out = finish_child(child).await;
    writer.join().unwrap();
    let rss = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the wrapper reports maxrss");
    (out, rss)
}

/// A 256 MB line on stdin is recorded invalid with its line number and the rows after it are read, in bounded memory; a quote left open for megabytes stops the input at the row's line (exit 3), after the rows before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_lines_and_open_quotes_cost_no_memory() {
    let t = Scratch::new();
    let sim = sim(10, unlimited()).await;
    let users = resettable(10);
    let ledger = t.path("long.jsonl");
    let (a, b) = (users[0].clone(), users[1].clone());
    let (out, rss_kib) = run_measured(
        &t,
        [
            run_args(&sim, std::path::Path::new("-"), &ledger),
            vec!["--rate".into(), "2000".into()],
        ]
        .concat(),
        move |w: &mut std::process::ChildStdin| {
            // A write error means the tool stopped reading: the asserts
            // below say why.
            let chunk = vec![b'x'; 1 << 20];
            let _ = write!(w, "username\n{a}\n");
            for _ in 0..256 {
                if w.write_all(&chunk).is_err() {
                    return;
                }
            }
            let _ = write!(w, "\n{b}\n");
        },
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    let invalid = invalid_rows(&ledger);
    assert_eq!(invalid.len(), 1, "{invalid:?}");
    assert_eq!(invalid[0].0, 3);
    assert!(invalid[0].1.contains("longer than 64 KiB"), "{invalid:?}");
    assert_eq!(
        sim.stats().mutating_requests,
        2,
        "the rows around it were sent"
    );
    assert!(
        rss_kib < 120 * 1024,
        "peak memory {rss_kib} KiB for a 256 MB line"
    );

    let ledger = t.path("quote.jsonl");
    let (a, b) = (users[2].clone(), users[3].clone());
    let (out, rss_kib) = run_measured(
        &t,
        [
            run_args(&sim, std::path::Path::new("-"), &ledger),
            vec!["--rate".into(), "2000".into()],
        ]
        .concat(),
        move |w: &mut std::process::ChildStdin| {
            let _ = write!(w, "username,note\n{a},x\n{b},\"an open quote\n");
            let line = format!("{b}\n").repeat(4096);
            for _ in 0..1024 {
                if w.write_all(line.as_bytes()).is_err() {
                    return;
                }
            }
        },
    )
    .await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr
            .contains("row starting at line 3 runs past 1 MiB"),
        "{out:?}"
    );
    assert_eq!(user_records(&ledger).len(), 1, "only the row before it");
    assert!(rss_kib < 120 * 1024, "peak memory {rss_kib} KiB");
}

/// `--no-header` on a CSV whose first line is its header (`username,password`) is refused before anything is sent or written, so no `name,password` line reaches the ledger as a username; `--no-header-check` reads that line as a username.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_given_to_no_header_is_refused() {
    let t = Scratch::new();
    let sim = sim(10, unlimited()).await;
    let users = resettable(10);
    let input = t.write(
        "users.csv",
        format!("username,password\n{},Secret-Pa55word\n", users[0]),
    );
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger)).arg("--no-header");
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("looks like a header") && out.stderr.contains("--no-header-check"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("Secret-Pa55word"), "{out:?}");
    assert_eq!(sim.stats().mutating_requests, 0);
    let ledger_text = std::fs::read_to_string(&ledger).unwrap_or_default();
    assert!(!ledger_text.contains("Secret-Pa55word"), "{ledger_text}");

    let list = t.write("list.txt", format!("username\n{}\n", users[1]));
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &list, &t.path("m.jsonl"))).args([
        "--no-header",
        "--no-header-check",
        "--rate",
        "2000",
    ]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "'username' is a user the pool lacks: {out:?}");
    assert_eq!(sim.stats().mutating_requests, 2, "{out:?}");
}

/// A semicolon-separated export of a spreadsheet is refused before any call naming --delimiter (not --no-header, which would send each line whole as a username); `--no-header` over it is refused the same way; with `--delimiter ';'` each user is reset once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_semicolon_csv_names_its_delimiter() {
    let t = Scratch::new();
    let sim = sim(20, unlimited()).await;
    let users = resettable(20);
    let mut text = String::from("username;email;group\n");
    for u in &users {
        text.push_str(&format!("{u};{u}@example.com;ops\n"));
    }
    let input = t.write("users.csv", text);
    for extra in [&[][..], &["--no-header"][..]] {
        let mut cmd = t.bin();
        cmd.args(run_args(&sim, &input, &t.path("refused.jsonl")))
            .args(extra);
        let out = finish(cmd).await;
        assert_eq!(out.code, 2, "{extra:?}: {out:?}");
        assert!(out.stderr.contains("--delimiter ';'"), "{extra:?}: {out:?}");
        assert_eq!(sim.stats().mutating_requests, 0, "{extra:?}");
    }
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--delimiter", ";", "--rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    for u in &users {
        assert_eq!(sim.user(u).unwrap().messages, 1, "{u}");
    }
    let mut bad = t.bin();
    bad.args(run_args(&sim, &input, &ledger))
        .args(["--delimiter", "::"]);
    let out = finish(bad).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--delimiter"), "{out:?}");
}

/// On a terminal, `run --input -` without --yes is refused before reading anything (before: it showed a plan, took the typed pool id, then read stdin again and reset users never in the plan).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_on_a_terminal_cannot_be_confirmed() {
    let t = Scratch::new();
    let sim = sim(10, unlimited()).await;
    let mut args = run_args(&sim, std::path::Path::new("-"), &t.path("l.jsonl"));
    args.retain(|a| a != "--yes");
    let command = [vec![bin_path()], args].concat();
    let got = on_terminal(&t, command, "text:--yes", "none").await;
    assert_eq!(got.code, Some(2), "{got:?}");
    assert!(got.shown.contains("can be read only once"), "{got:?}");
    assert_eq!(sim.stats().requests, 0);
}
