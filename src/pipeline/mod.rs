//! The run: wires source, resolver, ledger, limiter, Cognito and progress
//! together.
//!
//! ```text
//! reader thread ──(bounded)──> resolver ──(bounded)──> dispatcher ──(permit each)──> workers ──> ledger writer
//!   CSV rows                   each row to its       same person, skip done        limiter,      fsync, then
//!                              person (ListUsers),   invalid rows -> ledger        call, retry   counted done
//!                              in input order
//! ```
//!
//! - this file: setting a run up ([`run`], [`run_with`]) and its summary;
//! - `dispatch`: the loop from rows to workers, under [`crate::triage`];
//! - `worker`: what every worker shares, and a user's way through it:
//!   the action, its outcome record, the sign-out step;
//! - `user`: one user's job for one operation, as explicit phases (read
//!   back, prepare: precheck, password and intent, call, backoff, give up);
//! - `reconcile`: reading a user back after a lost answer;
//! - `breaker`: runs of like failures that stop or pause the run.
//!
//! The policies they keep (one call per person, exactly one call that
//! counts, limits that clear later, the breaker, bounded queues, shutdown
//! passed in) are in docs/architecture.md, "The run".

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cognito::{Aws, Connect};
use crate::error::UsageError;
use crate::job;
use crate::ledger::{self, Header};
use crate::limiter::Limits;
use crate::passwords::{self, PasswordsOut};
use crate::progress::Progress;
use crate::report::{Counters, JobSoFar, ResolutionSummary, StopReason, Summary};
use crate::resolve::Strategy;
use crate::settings::RunSettings;

mod breaker;
mod dispatch;
mod journey;
mod reconcile;
mod user;
mod worker;

use dispatch::dispatch;
pub(crate) use worker::AccountStop;
use worker::Worker;

/// Rows read ahead of dispatch, at most.
const READ_AHEAD: usize = 1024;

/// Runs the job described by `settings` until its input is done, `shutdown`
/// resolves, or an error stops it. Per-user failures are in the summary, not
/// in the `Err` case; `Err` holds a [`UsageError`] (nothing was sent) or a
/// failure to set the run up.
pub async fn run(
    settings: &RunSettings,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Summary> {
    run_with(&Aws, settings, shutdown, None).await
}

/// [`run`], reaching the pool through `connect` (a simulated pool, a fake),
/// and with the pool's facts and the resolver a `plan` just made (shown for
/// the typed confirmation), so a large pool is indexed once.
pub async fn run_with(
    connect: &dyn Connect,
    settings: &RunSettings,
    shutdown: impl Future<Output = ()>,
    prepared: Option<job::Prepared>,
) -> anyhow::Result<Summary> {
    let shared = Shared {
        limits: settings.limits(),
        counters: Arc::new(Counters::default()),
        progress: true,
        account: None,
        watch: true,
    };
    run_in(connect, settings, shutdown, prepared, &shared).await
}

/// What a run shares with a fleet around it.
pub(crate) struct Shared {
    /// The limiters of the pool's account and region, which every pool of
    /// the fleet in them paces with.
    pub limits: Limits,
    /// The run's counters, which the fleet's progress reads.
    pub counters: Arc<Counters>,
    /// Show the run's own progress (a bar, or log lines); a fleet shows
    /// its own instead.
    pub progress: bool,
    /// The stop of every pool of this pool's account.
    pub account: Option<AccountStop>,
    /// With `--rate auto`, keep the rate under what the quota's other
    /// callers leave (`neighbour`); a fleet does it once per account and
    /// region instead.
    pub watch: bool,
}

/// [`run_with`], with what it shares with a fleet.
pub(crate) async fn run_in(
    connect: &dyn Connect,
    settings: &RunSettings,
    shutdown: impl Future<Output = ()>,
    prepared: Option<job::Prepared>,
    shared: &Shared,
) -> anyhow::Result<Summary> {
    let limits = &shared.limits;
    let started = Instant::now();
    tokio::pin!(shutdown);

    // Everything that can be refused is checked before any mutating call,
    // and every path before any file is written. Until the first call a
    // signal ends the run at once: nothing was sent, so there is nothing
    // to finish.
    let opened = tokio::select! {
        biased;
        _ = &mut shutdown => return Err(UsageError::Interrupted.into()),
        r = job::open(connect, settings, job::LedgerAccess::Lock, prepared, limits) => r?,
    };
    let mut opened = opened;
    let Some(mut held) = opened.held.take() else {
        anyhow::bail!("the ledger was not held");
    };
    let generate = match generated_passwords(settings, &mut opened).await {
        Ok(generate) => generate,
        Err(e) => {
            held.release().await;
            return Err(e);
        }
    };
    let input_rows = opened.input_rows;
    let resolver = opened.resolver.clone();
    let resumed = opened.replay.runs > 0;

    let counters = shared.counters.clone();
    let header = Header {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        pool_id: settings.pool_id.clone(),
        action: settings.steps.action,
        region: settings.aws.region.clone(),
        input: settings.input.name(),
        started_at: ledger::now(),
        pid: std::process::id(),
        host: ledger::host_name(),
        rate: Some(settings.pace.rate),
        input_rows,
        resolves: resolver.choice().strategy != Strategy::Exact,
        sign_out: settings.steps.sign_out,
        disable: settings.steps.disable,
        input_version: opened.input_version.clone(),
        run_id: crate::logging::run_id().to_string(),
    };
    let durable = counters.clone();
    let on_durable: ledger::writer::OnDurable = Box::new(move |entry| durable.on_durable(entry));
    let (writer, writer_thread) = match held.writer(&header, on_durable).await {
        Ok(opened) => opened,
        Err(e) => {
            let name = held.name().to_string();
            held.release().await;
            return Err(anyhow::Error::new(e).context(format!("could not open ledger {name}")));
        }
    };
    let lease = held.lease();
    let canary = match opened.canary(settings) {
        Ok(canary) => canary,
        Err(e) => {
            held.release().await;
            return Err(e.into());
        }
    };
    let triage = Arc::new(Mutex::new(opened.triage(settings)));
    let ledger_name = opened.ledger_name.clone();
    let job::Opened {
        cognito,
        source,
        host_claim,
        ..
    } = opened;

    let limiter = limits.of(settings.steps.action.category()).clone();
    let progress = if shared.progress {
        let mut paced = vec![("--rate", limiter.clone())];
        if settings.steps.updates() {
            paced.push(("--sign-out-rate", limits.update.clone()));
        }
        Progress::start(counters.clone(), paced, settings.log_interval)
    } else {
        Progress::silent()
    };
    if let Some(rows) = input_rows {
        progress.set_total(rows);
    }

    let stop = CancellationToken::new();
    let ctx = Arc::new(Worker {
        cognito,
        endpoint: settings.aws.endpoint_name(),
        operation: settings.steps.operation.clone(),
        limiter: limiter.clone(),
        follow_ups: settings
            .steps
            .follow_ups()
            .into_iter()
            .map(|step| {
                let op = step.operation();
                let limiter = limits.of(op.action().category()).clone();
                (step, op, limiter)
            })
            .collect(),
        read_limiter: limits.read.clone(),
        retry: settings.retry,
        writer,
        counters: counters.clone(),
        stop: stop.clone(),
        stop_reason: Mutex::new(None),
        breaker: Mutex::new(breaker::Breaker::new(settings.stop_after_failures)),
        precheck: settings.steps.precheck,
        include_federated: settings.steps.include_federated,
        generate,
        lease: lease.clone(),
        account: shared.account.clone(),
    });
    // Another pool of the account met the daily email limit: pause too.
    // The watcher holds the run weakly, so it never keeps the ledger
    // writer open.
    let finished = CancellationToken::new();
    if let Some(account) = shared.account.clone() {
        let (run, finished) = (Arc::downgrade(&ctx), finished.clone());
        tokio::spawn(async move {
            tokio::select! {
                pool = account.paused() => {
                    if let Some(run) = run.upgrade() {
                        run.stop_run(StopReason::AccountPaused { pool });
                    }
                }
                _ = finished.cancelled() => {}
            }
        });
    }
    info!(
        pool = %settings.pool_id,
        action = settings.steps.action.as_str(),
        rate = settings.pace.rate,
        adaptive = settings.pace.adaptive,
        concurrency = settings.pace.concurrency,
        ledger = %ledger_name,
        "starting"
    );

    let watching = CancellationToken::new();
    let watcher = match (&settings.pace.auto, shared.watch) {
        (Some(auto), true) => Some(tokio::spawn(crate::neighbour::keep(
            crate::neighbour::Watch::of(&settings.aws, auto, limiter.clone()),
            watching.clone(),
        ))),
        _ => None,
    };

    let wave = canary.map(|w| w.left());
    let interrupted = dispatch(settings, source, &resolver, triage, &ctx, wave, shutdown).await;
    finished.cancel();
    watching.cancel();
    let production = match watcher {
        Some(task) => task.await.ok(),
        None => None,
    };

    progress.finish().await;
    let stopped = ctx
        .stop_reason
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    drop(ctx);
    tokio::task::spawn_blocking(move || writer_thread.join())
        .await
        .ok()
        .and_then(Result::ok)
        .context("the ledger writer thread failed")?;
    let job = if resumed {
        job_so_far(&held).await
    } else {
        None
    };
    held.release().await;
    drop(host_claim);

    let mut summary = Summary::from_counters(&counters, started.elapsed());
    summary.pool_id = settings.pool_id.clone();
    summary.action = settings.steps.action.as_str().to_string();
    summary.ledger = ledger_name.into();
    summary.interrupted = interrupted;
    summary.stopped = stopped;
    summary.rate = Some(limiter.state());
    summary.pace = Some(settings.bottleneck());
    summary.job = job;
    summary.canary = canary.map(|w| crate::report::CanaryWave {
        more: counters
            .canary_more
            .load(std::sync::atomic::Ordering::Relaxed),
        ..w
    });
    summary.production = production;
    summary.resolution = Some(ResolutionSummary {
        strategy: resolver.choice().strategy,
        list_calls: resolver.calls(),
        index_bytes: resolver.index_bytes() as u64,
    });
    Ok(summary)
}

/// The whole job as the held ledger holds it now, read again from its
/// start (a resume read it all before its first call, so this costs what
/// that did). `None`, with a warning, when it cannot be read: the summary
/// then shows this run alone.
async fn job_so_far(held: &ledger::store::Held) -> Option<JobSoFar> {
    let name = std::path::PathBuf::from(held.name());
    let reader = match held.reread() {
        Ok(reader) => reader,
        Err(e) => {
            warn!(error = %e, "could not read the ledger again for the whole job's figures");
            return None;
        }
    };
    let status = tokio::task::spawn_blocking(move || crate::report::status_from(reader, &name))
        .await
        .ok()?;
    match status {
        Ok(status) => Some(JobSoFar::from(&status)),
        Err(e) => {
            warn!(error = %e, "could not read the ledger again for the whole job's figures");
            None
        }
    }
}

/// `--generate-passwords`: the file and the length of the passwords (the
/// pool's minimum, at least [`passwords::MIN_GENERATED_LEN`]); lines a
/// stopped run left unsettled are marked with what the ledger says of them.
async fn generated_passwords(
    settings: &RunSettings,
    opened: &mut job::Opened,
) -> anyhow::Result<Option<(PasswordsOut, usize)>> {
    let Some(out) = opened.passwords_out.take() else {
        return Ok(None);
    };
    let len = match opened.pool.facts().map(|f| f.min_password_length) {
        Some(min) => min.unwrap_or(0).max(passwords::MIN_GENERATED_LEN),
        None => {
            warn!("the pool's password policy could not be read (DescribeUserPool); generating {} characters", passwords::MIN_GENERATED_LEN);
            passwords::MIN_GENERATED_LEN
        }
    };
    info!(length = len, file = %settings.steps.generate_passwords.as_deref().unwrap_or(std::path::Path::new("")).display(), "generating passwords");
    let settled = out
        .settle(&opened.replay)
        .await
        .map_err(anyhow::Error::msg)?;
    if settled > 0 {
        info!(
            lines = settled,
            "the passwords file held passwords of calls a stopped run left unsettled; marked each with what the ledger says of it"
        );
    }
    Ok(Some((out, len)))
}
