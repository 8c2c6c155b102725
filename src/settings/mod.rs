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
//!
//! - [`args`]: the raw shape ([`RunArgs`]), the config file, and the merge;
//! - `check`: the raw shape turned into checked [`RunSettings`].

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cognito::{AwsSettings, Connect, Operation};
use crate::ledger::location::Location;
use crate::ledger::{Action, Step};
use crate::limiter::{default_burst, Limiter, Limits, POOL_READ_RATE};
use crate::resolve::ResolveMode;
use crate::retry::RetryPolicy;
use crate::source::csv::CsvOptions;

mod args;
mod check;

pub use args::{load_config, Rate, RunArgs};

pub const DEFAULT_ACTION: Action = Action::Reset;
pub const DEFAULT_USERNAME_COLUMN: &str = "username";
pub const DEFAULT_PASSWORD_COLUMN: &str = "password";
pub const DEFAULT_DELIMITER: &str = ",";
pub const DEFAULT_RATE: f64 = 20.0;
pub const DEFAULT_LEASE_SECONDS: u64 = 60;
/// Minutes of the account's usage metrics `--rate auto` reads.
pub const USAGE_WINDOW_MINUTES: u64 = 60;
pub const DEFAULT_CONCURRENCY: usize = 16;
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
pub const DEFAULT_ATTEMPT_TIMEOUT_SECS: f64 = 10.0;
pub const DEFAULT_STOP_AFTER_FAILURES: u32 = 50;
pub const DEFAULT_READ_RATE: f64 = 20.0;
pub const DEFAULT_LIST_RATE: f64 = 15.0;
pub const DEFAULT_SIGN_OUT_RATE: f64 = 10.0;
/// `--rate auto`'s share of the quota where it cannot see what production
/// uses (no CloudWatch).
pub const DEFAULT_QUOTA_SHARE: f64 = 0.7;
/// Its cap where it can: the job also leaves production its busiest recent
/// minute and a reserve, and this keeps a fifth of the quota for a surge
/// the next minute's reading has not seen yet.
pub const SEEN_QUOTA_SHARE: f64 = 0.8;
pub use crate::action::{DEFAULT_RECOVERY_QUOTA, DEFAULT_UPDATE_QUOTA};

/// The slowest rate a flag may give: one call per 1000 s. (Below it a
/// limiter's period would overflow; no job is that slow.)
pub const MIN_RATE: f64 = 0.001;

/// Where the user list comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Path(PathBuf),
    Stdin,
    /// An S3 object, streamed.
    S3 {
        bucket: String,
        key: String,
    },
    /// ListUsers on the pool, with an optional filter.
    Pool {
        filter: Option<String>,
    },
    /// ListUsersInGroup: a group's members (`--from-group`).
    Group {
        name: String,
    },
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "stdin".into(),
            Input::S3 { bucket, key } => format!("{}{bucket}/{key}", crate::source::s3::SCHEME),
            Input::Pool { filter: None } => "the pool's users (ListUsers)".into(),
            Input::Pool { filter: Some(f) } => format!("the pool's users (ListUsers, filter {f})"),
            Input::Group { name } => format!("the group {name} (ListUsersInGroup)"),
        }
    }
}

/// The size of a canary wave (`--canary`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Canary {
    /// This many people.
    People(u64),
    /// This share (above 0, at most 1) of the input's rows, rounded up.
    Share(f64),
}

impl Canary {
    /// The wave's size: a share needs the input's rows counted (a file).
    pub fn size(self, input_rows: Option<u64>) -> Result<u64, crate::error::UsageError> {
        match (self, input_rows) {
            (Canary::People(n), _) => Ok(n),
            (Canary::Share(share), Some(rows)) => Ok(((rows as f64 * share).ceil() as u64).max(1)),
            (Canary::Share(_), None) => Err(crate::error::UsageError::Value {
                flag: "--canary",
                reason: "a share needs an input file whose rows can be counted; give a number of people, e.g. --canary 50".into(),
            }),
        }
    }
}

/// Checked settings of a run: where the calls go, the input and the
/// ledger, what is done to each user ([`Steps`]) and how fast ([`Pace`]).
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub pool_id: String,
    pub aws: AwsSettings,
    pub input: Input,
    /// The ledger: a file, or a job in a DynamoDB table (with how the
    /// table is reached), parsed once here.
    pub ledger: Location,
    pub csv: CsvOptions,
    /// `--exclude`: files of people never to touch.
    pub exclude: Vec<std::path::PathBuf>,
    /// `--exclude-group`: groups whose members are never touched.
    pub exclude_group: Vec<String>,
    /// `--canary` without `--continue`: the first wave's size.
    pub canary: Option<Canary>,
    pub steps: Steps,
    pub pace: Pace,
    pub retry: RetryPolicy,
    /// Users in a row failing with one code that stop the run (0: never).
    pub stop_after_failures: u32,
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
    /// A DynamoDB ledger's lease, seconds.
    pub lease_seconds: u64,
    /// Resume over an S3 input that changed since the job began.
    pub input_changed: bool,
    /// Where this host's claims on pools are kept (`ledger::claim`);
    /// `None`: no host claim (no home folder to keep them in).
    pub claim_dir: Option<PathBuf>,
    /// Go ahead beside another live job on the same pool and action.
    pub allow_concurrent_jobs: bool,
}

/// What is done to each user.
#[derive(Debug, Clone)]
pub struct Steps {
    pub action: Action,
    /// The action's call, with its parameters.
    pub operation: Operation,
    /// Sign users out after a successful reset.
    pub sign_out: bool,
    /// Disable users after a successful reset (and sign-out).
    pub disable: bool,
    /// Skip, from what ListUsers says, users a reset cannot work for.
    pub precheck: bool,
    /// set-password: also give federated users a password.
    pub include_federated: bool,
    /// Generate passwords, writing them to this file.
    pub generate_passwords: Option<PathBuf>,
    /// How rows are resolved to people.
    pub resolve: ResolveMode,
    /// Redo users the ledger records as failed.
    pub retry_failed: bool,
}

impl Steps {
    /// The steps after the action, in order: the sign-out, then the
    /// disable.
    pub fn follow_ups(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        if self.sign_out {
            steps.push(Step::SignOut);
        }
        if self.disable {
            steps.push(Step::Disable);
        }
        steps
    }

    /// Whether a step after the action spends the UserUpdate quota (every
    /// step does: AdminUserGlobalSignOut, AdminDisableUser).
    pub fn updates(&self) -> bool {
        !self.follow_ups().is_empty()
    }
}

/// How fast: the rate of each quota category the run calls, and the calls
/// in flight.
#[derive(Debug, Clone)]
pub struct Pace {
    /// The action's calls per second, retries included.
    pub rate: f64,
    /// `--rate auto`: `rate` is to be set from the enforced quota.
    pub rate_auto: Option<AutoAsk>,
    pub burst: NonZeroU32,
    /// `--burst` was given (otherwise it follows the rate).
    pub burst_given: bool,
    /// Cut the rate on throttling and climb back (see `limiter`).
    pub adaptive: bool,
    pub concurrency: usize,
    /// Rate of AdminGetUser reads for reconciliation.
    pub read_rate: f64,
    /// ListUsers calls per second (--from-pool, resolution).
    pub list_rate: f64,
    /// Sign-outs per second.
    pub sign_out_rate: f64,
    /// `--rate auto` with the account's usage readable: the rate follows
    /// what other callers leave, under this cap (see `neighbour`).
    pub auto: Option<AutoRate>,
}

/// What `--rate auto` was asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoAsk {
    /// `--quota-share`, when given: a cap on the job's share of the quota.
    pub share: Option<f64>,
    /// `--leave-for-production N`: calls per second left to production
    /// (`None`: its busiest recent minute and a reserve, from CloudWatch).
    pub leave: Option<f64>,
}

/// `--rate auto`'s figures, once read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoRate {
    pub category: &'static str,
    pub quota: f64,
    /// The most the rate may reach: `--quota-share` of the quota when given,
    /// else the quota (what production is left is the headroom's business).
    pub cap: f64,
    /// `--leave-for-production N`, when given.
    pub leave: Option<f64>,
}

impl AutoRate {
    /// The ceiling that leaves others `headroom`: the quota less
    /// `--leave-for-production` when given, else the headroom's rate; never
    /// above the cap.
    pub fn ceiling(&self, headroom: &crate::usage::Headroom) -> f64 {
        self.fixed().unwrap_or(headroom.rate.min(self.cap))
    }

    /// The rate an explicit `--leave-for-production` gives, whatever the
    /// usage: the quota less it (at least the floor), under the cap.
    pub fn fixed(&self) -> Option<f64> {
        self.leave.map(|n| {
            (self.quota - n)
                .max(crate::usage::MIN_AUTO_RATE)
                .min(self.cap)
        })
    }
}

impl Pace {
    /// A limiter per quota category for jobs doing `actions` (the action,
    /// and whether it signs users out after it; a fleet's bucket passes
    /// every target's), adaptive ones when `adaptive` (ListUsers with a
    /// burst of one). The first action's category gets `--rate` with the
    /// burst and `--rate auto`'s room to climb; UserUpdate carries both the
    /// sign-out action (at `--rate`) and the sign-outs after a reset (at
    /// `--sign-out-rate`): where a bucket has both, the lower.
    pub fn limits(&self, actions: &[(Action, bool)]) -> Limits {
        use crate::action::QuotaCategory;
        let secondary = |rate| {
            Arc::new(if self.adaptive {
                Limiter::adaptive(rate, None)
            } else {
                Limiter::with_default_burst(rate)
            })
        };
        let main = actions
            .first()
            .map_or(QuotaCategory::UserAccountRecovery, |(a, _)| a.category());
        let update_rate = actions
            .iter()
            .flat_map(|&(action, sign_out)| {
                let own = (action.category() == QuotaCategory::UserUpdate).then_some(self.rate);
                own.into_iter()
                    .chain(sign_out.then_some(self.sign_out_rate))
            })
            .fold(f64::INFINITY, f64::min);
        let update_rate = if update_rate.is_finite() {
            update_rate
        } else {
            self.sign_out_rate
        };
        let rate = match main {
            QuotaCategory::UserAccountRecovery => self.rate,
            QuotaCategory::UserUpdate => update_rate,
        };
        // Following what others leave, the rate may climb to the cap.
        let top = self.auto.map_or(rate, |a| a.cap.max(rate));
        let first = Arc::new(if self.adaptive {
            Limiter::adaptive(top, self.burst_given.then_some(self.burst))
        } else {
            Limiter::new(top, self.burst)
        });
        if top > rate {
            first.set_ceiling(rate);
        }
        let (recovery, update) = match main {
            QuotaCategory::UserAccountRecovery => (first, secondary(update_rate)),
            QuotaCategory::UserUpdate => (secondary(self.rate), first),
        };
        Limits {
            recovery,
            update,
            read: secondary(self.read_rate),
            list: Arc::new(if self.adaptive {
                Limiter::adaptive(self.list_rate, Some(NonZeroU32::MIN))
            } else {
                Limiter::new(self.list_rate, NonZeroU32::MIN)
            }),
            pool_read: Arc::new(Limiter::with_default_burst(POOL_READ_RATE)),
            client_read: Arc::new(Limiter::with_default_burst(
                crate::limiter::CLIENT_READ_RATE,
            )),
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
}

/// The limit that sets how many users a second a run can do: the action's
/// rate, or with steps after it (`--sign-out`, `--disable`) the sign-out
/// rate shared by those steps when that is lower (each user takes one call
/// of the action and one of each step; the steps share the UserUpdate
/// limiter, so two steps halve the users it passes).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bottleneck {
    /// Users per second at most.
    pub rate: f64,
    /// The flag that sets it: `--rate` or `--sign-out-rate`.
    pub flag: &'static str,
}

impl Default for Bottleneck {
    fn default() -> Bottleneck {
        Bottleneck {
            rate: DEFAULT_RATE,
            flag: "--rate",
        }
    }
}

impl std::fmt::Display for Bottleneck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/s ({})", self.rate, self.flag)
    }
}

impl RunSettings {
    /// The API quota category of the action, with its documented default.
    /// The limiters of this run alone.
    pub fn limits(&self) -> Limits {
        self.pace
            .limits(&[(self.steps.action, self.steps.updates())])
    }

    /// What sets the pace of users (see [`Bottleneck`]).
    pub fn bottleneck(&self) -> Bottleneck {
        let steps = self.steps.follow_ups().len();
        let per_user = self.pace.sign_out_rate / steps.max(1) as f64;
        if steps > 0 && per_user < self.pace.rate {
            Bottleneck {
                rate: per_user,
                flag: "--sign-out-rate",
            }
        } else {
            Bottleneck {
                rate: self.pace.rate,
                flag: "--rate",
            }
        }
    }

    pub fn quota_category(&self) -> (&'static str, f64) {
        let category = self.steps.action.category();
        (category.as_str(), category.default_quota())
    }

    /// `--rate auto`: sets the rate to a share of the quota Cognito enforces
    /// for the action's category; where GetProvisionedLimit is not permitted or
    /// not supported, falls back to the documented default quota and says so.
    /// Returns a line describing where the rate came from.
    pub async fn resolve_auto_rate(
        &mut self,
        connect: &dyn Connect,
    ) -> anyhow::Result<Option<String>> {
        let settings = self;
        let Some(ask) = settings.pace.rate_auto else {
            return Ok(None);
        };
        let cognito = connect.connect(&settings.aws, &settings.pool_id).await?;
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
        // The cap: --quota-share when given; unset, a fifth of the quota
        // is kept for production's unseen surges, unless
        // --leave-for-production says what to leave.
        let share = match (ask.share, ask.leave) {
            (Some(share), _) => share,
            (None, Some(_)) => 1.0,
            (None, None) => SEEN_QUOTA_SHARE,
        };
        let cap = quota * share;
        let cap_text = if share < 1.0 {
            format!("; the cap {share} x {quota} = {cap:.1}/s")
        } else {
            String::new()
        };
        let auto = AutoRate {
            category,
            quota,
            cap,
            leave: ask.leave,
        };
        let explicit = ask.leave.map(|n| {
            format!(
                "leaves {quota}/s - --leave-for-production {n}/s = {:.1}/s",
                quota - n
            )
        });
        // What else used the category lately, production included (the
        // account's usage metrics): the job leaves it its busiest recent
        // minute and a reserve, or what --leave-for-production says.
        let now = crate::usage::unix_now();
        let (rate, used) = match crate::usage::read(&settings.aws, category, USAGE_WINDOW_MINUTES)
            .await
        {
            Ok(u) => {
                let h = crate::usage::Headroom::of(quota, &u, now);
                let seen = if u.minutes.is_empty() {
                    format!("no {category} calls in the last hour (CloudWatch)")
                } else {
                    format!(
                        "{category} calls in the last hour (CloudWatch, every caller's): busiest minute {:.1}/s, latest {:.1}/s, {} throttled",
                        u.peak_rate(),
                        u.latest_rate(),
                        u.throttles()
                    )
                };
                let rate = auto.ceiling(&h);
                settings.pace.auto = Some(auto);
                let leaves = explicit.unwrap_or_else(|| {
                    format!(
                        "leaves {quota}/s - busiest of the last {} minutes {:.1}/s - reserve {:.1}/s = {:.1}/s",
                        crate::usage::PEAK_WINDOW_MINUTES,
                        h.busiest,
                        h.reserve,
                        h.rate
                    )
                });
                (
                    rate,
                    format!("{seen}\n  {leaves}{cap_text}; rate {rate:.1}/s"),
                )
            }
            Err(e) => {
                tracing::warn!(error = %e, "the account's usage metrics could not be read");
                let why = format!("the account's {category} use could not be read ({e}), so the job cannot leave production its share by what it uses, nor see it throttled");
                match (auto.fixed(), explicit) {
                    (Some(rate), Some(leaves)) => (
                        rate,
                        format!("{why}\n  {leaves}{cap_text}; rate {rate:.1}/s"),
                    ),
                    _ => {
                        let share = ask.share.unwrap_or(DEFAULT_QUOTA_SHARE);
                        let rate = quota * share;
                        (
                            rate,
                            format!("{why}; meanwhile {share} x the quota = {rate:.1}/s"),
                        )
                    }
                }
            }
        };
        settings.pace.set_rate(rate);
        Ok(Some(format!(
            "--rate auto: {category} quota {quota}/s ({source})\n  {used}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::Path;

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

    /// The pace of users: the action's rate, or the sign-out rate shared
    /// by the steps after it (two steps take two of its calls a user).
    #[test]
    fn the_bottleneck_counts_the_steps_sharing_the_sign_out_rate() {
        let with = |sign_out, disable| {
            RunArgs {
                sign_out: Some(sign_out),
                disable: Some(disable),
                rate: Some(Rate::PerSecond(20.0)),
                sign_out_rate: Some(16.0),
                ..args()
            }
            .check()
            .unwrap()
            .bottleneck()
        };
        assert_eq!(
            with(false, false),
            Bottleneck {
                rate: 20.0,
                flag: "--rate"
            }
        );
        assert_eq!(
            with(true, false),
            Bottleneck {
                rate: 16.0,
                flag: "--sign-out-rate"
            }
        );
        assert_eq!(
            with(true, true),
            Bottleneck {
                rate: 8.0,
                flag: "--sign-out-rate"
            }
        );
    }

    /// config/default.toml documents the defaults truthfully: loading it changes nothing.
    #[test]
    fn auto_ceiling_leaves_the_headroom_or_the_explicit_figure_under_the_cap() {
        let h = crate::usage::Headroom {
            quota: 30.0,
            busiest: 10.0,
            reserve: 2.0,
            rate: 18.0,
        };
        let auto = |cap, leave| AutoRate {
            category: "UserAccountRecovery",
            quota: 30.0,
            cap,
            leave,
        };
        assert_eq!(auto(24.0, None).ceiling(&h), 18.0);
        assert_eq!(auto(15.0, None).ceiling(&h), 15.0);
        assert_eq!(auto(30.0, Some(12.5)).ceiling(&h), 17.5);
        assert_eq!(auto(15.0, Some(12.5)).ceiling(&h), 15.0);
        // Leaving the whole quota still lets the job creep along.
        assert_eq!(
            auto(30.0, Some(40.0)).ceiling(&h),
            crate::usage::MIN_AUTO_RATE
        );
    }

    #[test]
    fn default_toml_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
        let file = load_config(&path).expect("config/default.toml parses");
        let with_file = args().merge(file).unwrap().check().unwrap();
        let without = args().check().unwrap();
        assert_eq!(format!("{with_file:?}"), format!("{without:?}"));
    }

    /// The rate adapts unless --no-adaptive or `adaptive = false` says otherwise; the flag wins over the file.
    #[test]
    fn adaptive_is_on_by_default_and_can_be_turned_off() {
        assert!(args().check().unwrap().pace.adaptive);
        let off = RunArgs {
            no_adaptive: true,
            ..args()
        };
        assert!(!off.clone().check().unwrap().pace.adaptive);
        let file: RunArgs = toml::from_str("adaptive = false").unwrap();
        assert!(
            !args()
                .merge(file.clone())
                .unwrap()
                .check()
                .unwrap()
                .pace
                .adaptive
        );
        let on = RunArgs {
            adaptive: Some(true),
            ..args()
        };
        assert!(on.merge(file).unwrap().check().unwrap().pace.adaptive);
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
            .unwrap()
            .check()
            .unwrap();
        assert_eq!(
            incident.input,
            Input::Pool {
                filter: Some("cognito:user_status = \"CONFIRMED\"".into())
            }
        );
        assert!(incident.steps.sign_out && !incident.yes);
        assert!(incident.pace.rate < DEFAULT_RECOVERY_QUOTA);
        let migration = RunArgs {
            input: Some("batch.csv".into()),
            ..pool
        }
        .merge(load_config(&dir.join("migration.toml")).unwrap())
        .unwrap()
        .check()
        .unwrap();
        assert_eq!(migration.steps.action, Action::SetPassword);
        assert_eq!(
            migration.steps.operation,
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
        .unwrap()
        .check()
        .unwrap();
        assert_eq!((s.pace.rate, s.pace.concurrency), (7.0, 3));
        assert_eq!(
            s.steps.operation,
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
        assert_eq!(args().check().unwrap().pace.burst.get(), 2);
        assert_eq!(
            RunArgs {
                burst: Some(1),
                ..args()
            }
            .check()
            .unwrap()
            .pace
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
            Location::File(PathBuf::from(
                "cognito-bulk-reset-us-east-1_Abc-reset.jsonl"
            ))
        );
        assert_eq!(s.input, Input::Path("users.csv".into()));
        assert!(s.csv.header);
    }
}
