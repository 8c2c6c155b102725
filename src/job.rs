//! Opening a job, for `plan`, the typed confirmation and `run` alike: one
//! function, [`open`], in the order that refuses what can be refused
//! soonest and sends nothing that changes a user. First what is local:
//! the run's paths checked ([`check_paths`]), the input opened (a bad
//! header refused), the ledger opened through its store
//! (`ledger::store`), read (for `run`, held: a file locked, a table's
//! lease taken and kept from that moment) and held to be this job's. Then
//! the pool: reached (a [`Connect`]), read before the first call, claimed
//! for this job (`ledger::claim`: a second live job on the same pool and
//! action is refused), its listing opened (`--from-pool`), and the
//! [`Resolver`] set up, with the ledger's earlier records mapped to the
//! people they name. A held ledger is given back on every way out.
//!
//! One DescribeUserPool (UserPoolRead quota) gives the pool's facts
//! ([`PoolFacts`]). What they rule out is refused here, before anything is
//! sent: a reset on a pool whose account recovery is admin-only (Cognito
//! does not allow AdminResetUserPassword there). A pool that does not
//! exist, or credentials Cognito rejects, stop here too. Where
//! DescribeUserPool is not permitted the run goes on safely: what could
//! not be checked is said in the plan, and users are resolved by an index
//! of the whole pool, which only ever trusts an exact username or sub.
//!
//! Then the [`Resolver`] is set up the way [`resolve::choose`] picks.

use std::io;
use std::path::Path;
use std::sync::Arc;

use tracing::{info, warn};

use crate::cognito::{CallError, Cognito, Connect, ErrorClass};
use crate::error::UsageError;
use crate::files::{self, Role};
use crate::identity::PoolFacts;
use crate::ledger::claim::{self, Claimant, HostClaim, PoolKey};
use crate::ledger::store::{self, Held, LedgerStore, Reader};
use crate::ledger::{fingerprint, unresolved_names, Action, Replay};
use crate::limiter::Limits;
use crate::passwords::PasswordsOut;
use crate::report::CanaryWave;
use crate::resolve::{self, Choice, Resolver};
use crate::retry::call_with_retry;
use crate::settings::{Input, RunSettings};
use crate::source::csv::{count_rows, CsvSource};
use crate::source::pool::{Listing, PoolSource};
use crate::source::Source;
use crate::triage::Triage;

/// How [`open`] takes the job's ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerAccess {
    /// `run`: held (one writer per ledger: a file locked, a table's job
    /// under its lease, kept from that moment), read under the hold; the
    /// pool claimed for the job (`ledger::claim`); the passwords file
    /// (`--generate-passwords`) opened too.
    Lock,
    /// `plan`: only read, if it exists; who else claims the pool is found.
    Read,
}

/// A job opened: all a command needs before the first call that changes a
/// user.
pub struct Opened {
    pub cognito: Cognito,
    pub pool: PoolView,
    pub source: Source,
    /// The input's rows, when it is a regular file.
    pub input_rows: Option<u64>,
    /// What the ledger holds (nothing, for a new one), with the records of
    /// runs that did not resolve rows mapped to people.
    pub replay: Replay,
    /// The ledger in messages (a table's with its region).
    pub ledger_name: String,
    /// [`LedgerAccess::Lock`]: the ledger held for the writer.
    pub held: Option<Held>,
    /// [`LedgerAccess::Lock`]: this host's claim on the pool, held until
    /// dropped.
    pub host_claim: Option<HostClaim>,
    /// Other live jobs running the action on the pool: for `plan`, or
    /// those a run was let go on beside (`--allow-concurrent-jobs`).
    pub other_jobs: Vec<Claimant>,
    /// [`LedgerAccess::Lock`] with `--generate-passwords`.
    pub passwords_out: Option<PasswordsOut>,
    /// An S3 input's version id or ETag.
    pub input_version: Option<String>,
    /// For `plan`: the S3 input's version when the job began, and now,
    /// when they differ.
    pub input_change: Option<(String, String)>,
    pub resolver: Arc<Resolver>,
    /// People never to touch (`--exclude`), resolved.
    pub exclusions: crate::exclude::Exclusions,
}

/// Opens the job `settings` describe (see the module's order). `prepared`
/// is what a confirmed `plan` already read and set up, so that a large pool
/// is indexed once.
pub async fn open(
    connect: &dyn Connect,
    settings: &RunSettings,
    access: LedgerAccess,
    prepared: Option<Prepared>,
    limits: &Limits,
) -> anyhow::Result<Opened> {
    check_paths(settings)?;
    let csv = open_source(settings)?;
    // The input's size (for the progress bar, the header, `status`, to
    // choose how users are resolved, and to size the user table once) is
    // counted while the ledger is read.
    let input_rows = count_input_rows(settings);
    let store = store::open(&settings.ledger).await?;
    let (held, replay) = match access {
        LedgerAccess::Lock => {
            let (held, replay) = store.hold(settings.lease_seconds).await?;
            (Some(held), replay)
        }
        LedgerAccess::Read => (None, store.replay().await?),
    };
    let local = Local {
        store: store.as_ref(),
        held: held.as_ref(),
        replay,
        csv,
        input_rows,
    };
    // From here on a held ledger is given back if the job cannot be
    // opened.
    match open_pool_side(connect, settings, local, prepared, limits).await {
        Ok(mut opened) => {
            opened.held = held;
            Ok(opened)
        }
        Err(e) => {
            if let Some(held) = held {
                held.release().await;
            }
            Err(e)
        }
    }
}

/// What [`open`] has before it reaches the pool.
struct Local<'a> {
    store: &'a dyn LedgerStore,
    /// For `run`: the ledger, held.
    held: Option<&'a Held>,
    /// What the ledger holds.
    replay: Replay,
    /// The input, opened (`None` for S3 and the pool's listing).
    csv: Option<CsvSource<Box<dyn io::Read + Send>>>,
    /// The input's rows, being counted.
    input_rows: tokio::task::JoinHandle<Option<u64>>,
}

/// [`open`] once the ledger is read (and, for `run`, held): the job held
/// to be this one, then the pool.
async fn open_pool_side(
    connect: &dyn Connect,
    settings: &RunSettings,
    local: Local<'_>,
    prepared: Option<Prepared>,
    limits: &Limits,
) -> anyhow::Result<Opened> {
    let Local {
        store,
        held,
        mut replay,
        csv,
        input_rows,
    } = local;
    let access = if held.is_some() {
        LedgerAccess::Lock
    } else {
        LedgerAccess::Read
    };
    check_same_job(settings, &replay, store.name())?;
    if held.is_some() {
        resuming(store.name(), &replay);
    }
    let (csv, input_version, input_change) = match &settings.input {
        Input::S3 { bucket, key } => {
            let (source, version, change) = open_s3(settings, bucket, key, &replay, access).await?;
            (Some(source), Some(version), change)
        }
        _ => (csv, None, None),
    };
    let passwords_out = match (&settings.steps.generate_passwords, access) {
        (Some(path), LedgerAccess::Lock) => Some(PasswordsOut::open(path)?),
        _ => None,
    };

    let cognito = connect.connect(&settings.aws, &settings.pool_id).await?;
    let (pool, prepared) = match prepared {
        Some(p) => (p.pool, Some(p.resolver)),
        None => (read_pool(settings, &cognito, limits).await?, None),
    };
    // One job per pool: claimed before the pool is listed, so a second
    // job is refused before it spends anything more.
    let (host_claim, other_jobs) = claim_pool(settings, &pool, store, held).await?;
    if let Some(lease) = held.and_then(Held::lease) {
        cognito.fence(Arc::new(move || lease.valid()));
    }
    let source = match csv {
        Some(csv) => Source::Csv(csv),
        None => open_pool(settings, &cognito, limits).await?,
    };
    let input_rows = input_rows.await.ok().flatten();
    let resolver = match prepared {
        Some(resolver) => resolver,
        None => {
            let choice = choose(settings, &pool, input_rows, &replay)?;
            Arc::new(open_resolver(settings, &cognito, &pool, choice, limits).await?)
        }
    };
    let lists = crate::exclude::Lists {
        files: &settings.exclude,
        groups: &settings.exclude_group,
        csv: &settings.csv,
    };
    let exclusions =
        crate::exclude::Exclusions::load(&lists, &resolver, &cognito, &limits.list, settings.retry)
            .await?;
    if !settings.exclude.is_empty() || !settings.exclude_group.is_empty() {
        info!(
            people = exclusions.people(),
            not_in_pool = exclusions.nobody,
            "exclusion lists read (--exclude)"
        );
    }
    if replay.unresolved > 0 && resolver.resolves() {
        let text = match held {
            Some(held) => held.reread()?,
            None => store::read_existing(store).await?,
        };
        adopt_unresolved(&resolver, &mut replay, text, store.name()).await?;
    }
    Ok(Opened {
        cognito,
        pool,
        source,
        input_rows,
        replay,
        ledger_name: store.name().to_string(),
        held: None,
        host_claim,
        other_jobs,
        passwords_out,
        input_version,
        input_change,
        resolver,
        exclusions,
    })
}

/// Claims the pool for a held job, on this host and in the ledger's own
/// store (`ledger::claim`); for `plan`, only finds who holds it. Another
/// live job running the action on the pool refuses the run, unless
/// `--allow-concurrent-jobs`, which lets it go on saying so. Returns this
/// host's claim, and the other jobs found.
async fn claim_pool(
    settings: &RunSettings,
    pool: &PoolView,
    store: &dyn LedgerStore,
    held: Option<&Held>,
) -> Result<(Option<HostClaim>, Vec<Claimant>), UsageError> {
    let key = PoolKey {
        account: pool.facts().and_then(PoolFacts::account),
        pool_id: settings.pool_id.clone(),
        action: settings.steps.action,
        endpoint: settings.aws.custom_endpoint(),
    };
    let mut others = Vec::new();
    let Some(held) = held else {
        others.extend(
            settings
                .claim_dir
                .as_deref()
                .and_then(|dir| claim::probe_host(dir, &key)),
        );
        others.extend(store.claimed(&key).await?);
        return Ok((None, others));
    };
    let me = Claimant::this_run(held.name());
    let host = match &settings.claim_dir {
        Some(dir) => match claim::take_host(dir, &key, &me) {
            Ok(Ok(claim)) => Some(claim),
            // This job's own earlier runner, fenced off by the lease this
            // run now holds (a process paused past its lease).
            Ok(Err(other)) if other.ledger == me.ledger && held.lease().is_some() => None,
            Ok(Err(other)) => {
                others.push(other);
                None
            }
            Err(why) => {
                warn!(%why, "could not take this host's claim on the pool, so a second job on this host would not be seen; going on");
                None
            }
        },
        None => None,
    };
    others.extend(held.claim(&key, &me).await?);
    if others.is_empty() {
        return Ok((host, others));
    }
    let holders = others
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if !settings.allow_concurrent_jobs {
        return Err(UsageError::PoolBusy {
            pool: settings.pool_id.clone(),
            action: settings.steps.action.as_str(),
            holders,
        });
    }
    warn!(pool = %settings.pool_id, action = settings.steps.action.as_str(), %holders, "another job is running this action on this pool; going on (--allow-concurrent-jobs): a person in both jobs' inputs is called by both");
    Ok((host, others))
}

impl Opened {
    /// `--canary`: the wave's size, and the people of it the ledger holds
    /// done already (every final outcome a call or a rule gave: succeeded,
    /// failed, skipped), so that a resumed wave does only the rest and a
    /// finished one nobody.
    pub fn canary(&self, settings: &RunSettings) -> Result<Option<CanaryWave>, UsageError> {
        let Some(canary) = settings.canary else {
            return Ok(None);
        };
        let size = canary.size(self.input_rows)?;
        let counts = self.replay.counts();
        let done = counts.succeeded + counts.failed_total() + counts.skipped;
        Ok(Some(CanaryWave {
            size,
            done_before: done.min(size),
            more: false,
        }))
    }

    /// The verdicts on the rows, from what the ledger holds (see
    /// [`Triage`]); takes the ledger's records.
    pub fn triage(&mut self, settings: &RunSettings) -> Triage {
        Triage::new(
            std::mem::take(&mut self.replay),
            settings.steps.retry_failed,
            settings.steps.follow_ups(),
            self.input_rows,
            self.resolver
                .dedupe_folded()
                .then(|| self.resolver.rule().clone()),
            std::mem::take(&mut self.exclusions),
        )
    }
}

/// Opens an S3 input: its body streamed into the CSV reader, its version;
/// a resume over an object that changed since the job's first run is
/// refused (unless `--input-changed`), and `plan` is told of the change.
async fn open_s3(
    settings: &RunSettings,
    bucket: &str,
    key: &str,
    replay: &Replay,
    access: LedgerAccess,
) -> anyhow::Result<(
    CsvSource<Box<dyn io::Read + Send>>,
    String,
    Option<(String, String)>,
)> {
    let object = crate::source::s3::open(
        bucket,
        key,
        &settings.aws.region,
        settings.aws.profile.as_deref(),
    )
    .await?;
    let first = replay.header.as_ref().and_then(|h| h.input_version.clone());
    let change = first
        .filter(|old| *old != object.version)
        .map(|old| (old, object.version.clone()));
    if let (Some((old, new)), LedgerAccess::Lock, false) = (&change, access, settings.input_changed)
    {
        return Err(UsageError::InputRefused {
            input: settings.input.name(),
            reason: format!(
                "it changed since the job's first run ({old} then, {new} now), so its rows may not be the ones the ledger counted; check the new list, then run with --input-changed to go on with it"
            ),
        }
        .into());
    }
    let version = object.version.clone();
    let reader = object.reader(tokio::runtime::Handle::current());
    let mut opts = settings.csv.clone();
    // An object is whole: its last line, with or without a newline, is a row.
    opts.regular_file = true;
    let source = tokio::task::spawn_blocking(move || {
        CsvSource::new(Box::new(reader) as Box<dyn io::Read + Send>, &opts)
    })
    .await??;
    Ok((source, version, change))
}

/// Says what a resumed ledger holds, and that a torn last line is cut off.
fn resuming(ledger: &str, replay: &Replay) {
    if replay.torn_bytes > 0 {
        warn!(
            %ledger,
            bytes = replay.torn_bytes,
            "the ledger's last line is torn (a crash mid-write); cutting it off: that record was never acknowledged"
        );
    }
    if replay.runs > 0 {
        let c = replay.counts();
        info!(
            %ledger,
            succeeded = c.succeeded,
            failed = c.failed_total(),
            invalid = c.invalid,
            deferred = c.deferred,
            unknown = c.pending,
            "resuming: users the ledger records as done are skipped; calls with a lost answer are read back first"
        );
    }
}

/// What the tool knows of the pool.
#[derive(Debug, Clone)]
pub struct PoolView {
    /// The facts, or why they could not be read.
    pub facts: Result<PoolFacts, String>,
}

impl PoolView {
    pub fn facts(&self) -> Option<&PoolFacts> {
        self.facts.as_ref().ok()
    }
}

/// Checks every path of the run before anything is opened for writing:
/// no two are one file (input, ledger, passwords file, summary, config),
/// and the summary can be written where it is asked for (see
/// [`crate::files`]).
pub fn check_paths(settings: &RunSettings) -> Result<(), UsageError> {
    let mut paths: Vec<(Role, &Path)> = Vec::new();
    if let Some(ledger) = settings.ledger.file() {
        paths.push((Role::Ledger, ledger));
    }
    if let Input::Path(p) = &settings.input {
        paths.push((Role::Input, p));
    }
    for p in &settings.exclude {
        paths.push((Role::Exclude, p));
    }
    if let Some(p) = &settings.steps.generate_passwords {
        paths.push((Role::PasswordsOut, p));
    }
    if let Some(p) = &settings.summary_json {
        paths.push((Role::SummaryJson, p));
    }
    if let Some(p) = &settings.config {
        paths.push((Role::Config, p));
    }
    files::check_distinct(&paths)?;
    if let Some(p) = &settings.summary_json {
        files::check_output(Role::SummaryJson, p, true)?;
    }
    Ok(())
}

/// Reads the pool's settings and refuses what they rule out.
async fn read_pool(
    settings: &RunSettings,
    cognito: &Cognito,
    limits: &Limits,
) -> Result<PoolView, UsageError> {
    let facts = match call_with_retry(&limits.pool_read, &settings.retry, || {
        cognito.describe_pool()
    })
    .await
    {
        Ok(facts) => Ok(facts),
        Err(e) => Err(unreadable(settings, e)?),
    };
    if let Ok(f) = &facts {
        if f.admin_only_recovery() && settings.steps.action == Action::Reset {
            return Err(UsageError::Refused(format!(
                "pool {}'s account recovery is admin-only, and Cognito does not allow AdminResetUserPassword on such a pool; use --action set-password (with a password column, or --generate-passwords) to give users new passwords",
                settings.pool_id
            )));
        }
    }
    if let Err(why) = &facts {
        warn!(%why, "the pool's settings could not be read; going on safely (see the plan)");
    }
    Ok(PoolView { facts })
}

/// Why DescribeUserPool's failure does not stop the run, or the
/// [`UsageError`] that does: a missing pool or rejected credentials.
fn unreadable(settings: &RunSettings, e: CallError) -> Result<String, UsageError> {
    if e.class == ErrorClass::Unreachable {
        return Err(UsageError::Unreachable {
            endpoint: settings.aws.endpoint_name(),
            code: e.code,
            message: e.message,
        });
    }
    match e.code.as_str() {
        "ResourceNotFoundException" => Err(UsageError::NoSuchPool {
            id: settings.pool_id.clone(),
            region: settings.aws.region.clone(),
            message: e.message,
        }),
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "ExpiredTokenException"
        | "IncompleteSignature"
        | "MissingAuthenticationToken" => Err(UsageError::Credentials(format!(
            "Cognito rejected them ({}: {})",
            e.code, e.message
        ))),
        _ if e.class == ErrorClass::StopRun => Ok(format!("DescribeUserPool: {}", e.code)),
        _ => Ok(format!("DescribeUserPool failed: {}", e.code)),
    }
}

/// The resolution strategy for this run: `input_rows` are the input's
/// rows, of which the ledger `replay` already finished some (a resume
/// resolves only the rest).
fn choose(
    settings: &RunSettings,
    pool: &PoolView,
    input_rows: Option<u64>,
    replay: &Replay,
) -> Result<Choice, UsageError> {
    let c = replay.counts();
    let finished = c.succeeded + c.failed_total() + c.invalid + c.skipped;
    // Records of runs that did not resolve rows are resolved too (see
    // `adopt_unresolved`).
    let unresolved = replay.unresolved;
    resolve::choose(
        settings.steps.resolve,
        matches!(settings.input, Input::Pool { .. } | Input::Group { .. }),
        pool.facts(),
        input_rows.map(|n| n.saturating_sub(finished) + unresolved),
        settings.pace.list_rate,
        settings.pace.rate,
    )
}

/// Sets up the resolver `choice` names (building the index when it is
/// one).
async fn open_resolver(
    settings: &RunSettings,
    cognito: &Cognito,
    pool: &PoolView,
    choice: Choice,
    limits: &Limits,
) -> Result<Resolver, UsageError> {
    info!(strategy = ?choice.strategy, list_calls = choice.list_calls, why = %choice.why, "resolving users");
    Resolver::open(
        choice,
        pool.facts.as_ref().map_err(Clone::clone),
        cognito,
        limits.list.clone(),
        settings.retry,
    )
    .await
    .map_err(|e| listing_refused(settings, e))
}

/// The [`UsageError`] for a ListUsers call that failed while resolving.
fn listing_refused(settings: &RunSettings, e: CallError) -> UsageError {
    if e.class == ErrorClass::Unreachable {
        UsageError::Unreachable {
            endpoint: settings.aws.endpoint_name(),
            code: e.code,
            message: e.message,
        }
    } else {
        UsageError::Resolve {
            code: e.code,
            message: e.message,
        }
    }
}

/// Maps the records of runs that did not resolve rows to people (ledgers of
/// earlier versions, `--resolve exact`) to the people their rows name, so
/// that a person such a run finished as `ALICE` is not called again as
/// `alice` or by their email. The ledger's `text` is read again for their
/// names, one at a time. With an index this costs nothing more; with
/// lookups, one per such record.
async fn adopt_unresolved(
    resolver: &Resolver,
    replay: &mut Replay,
    text: Reader,
    ledger: &str,
) -> Result<(), UsageError> {
    info!(
        records = replay.unresolved,
        "mapping the records of a run that did not resolve rows to the people they name"
    );
    let read_err = |e: std::io::Error| UsageError::LedgerRead {
        path: ledger.into(),
        reason: e.to_string(),
    };
    let (tx, mut names) = tokio::sync::mpsc::channel(1024);
    let reader = tokio::task::spawn_blocking(move || {
        for name in unresolved_names(text) {
            if tx.blocking_send(name).is_err() {
                break;
            }
        }
    });
    while let Some(name) = names.recv().await {
        let name = name.map_err(read_err)?;
        let key = resolver
            .person_key(&name)
            .await
            .map_err(|e| UsageError::Resolve {
                code: e.code,
                message: e.message,
            })?;
        if let Some(key) = key {
            replay.adopt(fingerprint(&name), key);
        }
    }
    let _ = reader.await;
    Ok(())
}

/// The pool read and the resolver set up, kept from `plan` for the run
/// it confirms (so a large pool is indexed once).
pub struct Prepared {
    pub pool: PoolView,
    pub resolver: std::sync::Arc<Resolver>,
}

/// Opens the input and reads its header (`None` for `--from-pool`); a bad
/// header is a [`UsageError`]. A path must be a regular file, a FIFO or a
/// terminal ([`files::open_input`]): a device such as `/dev/zero` is
/// refused.
fn open_source(
    settings: &RunSettings,
) -> Result<Option<CsvSource<Box<dyn io::Read + Send>>>, UsageError> {
    let mut opts = settings.csv.clone();
    let reader: Box<dyn io::Read + Send> = match &settings.input {
        Input::Pool { .. } | Input::Group { .. } | Input::S3 { .. } => return Ok(None),
        Input::Stdin => {
            opts.regular_file = files::stdin_is_regular()?;
            Box::new(io::stdin())
        }
        Input::Path(path) => {
            let (file, regular) = files::open_input(path)?;
            opts.regular_file = regular;
            Box::new(file)
        }
    };
    CsvSource::new(reader, &opts).map(Some)
}

/// Opens the pool's listing (`--from-pool`): reads its first page, so a bad
/// filter or pool is refused before any mutating call.
async fn open_pool(
    settings: &RunSettings,
    cognito: &Cognito,
    limits: &Limits,
) -> Result<Source, UsageError> {
    let listing = match &settings.input {
        Input::Group { name } => Listing::Group(name.clone()),
        Input::Pool { filter } => Listing::Users {
            filter: filter.clone(),
        },
        _ => Listing::Users { filter: None },
    };
    Ok(Source::Pool(
        PoolSource::open(
            cognito.clone(),
            listing,
            limits.list.clone(),
            settings.retry,
        )
        .await?,
    ))
}

/// Starts counting the rows of the input on a blocking thread, for the
/// progress bar's total; the count is `None` for stdin, ListUsers, anything
/// but a regular file (a FIFO read twice would lose its rows), or a file
/// that cannot be read (the source reports that).
fn count_input_rows(settings: &RunSettings) -> tokio::task::JoinHandle<Option<u64>> {
    let path = match &settings.input {
        Input::Path(path) => Some(path.clone()),
        Input::Stdin | Input::Pool { .. } | Input::Group { .. } | Input::S3 { .. } => None,
    };
    let mut opts = settings.csv.clone();
    opts.regular_file = true;
    tokio::task::spawn_blocking(move || {
        let (file, regular) = files::open_input(&path?).ok()?;
        if !regular {
            return None;
        }
        count_rows(file, &opts).ok()
    })
}

/// Refuses a ledger written for another pool or action, or not a ledger.
fn check_same_job(settings: &RunSettings, replay: &Replay, ledger: &str) -> Result<(), UsageError> {
    replay.check_ledger(Path::new(ledger))?;
    let Some(h) = &replay.header else {
        return Ok(()); // empty: a fresh ledger
    };
    if h.pool_id != settings.pool_id {
        return Err(UsageError::LedgerMismatch {
            path: ledger.into(),
            what: "pool",
            found: h.pool_id.clone(),
            wanted: settings.pool_id.clone(),
        });
    }
    if h.action != settings.steps.action {
        return Err(UsageError::LedgerMismatch {
            path: ledger.into(),
            what: "action",
            found: h.action.as_str().to_string(),
            wanted: settings.steps.action.as_str().to_string(),
        });
    }
    Ok(())
}
