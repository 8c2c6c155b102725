//! The `status` command: a ledger's job, counts and what remains, from the
//! ledger alone.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::error::UsageError;
use crate::ledger::{self};

/// What `status --json` prints.
#[derive(Debug, Serialize)]
pub struct Status {
    pub ledger: PathBuf,
    /// A DynamoDB ledger's table's region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_region: Option<String>,
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
    /// People on an exclusion list when last run (`--exclude`).
    pub excluded: u64,
    /// Users the disable step (`--disable`) disabled, when the job has one.
    pub disabled: Option<u64>,
    /// Calls whose result is unknown; the next run reads them back first.
    pub pending: u64,
    /// With `--sign-out` (in the latest run, or signed out by an earlier
    /// one): users signed out, and users whose action succeeded but who are
    /// not signed out: their sessions live on. `None` for a job that signs
    /// no one out.
    pub signed_out: Option<u64>,
    pub not_signed_out: Option<u64>,
    /// Rows of the latest run's input not yet recorded (at most; duplicate
    /// rows are never recorded), when the input was a file.
    pub remaining: Option<u64>,
    /// Users the latest run recorded per second, from its start to its
    /// last record (`None` when it recorded too few to tell).
    pub achieved_rate: Option<f64>,
    /// `remaining` at the latest run's achieved rate (its configured rate
    /// when none was achieved), seconds.
    pub time_left_secs: Option<f64>,
    pub torn_tail_bytes: u64,
}

/// The `status` command: reads the ledger at `location`.
pub async fn status(location: &crate::ledger::location::Location) -> anyhow::Result<Status> {
    let store = ledger::store::open(location).await?;
    let reader = ledger::store::read_existing(store.as_ref()).await?;
    let name = PathBuf::from(location.to_string());
    let region = store.region().map(str::to_string);
    let mut status = tokio::task::spawn_blocking(move || status_from(reader, &name)).await??;
    status.ledger_region = region;
    Ok(status)
}

/// `status` of a ledger read from `reader` (a table's records, see
/// `ledger::table`); `name` names it in messages.
pub fn status_from(reader: impl std::io::BufRead, name: &Path) -> Result<Status, UsageError> {
    status_of(ledger::replay_reader(reader, name)?, name)
}

fn status_of(replay: ledger::Replay, path: &Path) -> Result<Status, UsageError> {
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
    let signs_out = last.sign_out || counts.signed_out > 0;
    let recorded = counts.succeeded
        + counts.failed_total()
        + counts.invalid
        + counts.skipped
        + counts.excluded;
    let remaining = last.input_rows.map(|rows| rows.saturating_sub(recorded));
    let achieved_rate = achieved(&last.started_at, &replay);
    let time_left_secs = match (remaining, achieved_rate.or(last.rate)) {
        (Some(n), Some(rate)) if rate > 0.0 => Some(n as f64 / rate),
        _ => None,
    };
    Ok(Status {
        ledger: path.to_owned(),
        ledger_region: None,
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
        excluded: counts.excluded,
        disabled: (last.disable || counts.disabled > 0).then_some(counts.disabled),
        pending: counts.pending,
        signed_out: signs_out.then_some(counts.signed_out),
        not_signed_out: signs_out.then_some(counts.not_signed_out),
        remaining,
        achieved_rate,
        time_left_secs,
        torn_tail_bytes: replay.torn_bytes,
    })
}

/// The latest run's users per second, from its header's time to its last
/// record: `None` for a run that recorded fewer than two users or lasted
/// under a second (too little to tell).
fn achieved(started_at: &str, replay: &ledger::Replay) -> Option<f64> {
    let start = humantime::parse_rfc3339(started_at).ok()?;
    let end = humantime::parse_rfc3339(&replay.last_run_end).ok()?;
    let secs = end.duration_since(start).ok()?.as_secs_f64();
    (replay.last_run_users >= 2 && secs >= 1.0)
        .then(|| (replay.last_run_users as f64 / secs * 10.0).round() / 10.0)
}

impl Status {
    pub fn render(&self) -> String {
        let mut s = String::new();
        match &self.ledger_region {
            Some(region) => {
                let _ = writeln!(s, "ledger     {} ({region})", self.ledger.display());
            }
            None => {
                let _ = writeln!(s, "ledger     {}", self.ledger.display());
            }
        }
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
            let _ = writeln!(
                s,
                "skipped    {} (by the action's rule: --precheck, federated users)",
                self.skipped
            );
        }
        if let Some(n) = self.disabled {
            let _ = writeln!(s, "disabled   {n} (--disable)");
        }
        if self.excluded > 0 {
            let _ = writeln!(s, "excluded   {} (--exclude: never called)", self.excluded);
        }
        if self.deferred > 0 {
            let _ = writeln!(s, "deferred   {} (a re-run does them)", self.deferred);
        }
        if let (Some(done), Some(left)) = (self.signed_out, self.not_signed_out) {
            let _ = write!(s, "signed out {done}");
            if left > 0 {
                let _ = write!(
                    s,
                    " ({left} {} succeeded but not signed out: their sessions live on until a run with --sign-out)",
                    self.action
                );
            }
            let _ = writeln!(s);
        }
        if self.pending > 0 {
            let _ = writeln!(
                s,
                "unknown    {} (a call's result was lost; the next run reads them back first)",
                self.pending
            );
        }
        if let (Some(n), Some(secs)) = (self.remaining.filter(|n| *n > 0), self.time_left_secs) {
            let at = match self.achieved_rate {
                Some(rate) => format!("the {rate} users/s the last run achieved"),
                None => "the last run's configured rate".to_string(),
            };
            let _ = writeln!(
                s,
                "remaining  up to {n} rows of the input, about {} at {at}",
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
