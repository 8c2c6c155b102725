//! Counting and telling: the live counters of a run, the end-of-run
//! [`Summary`] (and the exit code it implies), and the `status` command.
//!
//! Policy: the outcome counters move only in the ledger writer's durable
//! callback ([`Counters::on_durable`]), so no user is ever reported done
//! before its record is on disk. A failed user is data here, not an error:
//! the exit code is decided from the summary once the run is over.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::error::{ExitCode, UsageError};
use crate::ledger::{self, Entry, Outcome};

/// Rows shown by example in a plan or summary, at most.
pub const SHOWN: usize = 5;

/// Live counts of a run, shared by the pipeline, the ledger writer and the
/// progress display.
#[derive(Debug, Default)]
pub struct Counters {
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
    pub invalid: AtomicU64,
    /// Users the ledger already had a final outcome for.
    pub skipped_done: AtomicU64,
    /// Of those, how many had failed (or rows already recorded invalid).
    pub skipped_unsuccessful: AtomicU64,
    /// Repeated usernames in the input, processed once.
    pub duplicates: AtomicU64,
    /// Calls sent, retries included.
    pub calls: AtomicU64,
    pub throttled: AtomicU64,
    pub retries: AtomicU64,
    /// Users recorded `deferred` (a limit that may clear later).
    pub deferred: AtomicU64,
    /// Successes established by reading the user back after a lost answer.
    pub reconciled: AtomicU64,
    /// AdminGetUser reads made to reconcile.
    pub reads: AtomicU64,
    /// Users `--precheck` skipped.
    pub skipped_precheck: AtomicU64,
    /// Federated users set-password skipped.
    pub skipped_federated: AtomicU64,
    /// Rows not called because whom they name could not be told.
    pub ambiguous: AtomicU64,
    /// Sign-out steps (`--sign-out`) that succeeded and failed.
    pub signed_out: AtomicU64,
    pub sign_out_failed: AtomicU64,
    /// Users whose call's result stayed unknown (reconciling failed); the
    /// next run reconciles them before any call.
    pub unresolved: AtomicU64,
    failed_codes: Mutex<BTreeMap<String, u64>>,
    /// The first rows that named a person an earlier row named: (line,
    /// the earlier line).
    same_person: Mutex<Vec<(u64, u64)>>,
    /// The first rows left unresolved: (line, why).
    ambiguous_rows: Mutex<Vec<(u64, String)>>,
}

impl Counters {
    /// Counts an entry that has just become durable.
    pub fn on_durable(&self, entry: &Entry) {
        let Entry::User(record) = entry else {
            return;
        };
        if record.step.is_some() {
            match record.outcome {
                Outcome::Succeeded => self.signed_out.fetch_add(1, Relaxed),
                _ => self.sign_out_failed.fetch_add(1, Relaxed),
            };
            return;
        }
        match record.outcome {
            Outcome::Succeeded => {
                self.succeeded.fetch_add(1, Relaxed);
                if record.detail.is_some() {
                    self.reconciled.fetch_add(1, Relaxed);
                }
            }
            Outcome::Deferred => {
                self.deferred.fetch_add(1, Relaxed);
            }
            Outcome::Skipped => {
                if record.detail.as_deref() == Some("federated") {
                    self.skipped_federated.fetch_add(1, Relaxed);
                } else {
                    self.skipped_precheck.fetch_add(1, Relaxed);
                }
            }
            Outcome::Invalid => {
                self.invalid.fetch_add(1, Relaxed);
            }
            Outcome::Failed => {
                self.failed.fetch_add(1, Relaxed);
                let code = record.code.clone().unwrap_or_else(|| "Unknown".into());
                *self
                    .failed_codes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(code)
                    .or_default() += 1;
            }
        }
    }

    /// Rows dealt with so far: recorded, skipped or duplicate.
    pub fn processed(&self) -> u64 {
        self.succeeded.load(Relaxed)
            + self.failed.load(Relaxed)
            + self.invalid.load(Relaxed)
            + self.skipped_done.load(Relaxed)
            + self.duplicates.load(Relaxed)
            + self.deferred.load(Relaxed)
            + self.skipped_precheck.load(Relaxed)
            + self.skipped_federated.load(Relaxed)
            + self.ambiguous.load(Relaxed)
    }

    /// Counts a row whom the pool's rules could not tell, and why.
    pub fn ambiguous_row(&self, line: u64, why: String) {
        self.ambiguous.fetch_add(1, Relaxed);
        let mut shown = self
            .ambiguous_rows
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if shown.len() < SHOWN {
            shown.push((line, why));
        }
    }

    /// Counts a row naming the person line `first` named.
    pub fn same_person(&self, line: u64, first: u64) {
        self.duplicates.fetch_add(1, Relaxed);
        let mut shown = self.same_person.lock().unwrap_or_else(|e| e.into_inner());
        if shown.len() < SHOWN {
            shown.push((line, first));
        }
    }

    pub fn failed_codes(&self) -> BTreeMap<String, u64> {
        self.failed_codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Why a run stopped before the end of its input.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopReason {
    /// Cognito answered with an error that every user would get.
    Service { code: String, message: String },
    /// The last `count` users all failed with the same code.
    Breaker { code: String, count: u32 },
    /// The ledger could not be written; nothing more may be counted done.
    Ledger { message: String },
    /// The input could not be read to the end.
    Input { message: String },
    /// Cognito's daily email limit is exhausted.
    DailyEmailLimit { message: String },
    /// LimitExceededException outlasted the attempts of `count` users in a row.
    LimitPersists { count: u32 },
    /// Calls could not leave this machine: the endpoint is unreachable, or
    /// a local limit stopped them.
    Unreachable {
        endpoint: String,
        code: String,
        message: String,
    },
}

impl StopReason {
    /// Pauses (limits that clear later) exit 75; the rest exit 3.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            StopReason::DailyEmailLimit { .. } | StopReason::LimitPersists { .. } => {
                ExitCode::Paused
            }
            _ => ExitCode::Stopped,
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Service { code, message } => {
                write!(f, "Cognito answered {code}: {message}")?;
                let hint = match code.as_str() {
                    "ResourceNotFoundException" => "check --user-pool-id and the region",
                    "AccessDeniedException" | "UnrecognizedClientException" | "InvalidClientTokenId"
                    | "InvalidSignatureException" | "SignatureDoesNotMatch" => {
                        "check the credentials and their IAM permissions (see README, IAM permissions)"
                    }
                    "ExpiredTokenException" => "refresh the credentials (e.g. aws sso login)",
                    "OperationNotEnabledException" => "enable the operation on the pool, or use --action set-password",
                    _ => "fix the pool's configuration (its email or SMS settings and roles)",
                };
                write!(f, "; {hint}")
            }
            StopReason::Breaker { code, count } => write!(
                f,
                "the last {count} users all failed with {code}, so every user likely would; check the pool, its Lambda triggers and the input, then re-run with --retry-failed to redo them (--stop-after-failures sets this limit)"
            ),
            StopReason::Ledger { message } => write!(f, "{message}; free space or fix permissions, then re-run"),
            StopReason::Input { message } => write!(f, "could not read the input: {message}"),
            StopReason::DailyEmailLimit { message } => write!(
                f,
                "Cognito's daily email limit is exhausted ({message}); the default Cognito sender allows 50 emails a day per account: configure the pool to send through your own Amazon SES identity, or re-run this command tomorrow"
            ),
            StopReason::Unreachable { endpoint, code, message } => write!(
                f,
                "could not reach Cognito at {endpoint} ({code}: {message}); the call was never sent. Check the endpoint (--endpoint-url, AWS_ENDPOINT_URL), the network, DNS and any proxy{}, then run the same command again",
                if code == "TooManyOpenFiles" {
                    ", and raise the open-file limit (ulimit -n) or lower --concurrency"
                } else {
                    ""
                }
            ),
            StopReason::LimitPersists { count } => write!(
                f,
                "LimitExceededException outlasted every attempt for {count} users in a row; a Cognito limit is exhausted for now: wait, then re-run this command"
            ),
        }
    }
}

/// How a run resolved its rows to people.
#[derive(Debug, Clone, Serialize)]
pub struct ResolutionSummary {
    pub strategy: crate::resolve::Strategy,
    /// ListUsers calls made to resolve (they bill no one).
    pub list_calls: u64,
    /// Bytes the pool index held (0 without one).
    pub index_bytes: u64,
}

/// The end of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub pool_id: String,
    pub action: String,
    pub ledger: PathBuf,
    pub succeeded: u64,
    pub failed: u64,
    pub failed_by_code: BTreeMap<String, u64>,
    pub invalid: u64,
    pub skipped_done: u64,
    pub skipped_unsuccessful: u64,
    pub duplicates: u64,
    /// The first duplicate rows: (line, the earlier line naming the same
    /// person).
    pub same_person: Vec<(u64, u64)>,
    pub deferred: u64,
    /// Rows not called because whom they name could not be told (the
    /// pool's rules could not be read); a re-run resolves them again.
    pub ambiguous: u64,
    /// The first of them: (line, why).
    pub ambiguous_rows: Vec<(u64, String)>,
    pub reconciled: u64,
    pub unresolved: u64,
    pub signed_out: u64,
    pub sign_out_failed: u64,
    pub skipped_precheck: u64,
    pub skipped_federated: u64,
    pub calls: u64,
    pub throttled: u64,
    pub retries: u64,
    pub reads: u64,
    /// The main call's rate: configured, and where adaptation took it.
    pub rate: Option<crate::limiter::RateState>,
    pub resolution: Option<ResolutionSummary>,
    pub elapsed_secs: f64,
    pub interrupted: bool,
    pub stopped: Option<StopReason>,
}

impl Summary {
    pub fn from_counters(c: &Counters, elapsed: Duration) -> Summary {
        Summary {
            pool_id: String::new(),
            action: String::new(),
            ledger: PathBuf::new(),
            succeeded: c.succeeded.load(Relaxed),
            failed: c.failed.load(Relaxed),
            failed_by_code: c.failed_codes(),
            invalid: c.invalid.load(Relaxed),
            skipped_done: c.skipped_done.load(Relaxed),
            skipped_unsuccessful: c.skipped_unsuccessful.load(Relaxed),
            duplicates: c.duplicates.load(Relaxed),
            same_person: c
                .same_person
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            deferred: c.deferred.load(Relaxed),
            ambiguous: c.ambiguous.load(Relaxed),
            ambiguous_rows: c
                .ambiguous_rows
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            reconciled: c.reconciled.load(Relaxed),
            unresolved: c.unresolved.load(Relaxed),
            signed_out: c.signed_out.load(Relaxed),
            sign_out_failed: c.sign_out_failed.load(Relaxed),
            skipped_precheck: c.skipped_precheck.load(Relaxed),
            skipped_federated: c.skipped_federated.load(Relaxed),
            reads: c.reads.load(Relaxed),
            calls: c.calls.load(Relaxed),
            throttled: c.throttled.load(Relaxed),
            retries: c.retries.load(Relaxed),
            rate: None,
            resolution: None,
            elapsed_secs: elapsed.as_secs_f64(),
            interrupted: false,
            stopped: None,
        }
    }

    /// The exit code this run ends with (see README, Exit codes).
    pub fn exit_code(&self) -> ExitCode {
        if self.interrupted {
            ExitCode::Interrupted
        } else if let Some(reason) = &self.stopped {
            reason.exit_code()
        } else if self.deferred + self.unresolved + self.ambiguous > 0 {
            ExitCode::Paused
        } else if self.failed
            + self.invalid
            + self.skipped_unsuccessful
            + self.sign_out_failed
            + self.skipped_precheck
            + self.skipped_federated
            > 0
        {
            ExitCode::SomeFailed
        } else {
            ExitCode::Success
        }
    }

    /// Users recorded by this run per second of run time.
    pub fn users_per_sec(&self) -> f64 {
        per_sec(self.succeeded + self.failed, self.elapsed_secs)
    }

    /// The summary for a person.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let head = match (&self.stopped, self.interrupted) {
            (_, true) => "interrupted",
            (Some(r), _) if r.exit_code() == ExitCode::Paused => "PAUSED",
            (Some(_), _) => "STOPPED",
            (None, _) => "finished",
        };
        let _ = writeln!(
            s,
            "{} {} on {}: {head}",
            env!("CARGO_PKG_NAME"),
            self.action,
            self.pool_id
        );
        let _ = write!(s, "  succeeded            {}", self.succeeded);
        if self.reconciled > 0 {
            let _ = write!(
                s,
                " ({} confirmed by reading the user back after a lost answer)",
                self.reconciled
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "  failed               {}", self.failed);
        for (code, n) in &self.failed_by_code {
            let _ = writeln!(s, "    {code:<30} {n}");
        }
        if self.skipped_precheck > 0 {
            let _ = writeln!(
                s,
                "  skipped by precheck  {} (cannot be reset; reasons in the ledger)",
                self.skipped_precheck
            );
        }
        if self.signed_out + self.sign_out_failed > 0 {
            let _ = writeln!(
                s,
                "  signed out           {} ({} sign-outs failed)",
                self.signed_out, self.sign_out_failed
            );
        }
        let _ = writeln!(s, "  invalid rows         {}", self.invalid);
        let _ = write!(s, "  skipped, done before {}", self.skipped_done);
        if self.skipped_unsuccessful > 0 {
            let _ = write!(s, " ({} of them not succeeded)", self.skipped_unsuccessful);
        }
        let _ = writeln!(s);
        render_duplicates(&mut s, self.duplicates, &self.same_person);
        if self.skipped_federated > 0 {
            let _ = writeln!(
                s,
                "  skipped, federated   {} (EXTERNAL_PROVIDER users get no password; --include-federated)",
                self.skipped_federated
            );
        }
        if self.deferred > 0 {
            let _ = writeln!(
                s,
                "  deferred             {} (a limit that clears later; a re-run does them)",
                self.deferred
            );
        }
        if self.ambiguous > 0 {
            let _ = writeln!(
                s,
                "  unresolved rows      {} (not called: whom they name could not be told; a re-run that can read the pool's settings does them)",
                self.ambiguous
            );
            for (line, why) in &self.ambiguous_rows {
                let _ = writeln!(s, "    line {line}: {why}");
            }
        }
        if self.unresolved > 0 {
            let _ = writeln!(
                s,
                "  result unknown       {} (the next run reads them back before any call)",
                self.unresolved
            );
        }
        let _ = writeln!(
            s,
            "  calls                {} ({} retries, {} throttled; {} AdminGetUser reads)",
            self.calls, self.retries, self.throttled, self.reads
        );
        if let Some(r) = self.resolution.as_ref().filter(|r| r.list_calls > 0) {
            let _ = writeln!(
                s,
                "  resolving users      {} ListUsers calls ({}; they bill no one)",
                r.list_calls,
                match r.strategy {
                    crate::resolve::Strategy::Index => "an index of the pool",
                    crate::resolve::Strategy::Lookup => "a lookup per row",
                    _ => "the pool's listing",
                }
            );
        }
        if let Some(rate) = &self.rate {
            let _ = write!(s, "  rate                 {}/s configured", rate.max);
            if rate.adaptive {
                let _ = write!(
                    s,
                    "; adaptive: {} cuts, lowest {:.1}/s, ended at {:.1}/s",
                    rate.cuts, rate.lowest, rate.current
                );
            } else {
                let _ = write!(s, " (fixed, --no-adaptive)");
            }
            let _ = writeln!(
                s,
                "; {:.1}% of calls throttled",
                100.0 * self.throttled as f64 / self.calls.max(1) as f64
            );
        }
        let _ = writeln!(
            s,
            "  elapsed              {:.1} s, {:.1} users/s, {:.1} calls/s",
            self.elapsed_secs,
            self.users_per_sec(),
            per_sec(self.calls, self.elapsed_secs)
        );
        let _ = writeln!(s, "  ledger               {}", self.ledger.display());
        if let Some(reason) = &self.stopped {
            let _ = writeln!(s, "stopped: {reason}");
        }
        if self.interrupted || self.stopped.is_some() {
            let _ = writeln!(
                s,
                "to finish the job, run the same command again: it resumes from the ledger"
            );
        }
        s
    }
}

/// The duplicate rows' line of a plan or summary: how many, and the first
/// of them with the earlier line naming the same person.
pub fn render_duplicates(s: &mut String, n: u64, shown: &[(u64, u64)]) {
    let _ = write!(s, "  duplicate rows       {n}");
    if n > 0 {
        let _ = write!(
            s,
            " (each names a person an earlier row names; called once)"
        );
    }
    let _ = writeln!(s);
    for (line, first) in shown {
        let _ = writeln!(s, "    line {line}: same person as line {first}");
    }
    if n > shown.len() as u64 {
        let _ = writeln!(s, "    ...");
    }
}

fn per_sec(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

/// What `status --json` prints.
#[derive(Debug, Serialize)]
pub struct Status {
    pub ledger: PathBuf,
    pub pool_id: String,
    pub action: String,
    pub region: String,
    pub input: String,
    pub started_at: String,
    pub runs: u32,
    pub succeeded: u64,
    pub failed: u64,
    pub failed_by_code: BTreeMap<String, u64>,
    pub invalid: u64,
    pub deferred: u64,
    pub skipped: u64,
    /// Calls whose result is unknown; the next run reads them back first.
    pub pending: u64,
    /// Rows of the latest run's input not yet recorded (at most; duplicate
    /// rows are never recorded), when the input was a file.
    pub remaining: Option<u64>,
    /// `remaining` at the latest run's rate, seconds.
    pub time_left_secs: Option<f64>,
    pub torn_tail_bytes: u64,
}

/// Reads a ledger for the `status` command.
pub fn status(path: &Path) -> Result<Status, UsageError> {
    let replay = ledger::replay_path(path)?.ok_or_else(|| UsageError::LedgerRead {
        path: path.to_owned(),
        reason: "no such file".into(),
    })?;
    replay.check_ledger(path)?;
    let header = replay
        .header
        .clone()
        .ok_or_else(|| UsageError::LedgerRead {
            path: path.to_owned(),
            reason: "it has no header line; is it a cognito-bulk-reset ledger?".into(),
        })?;
    let counts = replay.counts();
    let last = replay.last_header.clone().unwrap_or_else(|| header.clone());
    let recorded = counts.succeeded + counts.failed_total() + counts.invalid;
    let remaining = last.input_rows.map(|rows| rows.saturating_sub(recorded));
    let time_left_secs = match (remaining, last.rate) {
        (Some(n), Some(rate)) if rate > 0.0 => Some(n as f64 / rate),
        _ => None,
    };
    Ok(Status {
        ledger: path.to_owned(),
        pool_id: header.pool_id,
        action: header.action.as_str().to_string(),
        region: header.region,
        input: header.input,
        started_at: header.started_at,
        runs: replay.runs,
        succeeded: counts.succeeded,
        failed: counts.failed_total(),
        failed_by_code: counts.failed.clone(),
        invalid: counts.invalid,
        deferred: counts.deferred,
        skipped: counts.skipped,
        pending: counts.pending,
        remaining,
        time_left_secs,
        torn_tail_bytes: replay.torn_bytes,
    })
}

impl Status {
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "ledger     {}", self.ledger.display());
        let _ = writeln!(s, "pool       {} ({})", self.pool_id, self.region);
        let _ = writeln!(s, "action     {}", self.action);
        let _ = writeln!(s, "input      {}", self.input);
        let _ = writeln!(s, "started    {} ({} run(s))", self.started_at, self.runs);
        let _ = writeln!(s, "succeeded  {}", self.succeeded);
        let _ = writeln!(s, "failed     {}", self.failed);
        for (code, n) in &self.failed_by_code {
            let _ = writeln!(s, "  {code:<30} {n}");
        }
        let _ = writeln!(s, "invalid    {}", self.invalid);
        if self.skipped > 0 {
            let _ = writeln!(s, "skipped    {} (by --precheck)", self.skipped);
        }
        if self.deferred > 0 {
            let _ = writeln!(s, "deferred   {} (a re-run does them)", self.deferred);
        }
        if self.pending > 0 {
            let _ = writeln!(
                s,
                "unknown    {} (a call's result was lost; the next run reads them back first)",
                self.pending
            );
        }
        if let (Some(n), Some(secs)) = (self.remaining.filter(|n| *n > 0), self.time_left_secs) {
            let _ = writeln!(
                s,
                "remaining  up to {n} rows of the input, about {} at the last run's rate",
                humantime::format_duration(Duration::from_secs(secs.ceil() as u64))
            );
        }
        if self.torn_tail_bytes > 0 {
            let _ = writeln!(
                s,
                "note       the last line is torn ({} bytes, a crash mid-write); the next run repairs it",
                self.torn_tail_bytes
            );
        }
        s
    }
}

/// Formats of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

/// One user's row in an export: the final outcome and how it came about.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportRow {
    /// The input's value.
    pub username: String,
    /// The canonical username it names, when it is another name (an alias,
    /// another case, the sub).
    pub user: Option<String>,
    pub line: Option<u64>,
    /// `succeeded`, `failed`, `invalid`, `deferred`, or `unknown` (a call
    /// whose answer was lost and not yet read back).
    pub outcome: String,
    pub code: Option<String>,
    pub message: Option<String>,
    pub detail: Option<String>,
    /// Records about this user (intents and outcomes, across runs).
    pub steps: u32,
    /// Calls made for the user, across runs.
    pub attempts: u32,
    pub throttled: u32,
    /// Request ids of the user's outcome records, in order, `;`-separated.
    pub request_ids: String,
    /// When the user's first intent or record was written.
    pub first_at: String,
    /// When the final outcome was recorded.
    pub at: String,
}

/// Writes one row per user of the ledger at `path` to `out`, in the order
/// users first appear.
pub fn export(
    path: &Path,
    format: ExportFormat,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<u64> {
    use std::collections::HashMap;
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| UsageError::LedgerRead {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let mut rows: Vec<ExportRow> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut job: Option<(String, ledger::Action)> = None;
    let mut reader = std::io::BufReader::new(file);
    let mut buf = Vec::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        n += 1;
        if buf.last() != Some(&b'\n') {
            break; // a torn last line (a crash mid-write) is no record
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry: Entry = serde_json::from_slice(&buf).map_err(|e| UsageError::LedgerCorrupt {
            path: path.to_owned(),
            line: n,
            reason: e.to_string(),
        })?;
        let (key, username, line_no, at) = match &entry {
            Entry::Header(h) => {
                match &job {
                    None => job = Some((h.pool_id.clone(), h.action)),
                    Some((pool, action)) if *pool != h.pool_id || *action != h.action => {
                        return Err(UsageError::LedgerCorrupt {
                            path: path.to_owned(),
                            line: n,
                            reason: format!(
                                "it is the header of another job (pool {}, action {}) than the ledger's first; a ledger holds one job",
                                h.pool_id,
                                h.action.as_str()
                            ),
                        }
                        .into())
                    }
                    Some(_) => {}
                }
                continue;
            }
            Entry::Intent(i) => (
                i.user.clone().unwrap_or_else(|| i.username.clone()),
                i.username.clone(),
                i.line,
                i.at.clone(),
            ),
            Entry::User(u) if u.outcome == Outcome::Invalid => (
                format!("\0invalid:{}", u.line.unwrap_or(0)),
                u.username.clone(),
                u.line,
                u.at.clone(),
            ),
            Entry::User(u) => (
                u.key_name().to_string(),
                u.username.clone(),
                u.line,
                u.at.clone(),
            ),
        };
        let i = *index.entry(key).or_insert_with(|| {
            rows.push(ExportRow {
                username,
                line: line_no,
                outcome: "unknown".into(),
                first_at: at.clone(),
                ..ExportRow::default()
            });
            rows.len() - 1
        });
        let row = &mut rows[i];
        row.steps += 1;
        if let Entry::Intent(intent) = &entry {
            row.user = row.user.take().or_else(|| intent.user.clone());
        }
        if let Entry::User(u) = entry {
            row.user = row.user.take().or(u.user);
            row.outcome = serde_json::to_value(u.outcome)?
                .as_str()
                .unwrap_or_default()
                .to_string();
            row.code = u.code;
            row.message = u.message;
            row.detail = u.detail;
            row.attempts += u.attempts;
            row.throttled += u.throttled;
            if let Some(id) = u.request_id {
                if !row.request_ids.is_empty() {
                    row.request_ids.push(';');
                }
                row.request_ids.push_str(&id);
            }
            row.at = u.at;
        }
    }
    match format {
        ExportFormat::Jsonl => {
            for row in &rows {
                serde_json::to_writer(&mut *out, row)?;
                out.write_all(b"\n")?;
            }
        }
        ExportFormat::Csv => {
            // Cells a spreadsheet would evaluate are neutralised (see
            // `files::safe_cell`: a leading `'`, control characters escaped).
            let safe = |v: &str| crate::files::safe_cell(v).into_owned();
            let opt = |v: &Option<String>| v.as_deref().map(safe);
            let mut w = csv::Writer::from_writer(out);
            for row in &rows {
                w.serialize(ExportRow {
                    username: safe(&row.username),
                    user: opt(&row.user),
                    code: opt(&row.code),
                    message: opt(&row.message),
                    detail: opt(&row.detail),
                    ..row.clone()
                })?;
            }
            w.flush()?;
        }
    }
    Ok(rows.len() as u64)
}
