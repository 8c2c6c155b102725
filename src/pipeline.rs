//! The run: wires source, ledger, limiter, Cognito and progress together.
//!
//! ```text
//! reader thread ──(bounded)──> dispatcher ──(permit each)──> workers ──> ledger writer
//!   CSV rows                   dedupe, skip done              limiter,      fsync, then
//!                              invalid rows -> ledger         call, retry   counted done
//! ```
//!
//! Policies enforced here:
//! - Bounded everywhere: the reader feeds a bounded channel, and a worker
//!   holds one of `concurrency` permits from dispatch until its record is
//!   durable, so input is never read more than a channel's length ahead of
//!   the ledger.
//! - A user is counted done only by the ledger writer, after fsync.
//! - Shutdown is passed in: when `shutdown` resolves (Ctrl-C), or a call
//!   answers with an error every user would get, the run stops dispatching,
//!   workers waiting for the limiter or a backoff give up their user
//!   (unrecorded, so a re-run does it), calls already sent finish and reach
//!   the ledger, the ledger is flushed, and the summary says why it stopped.
//! - Setup problems (bad input header, a ledger from another job, missing
//!   credentials) are [`UsageError`]s raised before any call is sent.

use std::collections::HashSet;
use std::fs::File;
use std::future::Future;
use std::io::{self, BufRead, BufReader};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::cognito::{Cognito, ErrorClass, Operation};
use crate::error::UsageError;
use crate::ledger::{self, fingerprint, Header, LedgerWriter, Outcome, Replay, UserRecord};
use crate::limiter::Limiter;
use crate::progress::Progress;
use crate::report::{Counters, StopReason, Summary};
use crate::retry::{Attempts, Next, RetryKind, RetryPolicy};
use crate::settings::{Input, RunSettings};
use crate::source::csv::{count_rows, CsvSource};
use crate::source::{SourceItem, UserRow};

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
    let started = Instant::now();

    // Everything that can be refused is checked before any call.
    let source = open_source(settings)?;
    let replay = ledger::replay_path(&settings.ledger)?;
    if let Some(r) = &replay {
        check_same_job(settings, r)?;
        if r.torn_bytes > 0 {
            warn!(
                ledger = %settings.ledger.display(),
                bytes = r.torn_bytes,
                "the ledger's last line is torn (a crash mid-write); it is cut off and that user will be done again"
            );
        }
        info!(
            ledger = %settings.ledger.display(),
            succeeded = r.succeeded,
            failed = r.failed_total(),
            invalid = r.invalid,
            "resuming: users the ledger records as done are skipped"
        );
    }
    let cognito = Cognito::connect(&settings.aws, &settings.pool_id).await?;

    let counters = Arc::new(Counters::default());
    let header = Header {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        pool_id: settings.pool_id.clone(),
        action: settings.action,
        region: settings.aws.region.clone(),
        input: settings.input.name(),
        started_at: ledger::now(),
    };
    let durable = counters.clone();
    let (writer, writer_thread) = LedgerWriter::open(
        &settings.ledger,
        replay.as_ref(),
        &header,
        Box::new(move |record| durable.on_durable(record)),
    )
    .with_context(|| format!("could not open ledger {}", settings.ledger.display()))?;

    let progress = Progress::start(counters.clone(), settings.log_interval);
    if let Input::Path(path) = &settings.input {
        let (path, header) = (path.clone(), settings.csv.header);
        let bar_total = progress.total_setter();
        tokio::task::spawn_blocking(move || {
            if let Ok(n) = File::open(&path).and_then(|f| count_rows(BufReader::new(f), header)) {
                bar_total(n);
            }
        });
    }

    let stop = CancellationToken::new();
    let ctx = Arc::new(Worker {
        cognito,
        operation: settings.operation.clone(),
        limiter: Limiter::new(settings.rate, settings.burst),
        retry: settings.retry,
        writer,
        counters: counters.clone(),
        stop: stop.clone(),
        stop_reason: Mutex::new(None),
    });
    info!(
        pool = %settings.pool_id,
        action = settings.action.as_str(),
        rate = settings.rate,
        concurrency = settings.concurrency,
        ledger = %settings.ledger.display(),
        "starting"
    );

    let interrupted = dispatch(settings, source, replay.unwrap_or_default(), &ctx, shutdown).await;

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
    summary.action = settings.action.as_str().to_string();
    summary.ledger = settings.ledger.clone();
    summary.interrupted = interrupted;
    summary.stopped = stopped;
    Ok(summary)
}

/// Reads items and hands each new user to a worker. Returns whether the run
/// was interrupted by `shutdown`; returns once every worker has finished.
async fn dispatch(
    settings: &RunSettings,
    source: CsvSource<Box<dyn BufRead + Send>>,
    replay: Replay,
    ctx: &Arc<Worker>,
    shutdown: impl Future<Output = ()>,
) -> bool {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    std::thread::Builder::new()
        .name("input-reader".into())
        .spawn(move || {
            for item in source {
                if tx.blocking_send(item).is_err() {
                    return; // the dispatcher stopped
                }
            }
        })
        .expect("spawning a thread succeeds");

    let tracker = TaskTracker::new();
    tokio::pin!(shutdown);
    let mut interrupted = tokio::select! {
        biased;
        _ = &mut shutdown => true,
        _ = feed(settings.concurrency, rx, replay, ctx, &tracker) => false,
    };
    tracker.close();
    if !interrupted {
        // The input is done; an interrupt now still stops the users waiting
        // for the limiter or a backoff.
        interrupted = tokio::select! {
            biased;
            _ = &mut shutdown => true,
            _ = tracker.wait() => false,
        };
    }
    if interrupted {
        ctx.stop.cancel();
        info!("interrupted: finishing the calls in flight and writing them to the ledger");
        tracker.wait().await;
    }
    interrupted
}

/// The dispatch loop: until the input ends or the run stops, records
/// invalid rows, passes over duplicates and users the ledger finished, and
/// spawns a worker (holding a concurrency permit) for each other user.
async fn feed(
    concurrency: usize,
    mut rx: mpsc::Receiver<io::Result<SourceItem>>,
    replay: Replay,
    ctx: &Arc<Worker>,
    tracker: &TaskTracker,
) {
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut seen: HashSet<u128> = HashSet::new();
    while let Some(Some(item)) = ctx.until_stopped(rx.recv()).await {
        let row = match item {
            Err(e) => {
                ctx.stop_run(StopReason::Input {
                    message: e.to_string(),
                });
                return;
            }
            Ok(SourceItem::Invalid {
                line,
                username,
                reason,
            }) => {
                if replay.invalid_lines.contains(&line) {
                    ctx.counters.skipped_done.fetch_add(1, Relaxed);
                    ctx.counters.skipped_unsuccessful.fetch_add(1, Relaxed);
                    continue;
                }
                debug!(line, %reason, "invalid row");
                let record = UserRecord {
                    username,
                    outcome: Outcome::Invalid,
                    line: Some(line),
                    code: None,
                    message: Some(reason),
                    attempts: 0,
                    throttled: 0,
                    request_id: None,
                    at: ledger::now(),
                };
                if let Err(e) = ctx.writer.append(record).await {
                    ctx.stop_run(StopReason::Ledger {
                        message: e.to_string(),
                    });
                    return;
                }
                continue;
            }
            Ok(SourceItem::User(row)) => row,
        };
        let key = fingerprint(&row.username);
        if !seen.insert(key) {
            debug!(line = row.line, user = %row.username, "duplicate row, already handled");
            ctx.counters.duplicates.fetch_add(1, Relaxed);
            continue;
        }
        if let Some(outcome) = replay.done.get(&key) {
            ctx.counters.skipped_done.fetch_add(1, Relaxed);
            if *outcome != Outcome::Succeeded {
                ctx.counters.skipped_unsuccessful.fetch_add(1, Relaxed);
            }
            continue;
        }
        let Some(permit) = ctx.until_stopped(permits.clone().acquire_owned()).await else {
            return;
        };
        let permit = permit.expect("the semaphore is never closed");
        tracker.spawn(ctx.clone().process(row, permit));
    }
}

/// What every worker shares.
struct Worker {
    cognito: Cognito,
    operation: Operation,
    limiter: Limiter,
    retry: RetryPolicy,
    writer: LedgerWriter,
    counters: Arc<Counters>,
    /// Cancelled when the run must stop sending.
    stop: CancellationToken,
    stop_reason: Mutex<Option<StopReason>>,
}

impl Worker {
    /// Stops the run; the first reason given is the one reported.
    fn stop_run(&self, reason: StopReason) {
        let mut slot = self.stop_reason.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            warn!(reason = %reason, "stopping the run");
            *slot = Some(reason);
        }
        self.stop.cancel();
    }

    /// Runs `fut` unless the run stops first.
    async fn until_stopped<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => None,
            value = fut => Some(value),
        }
    }

    /// Carries out one user's call with retries and records the outcome.
    /// Returns without a record if the run stops before a final outcome.
    async fn process(self: Arc<Self>, row: UserRow, _permit: OwnedSemaphorePermit) {
        let mut attempts = Attempts::default();
        let result = loop {
            if self.until_stopped(self.limiter.acquire()).await.is_none() {
                return;
            }
            attempts.calls += 1;
            self.counters.calls.fetch_add(1, Relaxed);
            let err = match self
                .cognito
                .apply(&self.operation, &row.username, row.password.as_ref())
                .await
            {
                Ok(ok) => break Ok(ok),
                Err(err) => err,
            };
            let kind = match err.class {
                ErrorClass::Throttled => {
                    self.counters.throttled.fetch_add(1, Relaxed);
                    RetryKind::Throttled
                }
                ErrorClass::Transient => RetryKind::Transient,
                ErrorClass::UserFailed => break Err(err),
                ErrorClass::StopRun => {
                    self.stop_run(StopReason::Service {
                        code: err.code,
                        message: err.message,
                    });
                    return;
                }
            };
            match self.retry.next(kind, &mut attempts) {
                Next::GiveUp => break Err(err),
                Next::RetryAfter(delay) => {
                    self.counters.retries.fetch_add(1, Relaxed);
                    debug!(user = %row.username, code = %err.code, attempt = attempts.calls, ?delay, "retrying");
                    if self
                        .until_stopped(tokio::time::sleep(delay))
                        .await
                        .is_none()
                    {
                        return;
                    }
                }
            }
        };
        let mut record = UserRecord {
            username: row.username,
            outcome: Outcome::Succeeded,
            line: Some(row.line),
            code: None,
            message: None,
            attempts: attempts.calls,
            throttled: attempts.throttled,
            request_id: None,
            at: ledger::now(),
        };
        match result {
            Ok(ok) => record.request_id = ok.request_id,
            Err(err) => {
                debug!(user = %record.username, code = %err.code, "user failed");
                record.outcome = Outcome::Failed;
                record.code = Some(err.code);
                record.message = Some(err.message);
                record.request_id = err.request_id;
            }
        }
        if let Err(e) = self.writer.append(record).await {
            self.stop_run(StopReason::Ledger {
                message: e.to_string(),
            });
        }
    }
}

/// Opens the input and reads its header; a bad header is a [`UsageError`].
fn open_source(settings: &RunSettings) -> Result<CsvSource<Box<dyn BufRead + Send>>, UsageError> {
    let reader: Box<dyn BufRead + Send> = match &settings.input {
        Input::Stdin => Box::new(BufReader::with_capacity(1 << 16, io::stdin())),
        Input::Path(path) => {
            let file = File::open(path).map_err(|e| UsageError::Input {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            Box::new(BufReader::with_capacity(1 << 16, file))
        }
    };
    CsvSource::new(reader, &settings.csv)
}

/// Refuses a ledger written for another pool or action.
fn check_same_job(settings: &RunSettings, replay: &Replay) -> Result<(), UsageError> {
    let Some(h) = &replay.header else {
        if replay.valid_len == 0 {
            return Ok(()); // empty or torn-only file: a fresh ledger
        }
        return Err(UsageError::LedgerCorrupt {
            path: settings.ledger.clone(),
            line: 1,
            reason: "the first line is not a ledger header".into(),
        });
    };
    if h.pool_id != settings.pool_id {
        return Err(UsageError::LedgerMismatch {
            path: settings.ledger.clone(),
            what: "pool",
            found: h.pool_id.clone(),
            wanted: settings.pool_id.clone(),
        });
    }
    if h.action != settings.action {
        return Err(UsageError::LedgerMismatch {
            path: settings.ledger.clone(),
            what: "action",
            found: h.action.as_str().to_string(),
            wanted: settings.action.as_str().to_string(),
        });
    }
    Ok(())
}
