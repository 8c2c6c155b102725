//! `plan --fleet` and `run --fleet`: every target planned or run with its
//! bucket's limiters, a few targets of a bucket at a time, each stopping on
//! its own; one progress line per bucket; the roll-up and its exit code.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::cognito::Aws;
use crate::error::{ExitCode, UsageError};
use crate::limiter::Limits;
use crate::pipeline::{self, AccountStop, Shared};
use crate::plan::PlanReport;
use crate::progress::{BucketView, FleetProgress};
use crate::report::{say, write_summary, Counters, ProductionSeen, Summary};
use crate::settings::RunArgs;

use super::report::{FleetPlan, FleetSummary};
use super::{open, Bucket, Ended, Failure, Fleet, Purpose};

/// Targets of one bucket planned or run at once, at most. They share the
/// bucket's rate whatever their number; more at once would only hold more
/// ledgers and connections open.
const TARGETS_AT_ONCE: usize = 8;

/// `plan --fleet` (and `run --fleet --dry-run`): prints the fleet's plan.
/// Exit 0, or the worst code of the targets that could not be planned.
pub async fn plan(cli: RunArgs, shutdown: &CancellationToken) -> anyhow::Result<ExitCode> {
    let fleet = set_up(cli, shutdown).await?;
    let report = plan_fleet(&fleet, shutdown).await?;
    say(&report.render());
    Ok(report.exit_code())
}

/// `run --fleet`: confirms (unless `yes`), runs every target, prints the
/// roll-up and writes `--summary-json`.
pub async fn run(cli: RunArgs, shutdown: &CancellationToken) -> anyhow::Result<ExitCode> {
    let dry_run = cli.dry_run;
    // The summary's path, checked before any call; a fleet that fails to
    // set up replaces an earlier run's summary, so that no script reads
    // that one as this run's.
    let summary_path = cli.summary_json.clone().or_else(|| {
        let manifest = cli.fleet.as_deref()?;
        super::Manifest::load(manifest).ok()?.defaults.summary_json
    });
    if let Some(p) = &summary_path {
        crate::files::check_output(crate::files::Role::SummaryJson, p, true)?;
    }
    let fleet = match set_up(cli, shutdown).await {
        Ok(fleet) => fleet,
        Err(e) => {
            if let Some(p) = &summary_path {
                crate::report::write_failed_summary(p, &e);
            }
            return Err(e);
        }
    };
    if dry_run {
        let report = plan_fleet(&fleet, shutdown).await?;
        say(&report.render());
        return Ok(report.exit_code());
    }
    if !fleet.top.yes.unwrap_or(false) {
        confirm(&fleet, shutdown).await?;
    }
    let started = Instant::now();
    let (ended, production) = run_fleet(&fleet, shutdown).await;
    let summary = FleetSummary::new(&fleet, ended, production, started.elapsed());
    say(&summary.render());
    if let Some(path) = &fleet.top.summary_json {
        write_summary(path, &summary);
    }
    Ok(crate::signals::exit_code(summary.exit_code()))
}

/// Opens the fleet and settles `--rate auto` per bucket; a signal before
/// the first call ends it at once.
async fn set_up(cli: RunArgs, shutdown: &CancellationToken) -> anyhow::Result<Fleet> {
    tokio::select! {
        biased;
        _ = shutdown.cancelled() => Err(UsageError::Interrupted.into()),
        fleet = async {
            let mut fleet = open(cli, Purpose::Work).await?;
            auto_rates(&mut fleet).await?;
            anyhow::Ok(fleet)
        } => fleet,
    }
}

/// `--rate auto`: one GetProvisionedLimit per bucket (the quota is the
/// account's in the region), the rate set for every target in it.
async fn auto_rates(fleet: &mut Fleet) -> anyhow::Result<()> {
    let mut rates: HashMap<Bucket, (f64, Option<crate::settings::AutoRate>)> = HashMap::new();
    for i in 0..fleet.targets.len() {
        let target = &mut fleet.targets[i];
        if target.settings.pace.rate_auto.is_none() {
            continue;
        }
        match rates.get(&target.bucket) {
            Some((rate, auto)) => {
                target.settings.pace.set_rate(*rate);
                target.settings.pace.auto = *auto;
            }
            None => {
                if let Some(line) = target.settings.resolve_auto_rate(&Aws).await? {
                    info!(bucket = %target.bucket, "{line}");
                }
                let pace = &target.settings.pace;
                rates.insert(target.bucket.clone(), (pace.rate, pace.auto));
            }
        }
    }
    Ok(())
}

/// Plans every target, buckets side by side.
async fn plan_fleet(fleet: &Fleet, shutdown: &CancellationToken) -> anyhow::Result<FleetPlan> {
    let limits = fleet.limits();
    let mut tasks = JoinSet::new();
    for (bucket, targets) in fleet.buckets() {
        let limits = limits[&bucket].clone();
        let targets: Vec<_> = targets.into_iter().cloned().collect();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let mut out: Vec<Ended<PlanReport>> = Vec::new();
            for t in targets {
                let result = crate::plan::plan_in(&Aws, &t.settings, &shutdown, &limits)
                    .await
                    .map(|(report, _)| report)
                    .map_err(failure);
                out.push((t, result));
            }
            out
        });
    }
    let mut planned = Vec::new();
    while let Some(done) = tasks.join_next().await {
        planned.extend(done?);
    }
    if shutdown.is_cancelled() {
        return Err(UsageError::Interrupted.into());
    }
    Ok(FleetPlan::new(fleet, planned))
}

/// Runs every target: each bucket's targets with its limiters, a few at a
/// time; every target of an account paused when one meets the daily email
/// limit.
async fn run_fleet(
    fleet: &Fleet,
    shutdown: &CancellationToken,
) -> (Vec<Ended<Summary>>, Vec<(Bucket, ProductionSeen)>) {
    let limits = fleet.limits();
    let mut accounts: HashMap<String, AccountStop> = HashMap::new();
    let mut progress: Vec<BucketView> = Vec::new();
    let mut tasks = JoinSet::new();
    for (bucket, targets) in fleet.buckets() {
        let limits: Limits = limits[&bucket].clone();
        let main = Fleet::main_limiter(&targets, &limits);
        let account = accounts.entry(bucket.account.clone()).or_default().clone();
        let gate = Arc::new(Semaphore::new(TARGETS_AT_ONCE));
        let mut counters = Vec::new();
        for t in targets {
            let t = t.clone();
            let shared = Shared {
                limits: limits.clone(),
                counters: Arc::new(Counters::default()),
                progress: false,
                account: Some(account.clone()),
                watch: false,
            };
            counters.push(shared.counters.clone());
            let (gate, shutdown) = (gate.clone(), shutdown.clone());
            tasks.spawn(async move {
                let result = match gate.acquire_owned().await {
                    Ok(_permit) if !shutdown.is_cancelled() => {
                        info!(target = %t.at, pool = %t.label(), "starting target");
                        pipeline::run_in(
                            &Aws,
                            &t.settings,
                            shutdown.cancelled_owned(),
                            None,
                            &shared,
                        )
                        .await
                        .map_err(failure)
                    }
                    _ => Err(UsageError::Interrupted).map_err(|e| failure(e.into())),
                };
                (t, result)
            });
        }
        progress.push(BucketView {
            name: bucket.to_string(),
            limiter: main,
            pools: counters,
        });
    }
    // --rate auto: one watch of the quota's other callers per account and
    // region, on the limiter its pools share.
    let watching = CancellationToken::new();
    let watchers: Vec<_> = fleet
        .buckets()
        .into_iter()
        .filter_map(|(bucket, targets)| {
            let settings = &targets[0].settings;
            let auto = settings.pace.auto?;
            let watch = crate::neighbour::Watch::of(
                &settings.aws,
                &auto,
                Fleet::main_limiter(&targets, &limits[&bucket]),
            );
            let watching = watching.clone();
            Some(tokio::spawn(async move {
                (bucket, crate::neighbour::keep(watch, watching).await)
            }))
        })
        .collect();
    let display = FleetProgress::start(progress, Duration::from_secs(10));
    let mut ended = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(end) => ended.push(end),
            Err(e) => tracing::error!(error = %e, "a target's task failed"),
        }
    }
    display.finish().await;
    watching.cancel();
    let mut production = Vec::new();
    for w in watchers {
        match w.await {
            Ok(seen) => production.push(seen),
            Err(e) => tracing::error!(error = %e, "a watch of production failed"),
        }
    }
    (ended, production)
}

/// A target's error, and the exit code it stands for.
fn failure(e: anyhow::Error) -> Failure {
    Failure {
        error: format!("{e:#}"),
        code: crate::error::exit_code_of(&e),
    }
}

/// The typed confirmation of a fleet: its plan, then the number of pools.
async fn confirm(fleet: &Fleet, shutdown: &CancellationToken) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(UsageError::NotConfirmed(
            "standard input is not a terminal, so the fleet cannot be confirmed; add --yes (or `yes = true` at the top of the manifest) to go ahead, after checking it with `cognito-bulk-reset plan --fleet`".into(),
        )
        .into());
    }
    let report = plan_fleet(fleet, shutdown).await?;
    let pools = fleet.targets.len();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        use std::io::{BufRead, Write};
        let mut err = std::io::stderr();
        write!(err, "{}", report.render())?;
        write!(
            err,
            "\nThis will act on {pools} pools.\nType the number of pools to go ahead: "
        )?;
        err.flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != pools.to_string() {
            return Err(UsageError::NotConfirmed(format!(
                "'{}' is not the number of pools ({pools}); not confirmed",
                answer.trim()
            ))
            .into());
        }
        Ok(())
    })
    .await?
}
