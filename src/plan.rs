//! What a run would do: `plan` (and `run --dry-run`) reads the input
//! through the same resolving and [`crate::triage`] as a run and only
//! counts the verdicts, sending no mutating call and writing nothing; `run`
//! shows the count, with what the pool's settings mean for the run, when
//! it asks for confirmation.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::cognito::{Aws, Connect};
use crate::identity::facts::DEFAULT_EMAIL_DAILY_CAP;
use crate::identity::PoolFacts;
use crate::job;
use crate::limiter::Limits;
use crate::report::SHOWN;
use crate::resolve::{Choice, Strategy};
use crate::settings::RunSettings;
use crate::source::{SourceItem, UserRow};
use crate::triage::{Triage, Verdict};

/// How the plan resolves users, and what it costs.
#[derive(Debug, Clone, Serialize)]
pub struct ResolutionPlan {
    #[serde(flatten)]
    pub choice: Choice,
    /// ListUsers calls per second.
    pub list_rate: f64,
    /// ListUsers calls the plan itself made to resolve.
    pub calls_made: u64,
}

/// What `plan` reports.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlanReport {
    pub pool_id: String,
    pub region: String,
    pub action: String,
    pub input: String,
    pub ledger: String,
    /// Other live jobs running this action on this pool now (a run would
    /// be refused unless `--allow-concurrent-jobs`).
    pub other_jobs: Vec<String>,
    /// An S3 input's version when the job began and now, if they differ.
    pub input_changed: Option<(String, String)>,
    /// The pool's settings; `None` when they could not be read.
    pub pool: Option<PoolFacts>,
    /// Why they could not be read.
    pub pool_unreadable: Option<String>,
    pub resolution: Option<ResolutionPlan>,
    /// Rows in the input (blank lines aside).
    pub rows: u64,
    /// Users this run would call.
    pub to_do: u64,
    /// Of those, users whose earlier call's answer was lost (read back first).
    pub read_back_first: u64,
    /// Of those, users that would not be called, by the action's skip
    /// rule: a reset the precheck rules out, a federated user's password,
    /// a user disabled (or enabled) already.
    pub would_skip: u64,
    /// Rows naming a person on an exclusion list (`--exclude`).
    pub excluded: u64,
    /// The exclusion lists: people they name, and names not in the pool.
    pub exclusion_lists: Option<(usize, u64)>,
    /// `--canary`: the wave the run stops after.
    pub canary: Option<crate::report::CanaryWave>,
    /// The pool's app clients' token lifetimes: how long sessions outlive
    /// the job.
    pub sessions: Option<crate::sessions::Sessions>,
    /// Their plan lines, for this run's action.
    #[serde(skip)]
    pub sessions_text: String,
    /// The skip rule's reasons, with their counts.
    pub not_called: std::collections::BTreeMap<&'static str, u64>,
    /// Users the ledger already finished.
    pub done_before: u64,
    /// Of those, how many did not succeed (failed; redo with --retry-failed).
    pub done_unsuccessful: u64,
    /// Invalid rows (new and already recorded).
    pub invalid: u64,
    /// The first invalid rows: (line, reason).
    pub first_invalid: Vec<(u64, String)>,
    /// Rows naming a person an earlier row named.
    pub duplicates: u64,
    /// The first of them: (line, the earlier line).
    pub first_duplicates: Vec<(u64, u64)>,
    /// Rows the pool's rules could not resolve safely (not called).
    pub ambiguous: u64,
    pub first_ambiguous: Vec<(u64, String)>,
    pub rate: f64,
    /// The limit that sets the pace of users: `rate`, or with `--sign-out`
    /// a lower `--sign-out-rate`.
    pub pace: crate::settings::Bottleneck,
    /// Seconds the calls take at the pace, retries aside.
    pub estimated_secs: f64,
    /// Users the run's calls would bill as monthly active users, and which
    /// calls.
    pub billed: u64,
    pub billed_by: Vec<String>,
    /// `--precheck` is on.
    pub precheck: bool,
}

/// Counts what a run with `settings` would do. Reads the pool's settings,
/// resolves the input's values (through ListUsers) and reads the ledger;
/// sends no mutating call, writes nothing. `shutdown` (Ctrl-C) abandons it.
pub async fn plan(
    settings: &RunSettings,
    shutdown: &CancellationToken,
) -> anyhow::Result<PlanReport> {
    Ok(plan_with(&Aws, settings, shutdown).await?.0)
}

/// [`plan`], reaching the pool through `connect`, and keeping the pool's
/// facts and the resolver for the run it is shown before (see
/// `pipeline::run_with`).
pub async fn plan_with(
    connect: &dyn Connect,
    settings: &RunSettings,
    shutdown: &CancellationToken,
) -> anyhow::Result<(PlanReport, job::Prepared)> {
    plan_in(connect, settings, shutdown, &settings.limits()).await
}

/// [`plan_with`], pacing its reads with `limits` (a fleet's, shared by the
/// pools of one account and region).
pub(crate) async fn plan_in(
    connect: &dyn Connect,
    settings: &RunSettings,
    shutdown: &CancellationToken,
    limits: &Limits,
) -> anyhow::Result<(PlanReport, job::Prepared)> {
    let opened = tokio::select! {
        biased;
        _ = shutdown.cancelled() => anyhow::bail!("interrupted while opening the job; nothing was sent"),
        r = job::open(connect, settings, job::LedgerAccess::Read, None, limits) => r?,
    };
    let mut opened = opened;
    let canary = opened.canary(settings)?;
    let sessions =
        crate::sessions::read(&opened.cognito, &limits.client_read, &settings.retry).await;
    let exclusion_lists = (!settings.exclude.is_empty() || !settings.exclude_group.is_empty())
        .then(|| (opened.exclusions.people(), opened.exclusions.nobody));
    let triage = Arc::new(std::sync::Mutex::new(opened.triage(settings)));
    let job::Opened {
        pool,
        source,
        input_rows: _rows,
        resolver,
        input_change,
        ledger_name,
        other_jobs,
        ..
    } = opened;
    let (tx, raw) = tokio::sync::mpsc::channel(1024);
    source.spawn(tx);
    let mut items = match resolver.choice().strategy {
        Strategy::Index | Strategy::Lookup => {
            let (resolved, items) = tokio::sync::mpsc::channel(1024);
            let ledger = triage.clone();
            resolver.clone().spawn_stage(
                raw,
                resolved,
                settings.pace.concurrency,
                Box::new(move |value| {
                    ledger
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .finished(value)
                }),
            );
            items
        }
        Strategy::Listing | Strategy::Exact => raw,
    };
    let mut report = PlanReport {
        pool_id: settings.pool_id.clone(),
        region: settings.aws.region.clone(),
        action: settings.steps.action.as_str().to_string(),
        input: settings.input.name(),
        ledger: ledger_name,
        other_jobs: other_jobs.iter().map(ToString::to_string).collect(),
        input_changed: input_change,
        pool: pool.facts().cloned(),
        pool_unreadable: pool.facts.as_ref().err().cloned(),
        rate: settings.pace.rate,
        pace: settings.bottleneck(),
        precheck: settings.steps.precheck,
        exclusion_lists,
        canary,
        sessions_text: sessions.render(settings.steps.action, &settings.steps.follow_ups()),
        sessions: Some(sessions),
        ..PlanReport::default()
    };
    loop {
        let item = tokio::select! {
            biased;
            _ = shutdown.cancelled() => anyhow::bail!("interrupted; nothing was sent"),
            item = items.recv() => match item { Some(item) => item, None => break },
        };
        report.rows += 1;
        let row = match item? {
            SourceItem::Invalid { line, reason, .. } => {
                if report.first_invalid.len() < SHOWN {
                    report.first_invalid.push((line, reason));
                }
                report.invalid += 1;
                continue;
            }
            SourceItem::User(row) => row,
        };
        let verdict = lock(&triage).user(&row);
        match verdict {
            Verdict::Duplicate { first_line } => {
                report.duplicates += 1;
                if report.first_duplicates.len() < SHOWN {
                    report.first_duplicates.push((row.line, first_line));
                }
            }
            Verdict::Ambiguous(reason) => {
                report.ambiguous += 1;
                if report.first_ambiguous.len() < SHOWN {
                    report.first_ambiguous.push((row.line, reason));
                }
            }
            Verdict::Done { succeeded } => {
                report.done_before += 1;
                report.done_unsuccessful += u64::from(!succeeded);
            }
            Verdict::Excluded { .. } => report.excluded += 1,
            Verdict::ToDo {
                lost_answer,
                from_step,
            } => {
                report.to_do += 1;
                report.read_back_first += u64::from(lost_answer.is_some());
                if let Some(reason) = would_skip(settings, &row).filter(|_| from_step.is_none()) {
                    report.would_skip += 1;
                    *report.not_called.entry(reason).or_default() += 1;
                }
            }
        }
    }
    let calls = report.to_do - report.would_skip;
    report.estimated_secs =
        calls as f64 / report.pace.rate + report.read_back_first as f64 / settings.pace.read_rate;
    report.resolution = Some(ResolutionPlan {
        choice: resolver.choice().clone(),
        list_rate: settings.pace.list_rate,
        calls_made: resolver.calls(),
    });
    if let Some(call) =
        crate::action::billed_by(settings.steps.action, &settings.steps.follow_ups())
    {
        report.billed_by.push(call);
    }
    if !report.billed_by.is_empty() {
        report.billed = calls;
    }
    Ok((report, job::Prepared { pool, resolver }))
}

/// Why the run would not call for this row, if it would not (the run's
/// own rule, [`crate::action::skip`], from the facts ListUsers gave).
fn would_skip(settings: &RunSettings, row: &UserRow) -> Option<&'static str> {
    let rules = crate::action::SkipRules {
        precheck: settings.steps.precheck,
        include_federated: settings.steps.include_federated,
    };
    crate::action::skip(&settings.steps.operation, row.identity.facts()?, rules)
        .map(|skip| skip.reason)
}

/// Locks the triage, whatever a panicking holder left.
fn lock(t: &std::sync::Mutex<Triage>) -> std::sync::MutexGuard<'_, Triage> {
    t.lock().unwrap_or_else(|e| e.into_inner())
}

fn duration(secs: f64) -> String {
    humantime::format_duration(Duration::from_secs(secs.ceil() as u64)).to_string()
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
        if let Some((then, now)) = &self.input_changed {
            let _ = writeln!(
                s,
                "  input changed        since the job's first run ({then} then, {now} now): a resume is refused without --input-changed"
            );
        }
        let _ = writeln!(s, "  ledger               {}", self.ledger);
        for other in &self.other_jobs {
            let _ = writeln!(
                s,
                "  ANOTHER JOB          is running {} on this pool now ({other}); a run is refused while it does (--allow-concurrent-jobs goes on)",
                self.action
            );
        }
        self.render_pool(&mut s);
        s.push_str(&self.sessions_text);
        let _ = write!(s, "  users to do          {}", self.to_do);
        if self.read_back_first > 0 {
            let _ = write!(
                s,
                " ({} read back first: an earlier call's answer was lost)",
                self.read_back_first
            );
        }
        if self.would_skip > 0 {
            let _ = write!(s, " ({} of them not called)", self.would_skip);
        }
        let _ = writeln!(s);
        for (reason, n) in &self.not_called {
            let _ = writeln!(s, "    not called         {n}: {reason}");
        }
        let _ = write!(s, "  done before          {}", self.done_before);
        if self.done_unsuccessful > 0 {
            let _ = write!(
                s,
                " ({} failed; --retry-failed redoes them)",
                self.done_unsuccessful
            );
        }
        let _ = writeln!(s);
        crate::report::render_duplicates(&mut s, self.duplicates, &self.first_duplicates);
        if let Some(wave) = &self.canary {
            let _ = write!(
                s,
                "  canary wave          {} people, then the run stops (exit 4); the same command with --continue finishes the job",
                wave.size
            );
            if wave.done_before > 0 {
                let _ = write!(s, " ({} of them done before)", wave.done_before);
            }
            let _ = writeln!(s);
        }
        if let Some((people, nobody)) = self.exclusion_lists {
            let _ = write!(
                s,
                "  excluded             {} of the input's rows (--exclude: never called; the lists name {people} people",
                self.excluded
            );
            if nobody > 0 {
                let _ = write!(s, "; {nobody} of their names match no one in the pool");
            }
            let _ = writeln!(s, ")");
        }
        if self.ambiguous > 0 {
            let _ = writeln!(
                s,
                "  unresolved rows      {} (not called: whom they name could not be told)",
                self.ambiguous
            );
            for (line, reason) in &self.first_ambiguous {
                let _ = writeln!(s, "    line {line}: {reason}");
            }
        }
        let _ = writeln!(s, "  invalid rows         {}", self.invalid);
        for (line, reason) in &self.first_invalid {
            let _ = writeln!(s, "    line {line}: {reason}");
        }
        if self.invalid > self.first_invalid.len() as u64 {
            let _ = writeln!(s, "    ...");
        }
        let _ = write!(s, "  rate                 {}/s", self.rate);
        if self.pace.flag != "--rate" {
            let _ = write!(s, "; {} {}/s sets the pace", self.pace.flag, self.pace.rate);
        }
        let _ = writeln!(
            s,
            ": about {} (retries and throttling aside)",
            duration(self.estimated_secs)
        );
        if self.billed_by.is_empty() {
            let _ = writeln!(
                s,
                "  billing              no one is billed as a monthly active user by these calls (only a read-back after a lost answer bills the user it reads; rare)"
            );
        } else {
            let _ = writeln!(
                s,
                "  billing              {} users become billed monthly active users ({})",
                self.billed,
                self.billed_by.join(", ")
            );
        }
        if self.precheck {
            let _ = writeln!(
                s,
                "    --precheck reads the pool's listing, not each user: it bills no one"
            );
        }
        s
    }

    /// The pool's facts and what they mean for this run.
    fn render_pool(&self, s: &mut String) {
        let Some(p) = &self.pool else {
            let why = self.pool_unreadable.as_deref().unwrap_or("unknown");
            let _ = writeln!(s, "  pool settings        could not be read ({why})");
            let _ = writeln!(s, "    not checked: case sensitivity and sign-in aliases (users are resolved by exact username or sub only; other matches are deferred, never guessed), account recovery, the email sender's daily cap, password history, Lambda triggers");
            let _ = writeln!(s, "    to check them, allow cognito-idp:DescribeUserPool");
            self.render_resolution(s);
            return;
        };
        let _ = writeln!(s, "  who is a user        {}", p.rule.describe());
        self.render_resolution(s);
        let recovery = if p.recovery.is_empty() {
            "not set (a verified phone, then a verified email)".to_string()
        } else {
            p.recovery.join(", ")
        };
        let _ = writeln!(s, "  account recovery     {recovery}");
        let sender = if p.default_email_sender() {
            "Cognito's default sender (COGNITO_DEFAULT)"
        } else {
            "Amazon SES (DEVELOPER)"
        };
        let _ = writeln!(s, "  email                {sender}");
        if p.default_email_sender() && self.action == "reset" && self.to_do > 0 {
            let days = self.to_do.div_ceil(DEFAULT_EMAIL_DAILY_CAP);
            let _ = writeln!(
                s,
                "    about {DEFAULT_EMAIL_DAILY_CAP} emails a day for the whole account: {} users need about {days} day(s) at that cap (the run pauses, exit 75, when it is reached); to lift it, configure the pool to send through your own Amazon SES identity (EmailSendingAccount DEVELOPER)",
                self.to_do
            );
        }
        let _ = writeln!(
            s,
            "  SMS                  {}",
            if p.sms_configured {
                "configured (codes to a verified phone go by SMS)"
            } else {
                "not configured"
            }
        );
        let _ = write!(
            s,
            "  feature plan         {}",
            p.tier.as_deref().unwrap_or("not stated")
        );
        if p.password_history_size > 0 {
            let _ = write!(
                s,
                "; password history: the last {} passwords cannot be reused",
                p.password_history_size
            );
        }
        let _ = writeln!(s);
        if !p.triggers.is_empty() {
            let _ = writeln!(
                s,
                "  Lambda triggers      {} (they shape or send the messages)",
                p.triggers.join(", ")
            );
        }
    }

    fn render_resolution(&self, s: &mut String) {
        let Some(r) = &self.resolution else {
            return;
        };
        let how = match r.choice.strategy {
            Strategy::Index => format!(
                "an index of the whole pool: {} ListUsers calls, about {} at {}/s",
                r.choice.list_calls,
                duration(r.choice.list_calls as f64 / r.list_rate),
                r.list_rate
            ),
            Strategy::Lookup => format!(
                "one ListUsers per row: about {} calls, about {} at {}/s",
                r.choice.list_calls,
                duration(r.choice.list_calls as f64 / r.list_rate),
                r.list_rate
            ),
            Strategy::Listing => "by the pool's own listing (--from-pool)".into(),
            Strategy::Exact => "not resolved (--resolve exact)".into(),
        };
        let _ = writeln!(s, "  resolving users      {how}; bills no one");
        let _ = writeln!(s, "    {}", r.choice.why);
    }
}
