//! Fleets: one job across many pools, accounts and regions (`--fleet`).
//!
//! A fleet is a list of targets, each a single-pool job of its own: its own
//! settings, ledger, resolver, breaker and stop, exactly as a single run.
//! What they share is the quota. Cognito's API quotas are per account and
//! region, shared by every pool in them, so the targets of one account and
//! region (a *bucket*) pace every call with the same [`Limits`], adaptive
//! rate included: throttling in one pool slows every pool of its bucket and
//! nobody else.
//!
//! The order of events:
//! 1. the manifest is read and checked ([`manifest`]); flags override its
//!    top level, and a flag a target also sets is refused;
//! 2. each target's settings are checked as a single run's are: any
//!    mistake stops the fleet before any call (exit 2);
//! 3. each target's account is read (STS GetCallerIdentity, after
//!    AssumeRole with a session name carrying the run's id); a target whose
//!    role cannot be assumed is recorded as failed and the others go on;
//! 4. its ledger is `LEDGER_DIR/ACCOUNT/REGION/POOL-ACTION.jsonl`, so a
//!    re-run of the same fleet resumes every target;
//! 5. `plan` plans every target; `run` runs them, a few at a time per
//!    bucket, each stopping on its own; the daily email limit, which is
//!    the account's, pauses every target of that account;
//! 6. the roll-up ([`report`]): a row per target, totals per bucket, and
//!    one exit code for the fleet.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tracing::{info, warn};

use crate::cognito::{AssumeRole, AwsSettings};
use crate::error::{ExitCode, UsageError};
use crate::ledger::location::{Location, TableAccess, TableJob};
use crate::limiter::Limits;
use crate::settings::{RunArgs, RunSettings};

mod audit;
pub mod manifest;
mod report;
mod run;

pub use audit::{export, status};
pub use manifest::{DiscoverEntry, Manifest, Place, TargetEntry};
pub use run::{plan, run};

/// An account and region: the scope of Cognito's quotas.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Bucket {
    pub account: String,
    pub region: String,
}

impl std::fmt::Display for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.account, self.region)
    }
}

/// A target ready to plan or run.
#[derive(Debug, Clone)]
pub struct Target {
    pub at: Place,
    pub bucket: Bucket,
    pub settings: RunSettings,
}

impl Target {
    /// `ACCOUNT/REGION/POOL`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.bucket, self.settings.pool_id)
    }
}

/// Why a target did not plan or run, and the exit code that stands for.
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: String,
    pub code: ExitCode,
}

/// A target and how its plan or run ended.
pub type Ended<T> = (Target, Result<T, Failure>);

/// A way of reaching an account: whose account it is is asked once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Way {
    profile: Option<String>,
    role_arn: Option<String>,
    external_id: Option<String>,
    region: String,
}

/// A target that could not be set up (its role could not be assumed, its
/// account not read): recorded and reported while the others go on.
#[derive(Debug, Clone)]
pub struct Broken {
    pub at: Place,
    pub pool_id: String,
    pub region: String,
    pub error: String,
    pub code: ExitCode,
}

/// The fleet, set up: its targets, those that could not be, and the run's
/// id (in every role session's name).
pub struct Fleet {
    pub manifest: PathBuf,
    pub run_id: String,
    pub targets: Vec<Target>,
    pub broken: Vec<Broken>,
    /// The top-level settings (flags over the manifest's top).
    pub top: RunArgs,
}

impl Fleet {
    /// The targets of each bucket, in manifest order.
    pub fn buckets(&self) -> BTreeMap<Bucket, Vec<&Target>> {
        let mut out: BTreeMap<Bucket, Vec<&Target>> = BTreeMap::new();
        for t in &self.targets {
            out.entry(t.bucket.clone()).or_default().push(t);
        }
        out
    }

    /// One set of limiters per bucket, at the fleet's pace, for the
    /// actions of the bucket's targets (one limiter per quota category,
    /// whichever targets spend it).
    pub fn limits(&self) -> HashMap<Bucket, Limits> {
        self.buckets()
            .into_iter()
            .map(|(b, targets)| {
                let actions: Vec<_> = targets
                    .iter()
                    .map(|t| (t.settings.steps.action, t.settings.steps.updates()))
                    .collect();
                (b, targets[0].settings.pace.limits(&actions))
            })
            .collect()
    }

    /// The limiter of the quota category of a bucket's first target, the
    /// one `--rate` (and `--rate auto`) sets.
    pub fn main_limiter(targets: &[&Target], limits: &Limits) -> Arc<crate::limiter::Limiter> {
        limits
            .of(targets[0].settings.steps.action.category())
            .clone()
    }
}

/// What a fleet is opened for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Purpose {
    /// `plan` or `run`: the ledger folders are made.
    Work,
    /// `status` or `export`: nothing is written.
    Read,
}

/// Reads the manifest `cli.fleet` names, merges the flags over it, checks
/// every target and reads every target's account. Refuses (exit 2) a bad
/// manifest or a bad target setting before any call.
pub async fn open(cli: RunArgs, purpose: Purpose) -> anyhow::Result<Fleet> {
    let Some(path) = cli.fleet.clone() else {
        anyhow::bail!("no --fleet manifest");
    };
    if cli.config.is_some() {
        return Err(UsageError::Value {
            flag: "--config",
            reason:
                "a fleet's settings are the manifest's top level; move them there and drop --config"
                    .into(),
        }
        .into());
    }
    let manifest = Manifest::load(&path)?;
    let top = cli
        .clone()
        .merge(manifest.defaults.clone())
        .map_err(|reason| UsageError::Fleet {
            path: path.clone(),
            reason,
        })?;
    // The listed targets are checked before any call; discovered ones
    // after ListUserPools found them.
    let mut drafts = drafts(&cli, &manifest, &manifest.targets)?;
    let run_id = run_id();
    let mut broken = Vec::new();
    for entry in &manifest.discover {
        let (found, unreachable) = discover(&top, entry, &run_id).await;
        drafts.extend(self::drafts(&cli, &manifest, &found)?);
        broken.extend(unreachable);
    }
    let ledgers = Ledgers::of(&top, &path)?;
    info!(manifest = %path.display(), run_id = %run_id, targets = drafts.len(), ledgers = %ledgers, "fleet");

    let mut targets = Vec::new();
    // Accounts are read once per way of reaching one (credentials, role,
    // region).
    let mut accounts: HashMap<Way, Result<String, String>> = HashMap::new();
    for draft in drafts {
        let mut settings = draft.settings;
        if let Some(arn) = &draft.role_arn {
            settings.aws.role = Some(AssumeRole {
                arn: arn.clone(),
                external_id: draft.external_id.clone(),
                session_name: format!("cognito-bulk-reset-{run_id}"),
            });
        }
        let key = Way {
            profile: settings.aws.profile.clone(),
            role_arn: draft.role_arn.clone(),
            external_id: draft.external_id.clone(),
            region: settings.aws.region.clone(),
        };
        let account = match accounts.get(&key) {
            Some(a) => a.clone(),
            None => {
                let a = crate::aws::account(crate::aws::Load {
                    region: Some(&settings.aws.region),
                    profile: settings.aws.profile.as_deref(),
                    endpoint_url: None,
                    sdk_retries: true,
                    attempt_timeout: settings.aws.attempt_timeout,
                    placeholder_credentials: false,
                    role: settings.aws.role.as_ref(),
                })
                .await
                .map_err(|e| e.to_string());
                accounts.insert(key, a.clone());
                a
            }
        };
        match account {
            Ok(account) => {
                let bucket = Bucket {
                    account,
                    region: settings.aws.region.clone(),
                };
                ledgers.place(&mut settings, &bucket)?;
                targets.push(Target {
                    at: draft.at,
                    bucket,
                    settings,
                });
            }
            Err(error) => {
                warn!(target = %draft.at, pool = %settings.pool_id, error = %error, "target cannot be reached; the others go on");
                broken.push(Broken {
                    at: draft.at,
                    pool_id: settings.pool_id.clone(),
                    region: settings.aws.region.clone(),
                    error,
                    code: ExitCode::Stopped,
                });
            }
        }
    }
    check_shared_files(&path, &targets)?;
    // Two targets that are one pool would share a ledger and run it twice.
    let mut seen: HashMap<String, Place> = HashMap::new();
    for t in &targets {
        if let Some(first) = seen.insert(t.label(), t.at) {
            return Err(UsageError::Fleet {
                path,
                reason: format!(
                    "{} and {first} are the same pool ({}); list each pool once",
                    t.at,
                    t.label()
                ),
            }
            .into());
        }
    }
    if let (Ledgers::Dir(dir), Purpose::Work) = (&ledgers, purpose) {
        make_dirs(dir, &targets)?;
    }
    Ok(Fleet {
        manifest: path,
        run_id,
        targets,
        broken,
        top,
    })
}

/// What two targets cannot share: standard input (it can be read once),
/// and a passwords file (each target's is its own, appended as it goes).
fn check_shared_files(manifest: &Path, targets: &[Target]) -> Result<(), UsageError> {
    let fail = |reason: String| UsageError::Fleet {
        path: manifest.to_owned(),
        reason,
    };
    for t in targets {
        if matches!(t.settings.input, crate::settings::Input::Stdin) {
            return Err(fail(format!(
                "{} reads standard input (input = \"-\"), which a fleet cannot share between targets; give it a file or an s3:// object",
                t.at
            )));
        }
    }
    let files: Vec<(&Target, &Path)> = targets
        .iter()
        .filter_map(|t| {
            t.settings
                .steps
                .generate_passwords
                .as_deref()
                .map(|p| (t, p))
        })
        .collect();
    for (i, (a, pa)) in files.iter().enumerate() {
        for (b, pb) in &files[i + 1..] {
            if crate::files::check_distinct(&[
                (crate::files::Role::PasswordsOut, pa),
                (crate::files::Role::PasswordsOut, pb),
            ])
            .is_err()
            {
                return Err(fail(format!(
                    "{} and {} write their passwords to one file ({}); give each target its own passwords-out",
                    a.at,
                    b.at,
                    pa.display()
                )));
            }
        }
    }
    Ok(())
}

/// Where a fleet's targets keep their ledgers.
enum Ledgers {
    /// `DIR/ACCOUNT/REGION/POOL-ACTION.jsonl`.
    Dir(PathBuf),
    /// Jobs `PREFIX/ACCOUNT/REGION/POOL-ACTION` of one DynamoDB table (the
    /// job of this location is the prefix), found by the ledger's one rule
    /// (`--ledger-region`, else AWS_REGION, else the profile's) with the
    /// credentials the fleet runs with.
    Table(TableJob),
}

impl Ledgers {
    /// `ledger = "dynamodb://TABLE/PREFIX"`, else `ledger-dir` or its
    /// default; a file `ledger` is one job's and refused.
    fn of(top: &RunArgs, manifest: &Path) -> Result<Ledgers, UsageError> {
        let fail = |reason: &str| UsageError::Fleet {
            path: manifest.to_owned(),
            reason: reason.to_string(),
        };
        let access = TableAccess {
            region: top.ledger_region.clone(),
            profile: top.profile.clone(),
        };
        match &top.ledger {
            None => Ok(Ledgers::Dir(
                top.ledger_dir
                    .clone()
                    .unwrap_or_else(|| default_ledger_dir(manifest)),
            )),
            Some(ledger) => match Location::parse(ledger, &access)? {
                Location::File(_) => Err(fail("--ledger names one job's file; a fleet keeps one ledger per target: give --ledger-dir DIR, or --ledger dynamodb://TABLE/PREFIX")),
                Location::Table { .. } if top.ledger_dir.is_some() => Err(fail("give ledger (a DynamoDB table) or ledger-dir (files), not both")),
                Location::Table(at) => Ok(Ledgers::Table(at)),
            },
        }
    }

    /// Sets a target's ledger.
    fn place(&self, settings: &mut RunSettings, bucket: &Bucket) -> Result<(), UsageError> {
        let name = format!("{}-{}", settings.pool_id, settings.steps.action.as_str());
        settings.ledger = match self {
            Ledgers::Dir(dir) => Location::File(
                dir.join(&bucket.account)
                    .join(&bucket.region)
                    .join(format!("{name}.jsonl")),
            ),
            Ledgers::Table(at) => Location::Table(at.with_job(format!(
                "{}/{}/{}/{name}",
                at.job, bucket.account, bucket.region
            ))?),
        };
        Ok(())
    }
}

impl std::fmt::Display for Ledgers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ledgers::Dir(dir) => write!(f, "{}", dir.display()),
            Ledgers::Table(at) => write!(f, "{at}"),
        }
    }
}

/// A target's checked settings, before its account is known.
struct Draft {
    at: Place,
    settings: RunSettings,
    role_arn: Option<String>,
    external_id: Option<String>,
}

/// The targets a `[[discover]]` table finds: ListUserPools in each of its
/// accounts (a role, a profile, or the caller's own credentials) and
/// regions, the pools whose name matches. An account and region that
/// cannot be listed is a broken target; the others go on.
async fn discover(
    top: &RunArgs,
    entry: &DiscoverEntry,
    run_id: &str,
) -> (Vec<TargetEntry>, Vec<Broken>) {
    enum Way<'a> {
        Own,
        Role(&'a str),
        Profile(&'a str),
    }
    let ways: Vec<Way> = if !entry.role_arns.is_empty() {
        entry.role_arns.iter().map(|r| Way::Role(r)).collect()
    } else if !entry.profiles.is_empty() {
        entry.profiles.iter().map(|p| Way::Profile(p)).collect()
    } else {
        vec![Way::Own]
    };
    let (mut found, mut broken) = (Vec::new(), Vec::new());
    for way in &ways {
        for region in &entry.regions {
            let (role_arn, profile) = match way {
                Way::Own => (None, top.profile.clone()),
                Way::Role(r) => (Some(r.to_string()), top.profile.clone()),
                Way::Profile(p) => (None, Some(p.to_string())),
            };
            let aws = AwsSettings {
                region: region.clone(),
                profile: profile.clone(),
                endpoint_url: entry
                    .args
                    .endpoint_url
                    .clone()
                    .or_else(|| top.endpoint_url.clone()),
                attempt_timeout: std::time::Duration::from_secs_f64(
                    top.attempt_timeout
                        .unwrap_or(crate::settings::DEFAULT_ATTEMPT_TIMEOUT_SECS),
                ),
                role: role_arn.as_ref().map(|arn| AssumeRole {
                    arn: arn.clone(),
                    external_id: entry.external_id.clone(),
                    session_name: format!("cognito-bulk-reset-{run_id}"),
                }),
            };
            match crate::cognito::list_user_pools(&aws).await {
                Ok(pools) => {
                    let matching: Vec<_> = pools
                        .into_iter()
                        .filter(|p| glob(&entry.pool_name, &p.name))
                        .collect();
                    info!(discover = %entry.at, region = %region, role = role_arn.as_deref().unwrap_or("-"), pools = matching.len(), "discovered");
                    for p in matching {
                        let mut args = entry.args.clone();
                        args.user_pool_id = Some(p.id);
                        args.profile = profile.clone().or(args.profile);
                        found.push(TargetEntry {
                            at: entry.at,
                            args,
                            role_arn: role_arn.clone(),
                            external_id: entry.external_id.clone(),
                        });
                    }
                }
                Err(e) => {
                    warn!(discover = %entry.at, region = %region, error = %e, "could not list the pools; the others go on");
                    broken.push(Broken {
                        at: entry.at,
                        pool_id: format!("pools named '{}'", entry.pool_name),
                        region: region.clone(),
                        error: e.to_string(),
                        code: ExitCode::Stopped,
                    });
                }
            }
        }
    }
    (found, broken)
}

/// Whether `name` matches `pattern`: `*` any run of characters, `?` one.
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // The classic two-pointer match with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Each target's settings: its own keys over the manifest's top over the
/// defaults, with the flags over the top; a flag a target also sets is
/// refused, as is any setting a single run would refuse.
fn drafts(
    cli: &RunArgs,
    manifest: &Manifest,
    entries: &[TargetEntry],
) -> Result<Vec<Draft>, UsageError> {
    let fail = |reason: String| UsageError::Fleet {
        path: manifest.path.clone(),
        reason,
    };
    let flags = keys(cli);
    let top = cli
        .clone()
        .merge(manifest.defaults.clone())
        .map_err(&fail)?;
    entries
        .iter()
        .map(|t| {
            if let Some(key) = keys(&t.args).into_iter().find(|k| flags.contains(k)) {
                return Err(fail(format!(
                    "--{key} is given on the command line and {} sets {key}; drop one (flags override only the manifest's top level)",
                    t.at
                )));
            }
            // Where the users come from is one choice: a target's input
            // replaces the top's from-pool (and filter), its from-pool the
            // top's input.
            let mut defaults = top.clone();
            if t.args.input.is_some() && t.args.from_pool.is_none() {
                defaults.from_pool = None;
                defaults.filter = None;
            }
            if t.args.from_pool == Some(true) && t.args.input.is_none() {
                defaults.input = None;
            }
            let mut args = t.args.clone().merge(defaults).map_err(&fail)?;
            // The fleet's own: not a single run's.
            args.ledger_dir = None;
            args.fleet = None;
            args.summary_json = None;
            let settings = args
                .check()
                .map_err(|e| fail(format!("{}: {e}", t.at)))?;
            Ok(Draft {
                at: t.at,
                settings,
                role_arn: t.role_arn.clone(),
                external_id: t.external_id.clone(),
            })
        })
        .collect()
}

/// The keys `args` sets, as spelled in TOML.
fn keys(args: &RunArgs) -> Vec<String> {
    match toml::Value::try_from(args) {
        Ok(toml::Value::Table(t)) => t
            .into_iter()
            .filter(|(_, v)| !matches!(v, toml::Value::Array(a) if a.is_empty()))
            .map(|(k, _)| k)
            .collect(),
        _ => Vec::new(),
    }
}

/// `cognito-bulk-reset-fleet-NAME` in the current directory, NAME the
/// manifest's file name without its extension.
fn default_ledger_dir(manifest: &Path) -> PathBuf {
    let stem = manifest
        .file_stem()
        .map_or_else(|| "fleet".into(), |s| s.to_string_lossy().into_owned());
    PathBuf::from(format!("cognito-bulk-reset-fleet-{stem}"))
}

/// Creates the ledger folders (0700: ledgers name users).
fn make_dirs(root: &Path, targets: &[Target]) -> Result<(), UsageError> {
    use std::os::unix::fs::DirBuilderExt;
    for t in targets {
        if let Some(dir) = t.settings.ledger.file().and_then(Path::parent) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| UsageError::Value {
                    flag: "--ledger-dir",
                    reason: format!(
                        "could not create {} under {}: {e}; choose a folder you can write",
                        dir.display(),
                        root.display()
                    ),
                })?;
        }
    }
    Ok(())
}

/// 16 hex digits, random: the run's id, in role session names and the log.
fn run_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // Time is unique enough for a session name.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        bytes = t.to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The exit code of a fleet: the worst of its targets', worst first: a
/// signal, a target that could not start (2), a stop (3), a pause (75),
/// a canary wave done (4), some users failed (1), success.
pub fn worst(codes: impl IntoIterator<Item = ExitCode>) -> ExitCode {
    let rank = |c: ExitCode| match c {
        ExitCode::Interrupted | ExitCode::Terminated | ExitCode::HungUp => 7,
        ExitCode::Usage => 6,
        ExitCode::Stopped => 5,
        ExitCode::Paused => 4,
        ExitCode::Canary => 3,
        ExitCode::SomeFailed => 2,
        ExitCode::Success => 1,
    };
    codes
        .into_iter()
        .max_by_key(|c| rank(*c))
        .unwrap_or(ExitCode::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("tenant-*", "tenant-42"));
        assert!(glob("tenant-*", "tenant-"));
        assert!(!glob("tenant-*", "tenants"));
        assert!(glob("*-prod", "a-b-prod"));
        assert!(glob("t?n*", "tin-x"));
        assert!(!glob("t?n", "tn"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(!glob("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn the_worst_code_wins() {
        use ExitCode::*;
        assert_eq!(worst([Success, SomeFailed, Paused]), Paused);
        assert_eq!(worst([Paused, Stopped, SomeFailed]), Stopped);
        assert_eq!(worst([Stopped, Usage]), Usage);
        assert_eq!(worst([Usage, Terminated]), Terminated);
        assert_eq!(worst([]), Success);
        assert_eq!(worst([SomeFailed, Canary]), Canary);
        assert_eq!(worst([Canary, Paused]), Paused);
    }

    #[test]
    fn a_targets_input_replaces_the_tops_listing() {
        let m = Manifest::parse(
            Path::new("f.toml"),
            "from-pool = true\nfilter = 'email ^= \"a\"'\n\
             [[target]]\nuser-pool-id = \"us-east-1_Aaaa\"\ninput = \"a.csv\"\n\
             [[target]]\nuser-pool-id = \"us-east-1_Bbbb\"\n",
        )
        .unwrap();
        let d = drafts(&RunArgs::default(), &m, &m.targets).unwrap();
        assert!(
            matches!(&d[0].settings.input, crate::settings::Input::Path(p) if p == Path::new("a.csv"))
        );
        assert!(matches!(
            &d[1].settings.input,
            crate::settings::Input::Pool { filter: Some(_) }
        ));
    }

    /// A manifest's exclusions and canary reach every target; a target's
    /// own list replaces the top's.
    #[test]
    fn exclusions_and_canary_from_the_manifest() {
        let m = Manifest::parse(
            Path::new("f.toml"),
            "from-pool = true\nexclude = [\"break-glass.txt\"]\nexclude-group = [\"admins\"]\ncanary = \"5%\"\n\
             [[target]]\nuser-pool-id = \"us-east-1_Aaaa\"\n\
             [[target]]\nuser-pool-id = \"us-east-1_Bbbb\"\nexclude = [\"tenant-b.txt\"]\n",
        )
        .unwrap();
        let d = drafts(&RunArgs::default(), &m, &m.targets).unwrap();
        assert_eq!(d[0].settings.exclude, [Path::new("break-glass.txt")]);
        assert_eq!(d[0].settings.exclude_group, ["admins"]);
        assert_eq!(d[1].settings.exclude, [Path::new("tenant-b.txt")]);
        for t in &d {
            assert_eq!(
                t.settings.canary,
                Some(crate::settings::Canary::Share(0.05))
            );
        }
    }

    #[test]
    fn flags_and_targets_may_not_both_set_a_key() {
        let m = Manifest::parse(
            Path::new("f.toml"),
            "[[target]]\nuser-pool-id = \"us-east-1_Aaaa\"\ninput = \"a.csv\"\n",
        )
        .unwrap();
        let cli = RunArgs {
            input: Some("b.csv".into()),
            ..RunArgs::default()
        };
        let e = drafts(&cli, &m, &m.targets).err().unwrap().to_string();
        assert!(
            e.contains(
                "--input is given on the command line and [[target]] #1 (line 1) sets input"
            ),
            "{e}"
        );
        // A target mistake a single run would refuse names the target.
        let m = Manifest::parse(
            Path::new("f.toml"),
            "[[target]]\nuser-pool-id = \"nope\"\ninput = \"a.csv\"\n",
        )
        .unwrap();
        let e = drafts(&RunArgs::default(), &m, &m.targets)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("[[target]] #1 (line 1): invalid user pool id 'nope'"),
            "{e}"
        );
    }
}
