//! The raw settings of `run`: [`RunArgs`] is both the clap flag set and the
//! serde shape of a `--config` TOML file (keys spelled like the flags), so
//! the two cannot drift; flags win over the file.

use std::path::{Path, PathBuf};

use clap::builder::PossibleValue;
use serde::{Deserialize, Serialize};

use crate::error::UsageError;
use crate::ledger::Action;
use crate::resolve::ResolveMode;

use super::RunSettings;

/// `--rate`: requests per second, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    PerSecond(f64),
    Auto,
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Rate::Auto);
        }
        s.parse::<f64>()
            .map(Rate::PerSecond)
            .map_err(|_| format!("'{s}' is neither a number of requests per second nor 'auto'"))
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Rate::PerSecond(n) => s.serialize_f64(*n),
            Rate::Auto => s.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Rate::PerSecond(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

// The values of `--action` and `--resolve`, with their help. The types are
// the ledger's and the resolver's, which know nothing of flags.

impl clap::ValueEnum for Action {
    fn value_variants<'a>() -> &'a [Self] {
        &crate::action::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.as_str()).help(self.facts().help))
    }
}

impl clap::ValueEnum for ResolveMode {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            ResolveMode::Auto,
            ResolveMode::Index,
            ResolveMode::Lookup,
            ResolveMode::Exact,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            ResolveMode::Auto => PossibleValue::new("auto")
                .help("Index or lookup, whichever costs fewer ListUsers calls"),
            ResolveMode::Index => {
                PossibleValue::new("index").help("Page through the whole pool into an index")
            }
            ResolveMode::Lookup => {
                PossibleValue::new("lookup").help("One filtered ListUsers per input value")
            }
            ResolveMode::Exact => PossibleValue::new("exact").help(
                "No resolution: rows are keyed by their exact text (a person named two ways is called twice)",
            ),
        })
    }
}

/// The settings of `run`, as flags or as config-file keys.
#[derive(Debug, Default, Clone, PartialEq, clap::Args, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RunArgs {
    /// TOML file of any of these settings; flags override it.
    ///
    /// Its keys are spelled like the flags, e.g. `rate = 20`
    /// (config/default.toml lists them all with their defaults).
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Go ahead without typing the pool id (cron, CI, a pipe).
    ///
    /// Without it, a run on a terminal shows the plan and asks the operator
    /// to type the pool id; where standard input is not a terminal it is
    /// required.
    #[arg(long, short = 'y', num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    pub yes: Option<bool>,

    /// Only report what the run would do (as `plan`); send nothing.
    #[arg(long)]
    #[serde(skip)]
    pub dry_run: bool,

    /// The user pool, e.g. us-east-1_AbCdEfGhI. Its prefix is the region.
    #[arg(help_heading = "Target", long, value_name = "ID")]
    pub user_pool_id: Option<String>,

    /// Many pools, accounts and regions as one job: a TOML manifest.
    ///
    /// Its top-level keys are these settings (every target's defaults;
    /// flags override them) and its [[target]] tables name the pools
    /// (docs/fleet.md).
    #[arg(help_heading = "Target", long, value_name = "FILE")]
    #[serde(skip)]
    pub fleet: Option<PathBuf>,

    /// CSV of users: a file, `-` (standard input) or s3://BUCKET/KEY.
    ///
    /// An S3 object is streamed (its endpoint follows AWS_ENDPOINT_URL_S3,
    /// else AWS_ENDPOINT_URL; its region is the pool's).
    #[arg(
        help_heading = "Input",
        long,
        value_name = "PATH",
        conflicts_with = "from_pool"
    )]
    pub input: Option<PathBuf>,

    /// People never to touch: a file of names (a name a line, or a CSV
    /// with the username column); may be given more than once.
    ///
    /// Each name is resolved as input rows are (case, aliases, sub), so a
    /// row naming an excluded person another way is excluded too. They are
    /// counted in `plan`, recorded `excluded` with the file and line, and
    /// never called; an entry whose person cannot be told stops the run.
    #[arg(help_heading = "Input", long, value_name = "FILE")]
    #[serde(default)]
    pub exclude: Vec<PathBuf>,

    /// People never to touch: the members of a group of the pool
    /// (ListUsersInGroup, read before the first call); may be given more
    /// than once. For break-glass and admin accounts.
    #[arg(help_heading = "Input", long, value_name = "NAME")]
    #[serde(default)]
    pub exclude_group: Vec<String>,

    /// Resume over an S3 input (--input s3://...) that changed since the
    /// job's first run (its version id or ETag differs); without it such a
    /// resume is refused, since rows may have moved.
    #[arg(help_heading = "Input", hide_short_help = true, long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    pub input_changed: Option<bool>,

    /// Take the users from the pool itself (ListUsers) instead of --input.
    #[arg(help_heading = "Input", long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    pub from_pool: Option<bool>,

    /// Take the users from a group of the pool (ListUsersInGroup) instead
    /// of --input.
    #[arg(help_heading = "Input", long, value_name = "NAME")]
    pub from_group: Option<String>,

    /// With --from-pool: a ListUsers filter.
    ///
    /// For example 'cognito:user_status = "CONFIRMED"' or 'email ^= "admin"'.
    #[arg(help_heading = "Input", long, value_name = "EXPR")]
    pub filter: Option<String>,

    /// How each row's value is resolved to the person Cognito would resolve
    /// it to (case, aliases, sub), so one person named two ways is called
    /// once: `index` pages through the whole pool, `lookup` makes one
    /// filtered ListUsers per row, `auto` takes the cheaper (plan shows
    /// which), `exact` keys rows by their exact text. [default: auto]
    #[arg(
        help_heading = "Input",
        hide_short_help = true,
        long,
        value_enum,
        value_name = "HOW"
    )]
    pub resolve: Option<ResolveMode>,

    /// Header of the column holding usernames. [default: username]
    #[arg(
        help_heading = "Input",
        hide_short_help = true,
        long,
        value_name = "NAME"
    )]
    pub username_column: Option<String>,

    /// Header of the column holding passwords (set-password). [default: password]
    #[arg(
        help_heading = "Input",
        hide_short_help = true,
        long,
        value_name = "NAME"
    )]
    pub password_column: Option<String>,

    /// The input has no header row: one username per line, no CSV quoting.
    #[arg(help_heading = "Input", long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    pub no_header: Option<bool>,

    /// With --no-header, read a first line that names the username or
    /// password column (it looks like a CSV header) as a username, instead
    /// of refusing the input.
    #[arg(help_heading = "Input", hide_short_help = true, long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    pub no_header_check: Option<bool>,

    /// The character between fields: `;` or `\t`.
    ///
    /// `;` for the CSV spreadsheets export in locales whose decimal mark is
    /// a comma, `\t` (or `tab`) for tabs. [default: ,]
    #[arg(help_heading = "Input", long, value_name = "CHAR")]
    pub delimiter: Option<String>,

    /// What to do to each user. [default: reset]
    #[arg(help_heading = "Action", long, value_enum)]
    pub action: Option<Action>,

    /// reset: also end each user's sessions (AdminUserGlobalSignOut).
    ///
    /// After each user's reset succeeds, AdminUserGlobalSignOut revokes
    /// their refresh tokens (a reset alone does not). It has its own rate,
    /// --sign-out-rate, which sets the pace when it is the lower.
    #[arg(help_heading = "Action", long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    pub sign_out: Option<bool>,

    /// reset: then disable each user (AdminDisableUser), after the
    /// sign-out with --sign-out.
    ///
    /// The user cannot sign in until enabled again (--action enable), and
    /// their access tokens are revoked. A step of its own in the ledger,
    /// paced with the sign-outs at --sign-out-rate (the UserUpdate quota).
    #[arg(help_heading = "Action", long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    pub disable: Option<bool>,

    /// reset: skip, with the reason, users a reset cannot work for.
    ///
    /// Users a reset cannot work for (disabled, no verified email or
    /// phone, federated, FORCE_CHANGE_PASSWORD) are recorded `skipped`,
    /// from what ListUsers says of them, without spending password-reset
    /// quota on them or billing anyone.
    #[arg(help_heading = "Action", long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    pub precheck: Option<bool>,

    /// set-password: make the password permanent, not temporary.
    ///
    /// The user is CONFIRMED; without it the password is temporary
    /// (FORCE_CHANGE_PASSWORD: the user must change it at sign-in).
    #[arg(help_heading = "Action", long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    pub permanent: Option<bool>,

    /// set-password: a random password per user, written to --passwords-out.
    ///
    /// Each meets the pool's policy; no password column is read.
    #[arg(help_heading = "Action", long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    pub generate_passwords: Option<bool>,

    /// set-password: also set passwords for federated (EXTERNAL_PROVIDER)
    /// users, which turns each into a password user. By default they are
    /// skipped, with the reason in the ledger.
    #[arg(help_heading = "Action", hide_short_help = true, long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    pub include_federated: Option<bool>,

    /// With --generate-passwords: the file the passwords go to.
    ///
    /// A `username,password` CSV (created 0600,
    /// only appended to; each line durable before its call).
    #[arg(help_heading = "Action", long, value_name = "FILE")]
    pub passwords_out: Option<PathBuf>,

    /// reset: KEY=VALUE passed as ClientMetadata to the pool's Lambda
    /// triggers (repeatable).
    #[arg(
        help_heading = "Action",
        hide_short_help = true,
        long = "client-metadata",
        value_name = "KEY=VALUE"
    )]
    #[serde(default)]
    pub client_metadata: Vec<String>,

    /// Do the job's first N people (or P% of the input's rows), then stop
    /// with a report and exit code 4.
    ///
    /// The summary shows what the wave found (failures by code,
    /// throttling). The same command again does no more while the wave is
    /// done; add --continue to finish the job from the ledger. In a fleet,
    /// a wave per target.
    #[arg(help_heading = "Action", long, value_name = "N|P%")]
    pub canary: Option<String>,

    /// Past the canary wave: finish the job (--canary is then only a
    /// reminder of how it began).
    #[arg(help_heading = "Action", long = "continue", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    #[serde(rename = "continue")]
    pub continue_job: Option<bool>,

    /// Also redo users the ledger records as failed.
    ///
    /// After fixing what made them fail. Users that succeeded are never
    /// redone.
    #[arg(help_heading = "Action", long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    pub retry_failed: Option<bool>,

    /// ListUsers calls per second: pages of 60 users with --from-pool, and
    /// the calls that resolve who each row names (--resolve). Its own quota
    /// category, UserList (30/s by default); it bills no one. [default: 15]
    #[arg(
        help_heading = "Rate and retries",
        hide_short_help = true,
        long,
        value_name = "PER_SECOND"
    )]
    pub list_rate: Option<f64>,

    /// Requests per second, retries included, or `auto`.
    ///
    /// `auto` takes a share (--quota-share) of the quota Cognito enforces
    /// for the action's category (GetProvisionedLimit). Keep well under the
    /// account's quota (30/s by default for password resets), which the
    /// production app shares. [default: 20]
    #[arg(
        help_heading = "Rate and retries",
        long,
        value_name = "PER_SECOND|auto"
    )]
    pub rate: Option<Rate>,

    /// Sign-outs per second.
    ///
    /// Their own quota category, UserUpdate (25/s by default). With
    /// --sign-out each user takes one, so a sign-out rate below --rate sets
    /// the pace. [default: 10]
    #[arg(help_heading = "Rate and retries", long, value_name = "PER_SECOND")]
    pub sign_out_rate: Option<f64>,

    /// With --rate auto: the most of the enforced quota the job takes, as a
    /// share. Unset: 0.7 where the account's usage cannot be read
    /// (CloudWatch); 0.8 where it can (and none with an explicit
    /// --leave-for-production).
    #[arg(
        help_heading = "Rate and retries",
        hide_short_help = true,
        long,
        value_name = "SHARE"
    )]
    pub quota_share: Option<f64>,

    /// With --rate auto: what the job leaves the production app, calls per
    /// second of the quota, or `auto`: production's busiest minute of the
    /// last 15 (CloudWatch usage metrics) and a reserve. [default: auto]
    #[arg(
        help_heading = "Rate and retries",
        hide_short_help = true,
        long,
        value_name = "PER_SECOND|auto"
    )]
    pub leave_for_production: Option<Rate>,

    /// Calls that may go out back to back before the rate applies; it also
    /// absorbs timer lateness so the rate is held. [default: rate/50, at least 2]
    #[arg(
        help_heading = "Rate and retries",
        hide_short_help = true,
        long,
        value_name = "N"
    )]
    pub burst: Option<u32>,

    /// Adapt to throttling: on TooManyRequests cut the rate (to 85%, at most
    /// once per 100 ms), then climb back by 2% of --rate a second while calls
    /// go through, never above --rate. `--adaptive=false` (or --no-adaptive)
    /// keeps the rate fixed. [default: true]
    #[arg(help_heading = "Rate and retries", hide_short_help = true, long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    pub adaptive: Option<bool>,

    /// Keep the rate fixed at --rate even when throttled (--adaptive=false).
    #[arg(
        help_heading = "Rate and retries",
        hide_short_help = true,
        long,
        conflicts_with = "adaptive"
    )]
    #[serde(skip)]
    pub no_adaptive: bool,

    /// Calls in flight at once, at most. [default: 16]
    #[arg(
        help_heading = "Rate and retries",
        hide_short_help = true,
        long,
        value_name = "N"
    )]
    pub concurrency: Option<usize>,

    /// Attempts per user on transient errors; throttled calls do not count.
    /// [default: 8]
    #[arg(
        help_heading = "Rate and retries",
        hide_short_help = true,
        long,
        value_name = "N"
    )]
    pub max_attempts: Option<u32>,

    /// Seconds one attempt may take, connection included. [default: 10]
    #[arg(
        help_heading = "Rate and retries",
        hide_short_help = true,
        long,
        value_name = "SECONDS"
    )]
    pub attempt_timeout: Option<f64>,

    /// Stop the run (exit 3) when this many users in a row fail with the
    /// same error code: every user would likely fail the same way. 0: never.
    /// [default: 50]
    #[arg(
        help_heading = "Rate and retries",
        hide_short_help = true,
        long,
        value_name = "N"
    )]
    pub stop_after_failures: Option<u32>,

    /// Requests per second for AdminGetUser, used to learn whether a call
    /// whose answer was lost was carried out (its own quota category,
    /// UserRead, 120/s by default). [default: 20]
    #[arg(
        help_heading = "Rate and retries",
        hide_short_help = true,
        long,
        value_name = "PER_SECOND"
    )]
    pub read_rate: Option<f64>,

    /// With --fleet: the folder of the targets' ledgers, one per target
    /// (ACCOUNT/REGION/POOL-ACTION.jsonl); re-running the fleet resumes
    /// each.
    #[arg(
        help_heading = "Ledger",
        hide_short_help = true,
        long,
        value_name = "DIR"
    )]
    pub ledger_dir: Option<PathBuf>,

    /// The ledger: a file or dynamodb://TABLE/JOB; the same ledger resumes.
    ///
    /// A file holds JSON Lines; `dynamodb://TABLE/JOB` is a job in a
    /// DynamoDB table. Default: `cognito-bulk-reset-<pool>-<action>.jsonl`
    /// in the current directory.
    #[arg(help_heading = "Ledger", long, value_name = "PATH")]
    pub ledger: Option<PathBuf>,

    /// With a DynamoDB ledger: the table's region. Every command finds the
    /// table the same way: this, else AWS_REGION, else the profile's; never
    /// the pool's. [default: AWS_REGION or the profile's]
    #[arg(
        help_heading = "Ledger",
        hide_short_help = true,
        long,
        value_name = "REGION"
    )]
    pub ledger_region: Option<String>,

    /// Go ahead even when another live job is running the same action on
    /// the same pool (seen on this host, or in the same ledger table); a
    /// person in both inputs is then called by both. Without it, such a
    /// run is refused before any change.
    #[arg(help_heading = "Ledger", hide_short_help = true, long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    pub allow_concurrent_jobs: Option<bool>,

    /// With a DynamoDB ledger (dynamodb://TABLE/JOB): how long the job's
    /// lease lasts, seconds. It is renewed every third of that; a runner
    /// that died is taken over once it expires, and calls stop two thirds
    /// of the way through an unrenewed lease. [default: 60]
    #[arg(
        help_heading = "Ledger",
        hide_short_help = true,
        long,
        value_name = "SECONDS"
    )]
    pub lease_seconds: Option<u64>,

    /// Write the end-of-run summary as JSON to this file (for scripts).
    #[arg(help_heading = "Output", long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,

    /// AWS region; defaults to the pool id's prefix.
    #[arg(help_heading = "AWS", hide_short_help = true, long)]
    pub region: Option<String>,

    /// Named AWS profile (otherwise AWS_PROFILE or the default chain).
    #[arg(help_heading = "AWS", long)]
    pub profile: Option<String>,

    /// Send requests to this endpoint (a simulated pool, moto); otherwise
    /// AWS_ENDPOINT_URL or the real regional endpoint.
    #[arg(help_heading = "AWS", hide_short_help = true, long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl RunArgs {
    /// Loads `--config` (if given) and merges: flags over file over defaults.
    pub fn resolve(self) -> Result<RunSettings, UsageError> {
        let config = self.config.clone();
        let merged = match &config {
            Some(path) => self
                .merge(load_config(path)?)
                .map_err(|reason| UsageError::Config {
                    path: path.clone(),
                    reason,
                })?,
            None => self,
        };
        let mut settings = merged.check()?;
        settings.config = config;
        Ok(settings)
    }

    /// Values set here win; the rest come from `file`. Both go through
    /// their TOML shape, so no list of fields is kept by hand: a key given
    /// here replaces the file's. Fails only on a path that is not UTF-8,
    /// which a TOML file cannot hold either.
    pub fn merge(self, file: RunArgs) -> Result<RunArgs, String> {
        let table = |args: &RunArgs| match toml::Value::try_from(args) {
            Ok(toml::Value::Table(t)) => Ok(t),
            Ok(_) => Err("the settings are not a table".to_string()),
            Err(e) => Err(format!(
                "the settings cannot be merged with the file ({e}); give paths in UTF-8"
            )),
        };
        let mut merged = table(&file)?;
        for (key, value) in table(&self)? {
            // An empty list (no --client-metadata given) is no value.
            if !matches!(&value, toml::Value::Array(a) if a.is_empty()) {
                merged.insert(key, value);
            }
        }
        let mut out: RunArgs = toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| e.to_string())?;
        // Flags only: never in a file.
        out.config = self.config;
        out.fleet = self.fleet;
        out.dry_run = self.dry_run;
        out.no_adaptive = self.no_adaptive;
        Ok(out)
    }
}

/// Reads a `--config` file.
pub fn load_config(path: &Path) -> Result<RunArgs, UsageError> {
    let text = crate::files::read_config(path).map_err(|reason| UsageError::Config {
        path: path.to_owned(),
        reason,
    })?;
    toml::from_str(&text).map_err(|e| UsageError::Config {
        path: path.to_owned(),
        reason: e.to_string().trim_end().to_string(),
    })
}
