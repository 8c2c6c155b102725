//! Reset or set the passwords of many Amazon Cognito user-pool users at once,
//! at a safe rate, resuming exactly where a stopped run left off.
//!
//! The tool is a streaming pipeline; each stage lives in its own module:
//!
//! - [`source`]: the user list (a CSV file or stdin), streamed row by row;
//!   each row is validated against Cognito's username rules.
//! - [`identity`]: who each row names, as data: the pool's settings
//!   (DescribeUserPool), what ListUsers says of a user, and a row's person.
//! - [`resolve`]: each value resolved to the person Cognito would resolve
//!   it to (case, aliases, sub) through ListUsers, by a pool index or a
//!   lookup per row, so that one person named three ways gets one call.
//! - `job`: opening a job, for `run` and `plan` alike: the paths checked,
//!   the input or the pool's listing opened, the pool read before the first
//!   call (DescribeUserPool), what its settings rule out refused, and the
//!   resolver set up.
//! - `action`: what each action is, a module each: its call, quota
//!   category, billing, message, read-back status, flags, and the one rule
//!   that skips a user it must not be called for.
//! - `exclude`: people never to touch (`--exclude`, `--exclude-group`).
//! - `triage`: the verdict on each row (invalid, duplicate, already done,
//!   excluded, to do) from the ledger; pure.
//! - `sessions`: how long users' tokens outlive the job, for `plan`.
//! - [`plan`]: the `plan` command, which only counts the verdicts.
//! - [`pipeline`]: wires the stages: de-duplicates, skips what the ledger
//!   already finished, paces attempts through the `limiter`, bounds the calls
//!   in flight, retries by the `retry` policy, and stops or drains on
//!   shutdown.
//! - [`cognito`]: the only module that knows the AWS SDK: client construction
//!   and one function per Cognito operation; SDK errors are classified there
//!   into the few cases the pipeline acts on.
//! - [`ledger`]: the append-only JSON Lines ledger: record types, the writer
//!   (group-committed fsync; a user counts as done only once its record is
//!   durable) and replay (what a re-run may skip); the same records kept in
//!   a DynamoDB table (`dynamodb://TABLE/JOB`) and `ledger copy`; one seam
//!   for both kinds (`ledger::store`), and one job per pool
//!   (`ledger::claim`).
//! - [`progress`] and [`report`]: the progress bar or plain log lines, the
//!   end-of-run summary, the `status` command; [`logging`]: the log lines
//!   themselves (logfmt or flat JSON, the run id on each).
//! - `files`: every path the tool reads or writes, and its rules: private
//!   regular files never reached through a link, whole files replaced
//!   atomically, no two paths of a run one file.
//! - `text`: outside text made safe to show (shortened, control
//!   characters escaped).
//! - `fptable`: the fingerprint-keyed table behind the ledger's per-user
//!   state and the pool index.
//! - `passwords`: generated passwords and the 0600 file they go to.
//! - [`signals`]: SIGINT, SIGTERM and SIGHUP, and the exit codes they give.
//! - [`settings`] and [`cli`]: flags and config file merged once into checked
//!   settings; [`commands`]: what each command does with them; [`error`]
//!   holds the mistakes a user can fix and the exit codes.
//! - `aws`: the AWS SDK's configuration for every client (credentials
//!   resolved once up front).
//! - `usage`: the account's recent use of a quota category, production
//!   included, from CloudWatch's usage metrics (`--rate auto`);
//!   `neighbour`: the run's rate kept, minute by minute, under what the
//!   quota's other callers leave.
//! - `fleet`: many pools, accounts and regions as one job (`--fleet`): a
//!   manifest of targets, each a job of its own with its own ledger,
//!   sharing one set of limiters per account and region.
//! - `drill`: the whole tool run against the simulated pool (the
//!   `cognito-sim` crate of this workspace, which models Cognito and knows
//!   nothing of the tool).
//!
//! # The API
//!
//! Public, for the binary and for embedding: [`cli`] and [`commands`],
//! [`settings`] (flags and config into checked settings), [`pipeline`] and
//! [`plan`] (the two commands that read a whole input;
//! `run_with`/`plan_with` take a [`cognito::Connect`], so a caller chooses
//! how the pool is reached), [`cognito`] (the seam: [`cognito::PoolApi`]
//! and the handle over it), [`report`], [`error`], [`signals`],
//! [`progress`], [`logging`], and the data types these name ([`identity`],
//! [`ledger`], [`resolve`], [`secret`]).
//! [`source`] is public for the benchmarks of its hot path. The rest is
//! internal to the crate.

mod action;
mod aws;
mod bufio;
pub mod cli;
pub mod cognito;
pub mod commands;
mod drill;
pub mod error;
mod exclude;
mod files;
mod fleet;
mod fptable;
pub mod identity;
mod job;
pub mod ledger;
mod limiter;
pub mod logging;
mod neighbour;
mod passwords;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod report;
pub mod resolve;
mod retry;
pub mod secret;
mod sessions;
pub mod settings;
pub mod signals;
pub mod source;
mod text;
mod triage;
pub mod usage;
mod validate;
