//! Where a ledger lives: a file, or a job in a DynamoDB table
//! (`dynamodb://TABLE/JOB`, the same `--ledger` flag).

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
    Table {
        table: String,
        job: String,
    },
}

impl Location {
    /// Reads `--ledger`: `dynamodb://TABLE/JOB`, else a path.
    pub fn parse(value: &Path) -> Result<Location, UsageError> {
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
        // The job is a partition key value (at most 2048 bytes); kept to
        // printable text so that it reads well in messages and consoles.
        if job.is_empty()
            || job.len() > 1024
            || job.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(bad(format!(
                "'{job}' is no job name (1 to 1024 bytes, no spaces or control characters)"
            )));
        }
        Ok(Location::Table {
            table: table.to_string(),
            job: job.to_string(),
        })
    }

    /// The path for messages and for readers that name their source.
    pub fn as_path(&self) -> PathBuf {
        match self {
            Location::File(p) => p.clone(),
            Location::Table { .. } => PathBuf::from(self.to_string()),
        }
    }
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

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Table { table, job } => write!(f, "{SCHEME}{table}/{job}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A path is a file; dynamodb://TABLE/JOB a table, with DynamoDB's naming rules checked.
    #[test]
    fn file_or_table() {
        assert_eq!(
            Location::parse(Path::new("reset.jsonl")).unwrap(),
            Location::File("reset.jsonl".into())
        );
        let t = Location::parse(Path::new("dynamodb://ledgers/incident-42")).unwrap();
        assert_eq!(
            t,
            Location::Table {
                table: "ledgers".into(),
                job: "incident-42".into()
            }
        );
        assert_eq!(t.to_string(), "dynamodb://ledgers/incident-42");
        for bad in [
            "dynamodb://ledgers",
            "dynamodb://ledgers/",
            "dynamodb://ab/job",
            "dynamodb://bad table/job",
            "dynamodb://ledgers/two words",
        ] {
            let e = Location::parse(Path::new(bad)).unwrap_err().to_string();
            assert!(
                e.contains("--ledger") && e.contains("dynamodb://TABLE/JOB"),
                "{e}"
            );
        }
        // A job may hold a slash: everything after the table is the job.
        assert!(matches!(
            Location::parse(Path::new("dynamodb://ledgers/2026/11/29")).unwrap(),
            Location::Table { job, .. } if job == "2026/11/29"
        ));
    }
}
