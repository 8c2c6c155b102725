//! The end of a run: what happened, why it stopped, its rendering and the
//! exit code it implies.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use serde::Serialize;

use super::{per_sec, render_duplicates, Counters};
use crate::error::ExitCode;

/// A canary wave (`--canary`): its size, the people of it earlier runs
/// did, and whether the job has users left past it (the run then stopped
/// there, exit 4).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CanaryWave {
    pub size: u64,
    pub done_before: u64,
    pub more: bool,
}

impl CanaryWave {
    /// People this run may still start.
    pub fn left(&self) -> u64 {
        self.size.saturating_sub(self.done_before)
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
    /// In a fleet: another pool of the same account (`pool`) met the
    /// daily email limit, which is the account's.
    AccountPaused { pool: String },
    /// LimitExceededException outlasted the attempts of `count` users in a row.
    LimitPersists { count: u32 },
    /// A DynamoDB ledger's lease could not be kept (another runner took
    /// the job, or it could not be renewed in time): no more calls.
    LeaseLost,
    /// This machine failed the run (e.g. no randomness for a password).
    Local { message: String },
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
            StopReason::DailyEmailLimit { .. }
            | StopReason::AccountPaused { .. }
            | StopReason::LimitPersists { .. } => ExitCode::Paused,
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
                        "check the credentials and their IAM permissions (see docs/usage.md, IAM permissions)"
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
            StopReason::LeaseLost => write!(f, "the job's lease on its DynamoDB ledger could not be kept (another runner took the job over, or it could not be renewed in time); this run made no more calls and wrote no more records; see `status`, and run the same command again once the other runner is done"),
            StopReason::Local { message } => write!(f, "{message}; nothing more was sent: fix it, then re-run"),
            StopReason::DailyEmailLimit { message } => write!(
                f,
                "Cognito's daily email limit is exhausted ({message}); the default Cognito sender allows 50 emails a day per account: configure the pool to send through your own Amazon SES identity, or re-run this command tomorrow"
            ),
            StopReason::AccountPaused { pool } => write!(
                f,
                "paused with pool {pool} of the same account, which met Cognito's daily email limit (the account's, not the pool's); run the same command again once the limit resets"
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

/// What `--rate auto` saw of the quota's other callers while the run went
/// on (the account's usage metrics, read every minute).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProductionSeen {
    /// Others' (production's) throttled calls in the minutes of the run.
    pub production_throttled: u64,
    /// Reads of the usage metrics, and of those that failed.
    pub reads: u64,
    pub unreadable: u64,
    /// Times production's throttles cut the rate.
    pub cuts: u64,
    /// The last ceiling set on the rate, requests per second.
    pub ceiling: Option<f64>,
}

impl std::fmt::Display for ProductionSeen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of its calls throttled in the run's minutes (CloudWatch, read {} times",
            self.production_throttled, self.reads
        )?;
        if self.unreadable > 0 {
            write!(f, ", {} unreadable", self.unreadable)?;
        }
        write!(f, "); {} cuts", self.cuts)?;
        if let Some(c) = self.ceiling {
            write!(f, "; the rate's ceiling ended at {c:.1}/s")?;
        }
        Ok(())
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

/// The whole job as its ledger holds it at the end of a run that resumed
/// it: every run's users, not this run's alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobSoFar {
    /// Runs that wrote to the ledger, this one included.
    pub runs: u32,
    pub succeeded: u64,
    pub failed: u64,
    pub invalid: u64,
    pub deferred: u64,
    pub skipped: u64,
    /// Calls whose result is unknown (the next run reads them back first).
    pub pending: u64,
    /// With `--sign-out`: users signed out, and users whose action
    /// succeeded who are not signed out yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_out: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_signed_out: Option<u64>,
}

impl From<&super::Status> for JobSoFar {
    fn from(s: &super::Status) -> JobSoFar {
        JobSoFar {
            runs: s.runs,
            succeeded: s.succeeded,
            failed: s.failed,
            invalid: s.invalid,
            deferred: s.deferred,
            skipped: s.skipped,
            pending: s.pending,
            signed_out: s.signed_out,
            not_signed_out: s.not_signed_out,
        }
    }
}

impl std::fmt::Display for JobSoFar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} succeeded, {} failed, {} invalid",
            self.succeeded, self.failed, self.invalid
        )?;
        for (n, what) in [
            (self.skipped, "skipped"),
            (self.deferred, "deferred"),
            (self.pending, "result unknown"),
        ] {
            if n > 0 {
                write!(f, ", {n} {what}")?;
            }
        }
        if let (Some(out), Some(not)) = (self.signed_out, self.not_signed_out) {
            write!(f, "; {out} signed out, {not} not signed out yet")?;
        }
        write!(f, " (over {} runs)", self.runs)
    }
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
    /// Rows naming a person on an exclusion list (`--exclude`): not called.
    pub excluded: u64,
    /// `--canary`: the wave, and whether users remain past it.
    pub canary: Option<CanaryWave>,
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
    /// Of those, users whose action an earlier run did (only signed out
    /// by this one).
    pub sign_out_only: u64,
    /// Disable steps (`--disable`) that succeeded and failed.
    pub disabled: u64,
    pub disable_failed: u64,
    pub skipped_precheck: u64,
    pub skipped_federated: u64,
    /// Of the successes, users not called: the pool's listing showed them
    /// in the action's state already (disable, enable).
    pub already: u64,
    pub calls: u64,
    pub throttled: u64,
    pub retries: u64,
    pub reads: u64,
    /// The main call's rate: configured, and where adaptation took it.
    pub rate: Option<crate::limiter::RateState>,
    /// The limit that set the pace of users (with `--sign-out`, a lower
    /// sign-out rate).
    pub pace: Option<crate::settings::Bottleneck>,
    /// The whole job, when this run resumed one: what the ledger holds
    /// of every run. This run's figures are the fields above.
    pub job: Option<JobSoFar>,
    pub resolution: Option<ResolutionSummary>,
    /// With `--rate auto`: the quota's other callers, as the run saw them.
    pub production: Option<ProductionSeen>,
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
            excluded: c.excluded.load(Relaxed),
            canary: None,
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
            sign_out_only: c.sign_out_only.load(Relaxed),
            disabled: c.disabled.load(Relaxed),
            disable_failed: c.disable_failed.load(Relaxed),
            skipped_precheck: c.skipped_precheck.load(Relaxed),
            skipped_federated: c.skipped_federated.load(Relaxed),
            already: c.already.load(Relaxed),
            reads: c.reads.load(Relaxed),
            calls: c.calls.load(Relaxed),
            throttled: c.throttled.load(Relaxed),
            retries: c.retries.load(Relaxed),
            rate: None,
            pace: None,
            job: None,
            resolution: None,
            production: None,
            elapsed_secs: elapsed.as_secs_f64(),
            interrupted: false,
            stopped: None,
        }
    }

    /// Whether the run stopped after its canary wave with users left.
    fn canary_stopped(&self) -> bool {
        self.canary.is_some_and(|w| w.more)
    }

    /// The exit code this run ends with (see README, Exit codes).
    pub fn exit_code(&self) -> ExitCode {
        if self.interrupted {
            ExitCode::Interrupted
        } else if let Some(reason) = &self.stopped {
            reason.exit_code()
        } else if self.canary_stopped() {
            ExitCode::Canary
        } else if self.deferred + self.unresolved + self.ambiguous > 0 {
            ExitCode::Paused
        } else if self.failed
            + self.invalid
            + self.skipped_unsuccessful
            + self.sign_out_failed
            + self.disable_failed
            + self.skipped_precheck
            + self.skipped_federated
            > 0
        {
            ExitCode::SomeFailed
        } else {
            ExitCode::Success
        }
    }

    /// The summary as one final log event, for log aggregators: this run's
    /// figures (numbers as numbers) and the exit code.
    pub fn log(&self, exit_code: i32) {
        let round = |x: f64| (x * 10.0).round() / 10.0;
        let stopped = match &self.stopped {
            Some(reason) => serde_json::to_value(reason)
                .ok()
                .and_then(|v| v["kind"].as_str().map(str::to_string))
                .unwrap_or_default(),
            None if self.interrupted => "interrupted".to_string(),
            None => String::new(),
        };
        tracing::info!(
            pool = %self.pool_id,
            action = %self.action,
            succeeded = self.succeeded,
            failed = self.failed,
            invalid = self.invalid,
            skipped_done = self.skipped_done,
            duplicates = self.duplicates,
            excluded = self.excluded,
            deferred = self.deferred,
            unresolved = self.unresolved,
            signed_out = self.signed_out,
            sign_out_failed = self.sign_out_failed,
            disabled = self.disabled,
            calls = self.calls,
            throttled = self.throttled,
            retries = self.retries,
            elapsed_secs = round(self.elapsed_secs),
            users_per_sec = round(self.users_per_sec()),
            job_succeeded = self.job.as_ref().map_or(self.succeeded, |j| j.succeeded),
            stopped = %stopped,
            exit_code,
            "summary"
        );
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
            (None, _) if self.canary_stopped() => "CANARY WAVE DONE",
            (None, _) => "finished",
        };
        let _ = writeln!(
            s,
            "{} {} on {}: {head}",
            env!("CARGO_PKG_NAME"),
            self.action,
            self.pool_id
        );
        if let Some(job) = &self.job {
            let _ = writeln!(s, "  whole job            {job}");
            let _ = writeln!(s, "  this run:");
        }
        let _ = write!(s, "  succeeded            {}", self.succeeded);
        if self.reconciled > 0 {
            let _ = write!(
                s,
                " ({} confirmed by reading the user back after a lost answer)",
                self.reconciled
            );
        }
        if self.already > 0 {
            let _ = write!(
                s,
                " ({} already so in the pool's listing, not called)",
                self.already
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
            let _ = write!(
                s,
                "  signed out           {} ({} sign-outs failed",
                self.signed_out, self.sign_out_failed
            );
            if self.sign_out_only > 0 {
                let _ = write!(
                    s,
                    "; {} of the users had their action done by an earlier run",
                    self.sign_out_only
                );
            }
            let _ = writeln!(s, ")");
        }
        if self.disabled + self.disable_failed > 0 {
            let _ = writeln!(
                s,
                "  disabled             {} ({} disables failed)",
                self.disabled, self.disable_failed
            );
        }
        let _ = writeln!(s, "  invalid rows         {}", self.invalid);
        let _ = write!(s, "  skipped, done before {}", self.skipped_done);
        if self.skipped_unsuccessful > 0 {
            let _ = write!(s, " ({} of them not succeeded)", self.skipped_unsuccessful);
        }
        let _ = writeln!(s);
        render_duplicates(&mut s, self.duplicates, &self.same_person);
        if self.excluded > 0 {
            let _ = writeln!(
                s,
                "  excluded             {} (--exclude: never called; the file and line are in the ledger)",
                self.excluded
            );
        }
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
        if let Some(p) = &self.production {
            let _ = writeln!(s, "  production           {p}");
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
        let _ = write!(
            s,
            "  elapsed              {:.1} s, {:.1} users/s, {:.1} calls/s",
            self.elapsed_secs,
            self.users_per_sec(),
            per_sec(self.calls, self.elapsed_secs)
        );
        match &self.pace {
            Some(pace) if pace.flag != "--rate" => {
                let _ = writeln!(s, " ({} {}/s set the pace)", pace.flag, pace.rate);
            }
            _ => {
                let _ = writeln!(s);
            }
        }
        let _ = writeln!(s, "  ledger               {}", self.ledger.display());
        if let Some(reason) = &self.stopped {
            let _ = writeln!(s, "stopped: {reason}");
        }
        if let Some(wave) = self.canary.filter(|_| self.canary_stopped()) {
            let _ = writeln!(
                s,
                "canary wave done: {} people ({} of them by earlier runs); the rest of the job is not started",
                wave.size, wave.done_before
            );
            let _ = writeln!(
                s,
                "review the figures above (failures by code, throttling); to finish the job, run the same command with --continue"
            );
        } else if self.interrupted || self.stopped.is_some() {
            let _ = writeln!(
                s,
                "to finish the job, run the same command again: it resumes from the ledger"
            );
        }
        s
    }
}
