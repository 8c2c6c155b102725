//! The command line: the clap definitions of every subcommand, and what is
//! made from them alone (completion scripts, man pages). What a command
//! does is `commands`' business; `main` only parses, starts logging and
//! passes in the shutdown signal.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::drill::DrillArgs;
use crate::error::UsageError;
use crate::ledger::location::{Location, TableAccess};
use crate::report;
use crate::settings::RunArgs;
use cognito_sim::SimConfig;

/// Reset or set the passwords of many Amazon Cognito users at once: at a safe
/// rate, with retries, resuming from a durable ledger after any stop.
#[derive(Debug, Parser)]
#[command(name = "cognito-bulk-reset", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Output")]
    pub verbose: u8,

    /// Only warnings and errors in the log.
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Output"
    )]
    pub quiet: bool,

    /// Log line format on stderr: logfmt text, or one JSON object a line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true, help_heading = "Output")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Shown at the end of `run -h` and `plan -h`.
const SEE_LONG_HELP: &str = "Every flag, its details and examples: --help";

/// Shown at the end of `run --help`: what an operator types, by task.
/// Each line is parsed by a unit test, so it cannot drift from the flags.
pub const RUN_EXAMPLES: &str = "\
Examples:
  # Incident: see what would happen, then reset and sign out everyone in a file
  cognito-bulk-reset plan --user-pool-id us-east-1_AbCdEfGhI --input leaked.csv --sign-out
  cognito-bulk-reset run --user-pool-id us-east-1_AbCdEfGhI --input leaked.csv --sign-out

  # Contain: spare the break-glass accounts, a canary wave of 50, then the rest, disabled too
  cognito-bulk-reset run --user-pool-id us-east-1_AbCdEfGhI --input leaked.csv --sign-out --disable \
    --exclude-group admins --canary 50
  cognito-bulk-reset run --user-pool-id us-east-1_AbCdEfGhI --input leaked.csv --sign-out --disable \
    --exclude-group admins --canary 50 --continue

  # Cron migration: passwords from a file, unattended, a JSON summary for the scheduler
  cognito-bulk-reset run --user-pool-id us-east-1_AbCdEfGhI --action set-password \\
    --input passwords.csv --permanent --yes --summary-json summary.json

  # Resume after any stop: the same command again; then what the ledger holds
  cognito-bulk-reset run --user-pool-id us-east-1_AbCdEfGhI --input leaked.csv --sign-out
  cognito-bulk-reset status --ledger cognito-bulk-reset-us-east-1_AbCdEfGhI-reset.jsonl

  # Fleet: many pools, accounts and regions from one manifest
  cognito-bulk-reset plan --fleet fleet.toml
  cognito-bulk-reset run --fleet fleet.toml --ledger-dir ledgers --yes

  # Practise first on the built-in simulated pool
  cognito-bulk-reset drill";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reset (or set) the password of every user in the input.
    #[command(after_help = SEE_LONG_HELP, after_long_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Report what `run` with the same arguments would do: users to do,
    /// already done, invalid rows, duplicates, rate and time. Sends nothing.
    #[command(after_help = SEE_LONG_HELP, after_long_help = RUN_EXAMPLES)]
    Plan(RunArgs),
    /// Show what a ledger records: the job, its counts, what remains.
    Status(StatusArgs),
    /// Write one row per user of a ledger (final outcome, steps, attempts,
    /// request ids, times) as CSV or JSON Lines, for audit.
    Export(ExportArgs),
    /// Ledgers kept in DynamoDB: create a table, copy a job between a file
    /// and a table.
    Ledger(LedgerArgs),
    /// Run the whole tool against a built-in simulated user pool: a run,
    /// interrupted part-way, then resumed from its ledger.
    Drill(DrillArgs),
    /// Serve a simulated user pool on loopback until stopped.
    Sim(SimArgs),
    /// Print a shell completion script, e.g. `completions bash >
    /// ~/.local/share/bash-completion/completions/cognito-bulk-reset`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page, or with --dir write one page per command
    /// (cognito-bulk-reset.1, cognito-bulk-reset-run.1, ...) into DIR.
    Man {
        /// Write every command's page into this existing folder.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The ledger to read: a file, or dynamodb://TABLE/JOB (with --fleet:
    /// the fleet's dynamodb://TABLE/PREFIX, if not the manifest's).
    #[arg(long, value_name = "PATH", required_unless_present = "fleet")]
    pub ledger: Option<PathBuf>,
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub table: TableArgs,
}

/// How to reach a DynamoDB ledger table.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TableArgs {
    /// For a DynamoDB ledger: the table's region, found the way `run`
    /// finds it: this, else AWS_REGION, else the profile's. Its endpoint
    /// follows AWS_ENDPOINT_URL_DYNAMODB (or AWS_ENDPOINT_URL).
    #[arg(long, visible_alias = "region", value_name = "REGION")]
    pub ledger_region: Option<String>,
    /// For a DynamoDB ledger: the named AWS profile.
    #[arg(long)]
    pub profile: Option<String>,
}

impl TableArgs {
    pub(crate) fn access(&self) -> TableAccess {
        TableAccess {
            region: self.ledger_region.clone(),
            profile: self.profile.clone(),
        }
    }

    /// `--ledger` (or a copy's side) as a [`Location`].
    pub(crate) fn location(&self, value: &std::path::Path) -> Result<Location, UsageError> {
        Location::parse(value, &self.access())
    }
}

#[derive(Debug, clap::Args)]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub command: LedgerCommand,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Create a DynamoDB table for ledgers: on demand (pay per request),
    /// partition key `job`, sort key `k` (docs/dynamodb-ledger.md). Any
    /// number of jobs share one table.
    CreateTable {
        /// The table's name.
        table: String,
        #[command(flatten)]
        table_args: TableArgs,
    },
    /// Copy a job's ledger between a file and a table (dynamodb://TABLE/JOB),
    /// either way, record for record. The target must be new: a file that
    /// does not exist, or a job with no records.
    Copy {
        /// The ledger to copy: a file, or dynamodb://TABLE/JOB.
        from: PathBuf,
        /// Where it goes: a new file, or dynamodb://TABLE/JOB.
        to: PathBuf,
        #[command(flatten)]
        table_args: TableArgs,
    },
}

/// `status` and `export` of every target of a fleet.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FleetArgs {
    /// Every target of this fleet manifest (as `run --fleet` finds them:
    /// each target's account is read from STS, discover tables are
    /// expanded with ListUserPools).
    #[arg(long, value_name = "FILE")]
    pub fleet: Option<PathBuf>,
    /// With --fleet: the folder of its ledgers, if not the manifest's.
    #[arg(long, value_name = "DIR", requires = "fleet")]
    pub ledger_dir: Option<PathBuf>,
}

impl FleetArgs {
    /// The run settings that find a fleet's ledgers.
    pub(crate) fn run_args(&self, ledger: Option<PathBuf>, table: &TableArgs) -> RunArgs {
        RunArgs {
            fleet: self.fleet.clone(),
            ledger_dir: self.ledger_dir.clone(),
            ledger,
            ledger_region: table.ledger_region.clone(),
            profile: table.profile.clone(),
            ..RunArgs::default()
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The ledger to read: a file, or dynamodb://TABLE/JOB (with --fleet:
    /// the fleet's dynamodb://TABLE/PREFIX, if not the manifest's).
    #[arg(long, value_name = "PATH", required_unless_present = "fleet")]
    pub ledger: Option<PathBuf>,
    #[command(flatten)]
    pub fleet: FleetArgs,
    #[command(flatten)]
    pub table: TableArgs,
    #[arg(long, value_enum, default_value_t = report::ExportFormat::Csv)]
    pub format: report::ExportFormat,
    /// Write here instead of standard output (`-`: standard output); a
    /// new file only, never one that exists.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

impl clap::ValueEnum for report::ExportFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &[report::ExportFormat::Csv, report::ExportFormat::Jsonl]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(match self {
            report::ExportFormat::Csv => "csv",
            report::ExportFormat::Jsonl => "jsonl",
        }))
    }
}

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4599")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub config: SimConfig,
}

/// A completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), env!("CARGO_PKG_NAME"), &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The tool's man page (roff).
pub fn man_page() -> anyhow::Result<String> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `man --dir`: a page per command (and per `ledger` command) into `dir`,
/// each written whole and never through a link. Returns how many.
pub fn man_pages(dir: &std::path::Path) -> anyhow::Result<usize> {
    let shown = || crate::text::shown(&dir.display().to_string());
    if !dir.is_dir() {
        return Err(UsageError::Value {
            flag: "--dir",
            reason: format!("{} is not a folder; create it first", shown()),
        }
        .into());
    }
    let mut cli = Cli::command();
    cli.build();
    let name = cli.get_name().to_string();
    let mut pages = vec![(name.clone(), cli.clone())];
    for sub in cli
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
    {
        let sub_name = format!("{name}-{}", sub.get_name());
        for nested in sub
            .get_subcommands()
            .filter(|c| !c.is_hide_set() && c.get_name() != "help")
        {
            let nested_name = format!("{sub_name}-{}", nested.get_name());
            pages.push((nested_name.clone(), nested.clone().name(nested_name)));
        }
        pages.push((sub_name.clone(), sub.clone().name(sub_name)));
    }
    for (page, cmd) in &pages {
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
        let path = dir.join(format!("{page}.1"));
        crate::files::write_atomically(&path, &out, 0o644, true)
            .map_err(|e| anyhow::anyhow!("could not write {}: {e}", path.display()))?;
    }
    Ok(pages.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each command line of `run --help`'s examples parses as it is shown.
    #[test]
    fn the_help_examples_parse() {
        let joined = RUN_EXAMPLES.replace("\\\n", " ");
        let lines: Vec<&str> = joined
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("cognito-bulk-reset "))
            .collect();
        assert!(lines.len() >= 8, "{lines:?}");
        for line in lines {
            let words = line.split_whitespace();
            if let Err(e) = Cli::try_parse_from(words) {
                panic!("{line}: {e}");
            }
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
