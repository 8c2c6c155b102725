//! The ledger: an append-only JSON Lines file that is the run's memory.
//!
//! Line 1 is a [`Header`] naming the job (pool, action, region, input); every
//! later run against the same ledger appends another header, so the file also
//! tells when each run started. Then one [`UserRecord`] per user outcome:
//! `succeeded`, `failed` (with Cognito's error code and message) or `invalid`
//! (a bad input row, with its line number).
//!
//! Policy, enforced by [`writer`]: a user counts as done only once its record
//! has been written *and* fsynced; records are group-committed so one fsync
//! covers every record that arrived meanwhile. [`replay`] reads a ledger back
//! into the set of finished users a re-run skips, repairs a torn last line
//! left by a crash mid-write, and refuses a ledger written for another job.
//! Records never hold a password.

pub mod replay;
pub mod writer;

use serde::{Deserialize, Serialize};

pub use replay::{replay_path, replay_reader, Replay};
pub use writer::LedgerWriter;

/// What the run does to each user, as recorded in the ledger header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// AdminResetUserPassword: the user must choose a new password; Cognito
    /// sends them a code.
    Reset,
    /// AdminSetUserPassword with the password from the input.
    SetPassword,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Reset => "reset",
            Action::SetPassword => "set-password",
        }
    }
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
}

/// A user's final outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    Invalid,
}

/// One user's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    /// As read from the input (for an invalid row: lossy and shortened).
    pub username: String,
    pub outcome: Outcome,
    /// Line of the input the user came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Cognito's error code for `failed`, e.g. `UserNotFoundException`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Cognito's message, or why an input row is invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
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

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Entry {
    Header(Header),
    User(UserRecord),
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
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
