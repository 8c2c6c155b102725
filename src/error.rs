//! The one place for errors a user can fix, and for the tool's exit codes.
//!
//! [`UsageError`] covers everything that stops the tool *before any call is
//! sent*: bad flags, a bad pool id, an unreadable config file, an input whose
//! header lacks the username column, a ledger written for another job. Each
//! message names the input and the fix. A user that fails is not an error
//! here: it is data, recorded in the ledger and counted in the summary, and
//! the exit code is decided from the summary at the end ([`ExitCode`]).

use std::path::PathBuf;

/// Exit codes, as documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Every user in the input ended succeeded.
    Success = 0,
    /// The run finished, but some users failed or were invalid.
    SomeFailed = 1,
    /// Usage or configuration error; nothing was sent.
    Usage = 2,
    /// The run was stopped by an error that would fail every user (or the
    /// ledger could not be written). The ledger is kept; a re-run resumes.
    Stopped = 3,
    /// Paused by a limit that will not clear soon (the daily email limit),
    /// or users were left to a later run. The same command resumes.
    Paused = 75,
    /// The canary wave (`--canary`) is done and users remain: review the
    /// summary, then the same command with `--continue` finishes the job.
    Canary = 4,
    /// Stopped by SIGHUP (the terminal closed). The ledger is kept; a
    /// re-run resumes.
    HungUp = 129,
    /// Interrupted (Ctrl-C, SIGINT). The ledger is kept; a re-run resumes.
    Interrupted = 130,
    /// Terminated (SIGTERM). The ledger is kept; a re-run resumes.
    Terminated = 143,
}

impl ExitCode {
    /// Every exit code.
    pub const ALL: [ExitCode; 9] = [
        ExitCode::Success,
        ExitCode::SomeFailed,
        ExitCode::Usage,
        ExitCode::Stopped,
        ExitCode::Canary,
        ExitCode::Paused,
        ExitCode::HungUp,
        ExitCode::Interrupted,
        ExitCode::Terminated,
    ];

    pub fn code(self) -> i32 {
        self as i32
    }

    /// The exit code with this number, if it is one of the tool's.
    pub fn from_code(code: i32) -> Option<ExitCode> {
        ExitCode::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// The exit code an error from set-up ends the tool with: a
/// [`UsageError`]'s own, else 2 (nothing was sent).
pub fn exit_code_of(e: &anyhow::Error) -> ExitCode {
    e.downcast_ref::<UsageError>()
        .map_or(ExitCode::Usage, UsageError::exit_code)
}

/// The fix for an answer that held no AWS error (a code made of its HTTP
/// status): the endpoint is not Cognito's.
fn not_aws(code: &str) -> Option<&'static str> {
    code.starts_with("HttpStatus").then_some(
        "the endpoint answered no AWS error: check --endpoint-url and AWS_ENDPOINT_URL (and any proxy)",
    )
}

impl UsageError {
    /// The exit code this error ends the tool with: 2 (a mistake to fix,
    /// nothing sent), 3 when the endpoint could not be reached, or the
    /// signal's code when one stopped the tool before its first call.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            UsageError::Unreachable { .. } => ExitCode::Stopped,
            UsageError::Interrupted => ExitCode::Interrupted,
            _ => ExitCode::Usage,
        }
    }
}

/// A mistake the operator can fix; reported before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("stopped by a signal before the first call; nothing was sent. Run the same command again to start")]
    Interrupted,

    #[error("{0} is required; {1}")]
    Missing(&'static str, &'static str),

    #[error("invalid user pool id '{id}': {reason}; a pool id looks like us-east-1_AbCdEfGhI (see the pool's overview in the Cognito console)")]
    PoolId { id: String, reason: String },

    #[error("--region {given} does not match user pool {pool}, which lives in {expected}; drop --region or fix the pool id")]
    RegionMismatch {
        given: String,
        pool: String,
        expected: String,
    },

    #[error("invalid value for {flag}: {reason}")]
    Value { flag: &'static str, reason: String },

    #[error("could not read config file {path}: {reason}")]
    Config { path: PathBuf, reason: String },

    #[error("fleet manifest {path}: {reason}")]
    Fleet { path: PathBuf, reason: String },

    #[error("column '{column}' not found in the header of {input}; columns are: {found}; {hint}")]
    MissingColumn {
        column: String,
        input: String,
        found: String,
        hint: &'static str,
    },

    #[error(
        "column '{column}' appears more than once in the header of {input}; rename one of them"
    )]
    DuplicateColumn { column: String, input: String },

    #[error("{input} is empty: it has no header row; write a header naming the '{column}' column, or use --no-header for a plain list of usernames")]
    EmptyInput { input: String, column: String },

    #[error("could not open input {path}: {reason}")]
    Input { path: String, reason: String },

    #[error("input {input} refused: {reason}")]
    InputRefused { input: String, reason: String },

    #[error("ledger {path} was written for {what} '{found}', but this run is for '{wanted}'; use another --ledger for this job")]
    LedgerMismatch {
        path: PathBuf,
        what: &'static str,
        found: String,
        wanted: String,
    },

    #[error("ledger {path} is corrupt at line {line}: {reason}; move the file aside or repair that line, then re-run")]
    LedgerCorrupt {
        path: PathBuf,
        line: u64,
        reason: String,
    },

    #[error("DynamoDB table {table} in {region}: {reason}")]
    LedgerTable {
        table: String,
        region: String,
        reason: String,
    },

    #[error("ledger {ledger} is held by a run on host {host} (pid {pid}) until {expires}; wait for that run to end, or for its lease to expire, then run this command again")]
    LeaseHeld {
        ledger: String,
        host: String,
        pid: String,
        expires: String,
    },

    #[error("could not read ledger {path}: {reason}")]
    LedgerRead { path: PathBuf, reason: String },

    #[error("{path} is not a ledger (its first line is no ledger header), and the tool leaves it untouched; name another --ledger, or move the file aside")]
    NotALedger { path: PathBuf },

    #[error("ledger {path} is in use by {holder}; wait for that run to end (or stop it), then run this command again")]
    LedgerBusy { path: PathBuf, holder: String },

    #[error("another job is running {action} on pool {pool} now ({holders}); two jobs would call the same people twice. Wait for it to end or stop it, then run this command again; if the two jobs' users surely differ, add --allow-concurrent-jobs; nothing was sent")]
    PoolBusy {
        pool: String,
        action: &'static str,
        holders: String,
    },

    #[error("{0}; nothing was sent")]
    NotConfirmed(String),

    #[error("ListUsers was refused ({code}: {message}); {}; nothing was changed", not_aws(code).unwrap_or("check --user-pool-id and --filter (e.g. --filter 'cognito:user_status = \"CONFIRMED\"')"))]
    Listing { code: String, message: String },

    #[error("ListUsers was refused while resolving users ({code}: {message}); {}; nothing was changed", not_aws(code).unwrap_or("resolving who each row names needs cognito-idp:ListUsers on the pool: grant it, or use --resolve exact to key rows by their exact text (then a person named two ways, in another case or by an alias, is called twice)"))]
    Resolve { code: String, message: String },

    #[error("{0}; nothing was sent")]
    Refused(String),

    #[error("{first} {first_path} and {second} {second_path} are the same file; a file the tool writes is never another file of the run: name another one")]
    SameFile {
        first: &'static str,
        first_path: PathBuf,
        second: &'static str,
        second_path: PathBuf,
    },

    #[error("{flag} {path}: {reason}")]
    Path {
        flag: &'static str,
        path: PathBuf,
        reason: String,
    },

    #[error("user pool {id} does not exist in {region} ({message}); check --user-pool-id, and that the credentials are for the pool's account; nothing was sent")]
    NoSuchPool {
        id: String,
        region: String,
        message: String,
    },

    #[error("could not reach Cognito at {endpoint} ({code}: {message}); nothing was sent. Check the endpoint (--endpoint-url, AWS_ENDPOINT_URL), the network, DNS and any proxy, then run the same command again")]
    Unreachable {
        endpoint: String,
        code: String,
        message: String,
    },

    #[error("AWS credentials could not be loaded: {0}; set AWS_PROFILE (or --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")]
    Credentials(String),

    /// No credentials: the string says which source was tried, what is
    /// missing, and the fix.
    #[error("no AWS credentials: {0}")]
    NoCredentials(String),

    /// An AWS service the tool needs before any call could not be reached
    /// or refused; the string names it, where, what came back and the fix.
    #[error("{0}")]
    Aws(String),
}
