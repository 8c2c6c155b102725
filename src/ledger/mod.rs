//! The ledger: an append-only JSON Lines file that is the run's memory.
//!
//! Line 1 is a [`Header`] naming the job (pool, action, region, input) and
//! the process that ran it (pid, host); every later run against the same
//! ledger appends another header, so the file also tells when each run
//! started. Records name a user by the input's value (`username`) and, when
//! the pool resolves that value to another canonical username (another
//! case, an alias, a sub), by that name too (`user`); a user is keyed by the
//! canonical name, so one person named two ways is one user. Before a
//! user's first mutating call of a run, an
//! [`IntentRecord`] is made durable; then one [`UserRecord`] holds the
//! user's outcome: `succeeded`, `failed` (with Cognito's error code and
//! message), `skipped` (not called: a precheck found a reset could not
//! work, or a federated user's password), `invalid` (a bad input row, with
//! its line number), or `deferred` (a limit that may clear later stopped
//! it; not final).
//!
//! Policy, enforced by [`writer`]: a user counts as done only once its record
//! has been written *and* fsynced; records are group-committed so one fsync
//! covers every record that arrived meanwhile. [`replay`] reads a ledger back
//! into each user's last outcome and the intents left without one (a call
//! whose result the run never learnt: to be reconciled before any new call),
//! repairs a torn last line left by a crash mid-write, and refuses a corrupt
//! line anywhere else. One process at a time may write a ledger
//! ([`lock()`] for a file, a lease for a table), and one job at a time may
//! run an action on a pool ([`claim`]). Every command reaches a ledger
//! through [`store`], which alone knows whether it is a file or a table.
//! Records never hold a password.

pub mod claim;
pub mod copy;
pub mod lines;
pub mod location;
pub mod lock;
pub mod replay;
pub mod store;
pub mod table;
pub mod users;
pub mod writer;

use serde::{Deserialize, Serialize};

pub use lines::Lines;
pub use lock::{lock, make_private};
pub use replay::{replay_file, replay_path, replay_reader, unresolved_names, Replay};
pub use users::{UserState, UserTable};
pub use writer::LedgerWriter;

/// What the run does to each user, as recorded in the ledger header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// AdminResetUserPassword: the user must choose a new password; Cognito
    /// sends them a code.
    Reset,
    /// AdminSetUserPassword with the password from the input.
    SetPassword,
    /// AdminUserGlobalSignOut only: ends the users' sessions (revokes
    /// refresh tokens).
    SignOut,
    /// AdminDisableUser: the user cannot sign in; access tokens revoked.
    Disable,
    /// AdminEnableUser: the user can sign in again.
    Enable,
}

/// The first line of a ledger, and the first line each later run appends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub tool_version: String,
    pub pool_id: String,
    pub action: Action,
    pub region: String,
    pub input: String,
    pub started_at: String,
    /// The process that wrote this run, and its host.
    #[serde(default)]
    pub pid: u32,
    #[serde(default)]
    pub host: String,
    /// This run's rate, requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Rows in this run's input, when it is a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_rows: Option<u64>,
    /// An S3 input's version id or ETag when the run began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_version: Option<String>,
    /// This run signed each user out after the action (`--sign-out`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub sign_out: bool,
    /// This run disabled each user after the action (`--disable`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable: bool,
    /// This run keys users by the canonical username their rows resolve to
    /// (`user` in its records). Runs of versions before resolution did not
    /// write it: their records are keyed by the row's text alone.
    #[serde(default, skip_serializing_if = "is_false")]
    pub resolves: bool,
    /// The run id on this run's log lines (see `logging`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub run_id: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A user's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    Invalid,
    /// `--precheck` found the call cannot work for this user (the reason is
    /// in `message`); no call was made. Final.
    Skipped,
    /// Not final: a limit that may clear later (LimitExceededException that
    /// outlasted the user's attempts, the daily email limit) stopped this
    /// user; a re-run tries again.
    Deferred,
    /// Not called: the person is on an exclusion list (`--exclude`; the
    /// file and line are in `message`). Not final either: each run asks
    /// its own lists, so a person taken off them is done by the next run.
    Excluded,
}

impl Outcome {
    /// Final outcomes are skipped by a re-run; `deferred` is not final.
    pub fn is_final(self) -> bool {
        !matches!(self, Outcome::Deferred | Outcome::Excluded)
    }
}

/// Why a record's outcome is what it is, when the call's answer alone does
/// not say (the record's `detail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Succeeded: the call's answer was lost, and reading the user back
    /// (or a retry refused as a repeat of a recent password) showed that
    /// it landed.
    Reconciled,
    /// Succeeded: the answer was lost and the user was already
    /// RESET_REQUIRED before the call: the tool cannot tell whether a code
    /// was sent, and did not call again.
    AlreadyResetRequired,
    /// Skipped: `--precheck` found that the call cannot work for the user.
    Precheck,
    /// Skipped: a federated user, whom a password would turn into a
    /// password user (without `--include-federated`).
    Federated,
    /// Succeeded, not called: `disable` for a user the pool's listing
    /// shows disabled already.
    AlreadyDisabled,
    /// Succeeded, not called: `enable` for a user the pool's listing shows
    /// enabled already.
    AlreadyEnabled,
}

impl Detail {
    pub fn as_str(self) -> &'static str {
        match self {
            Detail::Reconciled => "reconciled",
            Detail::AlreadyResetRequired => "already_reset_required",
            Detail::Precheck => "precheck",
            Detail::Federated => "federated",
            Detail::AlreadyDisabled => "already_disabled",
            Detail::AlreadyEnabled => "already_enabled",
        }
    }
}

/// A second step done for a user after the action succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// AdminUserGlobalSignOut after a reset (`--sign-out`).
    SignOut,
    /// AdminDisableUser after a reset (and its sign-out): `--disable`.
    Disable,
}

impl Step {
    /// Every step, in the order a run takes them after its action.
    pub const ALL: [Step; 2] = [Step::SignOut, Step::Disable];

    /// As the ledger spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::SignOut => "sign-out",
            Step::Disable => "disable",
        }
    }
}

/// One user's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    /// As read from the input (for an invalid row: lossy and shortened): a
    /// username, an alias or a sub.
    pub username: String,
    /// The canonical username the value names, when it is not the value
    /// itself (another case, an alias, a sub). The user's key is `user`,
    /// or `username` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub outcome: Outcome,
    /// Absent for the run's action; `sign-out` for the sign-out that
    /// follows a reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Step>,
    /// Line of the input the user came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Cognito's error code for `failed`, e.g. `UserNotFoundException`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Cognito's message, or why an input row is invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why the outcome is what it is when the call's answer alone does not
    /// say: a [`Detail`], written by its name. Kept as text so that a
    /// ledger written by a later version still reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Calls made for this user, throttled ones included.
    #[serde(default)]
    pub attempts: u32,
    /// How many of those calls were throttled (TooManyRequestsException).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled: u32,
    /// AWS request id of the last call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// When the outcome was known (RFC 3339, UTC).
    pub at: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Made durable before a user's first mutating call of a run. An intent
/// with no outcome after it means the run stopped while the call's result
/// was unknown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentRecord {
    pub username: String,
    /// As in [`UserRecord::user`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// When the call was about to be sent (RFC 3339, UTC).
    pub at: String,
    /// The user's status before the call, as the pool's listing gave it:
    /// the evidence a read-back of a lost answer compares with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

/// A call whose answer was lost: when it was sent, and the user's status
/// before it, when known.
#[derive(Debug, Clone, PartialEq)]
pub struct LostAnswer {
    pub sent: std::time::SystemTime,
    pub before: Option<String>,
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Entry {
    Header(Header),
    Intent(IntentRecord),
    User(UserRecord),
}

impl UserRecord {
    /// The name the record is kept under: the canonical username.
    pub fn key_name(&self) -> &str {
        self.user.as_deref().unwrap_or(&self.username)
    }
}

/// The key under which a username is remembered: a 128-bit hash, so the
/// sets of seen and finished users cost 16 bytes a user, whatever the
/// usernames' length. Collisions are out of reach (about 10^-27 for a million
/// users).
pub fn fingerprint(username: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(username.as_bytes())
}

/// The current time in RFC 3339 with milliseconds, UTC.
pub fn now() -> String {
    timestamp(std::time::SystemTime::now())
}

/// A time in RFC 3339 with milliseconds, UTC.
pub fn timestamp(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// This machine's host name, for the ledger header and lock messages.
pub fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown host".into())
}
