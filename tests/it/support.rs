//! Helpers shared by the integration tests: a temp dir per test, the binary
//! with an isolated AWS environment, a simulated pool on 127.0.0.1:0, and
//! ledger reading.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cognito_sim::{self as sim, Behaviour, PoolSettings, SimConfig, SimHandle};
use serde_json::Value;

/// A test's own directory, removed at the end.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        let s = Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        s.write("empty-aws-config", "");
        s
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` to `name` and returns its path.
    pub fn write(&self, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write test file");
        p
    }

    /// Writes a CSV with a `username` header and these names.
    pub fn users_csv(&self, names: impl IntoIterator<Item = String>) -> PathBuf {
        let mut text = String::from("username\n");
        for n in names {
            text.push_str(&n);
            text.push('\n');
        }
        self.write("users.csv", text)
    }

    /// The binary, with credentials for a local endpoint and nothing from the
    /// host's AWS configuration.
    pub fn bin(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cognito-bulk-reset"));
        sim::isolate_aws_env(&mut cmd, self.dir.path());
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        cmd
    }
    /// `program` (a shell, `setpriv`, a wrapper) with the binary's
    /// environment, in this directory, reading /dev/null; the wrapper is
    /// given the binary to run.
    pub fn wrapped(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        copy_env(&self.bin(), &mut cmd);
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        cmd
    }
}

/// What a finished process left.
pub struct Finished {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs a command to the end without blocking the async runtime (the
/// simulated pool runs on it).
pub async fn finish(mut cmd: Command) -> Finished {
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("the binary starts"))
        .await
        .expect("join");
    Finished {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a command to the end under `timeout -s KILL`, failing the test if
/// it has not ended after `secs` (a hang). Standard input is /dev/null.
pub async fn finish_within(cmd: Command, secs: u64) -> Finished {
    let mut t = Command::new("timeout");
    t.args(["-s", "KILL", &secs.to_string()])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    copy_env(&cmd, &mut t);
    if let Some(dir) = cmd.get_current_dir() {
        t.current_dir(dir);
    }
    t.stdin(Stdio::null());
    let out = finish(t).await;
    assert_ne!(
        out.code,
        128 + 9,
        "{:?}: still running after {secs} s (a hang)",
        cmd.get_args().collect::<Vec<_>>()
    );
    out
}

/// Starts a simulated pool with `users` generated users.
pub async fn sim(users: usize, behaviour: Behaviour) -> SimHandle {
    sim_pool(users, PoolSettings::default(), behaviour).await
}

/// Starts a simulated pool with `users` generated users, no quota or
/// faults, answering each call after `latency_ms`.
pub async fn sim_answering_after(users: usize, latency_ms: u64) -> SimHandle {
    sim(
        users,
        Behaviour {
            latency_ms,
            ..unlimited()
        },
    )
    .await
}

/// Starts a simulated pool with these settings and `users` generated users.
pub async fn sim_pool(users: usize, pool: PoolSettings, behaviour: Behaviour) -> SimHandle {
    sim::start_local(SimConfig::with(users, pool, behaviour))
        .await
        .expect("the simulated pool starts")
}

/// Each user's final outcome record, keyed by the canonical username the
/// record names (`user`, else `username`); panics if a user has two.
pub fn outcomes_by_person(ledger: &Path) -> HashMap<String, Value> {
    let mut map = HashMap::new();
    for r in user_records(ledger) {
        if r["outcome"] == "invalid" || r["outcome"] == "deferred" || r.get("step").is_some() {
            continue;
        }
        let key = r
            .get("user")
            .and_then(Value::as_str)
            .or(r["username"].as_str())
            .expect("a name")
            .to_string();
        if let Some(first) = map.insert(key.clone(), r.clone()) {
            panic!("user {key} has two outcomes in the ledger: {first} and {r}");
        }
    }
    map
}

/// A simulated pool with no quota, no per-user attempt limit, no latency
/// and no faults.
pub fn unlimited() -> Behaviour {
    Behaviour {
        quota_recovery: 0.0,
        quota_read: 0.0,
        quota_list: 0.0,
        quota_update: 0.0,
        quota_create: 0.0,
        quota_pool_read: 0.0,
        reset_attempts_per_hour: 0,
        ..Behaviour::default()
    }
}

/// `run` arguments for a simulated pool.
pub fn run_args(sim: &SimHandle, input: &Path, ledger: &Path) -> Vec<String> {
    vec![
        "run".into(),
        "--yes".into(),
        "--user-pool-id".into(),
        sim.pool_id().into(),
        "--endpoint-url".into(),
        sim.endpoint_url(),
        "--input".into(),
        input.display().to_string(),
        "--ledger".into(),
        ledger.display().to_string(),
    ]
}

/// Waits for a spawned child (with piped output) without blocking the runtime.
pub async fn finish_child(child: std::process::Child) -> Finished {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait");
    Finished {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Starts `cmd` (output discarded), lets it run for `after`, then kills it
/// with SIGKILL, as a crash would, and waits for it.
pub async fn kill_after(cmd: Command, after: std::time::Duration) {
    kill_when(cmd, || true, after).await;
}

/// Starts `cmd`, waits until `started()` holds (polled every 5 ms; at most
/// 60 s), then for `after`, and kills it with SIGKILL. A kill at a moment
/// counted from an event the test can see, not from the process's start,
/// so a slow start on a loaded machine does not eat the window.
pub async fn kill_when(mut cmd: Command, started: impl Fn() -> bool, after: std::time::Duration) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !started() {
        assert!(
            std::time::Instant::now() < deadline,
            "the awaited event did not happen within 60 s"
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before the awaited event");
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    tokio::time::sleep(after).await;
    child.kill().expect("SIGKILL");
    tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
}

/// Starts `cmd` and kills it with SIGKILL `after` its start or once `sim`
/// has sent `messages` more reset messages, whichever is first: a kill at
/// a random moment that no machine is fast enough to let finish the job.
pub async fn kill_by(cmd: Command, sim: &SimHandle, after: std::time::Duration, messages: u64) {
    let (start, sent) = (std::time::Instant::now(), sim.stats().messages);
    kill_when(
        cmd,
        || start.elapsed() >= after || sim.stats().messages >= sent + messages,
        std::time::Duration::ZERO,
    )
    .await;
}

/// Sends `signal` (e.g. "-INT") to process `pid`.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} {pid}");
}

/// The ledger's invalid rows as (line, reason).
pub fn invalid_rows(ledger: &Path) -> Vec<(u64, String)> {
    user_records(ledger)
        .iter()
        .filter(|r| r["outcome"] == "invalid")
        .map(|r| {
            (
                r["line"].as_u64().expect("line"),
                r["message"].as_str().expect("reason").to_string(),
            )
        })
        .collect()
}

/// Sets `flag` to `value` in `args`, replacing an earlier value.
pub fn with(mut args: Vec<String>, flag: &str, value: &str) -> Vec<String> {
    match args.iter().position(|a| a == flag) {
        Some(i) => args[i + 1] = value.to_string(),
        None => args.extend([flag.to_string(), value.to_string()]),
    }
    args
}

/// The ledger's user records (header and intent lines left out). A torn
/// last line (no newline) is not a record, as for the tool's own replay.
pub fn user_records(ledger: &Path) -> Vec<Value> {
    let file = std::fs::File::open(ledger).expect("ledger exists");
    let mut lines = cognito_bulk_reset::ledger::Lines::new(std::io::BufReader::new(file));
    let mut records = Vec::new();
    while let Some((_, text)) = lines.next_line().expect("ledger lines read") {
        let v: Value = serde_json::from_slice(text).expect("every ledger line is JSON");
        if v["record"] == "user" {
            records.push(v);
        }
    }
    records
}

/// Final outcomes by username; panics if a user has two. (`deferred`
/// records are not final and are left out.)
pub fn outcomes(ledger: &Path) -> HashMap<String, Value> {
    let mut map = HashMap::new();
    for r in user_records(ledger) {
        if r["outcome"] == "invalid" || r["outcome"] == "deferred" {
            continue;
        }
        let name = r["username"].as_str().expect("username").to_string();
        if let Some(first) = map.insert(name.clone(), r.clone()) {
            panic!("user {name} has two outcomes in the ledger: {first} and {r}");
        }
    }
    map
}

/// Each user's last outcome (a re-run with --retry-failed may record a
/// user again).
pub fn outcomes_last(ledger: &Path) -> HashMap<String, Value> {
    user_records(ledger)
        .into_iter()
        .filter(|r| r["outcome"] != "invalid")
        .map(|r| (r["username"].as_str().unwrap_or_default().to_string(), r))
        .collect()
}

/// Names of the first `n` generated users that can be reset.
pub fn resettable(n: usize) -> Vec<String> {
    (0..n)
        .filter(|i| sim::population_resettable(*i))
        .map(sim::population_name)
        .collect()
}

/// What the terminal run left.
#[derive(Debug)]
pub struct OnTerminal {
    pub code: Option<i64>,
    pub signal: Option<i64>,
    pub shown: String,
    pub timed_out: bool,
}

/// Runs `command` on a pseudo-terminal with the test's environment, waits
/// for `wait`, then does `action` (see pty_run.py).
pub async fn on_terminal(
    t: &Scratch,
    command: Vec<String>,
    wait: &str,
    action: &str,
) -> OnTerminal {
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/pty_run.py");
    let base = t.bin();
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(driver).args([wait, action, "--"]).args(command);
    copy_env(&base, &mut cmd);
    cmd.current_dir(t.dir.path());
    let out = finish(cmd).await;
    let v: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("pty_run.py: {e}: {out:?}"));
    let got = OnTerminal {
        code: v["code"].as_i64(),
        signal: v["signal"].as_i64(),
        shown: v["shown"].as_str().unwrap_or_default().to_string(),
        timed_out: v["timed_out"].as_bool().unwrap_or(true),
    };
    assert!(
        !got.timed_out,
        "still running after 120 s (a hang): {got:?}"
    );
    got
}

pub fn bin_path() -> String {
    env!("CARGO_BIN_EXE_cognito-bulk-reset").to_string()
}

/// Gives `to` the environment `from` sets and removes.
pub fn copy_env(from: &Command, to: &mut Command) {
    for (k, v) in from.get_envs() {
        match v {
            Some(v) => to.env(k, v),
            None => to.env_remove(k),
        };
    }
}

/// A ledger's first line, its header.
pub fn ledger_header(ledger: &Path) -> Value {
    let text = std::fs::read_to_string(ledger).expect("the ledger");
    serde_json::from_str(text.lines().next().expect("a header line")).expect("the header is JSON")
}
