//! Flags and config file, merged once and checked once.
//!
//! [`RunArgs`] is both the clap flag set of `run` and the serde shape of a
//! `--config` TOML file (keys spelled like the flags), so the two cannot
//! drift. Flags override the file; the file overrides the defaults below
//! (documented key by key in `config/default.toml`). [`RunArgs::check`] turns
//! the merged values into [`RunSettings`], refusing with a [`UsageError`]
//! anything that would fail later: nothing downstream re-validates or
//! juggles `Option`s.
//!
//! Region: the pool id carries its region (`us-east-1_...`), so that is the
//! region used; `--region` may repeat it, and a different one is refused
//! unless `--endpoint-url` points somewhere else. AWS_PROFILE and
//! AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER) are
//! honoured by the SDK's own configuration chain.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cognito::{AwsSettings, Cognito, Operation};
use crate::error::UsageError;
use crate::ledger::Action;
use crate::limiter::default_burst;
use crate::resolve::ResolveMode;
use crate::retry::RetryPolicy;
use crate::source::csv::CsvOptions;
use crate::validate::check_pool_id;

pub const DEFAULT_RATE: f64 = 20.0;
pub const DEFAULT_CONCURRENCY: usize = 16;
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
pub const DEFAULT_ATTEMPT_TIMEOUT_SECS: f64 = 10.0;
pub const DEFAULT_STOP_AFTER_FAILURES: u32 = 50;
pub const DEFAULT_READ_RATE: f64 = 20.0;
pub const DEFAULT_LIST_RATE: f64 = 15.0;
pub const DEFAULT_SIGN_OUT_RATE: f64 = 10.0;
pub const DEFAULT_QUOTA_SHARE: f64 = 0.7;
/// The UserUpdate category's default quota (AdminUserGlobalSignOut).
pub const DEFAULT_UPDATE_QUOTA: f64 = 25.0;

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

impl RunSettings {
    /// The API quota category of the action, with its documented default.
    pub fn quota_category(&self) -> (&'static str, f64) {
        match self.action {
            Action::SignOut => ("UserUpdate", DEFAULT_UPDATE_QUOTA),
            Action::Reset | Action::SetPassword => ("UserAccountRecovery", DEFAULT_RECOVERY_QUOTA),
        }
    }

    /// Sets the rate (and, unless given, the burst) to `rate`.
    pub fn set_rate(&mut self, rate: f64) {
        let rate = rate.clamp(MIN_RATE, 100_000.0);
        self.rate = rate;
        if !self.burst_given {
            self.burst = NonZeroU32::new(default_burst(rate)).unwrap_or(NonZeroU32::MIN);
        }
    }

    /// `--rate auto`: sets the rate to a share of the quota Cognito enforces
    /// for the action's category; where GetProvisionedLimit is not permitted or
    /// not supported, falls back to the documented default quota and says so.
    /// Returns a line describing where the rate came from.
    pub async fn resolve_auto_rate(&mut self) -> anyhow::Result<Option<String>> {
        let settings = self;
        let Some(share) = settings.rate_auto else {
            return Ok(None);
        };
        let cognito = Cognito::connect(&settings.aws, &settings.pool_id).await?;
        let (category, default_quota) = settings.quota_category();
        let (quota, source) = match cognito.provisioned_limit(category).await {
            Ok(quota) => (
                quota,
                "enforced by Cognito (GetProvisionedLimit)".to_string(),
            ),
            Err(e) => {
                tracing::warn!(code = %e.code, category, default_quota, "GetProvisionedLimit failed; using the documented default quota");
                (
                    default_quota,
                    format!(
                        "the documented default; GetProvisionedLimit answered {}",
                        e.code
                    ),
                )
            }
        };
        settings.set_rate(quota * share);
        Ok(Some(format!(
            "--rate auto: {category} quota {quota}/s ({source}) x {share} = {:.1}/s",
            settings.rate
        )))
    }
}
/// The UserAccountRecovery category's default quota, requests per second.
pub const DEFAULT_RECOVERY_QUOTA: f64 = 30.0;

/// The settings of `run`, as flags or as config-file keys.
#[derive(Debug, Default, Clone, PartialEq, clap::Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RunArgs {
    /// TOML file with any of these settings (keys spelled like the flags,
    /// e.g. `rate = 20`); flags override it.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Go ahead without asking the operator to type the pool id. Required
    /// when standard input is not a terminal (cron, CI, a pipe).
    #[arg(long, short = 'y', num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub yes: Option<bool>,

    /// Write the end-of-run summary as JSON to this file (for scripts).
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,

    /// Only report what the run would do (as `plan`); send nothing.
    #[arg(long)]
    #[serde(skip)]
    pub dry_run: bool,

    /// The user pool, e.g. us-east-1_AbCdEfGhI. Its prefix is the region.
    #[arg(long, value_name = "ID")]
    pub user_pool_id: Option<String>,

    /// CSV file listing the users; `-` reads standard input.
    #[arg(long, value_name = "PATH", conflicts_with = "from_pool")]
    pub input: Option<PathBuf>,

    /// Take the users from the pool itself (ListUsers) instead of --input.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub from_pool: Option<bool>,

    /// With --from-pool: a ListUsers filter, e.g. 'cognito:user_status = "CONFIRMED"'
    /// or 'email ^= "admin"'.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,

    /// ListUsers calls per second: pages of 60 users with --from-pool, and
    /// the calls that resolve who each row names (--resolve). Its own quota
    /// category, UserList (30/s by default); it bills no one. [default: 15]
    #[arg(long, value_name = "PER_SECOND")]
    pub list_rate: Option<f64>,

    /// How each row's value is resolved to the person Cognito would resolve
    /// it to (case, aliases, sub), so one person named two ways is called
    /// once: `index` pages through the whole pool, `lookup` makes one
    /// filtered ListUsers per row, `auto` takes the cheaper (plan shows
    /// which), `exact` keys rows by their exact text. [default: auto]
    #[arg(long, value_enum, value_name = "HOW")]
    pub resolve: Option<ResolveMode>,

    /// The run's ledger (JSON Lines). Re-running with the same ledger resumes.
    /// Default: `cognito-bulk-reset-<pool>-<action>.jsonl` in the current directory.
    #[arg(long, value_name = "PATH")]
    pub ledger: Option<PathBuf>,

    /// reset: AdminResetUserPassword (Cognito sends a code). set-password:
    /// AdminSetUserPassword with the input's password column. [default: reset]
    #[arg(long, value_enum)]
    pub action: Option<Action>,

    /// reset: after each user's reset succeeds, also end their sessions
    /// (AdminUserGlobalSignOut revokes refresh tokens; a reset alone does not).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub sign_out: Option<bool>,

    /// reset: record as `skipped`, with the reason, users a reset cannot
    /// work for (disabled, no verified email or phone, federated,
    /// FORCE_CHANGE_PASSWORD), from what ListUsers says of them, without
    /// spending password-reset quota on them or billing anyone.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub precheck: Option<bool>,

    /// Sign-outs per second (their own quota category, UserUpdate, 25/s by
    /// default). [default: 10]
    #[arg(long, value_name = "PER_SECOND")]
    pub sign_out_rate: Option<f64>,

    /// Header of the column holding usernames. [default: username]
    #[arg(long, value_name = "NAME")]
    pub username_column: Option<String>,

    /// Header of the column holding passwords (set-password). [default: password]
    #[arg(long, value_name = "NAME")]
    pub password_column: Option<String>,

    /// The input has no header row: one username per line, no CSV quoting.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub no_header: Option<bool>,

    /// With --no-header, read a first line that names the username or
    /// password column (it looks like a CSV header) as a username, instead
    /// of refusing the input.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub no_header_check: Option<bool>,

    /// set-password: make the password permanent (CONFIRMED) instead of
    /// temporary (FORCE_CHANGE_PASSWORD, the user must change it at sign-in).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub permanent: Option<bool>,

    /// set-password: make a random password per user meeting the pool's
    /// policy (instead of reading a password column), written only to
    /// --passwords-out.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub generate_passwords: Option<bool>,

    /// set-password: also set passwords for federated (EXTERNAL_PROVIDER)
    /// users, which turns each into a password user. By default they are
    /// skipped, with the reason in the ledger.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub include_federated: Option<bool>,

    /// With --generate-passwords: the `username,password` CSV (created 0600,
    /// only appended to; each line durable before its call).
    #[arg(long, value_name = "FILE")]
    pub passwords_out: Option<PathBuf>,

    /// reset: KEY=VALUE passed as ClientMetadata to the pool's Lambda
    /// triggers (repeatable).
    #[arg(long = "client-metadata", value_name = "KEY=VALUE")]
    #[serde(default)]
    pub client_metadata: Vec<String>,

    /// Requests per second, retries included, or `auto`: a share
    /// (--quota-share) of the quota Cognito enforces for the action's
    /// category (GetProvisionedLimit). Keep well under the account's quota
    /// (30/s by default for password resets), which the production app
    /// shares. [default: 20]
    #[arg(long, value_name = "PER_SECOND|auto")]
    pub rate: Option<Rate>,

    /// With --rate auto: the share of the enforced quota to use, leaving the
    /// rest to the production app. [default: 0.7]
    #[arg(long, value_name = "SHARE")]
    pub quota_share: Option<f64>,

    /// Calls that may go out back to back before the rate applies; it also
    /// absorbs timer lateness so the rate is held. [default: rate/50, at least 2]
    #[arg(long, value_name = "N")]
    pub burst: Option<u32>,

    /// Adapt to throttling: on TooManyRequests cut the rate (to 85%, at most
    /// once per 100 ms), then climb back by 2% of --rate a second while calls
    /// go through, never above --rate. `--adaptive=false` (or --no-adaptive)
    /// keeps the rate fixed. [default: true]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub adaptive: Option<bool>,

    /// Keep the rate fixed at --rate even when throttled (--adaptive=false).
    #[arg(long, conflicts_with = "adaptive")]
    #[serde(skip)]
    pub no_adaptive: bool,

    /// Calls in flight at once, at most. [default: 16]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// Attempts per user on transient errors; throttled calls do not count.
    /// [default: 8]
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,

    /// Seconds one attempt may take, connection included. [default: 10]
    #[arg(long, value_name = "SECONDS")]
    pub attempt_timeout: Option<f64>,

    /// Stop the run (exit 3) when this many users in a row fail with the
    /// same error code: every user would likely fail the same way. 0: never.
    /// [default: 50]
    #[arg(long, value_name = "N")]
    pub stop_after_failures: Option<u32>,

    /// Also redo users the ledger records as failed (after fixing what made
    /// them fail). Users that succeeded are never redone.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub retry_failed: Option<bool>,

    /// Requests per second for AdminGetUser, used to learn whether a call
    /// whose answer was lost was carried out (its own quota category,
    /// UserRead, 120/s by default). [default: 20]
    #[arg(long, value_name = "PER_SECOND")]
    pub read_rate: Option<f64>,

    /// AWS region; defaults to the pool id's prefix.
    #[arg(long)]
    pub region: Option<String>,

    /// Named AWS profile (otherwise AWS_PROFILE or the default chain).
    #[arg(long)]
    pub profile: Option<String>,

    /// Send requests to this endpoint (a simulated pool, moto); otherwise
    /// AWS_ENDPOINT_URL or the real regional endpoint.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

/// Where the user list comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Path(PathBuf),
    Stdin,
    /// ListUsers on the pool, with an optional filter.
    Pool {
        filter: Option<String>,
    },
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "stdin".into(),
            Input::Pool { filter: None } => "the pool's users (ListUsers)".into(),
            Input::Pool { filter: Some(f) } => format!("the pool's users (ListUsers, filter {f})"),
        }
    }
}

/// Checked settings of a run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub pool_id: String,
    pub aws: AwsSettings,
    pub input: Input,
    pub ledger: PathBuf,
    pub action: Action,
    pub operation: Operation,
    pub csv: CsvOptions,
    pub rate: f64,
    /// `--rate auto`: `rate` is to be set from the enforced quota.
    pub rate_auto: Option<f64>,
    pub burst: NonZeroU32,
    /// `--burst` was given (otherwise it follows the rate).
    pub burst_given: bool,
    /// Cut the rate on throttling and climb back (see `limiter`).
    pub adaptive: bool,
    pub concurrency: usize,
    pub retry: RetryPolicy,
    /// Users in a row failing with one code that stop the run (0: never).
    pub stop_after_failures: u32,
    /// Redo users the ledger records as failed.
    pub retry_failed: bool,
    /// Rate of AdminGetUser reads for reconciliation.
    pub read_rate: f64,
    /// ListUsers calls per second (--from-pool, resolution).
    pub list_rate: f64,
    /// How rows are resolved to people.
    pub resolve: ResolveMode,
    /// set-password: also give federated users a password.
    pub include_federated: bool,
    /// Sign users out after a successful reset.
    pub sign_out: bool,
    /// Read each user first and skip those a reset cannot work for.
    pub precheck: bool,
    /// Generate passwords, writing them to this file.
    pub generate_passwords: Option<PathBuf>,
    /// Sign-outs per second.
    pub sign_out_rate: f64,
    /// Go ahead without the typed confirmation.
    pub yes: bool,
    /// Report the plan only.
    pub dry_run: bool,
    /// Where to write the summary as JSON.
    pub summary_json: Option<PathBuf>,
    /// The config file the settings came from, if any.
    pub config: Option<PathBuf>,
    /// How often a plain progress line is logged when not on a terminal.
    pub log_interval: Duration,
}

impl RunArgs {
    /// Loads `--config` (if given) and merges: flags over file over defaults.
    pub fn resolve(self) -> Result<RunSettings, UsageError> {
        let config = self.config.clone();
        let merged = match &config {
            Some(path) => self.merge(load_config(path)?),
            None => self,
        };
        let mut settings = merged.check()?;
        settings.config = config;
        Ok(settings)
    }

    /// Values set here win; the rest come from `file`.
    pub fn merge(self, file: RunArgs) -> RunArgs {
        RunArgs {
            config: self.config,
            yes: self.yes.or(file.yes),
            summary_json: self.summary_json.or(file.summary_json),
            dry_run: self.dry_run,
            user_pool_id: self.user_pool_id.or(file.user_pool_id),
            input: self.input.or(file.input),
            from_pool: self.from_pool.or(file.from_pool),
            filter: self.filter.or(file.filter),
            list_rate: self.list_rate.or(file.list_rate),
            resolve: self.resolve.or(file.resolve),
            include_federated: self.include_federated.or(file.include_federated),
            ledger: self.ledger.or(file.ledger),
            action: self.action.or(file.action),
            username_column: self.username_column.or(file.username_column),
            sign_out: self.sign_out.or(file.sign_out),
            precheck: self.precheck.or(file.precheck),
            sign_out_rate: self.sign_out_rate.or(file.sign_out_rate),
            password_column: self.password_column.or(file.password_column),
            no_header: self.no_header.or(file.no_header),
            no_header_check: self.no_header_check.or(file.no_header_check),
            permanent: self.permanent.or(file.permanent),
            generate_passwords: self.generate_passwords.or(file.generate_passwords),
            passwords_out: self.passwords_out.or(file.passwords_out),
            client_metadata: if self.client_metadata.is_empty() {
                file.client_metadata
            } else {
                self.client_metadata
            },
            rate: self.rate.or(file.rate),
            quota_share: self.quota_share.or(file.quota_share),
            burst: self.burst.or(file.burst),
            adaptive: self.adaptive.or(file.adaptive),
            no_adaptive: self.no_adaptive,
            concurrency: self.concurrency.or(file.concurrency),
            max_attempts: self.max_attempts.or(file.max_attempts),
            attempt_timeout: self.attempt_timeout.or(file.attempt_timeout),
            stop_after_failures: self.stop_after_failures.or(file.stop_after_failures),
            retry_failed: self.retry_failed.or(file.retry_failed),
            read_rate: self.read_rate.or(file.read_rate),
            region: self.region.or(file.region),
            profile: self.profile.or(file.profile),
            endpoint_url: self.endpoint_url.or(file.endpoint_url),
        }
    }

    /// Applies defaults and checks every value.
    pub fn check(self) -> Result<RunSettings, UsageError> {
        let pool_id = self.user_pool_id.ok_or(UsageError::Missing(
            "--user-pool-id",
            "name the pool, e.g. --user-pool-id us-east-1_AbCdEfGhI",
        ))?;
        let pool_region = check_pool_id(&pool_id).map_err(|reason| UsageError::PoolId {
            id: pool_id.clone(),
            reason,
        })?;
        let region = match self.region {
            Some(r) if r != pool_region && self.endpoint_url.is_none() => {
                return Err(UsageError::RegionMismatch {
                    given: r,
                    pool: pool_id.clone(),
                    expected: pool_region.to_string(),
                })
            }
            Some(r) => r,
            None => pool_region.to_string(),
        };
        if let Some(url) = &self.endpoint_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(UsageError::Value {
                    flag: "--endpoint-url",
                    reason: format!("'{url}' is not an http:// or https:// URL"),
                });
            }
        }
        let from_pool = self.from_pool.unwrap_or(false);
        let input = match (self.input, from_pool) {
            (Some(_), true) => {
                return Err(UsageError::Value {
                    flag: "--from-pool",
                    reason: "give either --input or --from-pool, not both".into(),
                })
            }
            (None, true) => Input::Pool {
                filter: self.filter.clone(),
            },
            (None, false) => {
                return Err(UsageError::Missing(
                    "--input",
                    "give the CSV of users, e.g. --input users.csv (or --input - for stdin), or --from-pool",
                ))
            }
            (Some(p), false) if p.as_os_str() == "-" => Input::Stdin,
            (Some(p), false) => Input::Path(p),
        };
        if self.filter.is_some() && !from_pool {
            return Err(UsageError::Value {
                flag: "--filter",
                reason: "it applies to --from-pool only".into(),
            });
        }
        let sign_out = self.sign_out.unwrap_or(false);
        if sign_out && self.action.unwrap_or(Action::Reset) != Action::Reset {
            return Err(UsageError::Value {
                flag: "--sign-out",
                reason: "it follows a reset (--action reset); to only end sessions use --action sign-out".into(),
            });
        }
        let precheck = self.precheck.unwrap_or(false);
        if precheck && self.action.unwrap_or(Action::Reset) != Action::Reset {
            return Err(UsageError::Value {
                flag: "--precheck",
                reason: "it checks whether a reset can work, so it applies to --action reset only"
                    .into(),
            });
        }
        let sign_out_rate = self.sign_out_rate.unwrap_or(DEFAULT_SIGN_OUT_RATE);
        check_range(sign_out_rate, MIN_RATE, 100_000.0, "--sign-out-rate", "10")?;
        let list_rate = self.list_rate.unwrap_or(DEFAULT_LIST_RATE);
        check_range(list_rate, MIN_RATE, 10_000.0, "--list-rate", "15")?;
        let action = self.action.unwrap_or(Action::Reset);
        let resolve = self.resolve.unwrap_or_default();
        if resolve == ResolveMode::Exact && precheck {
            return Err(UsageError::Value {
                flag: "--resolve exact",
                reason: "--precheck reads each user's status from the pool's listing; drop --resolve exact".into(),
            });
        }
        let include_federated = self.include_federated.unwrap_or(false);
        if include_federated && action != Action::SetPassword {
            return Err(UsageError::Value {
                flag: "--include-federated",
                reason: "it applies to --action set-password only".into(),
            });
        }
        if resolve == ResolveMode::Exact && action == Action::SetPassword && !include_federated {
            return Err(UsageError::Value {
                flag: "--resolve exact",
                reason: "set-password reads each user's status to skip federated (EXTERNAL_PROVIDER) users, which a password would turn into password users; drop --resolve exact, or add --include-federated".into(),
            });
        }
        let generate = self.generate_passwords.unwrap_or(false);
        let generate_passwords = match (generate, self.passwords_out.clone()) {
            (true, _) if action != Action::SetPassword => {
                return Err(UsageError::Value {
                    flag: "--generate-passwords",
                    reason: "it applies to --action set-password only".into(),
                })
            }
            (true, None) => {
                return Err(UsageError::Missing(
                    "--passwords-out",
                    "with --generate-passwords, name the file the passwords go to, e.g. --passwords-out passwords.csv",
                ))
            }
            (true, Some(path)) => Some(path),
            (false, Some(_)) => {
                return Err(UsageError::Value {
                    flag: "--passwords-out",
                    reason: "it goes with --generate-passwords".into(),
                })
            }
            (false, None) => None,
        };
        if from_pool && action == Action::SetPassword && !generate {
            return Err(UsageError::Value {
                flag: "--from-pool",
                reason: "set-password needs each user's password from an --input file, or --generate-passwords".into(),
            });
        }
        let operation = match action {
            Action::Reset => {
                if self.permanent.is_some() {
                    return Err(UsageError::Value {
                        flag: "--permanent",
                        reason: "it applies to --action set-password only".into(),
                    });
                }
                Operation::Reset {
                    client_metadata: parse_metadata(&self.client_metadata)?,
                }
            }
            Action::SignOut => {
                if self.permanent.is_some() || !self.client_metadata.is_empty() {
                    return Err(UsageError::Value {
                        flag: "--action sign-out",
                        reason: "--permanent and --client-metadata do not apply to it".into(),
                    });
                }
                Operation::SignOut
            }
            Action::SetPassword => {
                if !self.client_metadata.is_empty() {
                    return Err(UsageError::Value {
                        flag: "--client-metadata",
                        reason: "it applies to --action reset only".into(),
                    });
                }
                Operation::SetPassword {
                    permanent: self.permanent.unwrap_or(false),
                }
            }
        };
        let rate_auto = self.rate == Some(Rate::Auto);
        let rate = match self.rate {
            Some(Rate::PerSecond(r)) => r,
            Some(Rate::Auto) | None => DEFAULT_RATE,
        };
        let quota_share = self.quota_share.unwrap_or(DEFAULT_QUOTA_SHARE);
        if !(quota_share > 0.0 && quota_share <= 1.0) {
            return Err(UsageError::Value {
                flag: "--quota-share",
                reason: format!(
                    "{quota_share} is not a share; give a number above 0 and at most 1, e.g. 0.7"
                ),
            });
        }
        check_range(rate, MIN_RATE, 100_000.0, "--rate", "20")?;
        let burst = NonZeroU32::new(self.burst.unwrap_or_else(|| default_burst(rate))).ok_or(
            UsageError::Value {
                flag: "--burst",
                reason: "must be at least 1".into(),
            },
        )?;
        let concurrency = self.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        if !(1..=4096).contains(&concurrency) {
            return Err(UsageError::Value {
                flag: "--concurrency",
                reason: format!("{concurrency} is out of range; give 1 to 4096"),
            });
        }
        let max_attempts = self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if !(1..=100).contains(&max_attempts) {
            return Err(UsageError::Value {
                flag: "--max-attempts",
                reason: format!("{max_attempts} is out of range; give 1 to 100"),
            });
        }
        let timeout = self.attempt_timeout.unwrap_or(DEFAULT_ATTEMPT_TIMEOUT_SECS);
        check_range(timeout, 0.1, 3600.0, "--attempt-timeout", "10")?;
        let read_rate = self.read_rate.unwrap_or(DEFAULT_READ_RATE);
        check_range(read_rate, MIN_RATE, 100_000.0, "--read-rate", "20")?;
        let ledger = self.ledger.unwrap_or_else(|| {
            PathBuf::from(format!(
                "cognito-bulk-reset-{pool_id}-{}.jsonl",
                action.as_str()
            ))
        });
        let csv = CsvOptions {
            input_name: input.name(),
            header: !self.no_header.unwrap_or(false),
            username_column: self.username_column.unwrap_or_else(|| "username".into()),
            password_column: match action {
                Action::SetPassword if generate_passwords.is_none() => {
                    Some(self.password_column.unwrap_or_else(|| "password".into()))
                }
                Action::SetPassword => None,
                Action::Reset | Action::SignOut => None,
            },
            // Known once the input is open.
            regular_file: false,
            header_check: !self.no_header_check.unwrap_or(false),
        };
        Ok(RunSettings {
            aws: AwsSettings {
                region,
                profile: self.profile,
                endpoint_url: self.endpoint_url,
                attempt_timeout: Duration::from_secs_f64(timeout),
                test_credentials: false,
            },
            pool_id,
            input,
            ledger,
            action,
            operation,
            csv,
            rate,
            rate_auto: rate_auto.then_some(quota_share),
            burst,
            burst_given: self.burst.is_some(),
            adaptive: !self.no_adaptive && self.adaptive.unwrap_or(true),
            concurrency,
            retry: RetryPolicy {
                max_attempts,
                ..RetryPolicy::default()
            },
            stop_after_failures: self
                .stop_after_failures
                .unwrap_or(DEFAULT_STOP_AFTER_FAILURES),
            retry_failed: self.retry_failed.unwrap_or(false),
            read_rate,
            list_rate,
            resolve,
            include_federated,
            sign_out,
            precheck,
            generate_passwords,
            sign_out_rate,
            yes: self.yes.unwrap_or(false),
            dry_run: self.dry_run,
            summary_json: self.summary_json,
            log_interval: Duration::from_secs(10),
            config: None,
        })
    }
}

/// The slowest rate a flag may give: one call per 1000 s. (Below it a
/// limiter's period would overflow; no job is that slow.)
pub const MIN_RATE: f64 = 0.001;

/// Checks that a number flag lies in `min..=max`; the message names both
/// bounds and an example.
fn check_range(
    value: f64,
    min: f64,
    max: f64,
    flag: &'static str,
    example: &str,
) -> Result<(), UsageError> {
    if value.is_finite() && value >= min && value <= max {
        return Ok(());
    }
    Err(UsageError::Value {
        flag,
        reason: format!("{value} is out of range; give {min} to {max}, e.g. {flag} {example}"),
    })
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

fn parse_metadata(pairs: &[String]) -> Result<HashMap<String, String>, UsageError> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(UsageError::Value {
                flag: "--client-metadata",
                reason: format!("expected KEY=VALUE, got '{pair}'"),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> RunArgs {
        RunArgs {
            user_pool_id: Some("us-east-1_Abc".into()),
            input: Some("users.csv".into()),
            ..RunArgs::default()
        }
    }

    fn err(a: RunArgs) -> String {
        a.check().unwrap_err().to_string()
    }

    /// config/default.toml documents the defaults truthfully: loading it changes nothing.
    #[test]
    fn default_toml_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
        let file = load_config(&path).expect("config/default.toml parses");
        let with_file = args().merge(file).check().unwrap();
        let without = args().check().unwrap();
        assert_eq!(format!("{with_file:?}"), format!("{without:?}"));
    }

    /// The rate adapts unless --no-adaptive or `adaptive = false` says otherwise; the flag wins over the file.
    #[test]
    fn adaptive_is_on_by_default_and_can_be_turned_off() {
        assert!(args().check().unwrap().adaptive);
        let off = RunArgs {
            no_adaptive: true,
            ..args()
        };
        assert!(!off.clone().check().unwrap().adaptive);
        let file: RunArgs = toml::from_str("adaptive = false").unwrap();
        assert!(!args().merge(file.clone()).check().unwrap().adaptive);
        let on = RunArgs {
            adaptive: Some(true),
            ..args()
        };
        assert!(on.merge(file).check().unwrap().adaptive);
        assert!(toml::from_str::<RunArgs>("no-adaptive = true").is_err());
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            run: RunArgs,
        }
        let parsed = Cli::try_parse_from(["x", "--no-adaptive"]).unwrap();
        assert!(parsed.run.no_adaptive);
        assert!(Cli::try_parse_from(["x", "--no-adaptive", "--adaptive"]).is_err());
    }

    /// The ready-made configs load, pass every check, and mean what their comments say.
    #[test]
    fn ready_made_configs() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let pool = RunArgs {
            user_pool_id: Some("us-east-1_Abc".into()),
            ..RunArgs::default()
        };
        let incident = pool
            .clone()
            .merge(load_config(&dir.join("incident-response.toml")).unwrap())
            .check()
            .unwrap();
        assert_eq!(
            incident.input,
            Input::Pool {
                filter: Some("cognito:user_status = \"CONFIRMED\"".into())
            }
        );
        assert!(incident.sign_out && !incident.yes);
        assert!(incident.rate < DEFAULT_RECOVERY_QUOTA);
        let migration = RunArgs {
            input: Some("batch.csv".into()),
            ..pool
        }
        .merge(load_config(&dir.join("migration.toml")).unwrap())
        .check()
        .unwrap();
        assert_eq!(migration.action, Action::SetPassword);
        assert_eq!(
            migration.operation,
            Operation::SetPassword { permanent: false }
        );
        assert!(migration.yes);
    }

    /// Flags win over the file; the file wins over defaults.
    #[test]
    fn flags_override_file() {
        let file: RunArgs =
            toml::from_str("rate = 5.0\nconcurrency = 3\nclient-metadata = [\"a=b\"]").unwrap();
        let s = RunArgs {
            rate: Some(Rate::PerSecond(7.0)),
            ..args()
        }
        .merge(file)
        .check()
        .unwrap();
        assert_eq!((s.rate, s.concurrency), (7.0, 3));
        assert_eq!(
            s.operation,
            Operation::Reset {
                client_metadata: HashMap::from([("a".into(), "b".into())])
            }
        );
    }

    /// Region comes from the pool id; a conflicting --region is refused unless an endpoint is given.
    #[test]
    fn region_follows_the_pool() {
        assert_eq!(args().check().unwrap().aws.region, "us-east-1");
        let e = err(RunArgs {
            region: Some("eu-west-1".into()),
            ..args()
        });
        assert!(e.contains("lives in us-east-1"), "{e}");
        let s = RunArgs {
            region: Some("eu-west-1".into()),
            endpoint_url: Some("http://127.0.0.1:1".into()),
            ..args()
        }
        .check()
        .unwrap();
        assert_eq!(s.aws.region, "eu-west-1");
    }

    /// The default burst is about 20 ms of calls and never 1 (a bucket of one loses late wake-ups).
    #[test]
    fn default_burst_scales_with_rate() {
        assert_eq!(default_burst(0.5), 2);
        assert_eq!(default_burst(20.0), 2);
        assert_eq!(default_burst(1000.0), 20);
        assert_eq!(args().check().unwrap().burst.get(), 2);
        assert_eq!(
            RunArgs {
                burst: Some(1),
                ..args()
            }
            .check()
            .unwrap()
            .burst
            .get(),
            1
        );
    }

    /// Bad values stop with a message naming the flag and the fix.
    #[test]
    fn bad_values_name_the_fix() {
        assert!(err(RunArgs {
            user_pool_id: None,
            ..args()
        })
        .contains("--user-pool-id"));
        assert!(err(RunArgs {
            user_pool_id: Some("nope".into()),
            ..args()
        })
        .contains("us-east-1_AbCdEfGhI"));
        assert!(err(RunArgs {
            input: None,
            ..args()
        })
        .contains("--input"));
        assert!(err(RunArgs {
            rate: Some(Rate::PerSecond(0.0)),
            ..args()
        })
        .contains("--rate"));
        assert!(err(RunArgs {
            rate: Some(Rate::PerSecond(f64::NAN)),
            ..args()
        })
        .contains("--rate"));
        assert!(err(RunArgs {
            burst: Some(0),
            ..args()
        })
        .contains("--burst"));
        assert!(err(RunArgs {
            concurrency: Some(0),
            ..args()
        })
        .contains("--concurrency"));
        assert!(err(RunArgs {
            max_attempts: Some(0),
            ..args()
        })
        .contains("--max-attempts"));
        assert!(err(RunArgs {
            client_metadata: vec!["novalue".into()],
            ..args()
        })
        .contains("KEY=VALUE"));
        assert!(err(RunArgs {
            permanent: Some(true),
            ..args()
        })
        .contains("set-password only"));
        assert!(err(RunArgs {
            endpoint_url: Some("localhost:1".into()),
            ..args()
        })
        .contains("--endpoint-url"));
    }

    /// A config file with an unknown key is refused, naming the key.
    #[test]
    fn unknown_config_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "rat = 3\n").unwrap();
        let e = load_config(&path).unwrap_err().to_string();
        assert!(e.contains("rat") && e.contains("c.toml"), "{e}");
    }

    /// The default ledger name is derived from pool and action, so the same command resumes.
    #[test]
    fn default_ledger_path() {
        let s = args().check().unwrap();
        assert_eq!(
            s.ledger,
            PathBuf::from("cognito-bulk-reset-us-east-1_Abc-reset.jsonl")
        );
        assert_eq!(s.input, Input::Path("users.csv".into()));
        assert!(s.csv.header);
    }
}
