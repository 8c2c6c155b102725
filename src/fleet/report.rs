//! A fleet's roll-up: its plan and its summary, a row per target and
//! totals per account and region (bucket), and one exit code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::error::ExitCode;
use crate::plan::PlanReport;
use crate::report::Summary;

use super::{worst, Broken, Bucket, Ended, Failure, Fleet, Place};

/// A target's row: where it is in the manifest and what it is.
#[derive(Debug, Clone, Serialize)]
pub struct Row<T> {
    /// `[[target]] #N (line L)`.
    pub target: String,
    /// The account, when it could be read.
    pub account: Option<String>,
    pub region: String,
    pub pool_id: String,
    #[serde(flatten)]
    pub end: TargetEnd<T>,
}

/// What became of one target.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetEnd<T> {
    /// It planned, or ran (its summary says how).
    Done(T),
    /// It could not: its role, its account, its pool, a refusal before
    /// any call; the others went on.
    Failed { error: String, exit_code: i32 },
}

impl<T> Row<T> {
    fn broken(b: &Broken) -> Row<T> {
        Row {
            target: b.at.to_string(),
            account: None,
            region: b.region.clone(),
            pool_id: b.pool_id.clone(),
            end: TargetEnd::Failed {
                error: b.error.clone(),
                exit_code: b.code.code(),
            },
        }
    }

    fn label(&self) -> String {
        format!(
            "{}/{}/{}",
            self.account.as_deref().unwrap_or("?"),
            self.region,
            self.pool_id
        )
    }
}

/// A bucket's totals in a plan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BucketPlan {
    pub pools: usize,
    pub to_do: u64,
    pub rate: f64,
    pub estimated_secs: f64,
}

/// `plan --fleet`.
#[derive(Debug, Clone, Serialize)]
pub struct FleetPlan {
    pub manifest: String,
    pub run_id: String,
    pub targets: Vec<Row<PlanReport>>,
    pub buckets: BTreeMap<String, BucketPlan>,
}

impl FleetPlan {
    /// The plan's rows: planned targets and those that failed to plan or
    /// to be reached, in manifest order; each bucket's totals.
    pub fn new(fleet: &Fleet, planned: Vec<Ended<PlanReport>>) -> FleetPlan {
        let mut buckets: BTreeMap<String, BucketPlan> = BTreeMap::new();
        let targets = rows(fleet, planned, |bucket, report| {
            let b = buckets.entry(bucket.to_string()).or_default();
            b.pools += 1;
            b.to_do += report.to_do;
            b.rate = report.rate;
        });
        for b in buckets.values_mut() {
            b.estimated_secs = if b.rate > 0.0 {
                b.to_do as f64 / b.rate
            } else {
                0.0
            };
        }
        FleetPlan {
            manifest: fleet.manifest.display().to_string(),
            run_id: fleet.run_id.clone(),
            targets,
            buckets,
        }
    }

    /// The plan's exit code: 0, or the worst of the targets that could
    /// not be planned.
    pub fn exit_code(&self) -> ExitCode {
        worst(self.targets.iter().map(|r| match &r.end {
            TargetEnd::Done(_) => ExitCode::Success,
            TargetEnd::Failed { exit_code, .. } => code_of(*exit_code),
        }))
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "fleet plan: {} ({} targets in {} accounts/regions)",
            self.manifest,
            self.targets.len(),
            self.buckets.len()
        );
        let _ = writeln!(
            s,
            "  {:<64} {:>9} {:>9} {:>8}  pool",
            "target", "to do", "done", "invalid"
        );
        for r in &self.targets {
            let name = format!("{} {}", short(&r.target), r.label());
            match &r.end {
                TargetEnd::Done(p) => {
                    let _ = writeln!(
                        s,
                        "  {name:<64} {:>9} {:>9} {:>8}  {}",
                        p.to_do,
                        p.done_before,
                        p.invalid,
                        pool_note(p)
                    );
                }
                TargetEnd::Failed { error, .. } => {
                    let _ = writeln!(s, "  {name:<64} FAILED: {error}");
                }
            }
        }
        let _ = writeln!(s, "per account and region (its pools share its rate):");
        let mut longest = 0f64;
        for (bucket, b) in &self.buckets {
            longest = longest.max(b.estimated_secs);
            let _ = writeln!(
                s,
                "  {bucket:<28} {:>3} pools {:>9} users to do at {}/s: {}",
                b.pools,
                b.to_do,
                b.rate,
                duration(b.estimated_secs)
            );
        }
        let total: u64 = self.buckets.values().map(|b| b.to_do).sum();
        let failed = self
            .targets
            .iter()
            .filter(|r| matches!(r.end, TargetEnd::Failed { .. }))
            .count();
        let _ = writeln!(
            s,
            "total: {total} users to do in {} pools; about {} (the slowest account/region){}",
            self.targets.len() - failed,
            duration(longest),
            if failed > 0 {
                format!("; {failed} targets FAILED to plan")
            } else {
                String::new()
            }
        );
        s
    }
}

/// A bucket's totals in a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BucketRun {
    pub pools: usize,
    pub succeeded: u64,
    pub failed: u64,
    pub calls: u64,
    pub throttled: u64,
    /// `--rate auto` with the usage readable: what the bucket's watch saw
    /// of production.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub production: Option<crate::report::ProductionSeen>,
}

/// `run --fleet`'s end.
#[derive(Debug, Clone, Serialize)]
pub struct FleetSummary {
    pub manifest: String,
    pub run_id: String,
    pub exit_code: i32,
    pub elapsed_secs: f64,
    pub targets: Vec<Row<Summary>>,
    pub buckets: BTreeMap<String, BucketRun>,
}

impl FleetSummary {
    /// The run's rows, in manifest order; each bucket's totals; the
    /// fleet's exit code, the worst of its targets'.
    pub fn new(
        fleet: &Fleet,
        ended: Vec<Ended<Summary>>,
        production: Vec<(Bucket, crate::report::ProductionSeen)>,
        elapsed: Duration,
    ) -> FleetSummary {
        let mut buckets: BTreeMap<String, BucketRun> = BTreeMap::new();
        for (bucket, seen) in production {
            buckets.entry(bucket.to_string()).or_default().production = Some(seen);
        }
        let targets = rows(fleet, ended, |bucket, summary| {
            let b = buckets.entry(bucket.to_string()).or_default();
            b.pools += 1;
            b.succeeded += summary.succeeded;
            b.failed += summary.failed;
            b.calls += summary.calls;
            b.throttled += summary.throttled;
        });
        let exit_code = worst(targets.iter().map(|r| match &r.end {
            TargetEnd::Done(summary) => crate::signals::exit_code(summary.exit_code()),
            TargetEnd::Failed { exit_code, .. } => code_of(*exit_code),
        }));
        FleetSummary {
            manifest: fleet.manifest.display().to_string(),
            run_id: fleet.run_id.clone(),
            exit_code: exit_code.code(),
            elapsed_secs: elapsed.as_secs_f64(),
            targets,
            buckets,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        code_of(self.exit_code)
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "fleet {}: {} targets in {} accounts/regions, run {} ({})",
            self.manifest,
            self.targets.len(),
            self.buckets.len(),
            self.run_id,
            duration(self.elapsed_secs)
        );
        let _ = writeln!(
            s,
            "  {:<64} {:>9} {:>7} {:>7} {:>5}  note",
            "target", "succeeded", "failed", "skipped", "exit"
        );
        for r in &self.targets {
            let name = format!("{} {}", short(&r.target), r.label());
            match &r.end {
                TargetEnd::Done(sum) => {
                    let skipped = sum.skipped_precheck + sum.skipped_federated + sum.skipped_done;
                    let note = match (&sum.stopped, sum.interrupted) {
                        (_, true) => "interrupted".to_string(),
                        (Some(reason), _) => reason.to_string(),
                        (None, _) if sum.deferred > 0 => {
                            format!("{} deferred to a later run", sum.deferred)
                        }
                        (None, _) => String::new(),
                    };
                    let code = crate::signals::exit_code(sum.exit_code()).code();
                    let _ = writeln!(
                        s,
                        "  {name:<64} {:>9} {:>7} {skipped:>7} {code:>5}  {note}",
                        sum.succeeded, sum.failed
                    );
                }
                TargetEnd::Failed { error, exit_code } => {
                    let _ = writeln!(
                        s,
                        "  {name:<64} {:>9} {:>7} {:>7} {exit_code:>5}  FAILED: {error}",
                        "-", "-", "-"
                    );
                }
            }
        }
        let _ = writeln!(s, "per account and region:");
        for (bucket, b) in &self.buckets {
            let _ = writeln!(
                s,
                "  {bucket:<28} {:>3} pools {:>9} succeeded {:>7} failed {:>9} calls {:>7} throttled",
                b.pools, b.succeeded, b.failed, b.calls, b.throttled
            );
            if let Some(p) = &b.production {
                let _ = writeln!(s, "    production: {p}");
            }
        }
        let succeeded: u64 = self.buckets.values().map(|b| b.succeeded).sum();
        let failed: u64 = self.buckets.values().map(|b| b.failed).sum();
        let throttled: u64 = self.buckets.values().map(|b| b.throttled).sum();
        let _ = writeln!(
            s,
            "total: {succeeded} succeeded, {failed} failed, {throttled} throttled calls; exit {}",
            self.exit_code
        );
        s
    }
}

/// Every target's row, in manifest order: those that could not be
/// reached, and how each planned or run one ended; `done` sees each that
/// ended well, with its bucket.
fn rows<T>(fleet: &Fleet, ended: Vec<Ended<T>>, mut done: impl FnMut(&Bucket, &T)) -> Vec<Row<T>> {
    let mut rows: Vec<(Place, Row<T>)> = fleet
        .broken
        .iter()
        .map(|b| (b.at, Row::broken(b)))
        .collect();
    for (target, result) in ended {
        let end = match result {
            Ok(value) => {
                done(&target.bucket, &value);
                TargetEnd::Done(value)
            }
            Err(Failure { error, code }) => TargetEnd::Failed {
                error,
                exit_code: code.code(),
            },
        };
        rows.push((
            target.at,
            Row {
                target: target.at.to_string(),
                account: Some(target.bucket.account.clone()),
                region: target.bucket.region.clone(),
                pool_id: target.settings.pool_id,
                end,
            },
        ));
    }
    rows.sort_by_key(|(at, _)| order(at));
    rows.into_iter().map(|(_, r)| r).collect()
}

/// The pool's facts that matter to a plan, short: who a user is, and the
/// default email sender's cap when resets would meet it.
fn pool_note(p: &PlanReport) -> String {
    let Some(facts) = &p.pool else {
        return format!(
            "settings unreadable ({})",
            p.pool_unreadable
                .as_deref()
                .unwrap_or("DescribeUserPool failed")
        );
    };
    let mut note = facts.rule.describe();
    if facts.default_email_sender() && p.action == "reset" {
        let _ = write!(
            note,
            "; Cognito's default email sender: about {} emails a day for the whole account",
            crate::identity::facts::DEFAULT_EMAIL_DAILY_CAP
        );
    }
    note
}

/// Manifest order: targets, then what discover tables found.
fn order(at: &Place) -> (bool, usize) {
    (at.kind != "target", at.index)
}

/// `#N` of `[[target]] #N (line L)`.
fn short(place: &str) -> String {
    place.split_whitespace().nth(1).unwrap_or(place).to_string()
}

fn duration(secs: f64) -> String {
    humantime::format_duration(Duration::from_secs(secs.ceil() as u64)).to_string()
}

/// The [`ExitCode`] a number stands for (a fleet's rows keep numbers).
fn code_of(code: i32) -> ExitCode {
    ExitCode::from_code(code).unwrap_or(ExitCode::Stopped)
}
