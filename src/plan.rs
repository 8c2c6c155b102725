//! What a run would do, decided row by row from the ledger: the one place
//! that says whether an input row is a new invalid row, a duplicate, a user
//! the ledger already finished, or a user to do (and whether a lost answer
//! must be read back first). The pipeline acts on these verdicts; `plan`
//! (and `run --dry-run`) only counts them, sending nothing and writing
//! nothing, and `run` shows the count when it asks for confirmation.

use std::fmt::Write as _;
use std::time::SystemTime;

use serde::Serialize;

use crate::cognito::Cognito;
use crate::ledger::{self, fingerprint, Outcome, Replay};
use crate::settings::{Input, RunSettings};
use crate::source::{Source, SourceItem};

/// The ledger's view of the input, row by row.
pub struct Triage {
    replay: Replay,
    retry_failed: bool,
    sign_out: bool,
}

/// What to do with one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// An invalid row not yet recorded: record it.
    NewInvalid,
    /// An invalid row an earlier run recorded.
    InvalidRecorded,
    /// A username already seen in this input.
    Duplicate,
    /// Finished by an earlier run (`succeeded` says how).
    Done { succeeded: bool },
    /// To do. `lost_answer`: an earlier call's answer was lost at about this
    /// time, so the user is read back before any call. `sign_out_only`: the
    /// action succeeded in an earlier run; only the sign-out step remains.
    ToDo {
        lost_answer: Option<SystemTime>,
        sign_out_only: bool,
    },
}

impl Triage {
    /// `rows`: the input's rows when known, to size the user table once.
    pub fn new(
        mut replay: Replay,
        retry_failed: bool,
        sign_out: bool,
        rows: Option<u64>,
    ) -> Triage {
        // Users the ledger holds are marked seen in their own slot; only the
        // input's new users need room.
        if let Some(rows) = rows {
            replay
                .users
                .reserve((rows as usize).saturating_sub(replay.users.len()));
        }
        Triage {
            replay,
            retry_failed,
            sign_out,
        }
    }

    /// The verdict on an invalid row at `line`.
    pub fn invalid(&self, line: u64) -> Verdict {
        if self.replay.invalid_lines.contains(&line) {
            Verdict::InvalidRecorded
        } else {
            Verdict::NewInvalid
        }
    }

    /// The verdict on a valid row naming `username`.
    pub fn user(&mut self, username: &str) -> Verdict {
        let key = fingerprint(username);
        let state = self.replay.users.entry(key);
        if state.seen() {
            return Verdict::Duplicate;
        }
        state.set_seen();
        let state = *state;
        if let Some(last) = state.last() {
            if last == Outcome::Succeeded && self.sign_out {
                // The action is done; the sign-out step may not be.
                return match state.signed_out() {
                    Some(Outcome::Succeeded) => Verdict::Done { succeeded: true },
                    Some(Outcome::Failed) if !self.retry_failed => {
                        Verdict::Done { succeeded: false }
                    }
                    _ => Verdict::ToDo {
                        lost_answer: None,
                        sign_out_only: true,
                    },
                };
            }
            let skip = match last {
                Outcome::Succeeded => true,
                Outcome::Deferred => false,
                Outcome::Failed | Outcome::Invalid | Outcome::Skipped => !self.retry_failed,
            };
            if skip {
                return Verdict::Done {
                    succeeded: last == Outcome::Succeeded,
                };
            }
        }
        let lost_answer = self
            .replay
            .pending
            .get(&key)
            .map(|at| humantime::parse_rfc3339_weak(at).unwrap_or(SystemTime::UNIX_EPOCH));
        Verdict::ToDo {
            lost_answer,
            sign_out_only: false,
        }
    }
}

/// Invalid rows shown in a plan, at most.
const SHOWN_INVALID: usize = 5;

/// What `plan` reports.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlanReport {
    pub pool_id: String,
    pub region: String,
    pub action: String,
    pub input: String,
    pub ledger: String,
    /// Rows in the input (blank lines aside).
    pub rows: u64,
    /// Users this run would call.
    pub to_do: u64,
    /// Of those, users whose earlier call's answer was lost (read back first).
    pub read_back_first: u64,
    /// Users the ledger already finished.
    pub done_before: u64,
    /// Of those, how many did not succeed (failed; redo with --retry-failed).
    pub done_unsuccessful: u64,
    /// Invalid rows (new and already recorded).
    pub invalid: u64,
    /// The first invalid rows: (line, reason).
    pub first_invalid: Vec<(u64, String)>,
    pub duplicates: u64,
    pub rate: f64,
    /// Seconds the calls take at the rate, retries aside.
    pub estimated_secs: f64,
}

/// Counts what a run with `settings` would do. Reads the input (for
/// `--from-pool`, lists the pool) and the ledger; sends no mutating call,
/// writes nothing.
pub async fn plan(settings: &RunSettings) -> anyhow::Result<PlanReport> {
    let source = match settings.input {
        Input::Pool { .. } => {
            let cognito = Cognito::connect(&settings.aws, &settings.pool_id).await?;
            crate::pipeline::open_pool(settings, &cognito).await?
        }
        _ => Source::Csv(crate::pipeline::open_source(settings)?),
    };
    let (tx, mut items) = tokio::sync::mpsc::channel(1024);
    source.spawn(tx);
    let rows = crate::pipeline::count_input_rows(settings);
    let replay = ledger::replay_path(&settings.ledger)?.unwrap_or_default();
    crate::pipeline::check_same_job(settings, &replay)?;
    let rows = rows.await.ok().flatten();
    let mut triage = Triage::new(replay, settings.retry_failed, settings.sign_out, rows);
    let mut report = PlanReport {
        pool_id: settings.pool_id.clone(),
        region: settings.aws.region.clone(),
        action: settings.action.as_str().to_string(),
        input: settings.input.name(),
        ledger: settings.ledger.display().to_string(),
        rate: settings.rate,
        ..PlanReport::default()
    };
    while let Some(item) = items.recv().await {
        report.rows += 1;
        let verdict = match item? {
            SourceItem::Invalid { line, reason, .. } => {
                if report.first_invalid.len() < SHOWN_INVALID {
                    report.first_invalid.push((line, reason));
                }
                triage.invalid(line)
            }
            SourceItem::User(row) => triage.user(&row.username),
        };
        match verdict {
            Verdict::NewInvalid | Verdict::InvalidRecorded => report.invalid += 1,
            Verdict::Duplicate => report.duplicates += 1,
            Verdict::Done { succeeded } => {
                report.done_before += 1;
                report.done_unsuccessful += u64::from(!succeeded);
            }
            Verdict::ToDo { lost_answer, .. } => {
                report.to_do += 1;
                report.read_back_first += u64::from(lost_answer.is_some());
            }
        }
    }
    report.estimated_secs =
        report.to_do as f64 / settings.rate + report.read_back_first as f64 / settings.read_rate;
    Ok(report)
}

impl PlanReport {
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "plan: {} on pool {} ({})",
            self.action, self.pool_id, self.region
        );
        let _ = writeln!(
            s,
            "  input                {} ({} rows)",
            self.input, self.rows
        );
        let _ = writeln!(s, "  ledger               {}", self.ledger);
        let _ = write!(s, "  users to do          {}", self.to_do);
        if self.read_back_first > 0 {
            let _ = write!(
                s,
                " ({} read back first: an earlier call's answer was lost)",
                self.read_back_first
            );
        }
        let _ = writeln!(s);
        let _ = write!(s, "  done before          {}", self.done_before);
        if self.done_unsuccessful > 0 {
            let _ = write!(
                s,
                " ({} failed; --retry-failed redoes them)",
                self.done_unsuccessful
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "  duplicate rows       {}", self.duplicates);
        let _ = writeln!(s, "  invalid rows         {}", self.invalid);
        for (line, reason) in &self.first_invalid {
            let _ = writeln!(s, "    line {line}: {reason}");
        }
        if self.invalid > self.first_invalid.len() as u64 {
            let _ = writeln!(s, "    ...");
        }
        let _ = writeln!(
            s,
            "  rate                 {}/s: about {} (retries and throttling aside)",
            self.rate,
            humantime::format_duration(std::time::Duration::from_secs(
                self.estimated_secs.ceil() as u64
            ))
        );
        s
    }
}
