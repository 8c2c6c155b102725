//! The run: wires source, ledger, limiter, Cognito and progress together.
//!
//! ```text
//! reader thread ──(bounded)──> resolver ──(bounded)──> dispatcher ──(permit each)──> workers ──> ledger writer
//!   CSV rows                   each row to its       same person, skip done        limiter,      fsync, then
//!                              person (ListUsers),   invalid rows -> ledger        call, retry   counted done
//!                              in input order
//! ```
//!
//! Policies enforced here:
//! - One call per person: rows are resolved to the canonical username the
//!   pool resolves them to ([`crate::identity`]) before dispatch, in input
//!   order, and a row naming a person an earlier row named is passed over
//!   ("same person as line N"). The call names the canonical username; the
//!   ledger keeps the person under it. A row whose person cannot be told
//!   (the pool's settings unreadable) is not called, and the summary says
//!   why.
//! - Exactly one call that counts per user: an intent record is durable
//!   before a user's first password call of a run. When a reset's answer is
//!   lost (a timeout after sending, a connection lost mid-reply) or a re-run
//!   finds an intent with no outcome, the user is read back (AdminGetUser)
//!   before anything else: if it is in the state the call puts it in, and
//!   changed since the call was sent, the call landed and the user is
//!   recorded succeeded (`detail: reconciled`) without calling again. For a
//!   reset, a user already RESET_REQUIRED from before is recorded succeeded
//!   with `detail: already_reset_required` and is not called again, since
//!   the tool cannot tell whether a code went out. If the user cannot be
//!   read, nothing is recorded and the next run reads it back first.
//!   Set-password and sign-out send no message and are safe to repeat, so
//!   their lost answers are retried; a set-password refused as a repeat of
//!   a recent password (PasswordHistoryPolicyViolationException) after a
//!   lost answer is recorded succeeded (`reconciled`): the first call landed.
//! - Limits that clear later: a user whose attempts run out on
//!   LimitExceededException is recorded `deferred` (not final); 5 such users
//!   in a row, or the daily email limit, pause the run (exit 75). A user's
//!   own attempt limit ("Attempt limit exceeded") defers that user at once
//!   and says nothing about the run.
//! - Never a password for a federated user (set-password skips
//!   EXTERNAL_PROVIDER users unless `--include-federated`), and with
//!   `--precheck` no reset that cannot work; both from the listing's facts.
//! - A breaker: `stop_after_failures` users in a row failing with the same
//!   code stop the run (exit 3).
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
//!   credentials, a pool that does not exist, a reset on a pool with
//!   admin-only recovery) are [`UsageError`]s raised before any call is
//!   sent.

use std::future::Future;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::cognito::{CallError, Cognito, ErrorClass, Operation, UserState};
use crate::error::UsageError;
use crate::job;
use crate::ledger::Step;
use crate::ledger::{
    self, Entry, Header, IntentRecord, LedgerWriter, LostAnswer, Outcome, Replay, UserRecord,
};
use crate::limiter::Limiter;
use crate::passwords::{self, PasswordsOut};
use crate::progress::Progress;
use crate::report::{Counters, ResolutionSummary, StopReason, Summary};
use crate::resolve::{ResolveError, Resolver, Strategy};
use crate::retry::{Attempts, Next, RetryKind, RetryPolicy};
use crate::settings::{Input, RunSettings};
use crate::source::csv::CsvSource;
use crate::source::{Source, SourceItem, UserRow};
use crate::triage::{Triage, Verdict};

/// Rows read ahead of dispatch, at most.
const READ_AHEAD: usize = 1024;

/// Users in a row whose attempts ran out on LimitExceededException that
/// pause the run.
const LIMIT_EXCEEDED_PAUSE_STREAK: u32 = 5;

/// How far a user's last-modified time may precede the call it is matched
/// with (clock skew between this machine and Cognito).
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Reads of a user, at most, when reconciling one lost answer.
const RECONCILE_READS: u32 = 8;

/// Runs the job described by `settings` until its input is done, `shutdown`
/// resolves, or an error stops it. Per-user failures are in the summary, not
/// in the `Err` case; `Err` holds a [`UsageError`] (nothing was sent) or a
/// failure to set the run up.
pub async fn run(
    settings: &RunSettings,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Summary> {
    run_prepared(settings, shutdown, None).await
}

/// [`run`], with the pool's facts and the resolver a `plan` just made
/// (shown for the typed confirmation), so a large pool is indexed once.
pub async fn run_prepared(
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
    let passwords_out = match &settings.generate_passwords {
        Some(path) => Some(PasswordsOut::open(path)?),
        None => None,
    };
    // Until the first call a signal ends the run at once: nothing was
    // sent, so there is nothing to finish.
    let setup = set_up(
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
        action: settings.action,
        region: settings.aws.region.clone(),
        input: settings.input.name(),
        started_at: ledger::now(),
        pid: std::process::id(),
        host: ledger::host_name(),
        rate: Some(settings.rate),
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

    let limiter = Arc::new(if settings.adaptive {
        Limiter::adaptive(
            settings.rate,
            settings.burst_given.then_some(settings.burst),
        )
    } else {
        Limiter::new(settings.rate, settings.burst)
    });
    let secondary = |rate| {
        if settings.adaptive {
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
        operation: settings.operation.clone(),
        limiter: limiter.clone(),
        sign_out: settings.sign_out.then(|| secondary(settings.sign_out_rate)),
        read_limiter: secondary(settings.read_rate),
        retry: settings.retry,
        writer,
        counters: counters.clone(),
        stop: stop.clone(),
        stop_reason: Mutex::new(None),
        stop_after_failures: settings.stop_after_failures,
        streaks: Mutex::new(Streaks::default()),
        precheck: settings.precheck,
        include_federated: settings.include_federated,
        generate,
    });
    info!(
        pool = %settings.pool_id,
        action = settings.action.as_str(),
        rate = settings.rate,
        adaptive = settings.adaptive,
        concurrency = settings.concurrency,
        ledger = %settings.ledger.display(),
        "starting"
    );

    let triage = Arc::new(Mutex::new(Triage::new(
        replay.unwrap_or_default(),
        settings.retry_failed,
        settings.sign_out,
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
    summary.action = settings.action.as_str().to_string();
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
    let cognito = Cognito::connect(&settings.aws, &settings.pool_id).await?;
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
        info!(length = len, file = %settings.generate_passwords.as_deref().unwrap_or(std::path::Path::new("")).display(), "generating passwords");
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

/// Reads items, resolves who each names, and hands each new user to a
/// worker. Returns whether the run was interrupted by `shutdown`; returns
/// once every worker has finished.
async fn dispatch(
    settings: &RunSettings,
    source: Source,
    resolver: &Arc<Resolver>,
    triage: Arc<Mutex<Triage>>,
    ctx: &Arc<Worker>,
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
                settings.concurrency,
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
        _ = feed(settings.concurrency, rx, triage, ctx, &tracker) => false,
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
/// concurrency permit) for each other user.
async fn feed(
    concurrency: usize,
    mut rx: mpsc::Receiver<io::Result<SourceItem>>,
    triage: Arc<Mutex<Triage>>,
    ctx: &Arc<Worker>,
    tracker: &TaskTracker,
) {
    let permits = Arc::new(Semaphore::new(concurrency));
    while let Some(Some(item)) = ctx.until_stopped(rx.recv()).await {
        let row = match item {
            Err(e) => {
                let reason = match e.get_ref().and_then(|e| e.downcast_ref::<ResolveError>()) {
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
                if lock(&triage).invalid(line) == Verdict::InvalidRecorded {
                    ctx.counters.skipped_done.fetch_add(1, Relaxed);
                    ctx.counters.skipped_unsuccessful.fetch_add(1, Relaxed);
                    continue;
                }
                debug!(line, %reason, "invalid row");
                let record = UserRecord {
                    username,
                    user: None,
                    outcome: Outcome::Invalid,
                    step: None,
                    line: Some(line),
                    code: None,
                    message: Some(reason),
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
                    return;
                }
                continue;
            }
            Ok(SourceItem::User(row)) => row,
        };
        let verdict = lock(&triage).user(&row);
        let (lost_answer, sign_out_only) = match verdict {
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
            Verdict::Ambiguous(reason) => {
                // Not a user's outcome: the row is resolved again by the
                // next run, which may be able to tell.
                warn!(line = row.line, %reason, "row not resolved; not called");
                ctx.counters.ambiguous_row(row.line, reason);
                continue;
            }
            Verdict::ToDo {
                lost_answer,
                sign_out_only,
            } => (lost_answer, sign_out_only),
            Verdict::NewInvalid | Verdict::InvalidRecorded => unreachable!("a valid row's verdict"),
        };
        let Some(permit) = ctx.until_stopped(permits.clone().acquire_owned()).await else {
            return;
        };
        let permit = permit.expect("the semaphore is never closed");
        tracker.spawn(ctx.clone().process(row, lost_answer, sign_out_only, permit));
    }
}

/// What every worker shares.
struct Worker {
    cognito: Cognito,
    /// Where the calls go, for messages.
    endpoint: String,
    operation: Operation,
    limiter: Arc<Limiter>,
    /// With `--sign-out`: the limiter of the sign-out step (UserUpdate quota).
    sign_out: Option<Limiter>,
    /// Paces AdminGetUser reads (UserRead quota).
    read_limiter: Limiter,
    retry: RetryPolicy,
    writer: LedgerWriter,
    counters: Arc<Counters>,
    /// Cancelled when the run must stop sending.
    stop: CancellationToken,
    stop_reason: Mutex<Option<StopReason>>,
    stop_after_failures: u32,
    streaks: Mutex<Streaks>,
    /// Skip users a reset cannot work for (from what ListUsers said).
    precheck: bool,
    /// set-password: give federated users a password too.
    include_federated: bool,
    /// `--generate-passwords`: where they go, and their length.
    generate: Option<(PasswordsOut, usize)>,
}

/// Runs of like outcomes, in the order users finish.
#[derive(Debug, Default)]
struct Streaks {
    /// The code the last users failed with, and how many in a row.
    failed_code: Option<String>,
    failed: u32,
    /// Users in a row deferred by LimitExceededException.
    deferred: u32,
}

/// What reading a user back says about a call whose answer was lost.
enum Reconciled {
    /// The call landed (or, for a reset, the user was already in its
    /// state): record succeeded with this detail, and the evidence.
    Landed(&'static str, String),
    /// The call did not land: call (again).
    NotLanded,
    /// Reading the user failed for this user (e.g. UserNotFoundException).
    Failed(CallError),
    /// The user could not be read; leave the intent for the next run.
    Unknown,
}

/// What reading a user gave.
enum Read {
    State(UserState),
    /// A per-user answer (e.g. UserNotFoundException).
    Failed(CallError),
    /// The user could not be read (retries ran out).
    Unknown(CallError),
}

/// How a user's processing ended.
enum Ending {
    Succeeded {
        request_id: Option<String>,
        detail: Option<&'static str>,
        /// How a read-back established it (for the record's message).
        evidence: Option<String>,
    },
    Failed(CallError),
    /// A limit that clears later stopped the user. `per_user`: it was the
    /// user's own limit, which says nothing about the rest of the run.
    Deferred {
        err: CallError,
        per_user: bool,
    },
    /// Not called: the call cannot work (`--precheck`) or must not be made
    /// (a federated user's password); the reason, and the record's detail.
    Skipped {
        reason: String,
        detail: &'static str,
    },
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

    /// Carries out one user's steps with retries and records each outcome:
    /// the action (unless `sign_out_only`), then, with `--sign-out`, the
    /// sign-out once the action succeeded.
    async fn process(
        self: Arc<Self>,
        row: UserRow,
        lost_answer: Option<LostAnswer>,
        sign_out_only: bool,
        _permit: OwnedSemaphorePermit,
    ) {
        if !sign_out_only {
            let Some((attempts, ending)) = self
                .decide(&row, lost_answer, &self.operation, &self.limiter)
                .await
            else {
                return;
            };
            let succeeded = matches!(ending, Ending::Succeeded { .. });
            if !self.finish(&row, None, attempts, ending).await || !succeeded {
                return;
            }
        }
        if let Some(limiter) = &self.sign_out {
            if let Some((attempts, ending)) =
                self.decide(&row, None, &Operation::SignOut, limiter).await
            {
                self.finish(&row, Some(Step::SignOut), attempts, ending)
                    .await;
            }
        }
    }

    /// Calls (and retries) until the user's ending is known. `lost_answer`
    /// is when an earlier call for this user was sent whose answer never
    /// came (a pending intent). `None` leaves the user unrecorded: the run
    /// stopped first, or a lost answer could not be read back.
    async fn decide(
        &self,
        row: &UserRow,
        lost_answer: Option<LostAnswer>,
        op: &Operation,
        limiter: &Limiter,
    ) -> Option<(Attempts, Ending)> {
        let mut generated = None;
        let mut unknown = false;
        let result = self
            .decide_inner(row, lost_answer, op, limiter, &mut generated, &mut unknown)
            .await;
        // A generated password's line says whether Cognito has it.
        if let (Some(password), Some((out, _))) = (&generated, &self.generate) {
            let applied = match &result {
                Some((_, Ending::Succeeded { .. })) => passwords::Applied::Yes,
                _ if unknown => passwords::Applied::Unknown(
                    "a call's answer was lost; the next run sets a new password".into(),
                ),
                Some((_, Ending::Failed(e) | Ending::Deferred { err: e, .. })) => {
                    passwords::Applied::No(e.code.clone())
                }
                Some((_, Ending::Skipped { detail, .. })) => {
                    passwords::Applied::No((*detail).to_string())
                }
                None => passwords::Applied::No("the run stopped before the call".into()),
            };
            if let Err(message) = out.mark(target(row), password, &applied).await {
                self.stop_run(StopReason::Ledger { message });
            }
        }
        result
    }

    /// [`Worker::decide`], noting the password it generated and whether a
    /// call's answer was lost.
    async fn decide_inner(
        &self,
        row: &UserRow,
        mut lost_answer: Option<LostAnswer>,
        op: &Operation,
        limiter: &Limiter,
        generated: &mut Option<crate::secret::Password>,
        unknown: &mut bool,
    ) -> Option<(Attempts, Ending)> {
        // Only a reset sends a message, so only a reset's lost answer is read
        // back before calling again. Set-password and sign-out are safe to
        // repeat (a status cannot tell whether a password changed anyway);
        // their lost answers are retried. Intents are kept for both
        // password operations.
        let read_back = op.sends_message();
        let keep_intent = op.target_status().is_some();
        // A set-password whose answer was lost may have landed: if the retry
        // is refused as a repeat of a recent password, it did.
        let mut maybe_landed = lost_answer.is_some() && !read_back;
        if !read_back {
            lost_answer = None;
        }
        let mut attempts = Attempts::default();
        let mut intent_written = false;
        let mut gave_up: Option<CallError> = None;
        let ending = loop {
            // A lost answer is read back before anything else, including
            // recording a failure that may not be one.
            if let Some(lost) = lost_answer.take() {
                match self.reconcile(target(row), &lost, op).await? {
                    Reconciled::Landed(detail, evidence) => {
                        break Ending::Succeeded {
                            request_id: None,
                            detail: Some(detail),
                            evidence: Some(evidence),
                        }
                    }
                    Reconciled::NotLanded => {}
                    Reconciled::Failed(err) => break Ending::Failed(err),
                    Reconciled::Unknown => {
                        self.counters.unresolved.fetch_add(1, Relaxed);
                        return None;
                    }
                }
            }
            if let Some(err) = gave_up.take() {
                if err.class == ErrorClass::Unreachable {
                    // Nothing was sent: the user is not failed, and its
                    // intent is closed as deferred; the run stops.
                    self.stop_run(StopReason::Unreachable {
                        endpoint: self.endpoint.clone(),
                        code: err.code.clone(),
                        message: err.message.clone(),
                    });
                    break Ending::Deferred {
                        err,
                        per_user: true,
                    };
                }
                break if err.code == "LimitExceededException" {
                    Ending::Deferred {
                        err,
                        per_user: false,
                    }
                } else {
                    Ending::Failed(err)
                };
            }
            if !intent_written {
                if let Some(skip) = self.skip(row, op) {
                    break skip;
                }
            }
            if let (Some((out, len)), Operation::SetPassword { .. }, false) =
                (&self.generate, op, intent_written)
            {
                let password = passwords::generate(*len);
                if let Err(message) = out.record(target(row), &password).await {
                    self.stop_run(StopReason::Ledger { message });
                    return None;
                }
                *generated = Some(password);
            }
            if keep_intent && !intent_written {
                let intent = Entry::Intent(IntentRecord {
                    username: row.username.clone(),
                    user: canonical(row),
                    line: Some(row.line),
                    at: ledger::now(),
                    before: before(row),
                });
                if let Err(e) = self.writer.append(intent).await {
                    self.stop_run(StopReason::Ledger {
                        message: e.to_string(),
                    });
                    return None;
                }
                intent_written = true;
            }
            let ticket = self.until_stopped(limiter.acquire()).await?;
            let sent = SystemTime::now();
            attempts.calls += 1;
            self.counters.calls.fetch_add(1, Relaxed);
            let err = match self
                .cognito
                .apply(
                    op,
                    target(row),
                    generated.as_ref().or(row.password.as_ref()),
                )
                .await
            {
                Ok(ok) => {
                    limiter.answered(ticket, false);
                    break Ending::Succeeded {
                        request_id: ok.request_id,
                        detail: None,
                        evidence: None,
                    };
                }
                Err(err) => err,
            };
            match err.class {
                ErrorClass::Throttled => limiter.answered(ticket, true),
                ErrorClass::Transient => {}
                _ => limiter.answered(ticket, false),
            }
            if err.outcome_unknown {
                *unknown = true;
                if read_back {
                    lost_answer = Some(LostAnswer {
                        sent,
                        before: before(row),
                    });
                } else {
                    maybe_landed = true;
                }
            }
            if maybe_landed && err.code == "PasswordHistoryPolicyViolationException" {
                break Ending::Succeeded {
                    request_id: err.request_id,
                    detail: Some("reconciled"),
                    evidence: Some(
                        "a retry after a lost answer was refused as a repeat of a recent password"
                            .into(),
                    ),
                };
            }
            let kind = match err.class {
                ErrorClass::Throttled => {
                    self.counters.throttled.fetch_add(1, Relaxed);
                    RetryKind::Throttled
                }
                ErrorClass::Transient | ErrorClass::Unreachable => RetryKind::Transient,
                ErrorClass::UserFailed => break Ending::Failed(err),
                ErrorClass::UserLimited => {
                    debug!(user = %row.username, "the user's own attempt limit; deferred");
                    break Ending::Deferred {
                        err,
                        per_user: true,
                    };
                }
                ErrorClass::Pause => {
                    self.stop_run(StopReason::DailyEmailLimit {
                        message: err.message.clone(),
                    });
                    break Ending::Deferred {
                        err,
                        per_user: false,
                    };
                }
                ErrorClass::StopRun => {
                    self.stop_run(StopReason::Service {
                        code: err.code,
                        message: err.message,
                    });
                    return None;
                }
            };
            match self.retry.next(kind, &mut attempts) {
                Next::RetryAfter(delay) => {
                    self.counters.retries.fetch_add(1, Relaxed);
                    debug!(user = %row.username, code = %err.code, attempt = attempts.calls, ?delay, "retrying");
                    self.until_stopped(tokio::time::sleep(delay)).await?;
                }
                Next::GiveUp => gave_up = Some(err),
            }
        };
        Some((attempts, ending))
    }

    /// Reads the user back to learn whether a call whose answer was lost
    /// landed. `None` if the run stopped meanwhile.
    ///
    /// The evidence, strongest first: the user's status before the call,
    /// from the pool's listing (recorded in the intent). In the call's
    /// target status now and not before: it landed. Already in it before:
    /// for a reset, the tool cannot tell whether a code went out and does
    /// not call again (`already_reset_required`). Without that status (rows
    /// not resolved), the user's last change is compared with when the call
    /// was sent, allowing [`CLOCK_SKEW`] between the clocks.
    async fn reconcile(
        &self,
        username: &str,
        lost: &LostAnswer,
        op: &Operation,
    ) -> Option<Reconciled> {
        let state = match self.read_user(username).await? {
            Read::State(state) => state,
            Read::Failed(err) => return Some(Reconciled::Failed(err)),
            Read::Unknown(err) => {
                warn!(user = %username, code = %err.code, "could not read the user back; the next run will");
                return Some(Reconciled::Unknown);
            }
        };
        let Some(target) = op.target_status() else {
            return Some(Reconciled::NotLanded);
        };
        if state.status != target {
            return Some(Reconciled::NotLanded);
        }
        let landed = |evidence: String| {
            debug!(user = %username, %evidence, "the lost call landed");
            Some(Reconciled::Landed("reconciled", evidence))
        };
        let already = |evidence: String| {
            warn!(user = %username, "already {target} before the lost call; not calling again");
            Some(Reconciled::Landed("already_reset_required", evidence))
        };
        match lost.before.as_deref() {
            Some(before) if before == target && op.sends_message() => already(format!(
                "{target} before the call (the pool's listing) and after it (AdminGetUser)"
            )),
            Some(before) if before == target => Some(Reconciled::NotLanded),
            Some(before) => landed(format!(
                "{before} before the call (the pool's listing), {target} after it (AdminGetUser)"
            )),
            None => {
                let changed_since_sent = state
                    .last_modified
                    .is_none_or(|m| m + CLOCK_SKEW >= lost.sent);
                let when = state
                    .last_modified
                    .map_or("unknown".to_string(), ledger::timestamp);
                if changed_since_sent {
                    landed(format!(
                        "{target} after the call, last changed {when}, within {}s of sending it at {}",
                        CLOCK_SKEW.as_secs(),
                        ledger::timestamp(lost.sent)
                    ))
                } else if op.sends_message() {
                    already(format!(
                        "{target}, last changed {when}, before the call was sent at {}",
                        ledger::timestamp(lost.sent)
                    ))
                } else {
                    Some(Reconciled::NotLanded)
                }
            }
        }
    }

    /// AdminGetUser on the read limiter, with retries. `None` if the run
    /// stopped meanwhile.
    async fn read_user(&self, username: &str) -> Option<Read> {
        let mut tries = Attempts::default();
        loop {
            let ticket = self.until_stopped(self.read_limiter.acquire()).await?;
            self.counters.reads.fetch_add(1, Relaxed);
            tries.calls += 1;
            let err = match self.cognito.user_state(username).await {
                Ok(state) => {
                    self.read_limiter.answered(ticket, false);
                    return Some(Read::State(state));
                }
                Err(err) => err,
            };
            match err.class {
                ErrorClass::Throttled => self.read_limiter.answered(ticket, true),
                ErrorClass::Transient => {}
                _ => self.read_limiter.answered(ticket, false),
            }
            let kind = match err.class {
                ErrorClass::UserFailed => return Some(Read::Failed(err)),
                ErrorClass::StopRun => {
                    self.stop_run(StopReason::Service {
                        code: err.code,
                        message: err.message,
                    });
                    return None;
                }
                ErrorClass::Throttled => RetryKind::Throttled,
                ErrorClass::Transient
                | ErrorClass::Pause
                | ErrorClass::UserLimited
                | ErrorClass::Unreachable => RetryKind::Transient,
            };
            let next = if tries.calls >= RECONCILE_READS {
                Next::GiveUp
            } else {
                self.retry.next(kind, &mut tries)
            };
            match next {
                Next::RetryAfter(delay) => {
                    self.until_stopped(tokio::time::sleep(delay)).await?;
                }
                Next::GiveUp if err.class == ErrorClass::Unreachable => {
                    self.stop_run(StopReason::Unreachable {
                        endpoint: self.endpoint.clone(),
                        code: err.code,
                        message: err.message,
                    });
                    return None;
                }
                Next::GiveUp => return Some(Read::Unknown(err)),
            }
        }
    }

    /// Records a user's ending for `step` and updates the breaker and pause
    /// streaks. Returns whether the record is durable.
    async fn finish(
        &self,
        row: &UserRow,
        step: Option<Step>,
        attempts: Attempts,
        ending: Ending,
    ) -> bool {
        let mut record = UserRecord {
            username: row.username.clone(),
            user: canonical(row),
            outcome: Outcome::Succeeded,
            step,
            line: Some(row.line),
            code: None,
            message: None,
            detail: None,
            attempts: attempts.calls,
            throttled: attempts.throttled,
            request_id: None,
            at: ledger::now(),
        };
        let mut streak = true;
        let (outcome, err) = match ending {
            Ending::Succeeded {
                request_id,
                detail,
                evidence,
            } => {
                record.request_id = request_id;
                record.detail = detail.map(str::to_string);
                record.message = evidence;
                (Outcome::Succeeded, None)
            }
            Ending::Failed(err) => (Outcome::Failed, Some(err)),
            Ending::Deferred { err, per_user } => {
                streak = !per_user;
                (Outcome::Deferred, Some(err))
            }
            Ending::Skipped { reason, detail } => {
                record.message = Some(reason);
                record.detail = Some(detail.into());
                (Outcome::Skipped, None)
            }
        };
        record.outcome = outcome;
        if let Some(err) = err {
            debug!(user = %record.username, code = %err.code, outcome = ?outcome, "user not done");
            record.code = Some(err.code);
            record.message = Some(err.message);
            record.request_id = err.request_id;
        }
        let code = record.code.clone();
        if let Err(e) = self.writer.record(record).await {
            self.stop_run(StopReason::Ledger {
                message: e.to_string(),
            });
            return false;
        }
        if streak {
            self.note_streaks(outcome, code);
        }
        true
    }

    /// Whether `op` must not be called for this user, and why: with
    /// `--precheck`, a reset that cannot work (disabled, federated, no
    /// password yet, nothing verified to send a code to); without
    /// `--include-federated`, a password for a federated user, which would
    /// turn them into a password user (AdminSetUserPassword, API
    /// reference). Both from what ListUsers said of the user; no reads.
    fn skip(&self, row: &UserRow, op: &Operation) -> Option<Ending> {
        let facts = row.identity.facts()?;
        match op {
            Operation::Reset { .. } if self.precheck => {
                facts.reset_blocker().map(|reason| Ending::Skipped {
                    reason: reason.to_string(),
                    detail: "precheck",
                })
            }
            Operation::SetPassword { .. } if !self.include_federated && facts.federated() => {
                Some(Ending::Skipped {
                    reason: "the user signs in through an external identity provider (EXTERNAL_PROVIDER); a password would make them a password user; --include-federated sets one anyway".into(),
                    detail: "federated",
                })
            }
            _ => None,
        }
    }

    /// Trips the breaker or pauses the run on long runs of like outcomes.
    fn note_streaks(&self, outcome: Outcome, code: Option<String>) {
        let mut s = self.streaks.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Outcome::Succeeded => *s = Streaks::default(),
            Outcome::Invalid | Outcome::Skipped => {}
            Outcome::Failed => {
                s.deferred = 0;
                if s.failed_code == code {
                    s.failed += 1;
                } else {
                    s.failed_code = code;
                    s.failed = 1;
                }
                if self.stop_after_failures > 0 && s.failed >= self.stop_after_failures {
                    let reason = StopReason::Breaker {
                        code: s.failed_code.clone().unwrap_or_default(),
                        count: s.failed,
                    };
                    drop(s);
                    self.stop_run(reason);
                }
            }
            Outcome::Deferred => {
                s.deferred += 1;
                if s.deferred >= LIMIT_EXCEEDED_PAUSE_STREAK {
                    let count = s.deferred;
                    drop(s);
                    self.stop_run(StopReason::LimitPersists { count });
                }
            }
        }
    }
}

/// Locks `m`, whatever a panicking holder left.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The name to send Cognito for a row: the canonical username when the
/// row was resolved, else the row's own value.
fn target(row: &UserRow) -> &str {
    row.identity.username().unwrap_or(&row.username)
}

/// The user's status before the call, from the pool's listing, for a
/// read-back to compare with.
fn before(row: &UserRow) -> Option<String> {
    row.identity.facts().map(|f| f.status().to_string())
}

/// The canonical username to record beside the row's value, when it is
/// another name.
fn canonical(row: &UserRow) -> Option<String> {
    row.identity
        .username()
        .filter(|u| *u != row.username)
        .map(str::to_string)
}
