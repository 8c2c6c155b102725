//! Opening a job, for `plan`, the typed confirmation and `run` alike: the
//! run's paths checked ([`check_paths`]), the input opened
//! (`open_source`, `count_input_rows`) or the pool's listing
//! (`open_pool`), the ledger checked to be this job's
//! (`check_same_job`), and the pool read before the first call.
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
use std::num::NonZeroU32;
use std::path::Path;

use tracing::{info, warn};

use crate::cognito::{CallError, Cognito, ErrorClass};
use crate::error::UsageError;
use crate::files::{self, Role};
use crate::identity::PoolFacts;
use crate::ledger::{fingerprint, unresolved_names, Action, Replay};
use crate::limiter::Limiter;
use crate::resolve::{self, Choice, Resolver};
use crate::retry::call_with_retry;
use crate::settings::{Input, RunSettings};
use crate::source::csv::{count_rows, CsvSource};
use crate::source::pool::PoolSource;
use crate::source::Source;

/// DescribeUserPool calls per second (its quota, UserPoolRead, is 15/s).
const POOL_READ_RATE: f64 = 5.0;

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
    let mut paths: Vec<(Role, &Path)> = vec![(Role::Ledger, settings.ledger.as_path())];
    if let Input::Path(p) = &settings.input {
        paths.push((Role::Input, p));
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
pub async fn read_pool(settings: &RunSettings, cognito: &Cognito) -> Result<PoolView, UsageError> {
    let limiter = Limiter::with_default_burst(POOL_READ_RATE);
    let facts = match call_with_retry(&limiter, &settings.retry, || cognito.describe_pool()).await {
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
pub fn choose(
    settings: &RunSettings,
    pool: &PoolView,
    input_rows: Option<u64>,
    replay: Option<&Replay>,
) -> Result<Choice, UsageError> {
    let finished = replay.map_or(0, |r| {
        let c = r.counts();
        c.succeeded + c.failed_total() + c.invalid + c.skipped
    });
    // Records of runs that did not resolve rows are resolved too (see
    // `adopt_unresolved`).
    let unresolved = replay.map_or(0, |r| r.unresolved);
    resolve::choose(
        settings.steps.resolve,
        matches!(settings.input, Input::Pool { .. }),
        pool.facts(),
        input_rows.map(|n| n.saturating_sub(finished) + unresolved),
        settings.pace.list_rate,
        settings.pace.rate,
    )
}

/// Sets up the resolver `choice` names (building the index when it is
/// one).
pub async fn open_resolver(
    settings: &RunSettings,
    cognito: &Cognito,
    pool: &PoolView,
    choice: Choice,
) -> Result<Resolver, UsageError> {
    info!(strategy = ?choice.strategy, list_calls = choice.list_calls, why = %choice.why, "resolving users");
    Resolver::open(
        choice,
        pool.facts.as_ref().map_err(Clone::clone),
        cognito,
        list_limiter(settings),
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
/// `alice` or by their email. The ledger at `path` is read again for their
/// names, one at a time. With an index this costs nothing more; with
/// lookups, one per such record.
pub async fn adopt_unresolved(
    resolver: &Resolver,
    replay: &mut Replay,
    path: &Path,
) -> Result<(), UsageError> {
    if replay.unresolved == 0 || !resolver.resolves() {
        return Ok(());
    }
    info!(
        records = replay.unresolved,
        "mapping the records of a run that did not resolve rows to the people they name"
    );
    let read_err = |e: std::io::Error| UsageError::LedgerRead {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let (tx, mut names) = tokio::sync::mpsc::channel(1024);
    let reader = tokio::task::spawn_blocking(move || {
        for name in unresolved_names(std::io::BufReader::new(file)) {
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

/// The limiter of ListUsers calls (UserList quota): adaptive like the
/// run's own, so that lookups slow down rather than waste calls when the
/// quota is busy.
pub fn list_limiter(settings: &RunSettings) -> Limiter {
    if settings.pace.adaptive {
        Limiter::adaptive(settings.pace.list_rate, Some(NonZeroU32::MIN))
    } else {
        Limiter::new(settings.pace.list_rate, NonZeroU32::MIN)
    }
}

/// Opens the input and reads its header; a bad header is a [`UsageError`].
/// A path must be a regular file, a FIFO or a terminal
/// ([`files::open_input`]): a device such as `/dev/zero` is refused.
pub(crate) fn open_source(
    settings: &RunSettings,
) -> Result<CsvSource<Box<dyn io::Read + Send>>, UsageError> {
    let mut opts = settings.csv.clone();
    let reader: Box<dyn io::Read + Send> = match &settings.input {
        Input::Pool { .. } => unreachable!("a pool listing is not a CSV"),
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
    CsvSource::new(reader, &opts)
}

/// Opens the pool's listing (`--from-pool`): reads its first page, so a bad
/// filter or pool is refused before any mutating call.
pub(crate) async fn open_pool(
    settings: &RunSettings,
    cognito: &Cognito,
) -> Result<Source, UsageError> {
    let filter = match &settings.input {
        Input::Pool { filter } => filter.clone(),
        _ => None,
    };
    let limiter = Limiter::new(settings.pace.list_rate, NonZeroU32::MIN);
    Ok(Source::Pool(
        PoolSource::open(cognito.clone(), filter, limiter, settings.retry).await?,
    ))
}

/// Starts counting the rows of the input on a blocking thread, for the
/// progress bar's total; the count is `None` for stdin, ListUsers, anything
/// but a regular file (a FIFO read twice would lose its rows), or a file
/// that cannot be read (the source reports that).
pub(crate) fn count_input_rows(settings: &RunSettings) -> tokio::task::JoinHandle<Option<u64>> {
    let path = match &settings.input {
        Input::Path(path) => Some(path.clone()),
        Input::Stdin | Input::Pool { .. } => None,
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
pub(crate) fn check_same_job(settings: &RunSettings, replay: &Replay) -> Result<(), UsageError> {
    replay.check_ledger(&settings.ledger)?;
    let Some(h) = &replay.header else {
        return Ok(()); // empty: a fresh ledger
    };
    if h.pool_id != settings.pool_id {
        return Err(UsageError::LedgerMismatch {
            path: settings.ledger.clone(),
            what: "pool",
            found: h.pool_id.clone(),
            wanted: settings.pool_id.clone(),
        });
    }
    if h.action != settings.steps.action {
        return Err(UsageError::LedgerMismatch {
            path: settings.ledger.clone(),
            what: "action",
            found: h.action.as_str().to_string(),
            wanted: settings.steps.action.as_str().to_string(),
        });
    }
    Ok(())
}
