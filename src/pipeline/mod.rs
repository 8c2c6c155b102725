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
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cognito::{Aws, Cognito, Connect};
use crate::error::UsageError;
use crate::job;
use crate::ledger::{self, Header, LedgerWriter, Replay};
use crate::limiter::Limiter;
use crate::passwords::{self, PasswordsOut};
use crate::progress::Progress;
use crate::report::{Counters, ResolutionSummary, Summary};
use crate::resolve::{Resolver, Strategy};
use crate::settings::{Input, RunSettings};
use crate::source::csv::CsvSource;
use crate::source::Source;
use crate::triage::Triage;

mod breaker;
mod dispatch;
mod reconcile;
mod user;
mod worker;

use dispatch::dispatch;
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
    let started = Instant::now();
    tokio::pin!(shutdown);

    // Everything that can be refused is checked before any mutating call,
    // and every path before any file is written.
    job::check_paths(settings)?;
    let csv = match settings.input {
        Input::Pool { .. } => None,
        _ => Some(job::open_source(settings)?),
    };
    let ledger_file = ledger::lock(&settings.ledger)?;
    // The input's size (for the progress bar, the header, `status`, to
    // choose how users are resolved, and to size the user table once) is
    // counted while the ledger is read.
    let input_rows = job::count_input_rows(settings);
    let mut replay = Some(ledger::replay_file(&ledger_file, &settings.ledger)?);
    if let Some(r) = &replay {
        job::check_same_job(settings, r)?;
        ledger::make_private(&ledger_file, &settings.ledger)?;
        if r.torn_bytes > 0 {
            warn!(
                ledger = %settings.ledger.display(),
                bytes = r.torn_bytes,
                "the ledger's last line is torn (a crash mid-write); cutting it off: that record was never acknowledged"
            );
        }
        if r.runs > 0 {
            let c = r.counts();
            info!(
                ledger = %settings.ledger.display(),
                succeeded = c.succeeded,
                failed = c.failed_total(),
                invalid = c.invalid,
                deferred = c.deferred,
                unknown = c.pending,
                "resuming: users the ledger records as done are skipped; calls with a lost answer are read back first"
            );
        }
    }
    let passwords_out = match &settings.steps.generate_passwords {
        Some(path) => Some(PasswordsOut::open(path)?),
        None => None,
    };
    // Until the first call a signal ends the run at once: nothing was
    // sent, so there is nothing to finish.
    let setup = set_up(
        connect,
        settings,
        prepared,
        passwords_out,
        csv,
        input_rows,
        replay.as_mut(),
    );
    let (cognito, generate, source, input_rows, resolver) = tokio::select! {
        biased;
        _ = &mut shutdown => return Err(UsageError::Interrupted.into()),
        r = setup => r?,
    };

    let counters = Arc::new(Counters::default());
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
    };
    let durable = counters.clone();
    let (writer, writer_thread) = LedgerWriter::open(
        ledger_file,
        &settings.ledger,
        replay.as_ref(),
        &header,
        Box::new(move |entry| durable.on_durable(entry)),
    )
    .with_context(|| format!("could not open ledger {}", settings.ledger.display()))?;

    let limiter = Arc::new(if settings.pace.adaptive {
        Limiter::adaptive(
            settings.pace.rate,
            settings.pace.burst_given.then_some(settings.pace.burst),
        )
    } else {
        Limiter::new(settings.pace.rate, settings.pace.burst)
    });
    let secondary = |rate| {
        if settings.pace.adaptive {
            Limiter::adaptive(rate, None)
        } else {
            Limiter::with_default_burst(rate)
        }
    };
    let progress = Progress::start(counters.clone(), limiter.clone(), settings.log_interval);
    if let Some(rows) = input_rows {
        progress.set_total(rows);
    }

    let stop = CancellationToken::new();
    let ctx = Arc::new(Worker {
        cognito,
        endpoint: settings.aws.endpoint_name(),
        operation: settings.steps.operation.clone(),
        limiter: limiter.clone(),
        sign_out: settings
            .steps
            .sign_out
            .then(|| secondary(settings.pace.sign_out_rate)),
        read_limiter: secondary(settings.pace.read_rate),
        retry: settings.retry,
        writer,
        counters: counters.clone(),
        stop: stop.clone(),
        stop_reason: Mutex::new(None),
        breaker: Mutex::new(breaker::Breaker::new(settings.stop_after_failures)),
        precheck: settings.steps.precheck,
        include_federated: settings.steps.include_federated,
        generate,
    });
    info!(
        pool = %settings.pool_id,
        action = settings.steps.action.as_str(),
        rate = settings.pace.rate,
        adaptive = settings.pace.adaptive,
        concurrency = settings.pace.concurrency,
        ledger = %settings.ledger.display(),
        "starting"
    );

    let triage = Arc::new(Mutex::new(Triage::new(
        replay.unwrap_or_default(),
        settings.steps.retry_failed,
        settings.steps.sign_out,
        input_rows,
        resolver.dedupe_folded().then(|| resolver.rule().clone()),
    )));
    let interrupted = dispatch(settings, source, &resolver, triage, &ctx, shutdown).await;

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

    let mut summary = Summary::from_counters(&counters, started.elapsed());
    summary.pool_id = settings.pool_id.clone();
    summary.action = settings.steps.action.as_str().to_string();
    summary.ledger = settings.ledger.clone();
    summary.interrupted = interrupted;
    summary.stopped = stopped;
    summary.rate = Some(limiter.state());
    summary.resolution = Some(ResolutionSummary {
        strategy: resolver.choice().strategy,
        list_calls: resolver.calls(),
        index_bytes: resolver.index_bytes() as u64,
    });
    Ok(summary)
}

/// What the Cognito client, the generated passwords, the source and the
/// resolver need before the first call: the pool read (unless a confirmed
/// plan read it), the input's size, the resolver (an index of the pool may
/// take many ListUsers pages), and the ledger's earlier records mapped to
/// the people they name.
async fn set_up(
    connect: &dyn Connect,
    settings: &RunSettings,
    prepared: Option<job::Prepared>,
    passwords_out: Option<PasswordsOut>,
    csv: Option<CsvSource<Box<dyn io::Read + Send>>>,
    input_rows: tokio::task::JoinHandle<Option<u64>>,
    replay: Option<&mut Replay>,
) -> anyhow::Result<(
    Cognito,
    Option<(PasswordsOut, usize)>,
    Source,
    Option<u64>,
    Arc<Resolver>,
)> {
    let cognito = connect.connect(&settings.aws, &settings.pool_id).await?;
    let (pool, prepared) = match prepared {
        Some(p) => (p.pool, Some(p.resolver)),
        None => (job::read_pool(settings, &cognito).await?, None),
    };
    let generate = passwords_out.map(|out| {
        let len = match pool.facts().map(|f| f.min_password_length) {
            Some(min) => min.unwrap_or(0).max(passwords::MIN_GENERATED_LEN),
            None => {
                warn!("the pool's password policy could not be read (DescribeUserPool); generating {} characters", passwords::MIN_GENERATED_LEN);
                passwords::MIN_GENERATED_LEN
            }
        };
        info!(length = len, file = %settings.steps.generate_passwords.as_deref().unwrap_or(std::path::Path::new("")).display(), "generating passwords");
        (out, len)
    });
    let source = match csv {
        Some(csv) => Source::Csv(csv),
        None => job::open_pool(settings, &cognito).await?,
    };
    let input_rows = input_rows.await.ok().flatten();
    let resolver = match prepared {
        Some(resolver) => resolver,
        None => {
            let choice = job::choose(settings, &pool, input_rows, replay.as_deref())?;
            Arc::new(job::open_resolver(settings, &cognito, &pool, choice).await?)
        }
    };

    if let Some(r) = replay {
        job::adopt_unresolved(&resolver, r, &settings.ledger).await?;
        if let Some((out, _)) = &generate {
            let settled = out.settle(r).await.map_err(anyhow::Error::msg)?;
            if settled > 0 {
                info!(
                    lines = settled,
                    "the passwords file held passwords of calls a stopped run left unsettled; marked each with what the ledger says of it"
                );
            }
        }
    }

    Ok((cognito, generate, source, input_rows, resolver))
}
