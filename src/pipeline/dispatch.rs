//! The dispatch loop: rows from the source (through the resolving stage) to
//! workers, each holding one of `--concurrency` permits until its record is
//! durable, under the verdicts of [`crate::triage`].

use std::future::Future;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, Semaphore};
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::cognito::ErrorClass;
use crate::ledger::{self, Outcome, UserRecord};
use crate::report::StopReason;
use crate::resolve::{ResolveError, Resolver, Strategy};
use crate::settings::RunSettings;
use crate::source::{Source, SourceItem};
use crate::triage::{Triage, Verdict};

use super::worker::{lock, Worker};
use super::READ_AHEAD;

/// Reads items, resolves who each names, and hands each new user to a
/// worker. Returns whether the run was interrupted by `shutdown`; returns
/// once every worker has finished.
pub(super) async fn dispatch(
    settings: &RunSettings,
    source: Source,
    resolver: &Arc<Resolver>,
    triage: Arc<Mutex<Triage>>,
    ctx: &Arc<Worker>,
    canary: Option<u64>,
    shutdown: impl Future<Output = ()>,
) -> bool {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    source.spawn(tx);
    let rx = match resolver.choice().strategy {
        Strategy::Index | Strategy::Lookup => {
            let (resolved_tx, resolved_rx) = mpsc::channel(READ_AHEAD);
            let ledger = triage.clone();
            resolver.clone().spawn_stage(
                rx,
                resolved_tx,
                settings.pace.concurrency,
                Box::new(move |value| lock(&ledger).finished(value)),
            );
            resolved_rx
        }
        Strategy::Listing | Strategy::Exact => rx,
    };

    let tracker = TaskTracker::new();
    tokio::pin!(shutdown);
    let mut interrupted = tokio::select! {
        biased;
        _ = &mut shutdown => true,
        _ = feed(settings.pace.concurrency, rx, triage, ctx, canary, &tracker) => false,
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
/// invalid rows, passes over rows naming someone already named and users
/// the ledger finished (see [`Triage`]), leaves (and counts) rows the
/// pool's rules could not resolve safely, and spawns a worker (holding a
/// concurrency permit) for each other user. With a canary wave of
/// `canary` people, the first user past it ends the feed (the workers
/// started finish), marking that users remain.
async fn feed(
    concurrency: usize,
    mut rx: mpsc::Receiver<io::Result<SourceItem>>,
    triage: Arc<Mutex<Triage>>,
    ctx: &Arc<Worker>,
    canary: Option<u64>,
    tracker: &TaskTracker,
) {
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut started = 0u64;
    while let Some(Some(item)) = ctx.until_stopped(rx.recv()).await {
        let row = match item {
            Err(e) => {
                let reason = match e.get_ref().and_then(|e| e.downcast_ref::<ResolveError>()) {
                    Some(ResolveError(err)) if err.class == ErrorClass::Fenced => {
                        StopReason::LeaseLost
                    }
                    Some(ResolveError(err)) => StopReason::Service {
                        code: err.code.clone(),
                        message: format!("ListUsers (resolving users): {}", err.message),
                    },
                    None => StopReason::Input {
                        message: e.to_string(),
                    },
                };
                ctx.stop_run(reason);
                return;
            }
            Ok(SourceItem::Invalid {
                line,
                username,
                reason,
            }) => {
                if lock(&triage).invalid_recorded(line) {
                    ctx.counters.skipped_done.fetch_add(1, Relaxed);
                    ctx.counters.skipped_unsuccessful.fetch_add(1, Relaxed);
                    continue;
                }
                debug!(line, %reason, "invalid row");
                if !record_uncalled(ctx, username, None, line, Outcome::Invalid, reason).await {
                    return;
                }
                continue;
            }
            Ok(SourceItem::User(row)) => row,
        };
        let verdict = lock(&triage).user(&row);
        let (lost_answer, from_step) = match verdict {
            Verdict::Duplicate { first_line } => {
                debug!(line = row.line, first_line, user = %row.username, "same person as an earlier row");
                ctx.counters.same_person(row.line, first_line);
                continue;
            }
            Verdict::Done { succeeded } => {
                ctx.counters.skipped_done.fetch_add(1, Relaxed);
                if !succeeded {
                    ctx.counters.skipped_unsuccessful.fetch_add(1, Relaxed);
                }
                continue;
            }
            Verdict::Excluded { why, recorded } => {
                if recorded {
                    // Counted here; a record written is counted once durable.
                    ctx.counters.excluded.fetch_add(1, Relaxed);
                    continue;
                }
                debug!(line = row.line, user = %row.username, %why, "excluded; not called");
                let user = super::worker::canonical(&row);
                let message = format!("excluded by {why}");
                if !record_uncalled(
                    ctx,
                    row.username,
                    user,
                    row.line,
                    Outcome::Excluded,
                    message,
                )
                .await
                {
                    return;
                }
                continue;
            }
            Verdict::Ambiguous(reason) => {
                // Not a user's outcome: the row is resolved again by the
                // next run, which may be able to tell.
                warn!(line = row.line, %reason, "row not resolved; not called");
                ctx.counters.ambiguous_row(row.line, reason);
                continue;
            }
            Verdict::ToDo {
                lost_answer,
                from_step,
            } => (lost_answer, from_step),
        };
        if canary.is_some_and(|wave| started >= wave) {
            info!(
                people = started,
                "canary wave done; users remain (--continue finishes the job)"
            );
            ctx.counters.canary_more.store(true, Relaxed);
            return;
        }
        started += 1;
        // The semaphore is never closed: an error, like a stop, ends the
        // feed.
        let Some(Ok(permit)) = ctx.until_stopped(permits.clone().acquire_owned()).await else {
            return;
        };
        tracker.spawn(ctx.clone().process(row, lost_answer, from_step, permit));
    }
}

/// Records a row the run does not call for (an invalid row, an excluded
/// person) with why; `false` when the ledger could not be written, and the
/// run stops.
async fn record_uncalled(
    ctx: &Worker,
    username: String,
    user: Option<String>,
    line: u64,
    outcome: Outcome,
    message: String,
) -> bool {
    let record = UserRecord {
        username,
        user,
        outcome,
        step: None,
        line: Some(line),
        code: None,
        message: Some(message),
        detail: None,
        attempts: 0,
        throttled: 0,
        request_id: None,
        at: ledger::now(),
    };
    if let Err(e) = ctx.writer.record(record).await {
        ctx.stop_run(StopReason::Ledger {
            message: e.to_string(),
        });
        return false;
    }
    true
}
