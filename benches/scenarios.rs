//! The scenario benchmark: the release binary against the simulated pool,
//! side by side with a boto3 peer, measured by the pool itself.
//!
//! `cargo bench --bench scenarios [-- NAME...] [-- --quick]` runs, in order:
//!
//! 1. `accuracy`: `--rate 100` against a quota of 150 with 50 ms latency for
//!    33 s: the rate the pool saw over the configured one, throttled calls.
//! 2. `over-quota`: `--rate 200` against a quota of 100 (50 ms latency), with
//!    the adaptive rate and with `--no-adaptive`; the boto3 peer (16 threads)
//!    in botocore's `adaptive` and `standard` retry modes: calls let through
//!    per second over the quota, the share of calls throttled.
//! 3. `overhead`: no quota, no latency, no rate limit, 3 rounds: users/s with the
//!    durable ledger, and the boto3 peer (16 threads) against the same pool.
//! 4. `scale`: `plan` over a 1,000,000-row input; a run of those users; a
//!    resume from that run's ledger with 1,000 new users at the end of the
//!    input: peak RSS of each, and the time from start to the first new call.
//! 5. `resolve`: 100,000 emails against a 1,000,000-user pool whose users
//!    sign in with their email (UUID usernames): resolved by an index of the
//!    whole pool, by one lookup per row, and not at all (`--resolve exact`,
//!    the control): peak RSS, the index's bytes, the ListUsers calls and
//!    the time before the first reset, and the CPU resolution adds per row.
//!
//! 6. `ledger`: the DynamoDB ledger (in moto, started for the benchmark)
//!    next to the file ledger, in the same run: users/s with no quota and no
//!    latency, and the time a resume of a finished job takes to read it back
//!    (a job of 100,000 users, copied into the table with `ledger copy`).
//!
//! 7. `fleet`: 50 pools in 5 account/region buckets (one account, five
//!    regions), each bucket's quota 30/s, `--rate 30`: one `run --fleet`
//!    against 50 independent single-pool runs at `--rate 30`, started
//!    together; per bucket the rate of resets the pool let through over its
//!    quota and the share it throttled. Then fleets of 1 to 200 buckets (2
//!    pools each) for the scaling: achieved over 30/s per bucket, and the
//!    tool's CPU.
//!
//! 8. `neighbour`: production at 5, 10 and 20/s of a 30/s quota, steady or
//!    in bursts of 30, with five minutes of it in the usage history; the
//!    tool at `--rate 20`, at `--rate auto` without CloudWatch (a share of
//!    the quota, as before), at `--rate auto` reading the account's usage,
//!    and the boto3 peer (16 threads, adaptive retries): the job's achieved
//!    rate over what production leaves, and the share of production's
//!    calls throttled while the job ran. Then the reserve: production at
//!    10/s in bursts of 10, 20, 29 and 30, evenly, and at random, against
//!    `--leave-for-production` 10, auto and 15 and `--burst 1`. Then five
//!    minutes of bursts of 30 against `--rate auto`, per minute.
//!
//! Scenarios 3 and 4 measure the call path, so they run with
//! `--resolve exact` (as the boto3 peer does no resolving); 5 resolves, and
//! resumes its index run with 1,000 new rows (resolved by lookups: the rows
//! the ledger finished need none).
//!
//! Rates are the pool's view: requests over the time from the first to the
//! last reset request it received, so process start-up and the tool's own
//! clock do not flatter anyone. Peak RSS is the kernel's high-water mark of
//! the process after `exec` (`VmHWM`, read every 10 ms while it runs; `wait4`'s
//! figure would include this process's own memory, copied at `fork`).
//! The results are printed as a Markdown table (BENCHMARKS.md holds them) and
//! written to `target/scenarios.json`. With `SCENARIOS_KEEP=1` in the
//! environment the working directory (inputs, ledgers, logs) is kept.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cognito_sim::{
    self as sim, Behaviour, LoginAttribute, PoolSettings, SimConfig, SimHandle, SimStats,
};
use serde_json::{json, Value};

/// The scale scenario's run and resume: as fast as the tool goes, rows
/// keyed by their text.
const SCALE_FLAGS: &[&str] = &[
    "--rate",
    "100000",
    "--no-adaptive",
    "--concurrency",
    "64",
    "--resolve",
    "exact",
];

const BIN: &str = env!("CARGO_BIN_EXE_cognito-bulk-reset");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Sizes of the scenarios; `--quick` shrinks them to check the runner.
struct Sizes {
    accuracy_users: usize,
    over_quota_users: usize,
    peer_deadline: Duration,
    overhead_users: usize,
    overhead_peer_users: usize,
    overhead_rounds: usize,
    scale_users: usize,
    resume_new: usize,
    resolve_pool: usize,
    resolve_rows: usize,
    ledger_users: usize,
    ledger_resume_users: usize,
    /// Users per pool of the 50-pool fleet, and per bucket of the scaling.
    fleet_pool_users: usize,
    fleet_bucket_users: usize,
    /// Seconds of calls each neighbour run aims at, and the long run's.
    neighbour_secs: f64,
    neighbour_long_secs: u64,
}

const FULL: Sizes = Sizes {
    accuracy_users: 3_300,
    over_quota_users: 6_000,
    peer_deadline: Duration::from_secs(60),
    overhead_users: 100_000,
    overhead_peer_users: 20_000,
    overhead_rounds: 3,
    scale_users: 1_000_000,
    resume_new: 1_000,
    resolve_pool: 1_000_000,
    resolve_rows: 100_000,
    ledger_users: 20_000,
    ledger_resume_users: 100_000,
    fleet_pool_users: 60,
    fleet_bucket_users: 300,
    neighbour_secs: 30.0,
    neighbour_long_secs: 300,
};

const QUICK: Sizes = Sizes {
    accuracy_users: 300,
    over_quota_users: 600,
    peer_deadline: Duration::from_secs(10),
    overhead_users: 5_000,
    overhead_peer_users: 1_000,
    overhead_rounds: 1,
    scale_users: 20_000,
    resume_new: 100,
    resolve_pool: 20_000,
    resolve_rows: 2_000,
    ledger_users: 2_000,
    ledger_resume_users: 5_000,
    fleet_pool_users: 15,
    fleet_bucket_users: 60,
    neighbour_secs: 8.0,
    neighbour_long_secs: 120,
};

/// One line of the results table.
struct Row {
    scenario: &'static str,
    measure: String,
    result: String,
    target: &'static str,
    met: Option<bool>,
}

struct Bench {
    sizes: &'static Sizes,
    dir: tempfile::TempDir,
    rows: Vec<Row>,
    json: Vec<Value>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let names: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let wanted = |name: &str| names.is_empty() || names.contains(&name);

    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let mut bench = Bench {
        sizes: if quick { &QUICK } else { &FULL },
        dir: tempfile::tempdir().expect("a temp dir"),
        rows: Vec::new(),
        json: Vec::new(),
    };
    runtime.block_on(async {
        if wanted("accuracy") {
            bench.accuracy().await;
        }
        if wanted("over-quota") {
            bench.over_quota().await;
        }
        if wanted("overhead") {
            bench.overhead().await;
        }
        if wanted("scale") {
            bench.scale().await;
        }
        if wanted("resolve") {
            bench.resolve().await;
        }
        if wanted("ledger") {
            bench.ledger().await;
        }
        if wanted("fleet") {
            bench.fleet().await;
        }
        if wanted("neighbour") {
            bench.neighbour().await;
        }
    });
    bench.report();
    if std::env::var_os("SCENARIOS_KEEP").is_some() {
        eprintln!("kept: {}", bench.dir.keep().display());
    }
}

impl Bench {
    async fn accuracy(&mut self) {
        let n = self.sizes.accuracy_users;
        let pool = start_sim(
            n,
            Behaviour {
                quota_recovery: 150.0,
                latency_ms: 50,
                ..unlimited()
            },
        )
        .await;
        let input = self.users_csv("accuracy.csv", 0..n);
        let run = self
            .tool(&pool, &input, "accuracy", &["--rate", "100"])
            .await;
        let stats = pool.stats();
        let rate = pool_rate(&stats);
        let ratio = rate / 100.0;
        progress(&format!(
            "accuracy: {rate:.2}/s over {:.1} s, {} throttled",
            window_secs(&stats),
            stats.throttled
        ));
        self.row(
            "1 rate accuracy",
            format!(
                "achieved / configured (`--rate 100`, quota 150, 50 ms, {n} users, {:.0} s)",
                window_secs(&stats)
            ),
            format!("{rate:.2}/s = {:.3}", ratio),
            "within 2%",
            Some((ratio - 1.0).abs() <= 0.02),
        );
        self.row(
            "1 rate accuracy",
            "throttled calls".into(),
            stats.throttled.to_string(),
            "0",
            Some(stats.throttled == 0),
        );
        self.json
            .push(json!({"scenario": "accuracy", "pool": stats, "tool": run.json()}));
        pool.stop().await;
    }

    async fn over_quota(&mut self) {
        let n = self.sizes.over_quota_users;
        let behaviour = Behaviour {
            quota_recovery: 100.0,
            latency_ms: 50,
            ..unlimited()
        };
        let input = self.users_csv("over-quota.csv", 0..n);
        for (label, flags) in [
            ("adaptive (default)", &["--rate", "200"][..]),
            ("--no-adaptive", &["--rate", "200", "--no-adaptive"][..]),
        ] {
            let pool = start_sim(n, behaviour.clone()).await;
            let name = if flags.contains(&"--no-adaptive") {
                "over-quota-fixed"
            } else {
                "over-quota-adaptive"
            };
            let run = self.tool(&pool, &input, name, flags).await;
            let stats = pool.stats();
            let (through, share) = self.over_quota_rows(&format!("tool, {label}"), &stats);
            if label.starts_with("adaptive") {
                self.met_last_two(through >= 0.90, share <= 0.03);
            }
            self.json.push(json!({"scenario": "over-quota", "variant": label, "pool": stats, "tool": run.json()}));
            pool.stop().await;
        }
        for mode in ["adaptive", "standard"] {
            let pool = start_sim(n, behaviour.clone()).await;
            let run = self
                .peer(&pool, &input, mode, self.sizes.peer_deadline)
                .await;
            let stats = pool.stats();
            self.over_quota_rows(&format!("boto3, 16 threads, retry mode {mode}"), &stats);
            self.json.push(json!({"scenario": "over-quota", "variant": format!("boto3 {mode}"), "pool": stats, "peer": run.json()}));
            pool.stop().await;
        }
    }

    /// Rows for one over-quota contestant: calls let through per second over
    /// the quota, and the share of calls throttled.
    fn over_quota_rows(&mut self, who: &str, stats: &SimStats) -> (f64, f64) {
        let window = window_secs(stats);
        let through = (stats.recovery_requests - stats.throttled) as f64 / window / 100.0;
        let share = stats.throttled as f64 / stats.recovery_requests.max(1) as f64;
        progress(&format!(
            "over-quota, {who}: {:.1}/s through, {:.1}% throttled, {:.0} s",
            through * 100.0,
            share * 100.0,
            window
        ));
        self.row(
            "2 over quota",
            format!("{who}: achieved / quota (`--rate 200`, quota 100)"),
            format!("{:.3}", through),
            "≥ 0.90",
            None,
        );
        self.row(
            "2 over quota",
            format!("{who}: throttled / all calls"),
            format!(
                "{:.1}% ({} of {})",
                share * 100.0,
                stats.throttled,
                stats.recovery_requests
            ),
            "≤ 3%",
            None,
        );
        (through, share)
    }

    fn met_last_two(&mut self, first: bool, second: bool) {
        let n = self.rows.len();
        self.rows[n - 2].met = Some(first);
        self.rows[n - 1].met = Some(second);
    }

    /// Each contestant runs `rounds` times, alternating, and the median
    /// counts (a shared 2-core machine is noisy; the range is reported too).
    async fn overhead(&mut self) {
        let n = self.sizes.overhead_users;
        // Only users a reset works for, so every call does the same work.
        let names = resettable(n);
        let input = self.users_csv("overhead.csv", names.iter().copied());
        let peer_names = &names[..self.sizes.overhead_peer_users.min(names.len())];
        let peer_input = self.users_csv("overhead-peer.csv", peer_names.iter().copied());
        let contestants = ["64", "16", "boto3"];
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); contestants.len()];
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); contestants.len()];
        for round in 0..self.sizes.overhead_rounds {
            for (i, who) in contestants.iter().enumerate() {
                let (stats, run, users) = if *who == "boto3" {
                    let pool = start_sim(*peer_names.last().unwrap_or(&0) + 1, unlimited()).await;
                    let run = self
                        .peer(&pool, &peer_input, "standard", Duration::from_secs(600))
                        .await;
                    let stats = pool.stats();
                    pool.stop().await;
                    (stats, run, peer_names.len())
                } else {
                    let pool = start_sim(*names.last().unwrap_or(&0) + 1, unlimited()).await;
                    let flags = [
                        "--rate",
                        "100000",
                        "--no-adaptive",
                        "--concurrency",
                        who,
                        "--resolve",
                        "exact",
                    ];
                    let name = format!("overhead-{who}-{round}");
                    let run = self.tool(&pool, &input, &name, &flags).await;
                    let stats = pool.stats();
                    pool.stop().await;
                    (stats, run, names.len())
                };
                let rate = pool_rate(&stats);
                let cpu_us = run.cpu_secs * 1e6 / users as f64;
                progress(&format!(
                    "overhead, round {round}, {who}: {rate:.0} users/s, {cpu_us:.0} µs CPU a user, peak RSS {} MB",
                    run.peak_rss_mb()
                ));
                rates[i].push(rate);
                cpu[i].push(cpu_us);
                self.json.push(json!({"scenario": "overhead", "variant": who, "round": round, "pool": stats, "run": run.json()}));
            }
        }
        let show = |v: &[f64], cpu: &[f64]| {
            format!(
                "{:.0} ({:.0}–{:.0}; {:.0} µs CPU a user)",
                median(v),
                v.iter().copied().fold(f64::INFINITY, f64::min),
                v.iter().copied().fold(0.0, f64::max),
                median(cpu)
            )
        };
        let rounds = self.sizes.overhead_rounds;
        for (i, concurrency) in ["64", "16"].iter().enumerate() {
            self.row(
                "3 overhead",
                format!(
                    "tool, `--concurrency {concurrency}`, durable ledger: users/s, median of {rounds} ({} users)",
                    names.len()
                ),
                show(&rates[i], &cpu[i]),
                "≥ 10,000",
                Some(median(&rates[i]) >= 10_000.0),
            );
        }
        self.row(
            "3 overhead",
            format!(
                "boto3, 16 threads, no ledger: users/s, median of {rounds} ({} users)",
                peer_names.len()
            ),
            show(&rates[2], &cpu[2]),
            "",
            None,
        );
        let ratio = median(&rates[0]) / median(&rates[2]).max(f64::MIN_POSITIVE);
        self.row(
            "3 overhead",
            "tool (`--concurrency 64`) / boto3".into(),
            format!("{ratio:.1}×"),
            "≥ 5×",
            Some(ratio >= 5.0),
        );
    }

    async fn scale(&mut self) {
        let n = self.sizes.scale_users;
        let new = self.sizes.resume_new;
        let input = self.users_csv("scale.csv", 0..n);

        // plan: reads the whole input and the ledger, sends nothing.
        let ledger = self.dir.path().join("scale.jsonl");
        let plan = {
            let pool = start_sim(0, unlimited()).await;
            let mut cmd = self.command();
            cmd.args(["plan", "--user-pool-id", pool.pool_id()])
                .args(["--endpoint-url", &pool.endpoint_url()])
                .arg("--input")
                .arg(&input)
                .arg("--ledger")
                .arg(&ledger);
            let plan = measure(cmd, &self.dir.path().join("scale-plan"), None).await;
            pool.stop().await;
            plan
        };
        progress(&format!(
            "scale, plan: {:.1} s, peak RSS {} MB",
            plan.wall.as_secs_f64(),
            plan.peak_rss_mb()
        ));
        self.row(
            "4 scale",
            format!(
                "`plan`, {n} rows: peak RSS ({:.1} s)",
                plan.wall.as_secs_f64()
            ),
            format!("{} MB", plan.peak_rss_mb()),
            "≤ 64 MB",
            Some(plan.peak_rss_kb <= 64 * 1024),
        );

        let pool = start_sim(n + new, unlimited()).await;
        let run = self.tool(&pool, &input, "scale", SCALE_FLAGS).await;
        let stats = pool.stats();
        progress(&format!(
            "scale, run: {:.1} s, peak RSS {} MB, {:.0} users/s",
            run.wall.as_secs_f64(),
            run.peak_rss_mb(),
            pool_rate(&stats)
        ));
        self.row(
            "4 scale",
            format!(
                "`run`, {n} users: peak RSS ({:.0} s, {:.0} users/s)",
                run.wall.as_secs_f64(),
                pool_rate(&stats)
            ),
            format!("{} MB", run.peak_rss_mb()),
            "≤ 64 MB",
            Some(run.peak_rss_kb <= 64 * 1024),
        );
        self.json
            .push(json!({"scenario": "scale run", "pool": stats, "tool": run.json()}));
        pool.stop().await;

        // Resume: the same ledger, the same input with new users at its end.
        let resumed = self.users_csv("scale-resume.csv", 0..n + new);
        let records = ledger_lines(&self.dir.path().join("scale.ledger.jsonl"));
        let pool = start_sim(n + new, unlimited()).await;
        let resume = self.tool(&pool, &resumed, "scale", SCALE_FLAGS).await;
        let stats = pool.stats();
        let first_call =
            (stats.first_recovery_unix_us as f64 - resume.started_unix_us as f64) / 1e6;
        progress(&format!(
            "scale, resume: first new call after {first_call:.2} s, peak RSS {} MB, {} calls",
            resume.peak_rss_mb(),
            stats.recovery_requests
        ));
        self.row(
            "4 scale",
            format!("resume from a {records}-line ledger ({n} users done), {new} new: time to the first new call"),
            format!("{first_call:.2} s"),
            "≤ 2 s",
            Some(stats.first_recovery_unix_us > 0 && first_call <= 2.0),
        );
        self.row(
            "4 scale",
            "resume: peak RSS".into(),
            format!("{} MB", resume.peak_rss_mb()),
            "≤ 200 MB",
            Some(resume.peak_rss_kb <= 200 * 1024),
        );
        self.row(
            "4 scale",
            "resume: calls made (only the new users)".into(),
            stats.recovery_requests.to_string(),
            "= new users",
            Some(stats.recovery_requests == new as u64),
        );
        self.json.push(json!({"scenario": "scale resume", "pool": stats, "tool": resume.json(), "first_call_secs": first_call}));
        pool.stop().await;
    }

    async fn resolve(&mut self) {
        let pool_users = self.sizes.resolve_pool;
        let rows = self.sizes.resolve_rows;
        // Every `step`-th user of the pool (those a reset works for), by
        // email, in another case than the pool holds.
        let path = self.dir.path().join("resolve.csv");
        let step = (pool_users / rows).max(1);
        let chosen: Vec<usize> = (0..pool_users)
            .step_by(step)
            .filter(|i| sim::population_resettable(*i))
            .take(rows)
            .collect();
        let rows = chosen.len();
        {
            let mut out =
                std::io::BufWriter::new(std::fs::File::create(&path).expect("create input"));
            let _ = out.write_all(b"username\n");
            for i in &chosen {
                let _ = writeln!(out, "{}", sim::population_email(*i).to_uppercase());
            }
            out.flush().expect("write input");
        }
        let flags = [
            "--rate",
            "100000",
            "--no-adaptive",
            "--concurrency",
            "64",
            "--list-rate",
            "10000",
        ];
        let mut results = Vec::new();
        for how in ["exact", "index", "lookup"] {
            let pool = start_sim_with(
                pool_users,
                PoolSettings {
                    case_insensitive: true,
                    username_attributes: vec![LoginAttribute::Email],
                    ..PoolSettings::default()
                },
                unlimited(),
            )
            .await;
            let name = format!("resolve-{how}");
            let mut all = flags.to_vec();
            all.extend(["--resolve", how]);
            let run = self.tool(&pool, &path, &name, &all).await;
            let stats = pool.stats();
            if how == "index" {
                self.resolve_resume(&pool, &path, &name, &flags).await;
            }
            pool.stop().await;
            let first_call =
                (stats.first_recovery_unix_us as f64 - run.started_unix_us as f64) / 1e6;
            let resolution = run
                .summary
                .as_ref()
                .and_then(|s| s.get("resolution"))
                .cloned()
                .unwrap_or(Value::Null);
            let index_bytes = resolution["index_bytes"].as_u64().unwrap_or(0);
            let list_calls = resolution["list_calls"].as_u64().unwrap_or(0);
            progress(&format!(
                "resolve, {how}: peak RSS {} MB, index {} MB, {list_calls} ListUsers calls, first reset after {first_call:.1} s, {:.1} s CPU, {:.0} users/s, {} messaged twice",
                run.peak_rss_mb(),
                index_bytes / 1_000_000,
                run.cpu_secs,
                pool_rate(&stats),
                stats.users_with_repeat_messages
            ));
            self.json.push(json!({"scenario": "resolve", "variant": how, "pool": stats, "tool": run.json(), "first_call_secs": first_call}));
            results.push((how, run, stats, index_bytes, list_calls, first_call));
        }
        let (_, exact, exact_stats, ..) = &results[0];
        let (exact_cpu, exact_rss) = (exact.cpu_secs, exact.peak_rss_kb);
        let exact_rate = pool_rate(exact_stats);
        for (how, run, stats, index_bytes, list_calls, first_call) in &results[1..] {
            // The index's cost grows with the pool, a lookup's with the rows.
            let per = if *how == "index" { pool_users } else { rows };
            let extra_us = (run.cpu_secs - exact_cpu) * 1e6 / per as f64;
            if *how == "index" {
                let per_user = *index_bytes as f64 / pool_users as f64;
                self.row(
                    "5 resolve",
                    format!("index of a {pool_users}-user pool (UUID usernames, email sign-in): its size"),
                    format!("{:.0} MB ({per_user:.0} bytes a pool user)", *index_bytes as f64 / 1e6),
                    "",
                    None,
                );
                let budget_kb = 64 * 1024 + (*index_bytes / 1024) as i64;
                self.row(
                    "5 resolve",
                    format!(
                        "`run`, {rows} emails, resolved by the index: peak RSS (exact: {} MB)",
                        (exact_rss + 512) / 1024
                    ),
                    format!("{} MB", run.peak_rss_mb()),
                    "≤ 64 MB + the index",
                    Some(run.peak_rss_kb <= budget_kb),
                );
                self.row(
                    "5 resolve",
                    "index: ListUsers calls; time to the first reset".into(),
                    format!("{list_calls}; {first_call:.1} s"),
                    "",
                    None,
                );
            } else {
                self.row(
                    "5 resolve",
                    format!("`run`, {rows} emails, one lookup each: peak RSS; users/s (exact: {exact_rate:.0})"),
                    format!("{} MB; {:.0}", run.peak_rss_mb(), pool_rate(stats)),
                    "",
                    None,
                );
            }
            self.row(
                "5 resolve",
                if *how == "index" {
                    "index: CPU added over no resolution, per pool user indexed".to_string()
                } else {
                    "lookup: CPU added over no resolution, per row".to_string()
                },
                format!("{extra_us:.1} µs"),
                "",
                None,
            );
            self.row(
                "5 resolve",
                format!("{how}: people messaged twice"),
                stats.users_with_repeat_messages.to_string(),
                "0",
                Some(stats.users_with_repeat_messages == 0),
            );
        }
    }

    /// Resumes the index run `name` with `resume_new` more rows at the end
    /// of its input, resolved as by default: rows the ledger finished need
    /// no resolving, so the new ones are looked up one by one.
    async fn resolve_resume(&mut self, pool: &SimHandle, input: &Path, name: &str, flags: &[&str]) {
        let new = self.sizes.resume_new;
        let mut text = std::fs::read_to_string(input).expect("the input");
        let step = (self.sizes.resolve_pool / self.sizes.resolve_rows).max(1);
        // Users the first input passed over (it took every `step`-th).
        for i in (step / 2..self.sizes.resolve_pool)
            .step_by(step)
            .filter(|i| sim::population_resettable(*i))
            .take(new)
        {
            text.push_str(&sim::population_email(i).to_uppercase());
            text.push('\n');
        }
        let resumed = self.dir.path().join("resolve-resume.csv");
        std::fs::write(&resumed, text).expect("write input");
        let before = pool.stats();
        let resume = self.tool(pool, &resumed, name, flags).await;
        let stats = pool.stats();
        let calls = stats.recovery_requests - before.recovery_requests;
        let list_calls = resume
            .summary
            .as_ref()
            .and_then(|s| s["resolution"]["list_calls"].as_u64())
            .unwrap_or(0);
        progress(&format!(
            "resolve, resume: {calls} calls, {list_calls} ListUsers calls, peak RSS {} MB, {:.1} s",
            resume.peak_rss_mb(),
            resume.wall.as_secs_f64()
        ));
        self.row(
            "5 resolve",
            format!("resume of the index run with {new} new rows: reset calls; ListUsers calls"),
            format!("{calls}; {list_calls}"),
            "= new rows; ≈ new rows",
            Some(calls == new as u64 && list_calls <= 2 * new as u64),
        );
        self.row(
            "5 resolve",
            "resume: wall time; peak RSS".into(),
            format!(
                "{:.1} s; {} MB",
                resume.wall.as_secs_f64(),
                resume.peak_rss_mb()
            ),
            "",
            None,
        );
        self.json
            .push(json!({"scenario": "resolve resume", "pool": stats, "tool": resume.json()}));
    }

    async fn ledger(&mut self) {
        let moto = Moto::start(self.dir.path());
        let env = [
            ("AWS_ENDPOINT_URL_DYNAMODB", moto.url.as_str()),
            ("AWS_REGION", "us-east-1"),
        ];
        let mut create = self.command();
        create.envs(env).args(["ledger", "create-table", "ledgers"]);
        let out = create.output().expect("the binary runs");
        assert!(out.status.success(), "ledger create-table failed: {out:?}");

        // Throughput: the same job with each ledger, as fast as the tool goes.
        let n = self.sizes.ledger_users;
        let input = self.users_csv("ledger.csv", 0..n);
        let mut rates = Vec::new();
        for (label, ledger) in [
            (
                "file",
                self.dir.path().join("ledger-file.jsonl").into_os_string(),
            ),
            ("DynamoDB (moto)", "dynamodb://ledgers/throughput".into()),
        ] {
            let pool = start_sim(n, unlimited()).await;
            let run = self
                .tool_ledger(
                    &pool,
                    &input,
                    &format!("ledger-{}", rates.len()),
                    &ledger,
                    &env,
                    SCALE_FLAGS,
                )
                .await;
            let stats = pool.stats();
            let rate = pool_rate(&stats);
            progress(&format!(
                "ledger, {label}: {rate:.0} users/s, peak RSS {} MB",
                run.peak_rss_mb()
            ));
            self.json.push(
                json!({"scenario": "ledger", "variant": label, "pool": stats, "tool": run.json()}),
            );
            rates.push((label, rate));
            pool.stop().await;
        }
        let (file, table) = (rates[0].1, rates[1].1);
        self.row(
            "6 ledger",
            format!("users/s, {n} users, no quota: file ledger"),
            format!("{file:.0}/s"),
            "",
            None,
        );
        self.row(
            "6 ledger",
            "users/s: DynamoDB ledger (moto on this machine), and its share of the file's".into(),
            format!("{table:.0}/s = {:.3}", table / file),
            "≥ 300/s (10 × the default quota)",
            Some(table >= 300.0),
        );

        // Resume: a finished job read back from each ledger.
        let n = self.sizes.ledger_resume_users;
        let input = self.users_csv("ledger-resume.csv", 0..n);
        let pool = start_sim(n, unlimited()).await;
        let file = self.dir.path().join("ledger-resume.jsonl");
        self.tool_ledger(
            &pool,
            &input,
            "ledger-resume-first",
            file.as_os_str(),
            &env,
            SCALE_FLAGS,
        )
        .await;
        let mut copy = self.command();
        copy.envs(env)
            .args(["ledger", "copy"])
            .arg(&file)
            .arg("dynamodb://ledgers/resume");
        let out = copy.output().expect("the binary runs");
        assert!(out.status.success(), "ledger copy failed: {out:?}");
        let from_file = self
            .tool_ledger(
                &pool,
                &input,
                "ledger-resume-file",
                file.as_os_str(),
                &env,
                SCALE_FLAGS,
            )
            .await;
        let from_table = self
            .tool_ledger(
                &pool,
                &input,
                "ledger-resume-table",
                "dynamodb://ledgers/resume".as_ref(),
                &env,
                SCALE_FLAGS,
            )
            .await;
        progress(&format!(
            "ledger, resume of {n} done users: file {:.2} s, table {:.2} s",
            from_file.wall.as_secs_f64(),
            from_table.wall.as_secs_f64()
        ));
        self.row(
            "6 ledger",
            format!("resume of a finished {n}-user job: file ledger, DynamoDB ledger (wall time, peak RSS)"),
            format!(
                "{:.2} s, {} MB; {:.2} s, {} MB",
                from_file.wall.as_secs_f64(),
                from_file.peak_rss_mb(),
                from_table.wall.as_secs_f64(),
                from_table.peak_rss_mb()
            ),
            "",
            None,
        );
        self.json.push(json!({"scenario": "ledger resume", "file": from_file.json(), "table": from_table.json()}));
        pool.stop().await;
    }

    async fn fleet(&mut self) {
        // 50 pools in 5 buckets: the fleet, then 50 independent runs.
        let users = self.sizes.fleet_pool_users;
        let mut results = Vec::new();
        for variant in ["fleet", "50 processes"] {
            let sim = fleet_sim(5, 10, users).await;
            let pools = fleet_pools(5, 10);
            let start = Instant::now();
            let (cpu, code) = if variant == "fleet" {
                let m = self.fleet_run(&sim, &pools, "fleet-50").await;
                (m.cpu_secs, m.code)
            } else {
                let mut runs = Vec::new();
                for (i, pool) in pools.iter().enumerate() {
                    let mut cmd = self.command();
                    cmd.args([
                        "run",
                        "--yes",
                        "--from-pool",
                        "--rate",
                        "30",
                        "--user-pool-id",
                        pool,
                    ])
                    .args(["--endpoint-url", &sim.endpoint_url()])
                    .arg("--ledger")
                    .arg(self.dir.path().join(format!("solo-{i}.jsonl")));
                    let base = self.dir.path().join(format!("solo-{i}"));
                    runs.push(tokio::spawn(async move {
                        measure(cmd, &base, Some(Duration::from_secs(120))).await
                    }));
                }
                let (mut cpu, mut worst) = (0.0, 0);
                for r in runs {
                    let m = r.await.expect("join");
                    cpu += m.cpu_secs;
                    worst = worst.max(m.code);
                }
                (cpu, worst)
            };
            let wall = start.elapsed().as_secs_f64();
            let stats = sim.stats();
            let buckets: Vec<(String, f64, f64)> = stats
                .buckets
                .iter()
                .map(|(k, b)| {
                    (
                        k.clone(),
                        b.admitted_rate() / 30.0,
                        b.recovery_throttled_share(),
                    )
                })
                .collect();
            let min_ratio = buckets.iter().map(|b| b.1).fold(f64::INFINITY, f64::min);
            let max_throttled = buckets.iter().map(|b| b.2).fold(0.0, f64::max);
            let sent: u64 = stats.buckets.values().map(|b| b.recovery_requests).sum();
            let refused: u64 = stats.buckets.values().map(|b| b.recovery_throttled).sum();
            let all_throttled = refused as f64 / sent.max(1) as f64;
            progress(&format!(
                "fleet, {variant}: exit {code}, {wall:.1} s, CPU {cpu:.1} s, per bucket resets let through / quota >= {min_ratio:.3}, throttled <= {:.1}% ({:.1}% of all resets), repeat messages {}",
                max_throttled * 100.0,
                all_throttled * 100.0,
                stats.users_with_repeat_messages
            ));
            self.json.push(json!({"scenario": "fleet", "variant": variant, "buckets": buckets, "pool": stats, "wall_secs": wall, "cpu_secs": cpu}));
            results.push((variant, min_ratio, max_throttled, all_throttled, wall));
            sim.stop().await;
        }
        let (f, p) = (&results[0], &results[1]);
        self.row(
            "7 fleet",
            format!("50 pools in 5 buckets (quota 30/s each), `--rate 30`, {users} users/pool: `run --fleet`, each bucket's achieved rate / quota (lowest)"),
            format!("{:.3}", f.1),
            "≥ 0.95",
            Some(f.1 >= 0.95),
        );
        self.row(
            "7 fleet",
            "`run --fleet`: throttled share of a bucket's requests (highest)".into(),
            format!("{:.2}%", f.2 * 100.0),
            "≤ 1%",
            Some(f.2 <= 0.01),
        );
        self.row(
            "7 fleet",
            "50 independent single-pool runs at `--rate 30`: lowest achieved / quota, highest throttled share (all buckets), wall time".into(),
            format!("{:.3}, {:.1}% ({:.1}% of all resets); {:.0} s vs the fleet's {:.0} s", p.1, p.2 * 100.0, p.3 * 100.0, p.4, f.4),
            "",
            None,
        );

        // Scaling: fleets of 1 to 50 buckets, 2 pools each.
        let per_bucket = self.sizes.fleet_bucket_users;
        let mut scaling = Vec::new();
        for n in [1usize, 5, 20, 50, 100, 200] {
            let sim = fleet_sim(n, 2, per_bucket / 2).await;
            let pools = fleet_pools(n, 2);
            let m = self
                .fleet_run(&sim, &pools, &format!("fleet-scale-{n}"))
                .await;
            let stats = sim.stats();
            let rate = pool_rate(&stats);
            let efficiency = rate / (30.0 * n as f64);
            let calls = stats.recovery_requests.max(1) as f64;
            let cpu_per_k = m.cpu_secs / calls * 1000.0;
            progress(&format!(
                "fleet scaling, {n} buckets: {rate:.0}/s = {efficiency:.3} of {n} x 30/s, tool CPU {:.2} s ({cpu_per_k:.2} s per 1000 calls), peak RSS {} MB, throttled {}",
                m.cpu_secs,
                m.peak_rss_mb(),
                stats.throttled
            ));
            self.json.push(json!({"scenario": "fleet-scaling", "buckets": n, "rate": rate, "efficiency": efficiency, "tool": m.json(), "pool": stats}));
            scaling.push(format!(
                "{n}: {efficiency:.2} ({cpu_per_k:.2} CPU-s/1000 calls)"
            ));
            sim.stop().await;
        }
        self.row(
            "7 fleet",
            "scaling: buckets: achieved / (30/s × buckets) (tool CPU per 1000 calls)".into(),
            scaling.join("; "),
            "linear until the tool's CPU is the limit",
            None,
        );
    }

    async fn neighbour(&mut self) {
        // The matrix: every contestant against production at 5, 10
        // and 20/s, steady and in bursts of 30 (the whole bucket).
        let contestants: [(&str, Option<&[&str]>, bool); 4] = [
            ("--rate 20", Some(&["--rate", "20"]), false),
            ("auto, share only", Some(&["--rate", "auto"]), false),
            ("auto, headroom", Some(&["--rate", "auto"]), true),
            ("boto3 adaptive", None, false),
        ];
        for production in [5.0f64, 10.0, 20.0] {
            for burst in [1u32, 30] {
                let mut line = Vec::new();
                for (variant, flags, cloudwatch) in contestants {
                    let p = Production::even(production, burst);
                    let r = self.neighbour_run(p, variant, flags, cloudwatch).await;
                    line.push(format!("{variant}: {r}"));
                }
                self.row(
                    "8 neighbour",
                    format!(
                        "production {}: job / what production leaves, production throttled",
                        Production::even(production, burst)
                    ),
                    line.join("; "),
                    "production ≤ 0.5%, job ≥ 0.85",
                    None,
                );
            }
        }
        // Fairness inside a second: production at 10/s in bursts of every
        // size up to the bucket's, evenly and at random, against what the
        // job leaves it.
        let shapes = [10u32, 20, 29, 30]
            .map(|b| Production::even(10.0, b))
            .into_iter()
            .chain([1u32, 10].map(|b| Production {
                poisson: true,
                ..Production::even(10.0, b)
            }));
        for p in shapes {
            let mut line = Vec::new();
            for (variant, flags) in [
                (
                    "leave 10",
                    &["--rate", "auto", "--leave-for-production", "10"][..],
                ),
                ("leave auto", &["--rate", "auto"][..]),
                (
                    "leave 15",
                    &["--rate", "auto", "--leave-for-production", "15"][..],
                ),
                (
                    "leave auto, --burst 1",
                    &["--rate", "auto", "--burst", "1"][..],
                ),
            ] {
                let r = self.neighbour_run(p, variant, Some(flags), true).await;
                line.push(format!("{variant}: {r}"));
            }
            self.row(
                "8 neighbour",
                format!("reserve: production {p}: job / 20/s, production throttled"),
                line.join("; "),
                "production ≤ 0.5%, job ≥ 0.85",
                None,
            );
        }
        self.neighbour_long().await;
    }

    /// Production in bursts as large as the quota's bucket, for minutes:
    /// the watch of the account's usage cuts the job while production is
    /// throttled. Per minute: the job's calls a second and production's
    /// throttled share.
    async fn neighbour_long(&mut self) {
        let secs = self.sizes.neighbour_long_secs;
        let users = (secs * 20) as usize;
        let sim = Production::even(10.0, 30).start(users + 100).await;
        let input = self.users_csv("neighbour-long.csv", resettable(users));
        let mut cmd = self.neighbour_cmd(&sim, &input, "neighbour-long", true);
        cmd.args(["--rate", "auto"]);
        let log = self.dir.path().join("neighbour-long");
        let sample = |s: &sim::SimStats| {
            let b = s.buckets.get("123456789012/us-east-1");
            (
                b.map_or(0, |b| b.recovery_requests - b.recovery_throttled),
                s.production_calls,
                s.production_throttled,
            )
        };
        let minutes = async {
            let mut out = Vec::new();
            let mut last = sample(&sim.stats());
            for _ in 0..secs / 60 {
                tokio::time::sleep(Duration::from_secs(60)).await;
                let now = sample(&sim.stats());
                out.push((
                    (now.0 - last.0) as f64 / 60.0,
                    (now.2 - last.2) as f64 / (now.1 - last.1).max(1) as f64,
                ));
                last = now;
            }
            out
        };
        let (m, minutes) = tokio::join!(
            measure(cmd, &log, Some(Duration::from_secs(secs + 1))),
            minutes
        );
        sim.stop().await;
        let line: Vec<String> = minutes
            .iter()
            .enumerate()
            .map(|(i, (job, share))| format!("minute {}: {job:.1}/s, {:.1}%", i + 1, share * 100.0))
            .collect();
        progress(&format!(
            "neighbour, production 10/s bursts of 30 for {secs} s, auto: {}; killed {}",
            line.join("; "),
            m.killed
        ));
        self.json
            .push(json!({"scenario": "neighbour-long", "minutes": minutes, "run": m.json()}));
        self.row(
            "8 neighbour",
            format!("production 10/s bursts of 30, {} minutes of `--rate auto`: per minute, the job's calls/s and production throttled", secs / 60),
            line.join("; "),
            "production ≤ 0.5%",
            None,
        );
    }

    /// `run --yes --resolve exact` of `input` against `sim`'s pool, with
    /// the ledger `<name>.jsonl`, and the account's usage readable when
    /// `cloudwatch`.
    fn neighbour_cmd(
        &self,
        sim: &SimHandle,
        input: &Path,
        name: &str,
        cloudwatch: bool,
    ) -> Command {
        let mut cmd = self.command();
        if cloudwatch {
            cmd.env("AWS_ENDPOINT_URL_CLOUDWATCH", sim.endpoint_url());
        }
        cmd.args([
            "run",
            "--yes",
            "--resolve",
            "exact",
            "--user-pool-id",
            sim.pool_id(),
        ])
        .args(["--endpoint-url", &sim.endpoint_url()])
        .arg("--input")
        .arg(input)
        .arg("--ledger")
        .arg(self.dir.path().join(format!("{name}.jsonl")));
        cmd
    }

    /// One job (the tool with `flags`, or the boto3 peer when `None`)
    /// against production at `production`/s in bursts of `burst`, with five
    /// minutes of it in the usage history.
    async fn neighbour_run(
        &mut self,
        p: Production,
        variant: &str,
        flags: Option<&[&str]>,
        cloudwatch: bool,
    ) -> NeighbourResult {
        let Production {
            rate: production,
            burst,
            poisson,
        } = p;
        let leaves = 30.0 - production;
        let users = (self.sizes.neighbour_secs * leaves.min(21.0)) as usize;
        let sim = p.start(users + 100).await;
        let input = self.users_csv("neighbour.csv", resettable(users));
        let before = sim.stats();
        let m = match flags {
            Some(flags) => {
                let name = format!(
                    "neighbour-{production}-{burst}-{poisson}-{}",
                    variant.replace(' ', "_")
                );
                let mut cmd = self.neighbour_cmd(&sim, &input, &name, cloudwatch);
                cmd.args(flags);
                measure(cmd, &self.dir.path().join(&name), None).await
            }
            None => {
                self.peer(&sim, &input, "adaptive", self.sizes.peer_deadline)
                    .await
            }
        };
        let after = sim.stats();
        sim.stop().await;
        let calls = after.production_calls - before.production_calls;
        let throttled = after.production_throttled - before.production_throttled;
        let b = &after.buckets["123456789012/us-east-1"];
        let job_calls = b.recovery_requests
            - before
                .buckets
                .get("123456789012/us-east-1")
                .map_or(0, |b| b.recovery_requests);
        let r = NeighbourResult {
            of_headroom: b.admitted_rate() / leaves,
            throttled_share: throttled as f64 / calls.max(1) as f64,
            job_throttled_share: b.recovery_throttled_share(),
        };
        progress(&format!(
            "neighbour, production {p}, {variant}: job {:.1}/s = {:.2} of the {leaves}/s left ({job_calls} calls, {:.1}% throttled), production throttled {throttled} of {calls} ({:.2}%), exit {}",
            b.admitted_rate(),
            r.of_headroom,
            r.job_throttled_share * 100.0,
            r.throttled_share * 100.0,
            m.code
        ));
        self.json.push(json!({"scenario": "neighbour", "production": production, "burst": burst, "poisson": poisson, "variant": variant, "job_rate": b.admitted_rate(), "job_calls": job_calls, "job_throttled": b.recovery_throttled, "production_calls": calls, "production_throttled": throttled, "run": m.json()}));
        r
    }

    /// `run --fleet` over `pools` (all in the default account; each pool id's
    /// prefix its region), `--rate 30`, users from the pools themselves.
    async fn fleet_run(&self, sim: &SimHandle, pools: &[String], name: &str) -> Measured {
        let dir = self.dir.path();
        let mut manifest = format!(
            "from-pool = true\nyes = true\nrate = 30\nendpoint-url = \"{}\"\nledger-dir = \"{name}-ledgers\"\n",
            sim.endpoint_url()
        );
        for p in pools {
            let _ = write!(manifest, "\n[[target]]\nuser-pool-id = \"{p}\"\n");
        }
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, manifest).expect("write the manifest");
        let mut cmd = self.command();
        cmd.env("AWS_ENDPOINT_URL_STS", sim.endpoint_url())
            .args(["run", "--fleet"])
            .arg(&path)
            .arg("--summary-json")
            .arg(dir.join(format!("{name}.summary.json")));
        let m = measure(cmd, &dir.join(name), None).await;
        if m.code > 1 {
            let log = std::fs::read_to_string(&m.log).unwrap_or_default();
            eprintln!(
                "warning: {name}: the tool exited {}; its log ends:\n{}",
                m.code,
                log.lines().rev().take(5).collect::<Vec<_>>().join("\n")
            );
        }
        m
    }

    fn row(
        &mut self,
        scenario: &'static str,
        measure: String,
        result: String,
        target: &'static str,
        met: Option<bool>,
    ) {
        self.rows.push(Row {
            scenario,
            measure,
            result,
            target,
            met,
        });
    }

    fn report(&self) {
        let mut table =
            String::from("| scenario | measure | result | target | met |\n|---|---|---|---|---|\n");
        for r in &self.rows {
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            };
            let _ = writeln!(
                table,
                "| {} | {} | {} | {} | {met} |",
                r.scenario, r.measure, r.result, r.target
            );
        }
        println!("\n{table}");
        let target = Path::new(ROOT).join("target");
        let out = target.join("scenarios.json");
        let doc = json!({ "results": self.json, "table": table });
        let written = std::fs::create_dir_all(&target).and_then(|()| {
            std::fs::write(&out, serde_json::to_vec_pretty(&doc).unwrap_or_default())
        });
        match written {
            Ok(()) => println!("details: {}", out.display()),
            Err(e) => eprintln!("could not write {}: {e}", out.display()),
        }
    }

    /// Writes a CSV of generated users `indices` and returns its path.
    fn users_csv(&self, name: &str, indices: impl IntoIterator<Item = usize>) -> PathBuf {
        let path = self.dir.path().join(name);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create input"));
        let _ = out.write_all(b"username\n");
        for i in indices {
            let _ = writeln!(out, "{}", sim::population_name(i));
        }
        out.flush().expect("write input");
        path
    }

    /// The binary with credentials for a local endpoint and nothing from the
    /// host's AWS configuration.
    fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        sim::isolate_aws_env(&mut cmd, self.dir.path());
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        cmd
    }

    /// Runs the tool against `pool` with ledger `<name>.ledger.jsonl`.
    async fn tool(&self, pool: &SimHandle, input: &Path, name: &str, flags: &[&str]) -> Measured {
        let ledger = self.dir.path().join(format!("{name}.ledger.jsonl"));
        self.tool_ledger(pool, input, name, ledger.as_os_str(), &[], flags)
            .await
    }

    /// Runs the tool against `pool` with `ledger` and `env` set.
    async fn tool_ledger(
        &self,
        pool: &SimHandle,
        input: &Path,
        name: &str,
        ledger: &std::ffi::OsStr,
        env: &[(&str, &str)],
        flags: &[&str],
    ) -> Measured {
        let dir = self.dir.path();
        let mut cmd = self.command();
        cmd.envs(env.iter().copied());
        cmd.args(["run", "--yes", "--user-pool-id", pool.pool_id()])
            .args(["--endpoint-url", &pool.endpoint_url()])
            .arg("--input")
            .arg(input)
            .arg("--ledger")
            .arg(ledger)
            .arg("--summary-json")
            .arg(dir.join(format!("{name}.summary.json")))
            .args(flags);
        let m = measure(cmd, &dir.join(name), None).await;
        // 1: some users failed (the generated pool has users a reset cannot
        // work for); anything else is worth a look.
        if m.code > 1 {
            let log = std::fs::read_to_string(&m.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            eprintln!(
                "warning: {name}: the tool exited {}; the end of its log:\n{}",
                m.code,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Measured {
            summary: std::fs::read(dir.join(format!("{name}.summary.json")))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok()),
            ..m
        }
    }

    /// Runs the boto3 peer against `pool`, killed after `deadline`.
    async fn peer(
        &self,
        pool: &SimHandle,
        input: &Path,
        mode: &str,
        deadline: Duration,
    ) -> Measured {
        let python = peer_python();
        let mut cmd = Command::new(python);
        cmd.arg(Path::new(ROOT).join("benches/peers/boto3_reset.py"))
            .args(["--endpoint-url", &pool.endpoint_url()])
            .args(["--user-pool-id", pool.pool_id()])
            .arg("--input")
            .arg(input)
            .args(["--threads", "16", "--retry-mode", mode])
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", self.dir.path().join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.dir.path().join("no-aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null());
        let m = measure(
            cmd,
            &self.dir.path().join(format!("peer-{mode}")),
            Some(deadline),
        )
        .await;
        let summary = std::fs::read_to_string(m.log.with_extension("out"))
            .ok()
            .and_then(|s| serde_json::from_str(s.trim()).ok());
        Measured { summary, ..m }
    }
}

/// One neighbour run's figures.
struct NeighbourResult {
    /// The job's rate over what production leaves (30/s less its rate).
    of_headroom: f64,
    /// Production's calls throttled while the job ran.
    throttled_share: f64,
    /// The job's own calls throttled.
    job_throttled_share: f64,
}

impl std::fmt::Display for NeighbourResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2}, {:.1}%",
            self.of_headroom,
            self.throttled_share * 100.0
        )
    }
}

/// The production traffic of a neighbour run.
#[derive(Clone, Copy)]
struct Production {
    rate: f64,
    burst: u32,
    /// At random (a Poisson process of bursts) rather than evenly.
    poisson: bool,
}

impl Production {
    fn even(rate: f64, burst: u32) -> Production {
        Production {
            rate,
            burst,
            poisson: false,
        }
    }

    /// A pool of `users` with this production on the 30/s quota and five
    /// minutes of it in the usage history, published at once.
    async fn start(self, users: usize) -> SimHandle {
        let sim = start_sim(
            users,
            Behaviour {
                metrics_delay_secs: 0,
                production_rate: self.rate,
                production_burst: self.burst,
                production_poisson: self.poisson,
                reset_attempts_per_hour: 0,
                ..Behaviour::default()
            },
        )
        .await;
        sim.backfill_production(5, self.rate);
        sim
    }
}

impl std::fmt::Display for Production {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/s ", self.rate)?;
        match (self.burst, self.poisson) {
            (1, false) => write!(f, "steady"),
            (1, true) => write!(f, "at random"),
            (b, false) => write!(f, "bursts of {b}"),
            (b, true) => write!(f, "bursts of {b} at random"),
        }
    }
}

/// What a child process did.
struct Measured {
    code: i32,
    wall: Duration,
    started_unix_us: u64,
    peak_rss_kb: i64,
    /// User and system CPU time.
    cpu_secs: f64,
    killed: bool,
    log: PathBuf,
    summary: Option<Value>,
}

impl Measured {
    fn peak_rss_mb(&self) -> i64 {
        (self.peak_rss_kb + 512) / 1024
    }

    fn json(&self) -> Value {
        json!({
            "exit_code": self.code,
            "wall_secs": self.wall.as_secs_f64(),
            "peak_rss_kb": self.peak_rss_kb,
            "cpu_secs": self.cpu_secs,
            "killed_at_deadline": self.killed,
            "summary": self.summary,
        })
    }
}

/// Runs `cmd` to its end (or kills it at `deadline`), its stdout to
/// `<base>.out` and stderr to `<base>.log`, and tracks its peak RSS; CPU time
/// comes from
/// `wait4`.
async fn measure(mut cmd: Command, base: &Path, deadline: Option<Duration>) -> Measured {
    let log = base.with_extension("log");
    cmd.stdout(std::fs::File::create(base.with_extension("out")).expect("create output file"))
        .stderr(std::fs::File::create(&log).expect("create log file"));
    let started_unix_us = unix_us();
    let start = Instant::now();
    let child = cmd.spawn().expect("the command starts");
    let pid = child.id() as libc::pid_t;
    let watch = tokio::spawn(async move {
        let mut peak = 0;
        let status = format!("/proc/{pid}/status");
        while let Ok(text) = std::fs::read_to_string(&status) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok());
            match hwm {
                Some(kb) => peak = peak.max(kb),
                None => break, // exiting: its memory is gone
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        peak
    });
    let waiter = tokio::task::spawn_blocking(move || {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: pid is our own child, not yet waited for; both pointers
        // are valid for the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        let code = if r < 0 {
            -1
        } else if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            128 + libc::WTERMSIG(status)
        };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        (code, secs(usage.ru_utime) + secs(usage.ru_stime))
    });
    tokio::pin!(waiter);
    let mut killed = false;
    let (code, cpu_secs) = match deadline {
        None => waiter.await.expect("join"),
        Some(d) => tokio::select! {
            r = &mut waiter => r.expect("join"),
            () = tokio::time::sleep(d) => {
                // SAFETY: pid is our child, not yet reaped (wait4 is blocked on it).
                unsafe { libc::kill(pid, libc::SIGKILL) };
                killed = true;
                waiter.await.expect("join")
            }
        },
    };
    drop(child);
    let rss = watch.await.unwrap_or(0);
    Measured {
        code,
        wall: start.elapsed(),
        started_unix_us,
        peak_rss_kb: rss,
        cpu_secs,
        killed,
        log,
        summary: None,
    }
}

async fn start_sim(users: usize, behaviour: Behaviour) -> SimHandle {
    start_sim_with(users, PoolSettings::default(), behaviour).await
}

async fn start_sim_with(users: usize, pool: PoolSettings, behaviour: Behaviour) -> SimHandle {
    sim::start_local(SimConfig::with(users, pool, behaviour))
        .await
        .expect("the simulated pool starts")
}

fn unlimited() -> Behaviour {
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

/// The first `n` generated users a reset works for.
fn resettable(n: usize) -> Vec<usize> {
    (0..)
        .filter(|i| sim::population_resettable(*i))
        .take(n)
        .collect()
}

/// Seconds from the first to the last reset request the pool received.
fn window_secs(s: &SimStats) -> f64 {
    (s.last_recovery_unix_us
        .saturating_sub(s.first_recovery_unix_us) as f64
        / 1e6)
        .max(1e-6)
}

/// Reset requests per second, as the pool saw them.
fn pool_rate(s: &SimStats) -> f64 {
    s.recovery_requests.saturating_sub(1) as f64 / window_secs(s)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn ledger_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|c| **c == b'\n').count())
        .unwrap_or(0)
}

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The virtualenv's python with boto3 (installed on first use).
fn peer_python() -> PathBuf {
    let out = Command::new("bash")
        .arg(Path::new(ROOT).join("benches/peers/setup.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("bash runs benches/peers/setup.sh");
    assert!(out.status.success(), "benches/peers/setup.sh failed");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The region of bucket `b`: five real ones, then made-up names (the
/// simulation takes any region from the request's signature).
fn bucket_region(b: usize) -> String {
    const REAL: [&str; 5] = [
        "us-east-1",
        "us-west-2",
        "eu-west-1",
        "eu-central-1",
        "ap-southeast-2",
    ];
    REAL.get(b)
        .map_or_else(|| format!("sim-region-{b}"), |r| r.to_string())
}

/// The pool ids of `buckets` buckets of `per` pools: the simulation's main
/// pool first, then `REGION_FleetPoolK`.
fn fleet_pools(buckets: usize, per: usize) -> Vec<String> {
    let mut out = Vec::new();
    for b in 0..buckets {
        for k in 0..per {
            out.push(if (b, k) == (0, 0) {
                "us-east-1_SimPool01".to_string()
            } else {
                format!("{}_FleetPool{k}", bucket_region(b))
            });
        }
    }
    out
}

/// A simulation of [`fleet_pools`], `users` users each, quotas as Cognito's
/// defaults (UserAccountRecovery 30/s per account and region).
async fn fleet_sim(buckets: usize, per: usize, users: usize) -> SimHandle {
    let extra = fleet_pools(buckets, per)
        .into_iter()
        .skip(1)
        .map(|pool_id| sim::ExtraPool {
            account: sim::DEFAULT_ACCOUNT.into(),
            pool_id,
            users,
            name: None,
        })
        .collect();
    sim::start_local(SimConfig {
        users,
        extra_pools: extra,
        behaviour: Behaviour {
            reset_attempts_per_hour: 0,
            ..Behaviour::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("the simulation starts")
}

fn progress(line: &str) {
    eprintln!("  {line}");
}

/// moto_server (installed into .venv by tests/moto/setup.sh) on a free
/// loopback port, for the DynamoDB ledger; killed on drop.
struct Moto {
    child: std::process::Child,
    url: String,
}

impl Moto {
    fn start(dir: &Path) -> Moto {
        let out = Command::new("bash")
            .arg(Path::new(ROOT).join("tests/moto/setup.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("bash runs tests/moto/setup.sh");
        assert!(out.status.success(), "tests/moto/setup.sh failed");
        let server = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(dir.join("moto.log")).expect("moto.log");
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(log.try_clone().expect("moto.log"))
            .stderr(log)
            .spawn()
            .expect("moto_server starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "moto_server did not listen"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
