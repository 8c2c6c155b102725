//! What an operator reads: figures that follow the real bottleneck and the
//! run's own pace, the whole job beside a resumed run, SDK errors as one
//! line naming the fix, log lines an aggregator can parse, and the help,
//! completions and man pages.

use std::io::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::support::*;

/// The `N.N/s ETA` figures a progress bar showed.
fn bar_rates(shown: &str) -> Vec<f64> {
    shown
        .split("/s ETA")
        .filter_map(|before| before.rsplit(' ').next()?.parse().ok())
        .collect()
}

fn terminal_line(args: &[String]) -> Vec<String> {
    std::iter::once(bin_path())
        .chain(args.iter().cloned())
        .collect()
}

/// With --sign-out, a sign-out rate below --rate sets the pace, and plan,
/// the bar and the summary all say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_out_rate_sets_the_pace_and_every_figure_says_so() {
    let t = Scratch::new();
    let sim = sim(60, unlimited()).await;
    let input = t.users_csv(resettable(60));
    let ledger = t.path("l.jsonl");
    let mut args = run_args(&sim, &input, &ledger);
    args.extend(
        ["--sign-out", "--rate", "60", "--sign-out-rate", "30"]
            .iter()
            .map(|s| s.to_string()),
    );
    let mut plan = args.clone();
    plan[0] = "plan".into();
    plan.retain(|a| a != "--yes");
    let mut cmd = t.bin();
    cmd.args(&plan);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    // 56 users at the 30/s of sign-outs: 2 s, not the 1 s of --rate.
    assert!(
        out.stdout
            .contains("rate                 60/s; --sign-out-rate 30/s sets the pace: about 2s"),
        "{out:?}"
    );

    let got = on_terminal(&t, terminal_line(&args), "text:finished", "none").await;
    assert_eq!(got.code, Some(0), "{got:?}");
    assert!(
        got.shown.contains("limit 30/s (--sign-out-rate)"),
        "{got:?}"
    );
    assert!(
        got.shown.contains("(--sign-out-rate 30/s set the pace)"),
        "{got:?}"
    );
}

/// A resumed run's bar counts only the users it calls (not the ones the
/// ledger had done), its summary shows the whole job beside this run, and
/// `status` estimates what is left from the pace the last run achieved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_shows_its_own_pace_and_the_whole_job() {
    let t = Scratch::new();
    let sim = sim_answering_after(300, 20).await;
    let names = resettable(300);
    let input = t.users_csv(names.clone());
    let ledger = t.path("l.jsonl");
    // The first run: 1000/s configured, far more than 2 calls in flight
    // 20 ms each achieve; stopped part-way.
    let mut first = run_args(&sim, &input, &ledger);
    first.extend(
        ["--rate", "1000", "--concurrency", "2"]
            .iter()
            .map(|s| s.to_string()),
    );
    let got = on_terminal(
        &t,
        terminal_line(&first),
        &format!("ledger:150:{}", ledger.display()),
        "signal:INT",
    )
    .await;
    assert_eq!(got.code, Some(130), "{got:?}");

    let mut cmd = t.bin();
    cmd.args(["status", "--json", "--ledger"]).arg(&ledger);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let status: Value = serde_json::from_str(&out.stdout).unwrap();
    let achieved = status["achieved_rate"].as_f64().expect("an achieved rate");
    assert!(achieved > 0.0 && achieved < 500.0, "{status}");
    let left = status["remaining"].as_f64().unwrap();
    let secs = status["time_left_secs"].as_f64().unwrap();
    assert!(
        (secs - left / achieved).abs() < 0.01,
        "the time left is at the achieved rate, not 1000/s: {status}"
    );
    let mut cmd = t.bin();
    cmd.args(["status", "--ledger"]).arg(&ledger);
    let out = finish(cmd).await;
    assert!(
        out.stdout.contains("users/s the last run achieved"),
        "{out:?}"
    );

    // The resume, at 25/s: the ledger's users pass at once, and the bar's
    // rate is this run's calls alone.
    let second = with(run_args(&sim, &input, &ledger), "--rate", "25");
    let got = on_terminal(&t, terminal_line(&second), "text:finished", "none").await;
    assert_eq!(got.code, Some(0), "{got:?}");
    let rates = bar_rates(&got.shown);
    assert!(!rates.is_empty(), "{got:?}");
    assert!(
        rates.iter().all(|r| *r <= 25.0 * 1.6),
        "the bar counted done-before users in its rate: {rates:?}"
    );
    let whole = format!(
        "whole job            {} succeeded, 0 failed, 0 invalid (over 2 runs)",
        names.len()
    );
    assert!(got.shown.contains(&whole), "{got:?}");
    assert!(got.shown.contains("this run:"), "{got:?}");
}

/// Missing credentials are one line saying which source was tried and what
/// is missing; the SDK's structure is not shown (it is behind -v).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_errors_are_one_line_that_names_the_fix() {
    let t = Scratch::new();
    let input = t.users_csv(["alice".to_string()]);
    // (variables set, variables removed, what the line says)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: [Case; 3] = [
        (
            &[],
            &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
            "none in the environment (AWS_ACCESS_KEY_ID), no profile named",
        ),
        (
            &[("AWS_PROFILE", "incident")],
            &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
            "the profile 'incident' (AWS_PROFILE) is in neither",
        ),
        (
            &[],
            &["AWS_SECRET_ACCESS_KEY"],
            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
        ),
    ];
    for (set, unset, says) in cases {
        let mut cmd = t.bin();
        for (k, v) in set {
            cmd.env(k, v);
        }
        for k in unset {
            cmd.env_remove(k);
        }
        cmd.args(["plan", "--user-pool-id", "us-east-1_AbCdEfGhI", "--input"])
            .arg(&input);
        let out = finish(cmd).await;
        assert_eq!(out.code, 2, "{out:?}");
        let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line: {out:?}");
        assert!(
            lines[0].starts_with("error: no AWS credentials: "),
            "{out:?}"
        );
        assert!(lines[0].contains(says), "{out:?}");
        assert!(
            !lines[0].contains("ProviderError") && lines[0].len() < 700,
            "{out:?}"
        );
    }
}

/// An endpoint that answers an HTML 404 (not Cognito) is one line: what
/// came back and the endpoint to check, never the SDK's dump.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_is_not_aws_is_one_line() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 65536];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let body = format!("<html><body>{}</body></html>", "Not Found ".repeat(400));
            let _ = write!(
                stream,
                "HTTP/1.1 404 Not Found\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let t = Scratch::new();
    let input = t.users_csv(["alice".to_string()]);
    let mut cmd = t.bin();
    cmd.args([
        "plan",
        "--user-pool-id",
        "us-east-1_AbCdEfGhI",
        "--endpoint-url",
        &url,
        "--input",
    ])
    .arg(&input);
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{out:?}");
    assert!(
        errors[0].contains("HTTP 404 with no AWS error in it (text/html)")
            && errors[0].contains("check --endpoint-url"),
        "{out:?}"
    );
    assert!(
        !out.stderr.contains("ServiceError") && !out.stderr.contains("Not Found Not Found"),
        "{out:?}"
    );
}

/// STS out of reach (a fleet names each target's account through it) is
/// said as that, not as missing credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_out_of_reach_is_not_called_missing_credentials() {
    let t = Scratch::new();
    let sim = sim(5, unlimited()).await;
    let fleet = t.path("fleet.toml");
    std::fs::write(
        &fleet,
        format!(
            "from-pool = true\nendpoint-url = \"{}\"\n[[target]]\nuser-pool-id = \"{}\"\n",
            sim.endpoint_url(),
            sim.pool_id()
        ),
    )
    .unwrap();
    // The test environment points STS at a closed port.
    let mut cmd = t.bin();
    cmd.args(["plan", "--fleet"]).arg(&fleet);
    let out = finish(cmd).await;
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("STS GetCallerIdentity could not reach http://127.0.0.1:1"),
        "{out:?}"
    );
    assert!(
        !text.contains("credentials could not be loaded") && !text.contains("DispatchFailure("),
        "{out:?}"
    );
    assert_eq!(sim.stats().recovery_requests, 0);
}

/// Every log line carries the run id the ledger's header records; JSON
/// lines are flat with numbers as numbers and end with the summary; text
/// values with spaces are quoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_carry_the_run_id_and_typed_values() {
    let t = Scratch::new();
    let sim = sim(20, unlimited()).await;
    let input = t.users_csv(resettable(20));
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--log-format", "json"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let run_id = ledger_header(&ledger)["run_id"]
        .as_str()
        .expect("the header's run id")
        .to_string();
    let lines: Vec<Value> = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() >= 3, "{out:?}");
    for line in &lines {
        assert_eq!(line["run_id"], run_id.as_str(), "{line}");
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
    }
    let starting = lines.iter().find(|l| l["message"] == "starting").unwrap();
    assert!(
        starting["rate"].is_number() && starting["concurrency"].is_number(),
        "{starting}"
    );
    let last = lines.last().unwrap();
    assert_eq!(last["message"], "summary", "{last}");
    assert_eq!(
        last["succeeded"].as_u64(),
        Some(resettable(20).len() as u64),
        "{last}"
    );
    assert_eq!(last["exit_code"].as_i64(), Some(0), "{last}");
    assert!(last["users_per_sec"].is_number(), "{last}");

    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger));
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    for line in out.stderr.lines() {
        assert!(line.contains(" run="), "{line}");
    }
    assert!(
        out.stderr.lines().any(|l| l.contains("why=\"")),
        "a value with spaces is quoted: {out:?}"
    );
}

/// Without a terminal, the first progress line (ten seconds in) already
/// carries the achieved rate and an ETA: the meter samples every second,
/// not once a log line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_progress_line_has_a_rate_and_an_eta() {
    let t = Scratch::new();
    let sim = sim(130, unlimited()).await;
    let input = t.users_csv(resettable(130));
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--log-format", "json", "--rate", "10"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let first = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .find(|l| l["message"] == "progress")
        .unwrap_or_else(|| panic!("a progress line: {out:?}"));
    assert!(first["done"].as_u64() > Some(0), "{first}");
    assert!(first["rate"].as_f64() > Some(0.0), "{first}");
    assert!(first["eta_secs"].is_u64(), "{first}");
    assert_eq!(first["limited_by"], "--rate", "{first}");
}

/// `run -h` is short and grouped; `run --help` has every flag, the
/// headings and the examples.
#[test]
fn run_help_is_grouped_and_its_short_form_is_short() {
    let help = |flag: &str| {
        let out = std::process::Command::new(bin_path())
            .args(["run", flag])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let short = help("-h");
    let long = help("--help");
    for heading in [
        "Target:",
        "Input:",
        "Action:",
        "Rate and retries:",
        "Ledger:",
        "Output:",
        "AWS:",
    ] {
        assert!(
            short.contains(heading) && long.contains(heading),
            "{heading}"
        );
    }
    assert!(short.lines().count() <= 70, "{short}");
    assert!(!short.contains("--lease-seconds") && long.contains("--lease-seconds"));
    assert!(short.contains("--help"), "{short}");
    assert!(
        long.contains("Examples:") && long.contains("# Incident"),
        "{long}"
    );
}

/// `completions` gives scripts the shells accept; `man` a page roff renders,
/// and `man --dir` a page per command, never through a link.
#[test]
fn completions_and_man_pages() {
    let out = std::process::Command::new(bin_path())
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.contains("--user-pool-id") && script.contains("--sign-out-rate"));
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("c.bash");
    std::fs::write(&path, &script).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .status()
        .unwrap();
    assert!(check.success(), "bash -n rejects the completion script");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = std::process::Command::new(bin_path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }

    let dir = t.path().join("man");
    std::fs::create_dir(&dir).unwrap();
    // A link where a page goes is refused, its target untouched.
    let target = t.path().join("elsewhere");
    std::fs::write(&target, "mine").unwrap();
    std::os::unix::fs::symlink(&target, dir.join("cognito-bulk-reset-status.1")).unwrap();
    let out = std::process::Command::new(bin_path())
        .args(["man", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "mine");
    std::fs::remove_file(dir.join("cognito-bulk-reset-status.1")).unwrap();
    let out = std::process::Command::new(bin_path())
        .args(["man", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let run_page = dir.join("cognito-bulk-reset-run.1");
    assert!(dir.join("cognito-bulk-reset.1").exists() && run_page.exists());
    assert!(dir.join("cognito-bulk-reset-ledger-copy.1").exists());
    let rendered = render_man(&run_page);
    assert!(
        rendered.contains("--sign-out-rate") && rendered.contains("RATE AND RETRIES"),
        "{rendered}"
    );
    let out = std::process::Command::new(bin_path())
        .arg("man")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(".ie"));
}

/// The page as groff renders it for a terminal (warnings are failures).
fn render_man(page: &Path) -> String {
    let out = std::process::Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(page)
        .output()
        .expect("groff runs");
    assert!(
        out.stderr.is_empty(),
        "groff warns: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new("groff")
        .args(["-man", "-Tascii", "-P", "-cbou"])
        .arg(page)
        .output()
        .expect("groff runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `sim` command's hint teaches plan first, then a confirmed run (never
/// `--yes` first), and its commands work as shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sim_hint_teaches_plan_then_a_confirmed_run() {
    use std::io::BufRead as _;
    let t = Scratch::new();
    let mut cmd = t.bin();
    cmd.args(["sim", "--listen", "127.0.0.1:0", "--users", "12"])
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("the sim starts");
    let stdout = child.stdout.take().unwrap();
    let hint: Vec<String> = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .take_while(|l| !l.trim_start().starts_with("counters:"))
            .collect()
    })
    .await
    .unwrap();
    let line = |label: &str| {
        hint.iter()
            .find_map(|l| l.trim_start().strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label} in {hint:?}"))
            .trim()
            .to_string()
    };
    assert!(!hint.iter().any(|l| l.contains("--yes")), "{hint:?}");
    assert!(line("then run:").contains("type the pool id"), "{hint:?}");
    let users = line("its users:");
    let made = std::process::Command::new("sh")
        .args(["-c", &users])
        .current_dir(t.dir.path())
        .status()
        .unwrap();
    assert!(made.success(), "{users}");
    let written = std::fs::read_to_string(t.path("users.csv")).unwrap();
    assert_eq!(written.lines().count(), 13, "{written}");
    let plan = line("look first:");
    let words: Vec<&str> = plan.split_whitespace().collect();
    assert_eq!(words[..2], ["cognito-bulk-reset", "plan"], "{plan}");
    let mut cmd = t.bin();
    cmd.args(&words[1..]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("users to do          12"), "{out:?}");
    let _ = child.kill();
    let _ = child.wait();
}
