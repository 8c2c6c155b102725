//! Where a ledger lives: a file, or a job in a DynamoDB table
//! (`dynamodb://TABLE/JOB`, the same `--ledger` flag), parsed once from the
//! flags into a [`Location`] that every command takes as it is.
//!
//! A table is found by one rule, the same for every command (`run`,
//! `plan`, `status`, `export`, `ledger copy`, `ledger create-table`, a
//! fleet): its region is `--ledger-region` when given, else the AWS SDK's
//! own (`AWS_REGION`, then the profile's); its credentials are the
//! profile's (`--profile`) or the default chain. The pool's region plays
//! no part, so a job in `eu-west-1` can reset a pool in `us-east-1`, and
//! `status` always reads the table `run` writes. The region is resolved
//! when the table is reached ([`crate::ledger::table::LedgerTable`]) and
//! named in every message about it.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::UsageError;

/// The prefix that names a DynamoDB ledger.
pub const SCHEME: &str = "dynamodb://";

/// A ledger's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    /// A job's records in a DynamoDB table.
    Table(TableJob),
}

/// A job in a DynamoDB table, and how the table is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableJob {
    pub table: String,
    pub job: String,
    pub access: TableAccess,
}

/// How a ledger table is reached (see the module's rule).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableAccess {
    /// `--ledger-region`; `None`: the SDK's region (AWS_REGION, the
    /// profile's).
    pub region: Option<String>,
    /// The named AWS profile; `None`: the default credential chain.
    pub profile: Option<String>,
}

impl Location {
    /// Reads `--ledger`: `dynamodb://TABLE/JOB`, reached by `access`, else
    /// a path.
    pub fn parse(value: &Path, access: &TableAccess) -> Result<Location, UsageError> {
        let Some(rest) = value.to_str().and_then(|v| v.strip_prefix(SCHEME)) else {
            return Ok(Location::File(value.to_owned()));
        };
        let bad = |reason: String| {
            UsageError::Value {
            flag: "--ledger",
            reason: format!("'{}': {reason}; write dynamodb://TABLE/JOB, e.g. dynamodb://cognito-bulk-reset/incident-42", value.display()),
        }
        };
        let Some((table, job)) = rest.split_once('/') else {
            return Err(bad("it names no job".into()));
        };
        check_table_name(table).map_err(bad)?;
        check_job_name(job).map_err(bad)?;
        if let Some(region) = &access.region {
            check_region(region)?;
        }
        Ok(Location::Table(TableJob {
            table: table.to_string(),
            job: job.to_string(),
            access: access.clone(),
        }))
    }

    /// The file, for a file ledger.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Location::File(p) => Some(p),
            Location::Table(_) => None,
        }
    }
}

impl TableJob {
    /// The same table, another job (a fleet's targets under its prefix).
    pub fn with_job(&self, job: String) -> Result<TableJob, UsageError> {
        check_job_name(&job).map_err(|reason| UsageError::Value {
            flag: "--ledger",
            reason,
        })?;
        Ok(TableJob {
            job,
            ..self.clone()
        })
    }
}

/// The job is a partition key value (at most 2048 bytes); kept to
/// printable text so that it reads well in messages and consoles.
fn check_job_name(job: &str) -> Result<(), String> {
    if job.is_empty()
        || job.len() > 1024
        || job.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(format!(
            "'{job}' is no job name (1 to 1024 bytes, no spaces or control characters)"
        ));
    }
    Ok(())
}

/// DynamoDB's rule for table names (Developer Guide, "Supported data types
/// and naming rules in Amazon DynamoDB"): 3 to 255 of a-z, A-Z, 0-9, `_`,
/// `-` and `.`.
pub fn check_table_name(table: &str) -> Result<(), String> {
    if (3..=255).contains(&table.len())
        && table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        Ok(())
    } else {
        Err(format!(
            "'{table}' is no DynamoDB table name (3 to 255 letters, digits, '_', '-' or '.')"
        ))
    }
}

/// A region's shape (`us-east-1`, `eu-central-2`, `us-gov-west-1`): lower
/// case letters, digits and hyphens, as AWS names them.
fn check_region(region: &str) -> Result<(), UsageError> {
    let ok = (4..=32).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && region.contains('-');
    if ok {
        Ok(())
    } else {
        Err(UsageError::Value {
            flag: "--ledger-region",
            reason: format!("'{region}' is no AWS region; give one like eu-west-1"),
        })
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Table(t) => write!(f, "{t}"),
        }
    }
}

impl fmt::Display for TableJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.table, self.job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A path is a file; dynamodb://TABLE/JOB a table, with DynamoDB's naming rules checked and the table's access kept.
    #[test]
    fn file_or_table() {
        let none = TableAccess::default();
        assert_eq!(
            Location::parse(Path::new("reset.jsonl"), &none).unwrap(),
            Location::File("reset.jsonl".into())
        );
        let access = TableAccess {
            region: Some("eu-west-1".into()),
            profile: Some("ops".into()),
        };
        let t = Location::parse(Path::new("dynamodb://ledgers/incident-42"), &access).unwrap();
        assert_eq!(
            t,
            Location::Table(TableJob {
                table: "ledgers".into(),
                job: "incident-42".into(),
                access: access.clone(),
            })
        );
        assert_eq!(t.to_string(), "dynamodb://ledgers/incident-42");
        for bad in [
            "dynamodb://ledgers",
            "dynamodb://ledgers/",
            "dynamodb://ab/job",
            "dynamodb://bad table/job",
            "dynamodb://ledgers/two words",
        ] {
            let e = Location::parse(Path::new(bad), &none)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("--ledger") && e.contains("dynamodb://TABLE/JOB"),
                "{e}"
            );
        }
        // A job may hold a slash: everything after the table is the job.
        assert!(matches!(
            Location::parse(Path::new("dynamodb://ledgers/2026/11/29"), &none).unwrap(),
            Location::Table(TableJob { job, .. }) if job == "2026/11/29"
        ));
        for region in ["EU-WEST-1", "eu west 1", "x", "-eu-west-1"] {
            let e = Location::parse(
                Path::new("dynamodb://ledgers/j"),
                &TableAccess {
                    region: Some(region.into()),
                    profile: None,
                },
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains("--ledger-region"), "{e}");
        }
    }
}
