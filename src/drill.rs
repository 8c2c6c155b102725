//! `drill`: the newcomer's first command. It starts the simulated pool in
//! this process (a few thousand users, some that cannot be reset, a quota, a
//! little latency and a sprinkle of 5xx, LimitExceeded and dropped
//! connections whose calls were carried out). The pool is case-insensitive
//! and users may also sign in with their email or preferred_username, so
//! the user list it writes names some people twice: in another case, by
//! email, by preferred_username (besides a few bad rows, repeated rows and
//! unknown users). It runs the real pipeline through the real SDK,
//! interrupts it part-way as Ctrl-C would, resumes from the ledger with the
//! same settings, and checks against the simulation's own counters that
//! every person who could be reset was reset exactly once, and that
//! resolving who each row names billed no one.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::cognito::LoopbackSimulator;
use crate::error::ExitCode;
use crate::settings::{Rate, RunArgs};
use crate::{pipeline, report};
use cognito_sim::{self as sim, Behaviour, LoginAttribute, PoolSettings, SimConfig};

#[derive(Debug, Clone, clap::Args)]
pub struct DrillArgs {
    /// Users in the simulated pool.
    #[arg(long, default_value_t = 3000)]
    pub users: usize,
    /// Requests per second; the simulated quota is set to the same value.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Directory for the user list and the ledger [default: a new one under
    /// the system's temp directory].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Rows the drill adds to the pool's users: unknown users and bad rows.
const EXTRA_ROWS: &[&str] = &[
    "ghost-0001",
    "ghost-0002",
    "ghost-0003",
    "\"two words\"",
    "\"\"",
    "\"tab\there\"",
];

pub async fn run(args: DrillArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.users >= 10, "--users must be at least 10");
    anyhow::ensure!(
        args.rate.is_finite() && (crate::settings::MIN_RATE..=100_000.0).contains(&args.rate),
        "--rate {} is out of range; give {} to 100000",
        args.rate,
        crate::settings::MIN_RATE
    );
    let dir = match args.dir {
        Some(d) => d,
        None => {
            std::env::temp_dir().join(format!("cognito-bulk-reset-drill-{}", std::process::id()))
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let input = dir.join("users.csv");
    let ledger = dir.join("reset.jsonl");
    let _ = std::fs::remove_file(&ledger);

    let sim = sim::start_local(SimConfig {
        users: args.users,
        pool: PoolSettings {
            case_insensitive: true,
            alias_attributes: vec![LoginAttribute::Email, LoginAttribute::PreferredUsername],
            ..PoolSettings::default()
        },
        behaviour: Behaviour {
            quota_recovery: args.rate,
            latency_ms: 20,
            fail_rate: 0.01,
            limit_exceeded_rate: 0.005,
            drop_rate: 0.005,
            ..Behaviour::default()
        },
        ..SimConfig::default()
    })
    .await?;

    let mut csv = String::from("username\n");
    let mut second_names = 0;
    for i in 0..args.users {
        let _ = writeln!(csv, "{}", sim::population_name(i));
        if i % 997 == 0 {
            let _ = writeln!(csv, "{}", sim::population_name(i)); // a repeated row
        }
        // The same person again, by another name the pool resolves to them.
        let other = match i % 100 {
            13 => Some(sim::population_name(i).to_uppercase()),
            37 => Some(sim::population_email(i).to_uppercase()),
            61 => Some(format!("Nick-{i:06}")),
            _ => None,
        };
        if let Some(other) = other {
            let _ = writeln!(csv, "{other}");
            second_names += 1;
        }
    }
    for extra in EXTRA_ROWS {
        let _ = writeln!(csv, "{extra}");
    }
    std::fs::write(&input, csv).with_context(|| format!("could not write {}", input.display()))?;

    let mut settings = RunArgs {
        user_pool_id: Some(sim.pool_id().to_string()),
        input: Some(input.clone()),
        ledger: Some(ledger.clone()),
        rate: Some(Rate::PerSecond(args.rate)),
        concurrency: Some(32),
        attempt_timeout: Some(5.0),
        endpoint_url: Some(sim.endpoint_url()),
        ..RunArgs::default()
    }
    .check()?;
    // The simulated pool's claims stay with the drill, not this host's.
    settings.claim_dir = Some(dir.join("claims"));

    let mut out = std::io::stdout();
    writeln!(
        out,
        "drill: simulated pool {} at {} with {} users (case-insensitive; email and preferred_username aliases; quota {}/s, 20 ms latency, 1% 5xx, 0.5% LimitExceeded, 0.5% answers lost)",
        sim.pool_id(),
        sim.endpoint_url(),
        args.users,
        args.rate
    )?;
    writeln!(
        out,
        "drill: user list {} ({second_names} people named a second time in another case, by email or by preferred_username; repeated rows, unknown users and bad rows)",
        input.display()
    )?;

    // First run, interrupted part-way as Ctrl-C would: once the pool has
    // had calls for about 40% of its users (whatever the opening took).
    let cut = (args.users as u64 * 2 / 5).max(1);
    let first_stop = shutdown.child_token();
    let ended = CancellationToken::new();
    let run = async {
        let first =
            pipeline::run_with(&LoopbackSimulator, &settings, first_stop.cancelled(), None).await;
        ended.cancel();
        first
    };
    let watch = async {
        tokio::select! {
            _ = ended.cancelled() => {}
            _ = async {
                while sim.stats().mutating_requests < cut {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            } => first_stop.cancel(),
        }
    };
    let (first, ()) = tokio::join!(run, watch);
    let first = first?;
    writeln!(
        out,
        "\ndrill: run 1 interrupted after {:.1} s with {} users recorded; running the same command again resumes from the ledger\n",
        first.elapsed_secs,
        first.succeeded + first.failed + first.invalid
    )?;
    if shutdown.is_cancelled() {
        sim.stop().await;
        return Ok(ExitCode::Interrupted);
    }

    // Second run: same settings, same ledger.
    let second =
        pipeline::run_with(&LoopbackSimulator, &settings, shutdown.cancelled(), None).await?;
    write!(out, "{}", second.render())?;

    let total = report::status(&settings.ledger).await?;
    let stats = sim.stats();
    let mut not_reset = 0;
    let mut twice = 0;
    for i in 0..args.users {
        let u = sim
            .user(&sim::population_name(i))
            .context("a generated user exists")?;
        if sim::population_resettable(i) && u.messages != 1 {
            not_reset += 1;
        }
        twice += usize::from(u.messages > 1);
    }
    let expected_failed = (0..args.users)
        .filter(|i| !sim::population_resettable(*i))
        .count()
        + 3;
    writeln!(
        out,
        "\ndrill: the ledger over both runs: {} succeeded, {} failed, {} invalid",
        total.succeeded, total.failed, total.invalid
    )?;
    for (code, n) in &total.failed_by_code {
        writeln!(out, "         {code:<30} {n}")?;
    }
    writeln!(
        out,
        "drill: the simulated pool saw {} requests ({} throttled, {} faults injected) and sent {} reset messages; people messaged more than once: {twice}",
        stats.requests, stats.throttled, stats.faults, stats.messages
    )?;
    // Resolving users reads the pool's listing (ListUsers), which bills no
    // one; the only reads that bill are AdminGetUser read-backs of lost
    // answers.
    let read_back = first.reads + second.reads;
    let billed_by_resolution = stats.mau.saturating_sub(read_back);
    let resolution_calls = [&first, &second]
        .iter()
        .filter_map(|s| s.resolution.as_ref())
        .map(|r| r.list_calls)
        .sum::<u64>();
    writeln!(
        out,
        "drill: resolving who each row names took {resolution_calls} ListUsers calls and billed {billed_by_resolution} users; the pool billed {} users as monthly active, all read back after a lost answer ({read_back} reads)",
        stats.mau
    )?;
    sim.stop().await;

    let ok = !second.interrupted
        && second.stopped.is_none()
        && not_reset == 0
        && twice == 0
        && billed_by_resolution == 0
        && stats.mau <= read_back
        && total.failed as usize == expected_failed
        && total.invalid == 3;
    if ok {
        writeln!(out, "drill: OK: every person who could be reset was reset exactly once, however the list named them; the rest are recorded with their error codes")?;
    } else {
        writeln!(out, "drill: FAILED: {not_reset} resettable people not reset exactly once, {twice} messaged twice, {billed_by_resolution} billed by resolution, {} failed (expected {expected_failed})", total.failed)?;
    }
    writeln!(out, "drill: ledger {}", ledger.display())?;
    writeln!(out, "\nAgainst a real pool, the same job is:")?;
    writeln!(out, "  cognito-bulk-reset run --user-pool-id us-east-1_AbCdEfGhI --input users.csv --ledger reset.jsonl")?;
    writeln!(out, "  cognito-bulk-reset status --ledger reset.jsonl")?;
    Ok(if ok {
        ExitCode::Success
    } else {
        ExitCode::SomeFailed
    })
}

/// The `sim` command: serves a simulated pool on `listen` until
/// `shutdown`, then prints its counters.
pub async fn serve(
    mut config: cognito_sim::SimConfig,
    listen: std::net::SocketAddr,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    // An app like most: a web client with Cognito's default lifetimes and
    // token revocation on, so `plan` shows how long sessions outlive a job.
    if config.pool.app_clients.is_empty() {
        config.pool.app_clients.push(cognito_sim::AppClient {
            client_id: "1example23456789simweb".into(),
            client_name: "web".into(),
            enable_token_revocation: true,
            ..cognito_sim::AppClient::default()
        });
    }
    if !listen.ip().is_loopback() {
        tracing::warn!(%listen, "the simulated pool listens beyond loopback");
    }
    let stats = cognito_sim::serve_until(config, listen, shutdown.cancelled()).await?;
    crate::report::say(&(serde_json::to_string(&stats)? + "\n"));
    Ok(ExitCode::Success)
}
