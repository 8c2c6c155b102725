//! Counting and telling: the live counters of a run, the end-of-run
//! [`Summary`] (and the exit code it implies), and the `status` command.
//!
//! Policy: the outcome counters move only in the ledger writer's durable
//! callback ([`Counters::on_durable`]), so no user is ever reported done
//! before its record is on disk. A failed user is data here, not an error:
//! the exit code is decided from the summary once the run is over.

//!
//! - [`counters`]: the live counters, moved by the ledger's durable callback;
//! - [`summary`]: the end of a run, its rendering and its exit code;
//! - [`status`](mod@status): the `status` command, from the ledger alone;
//! - [`export`](mod@export): the `export` command, one row per user.

use std::fmt::Write as _;

pub mod counters;
pub mod export;
pub mod status;
pub mod summary;

pub use counters::Counters;

pub use export::{
    export, export_from, rows_from, write_export, write_rows, ExportFormat, ExportRow,
};
pub use status::{status, status_from, Status};
pub use summary::{CanaryWave, JobSoFar, ProductionSeen, ResolutionSummary, StopReason, Summary};

/// Writes `text` to standard output. A closed terminal or pipe fails the
/// write: the command's work is done by then, and that must not become a
/// panic.
pub(crate) fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes `--summary-json` whole, atomically. The run has happened: a
/// summary that cannot be written must not turn its exit code into
/// "nothing sent", so a failure is logged.
pub(crate) fn write_summary(path: &std::path::Path, value: &impl serde::Serialize) {
    let bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    if let Err(e) = crate::files::write_atomically(path, &bytes, 0o600, true) {
        tracing::error!(path = %path.display(), error = %e, "could not write --summary-json");
    }
}

/// The summary of a command that failed before its first call: its exit
/// code and the error, so that no script reads an earlier run's summary as
/// this one's.
pub(crate) fn write_failed_summary(path: &std::path::Path, e: &anyhow::Error) {
    let code = crate::signals::exit_code(crate::error::exit_code_of(e));
    write_summary(
        path,
        &serde_json::json!({ "exit_code": code.code(), "error": format!("{e:#}") }),
    );
}

/// Rows shown by example in a plan or summary, at most.
pub const SHOWN: usize = 5;

/// The duplicate rows' line of a plan or summary: how many, and the first
/// of them with the earlier line naming the same person.
pub fn render_duplicates(s: &mut String, n: u64, shown: &[(u64, u64)]) {
    let _ = write!(s, "  duplicate rows       {n}");
    if n > 0 {
        let _ = write!(
            s,
            " (each names a person an earlier row names; called once)"
        );
    }
    let _ = writeln!(s);
    for (line, first) in shown {
        let _ = writeln!(s, "    line {line}: same person as line {first}");
    }
    if n > shown.len() as u64 {
        let _ = writeln!(s, "    ...");
    }
}

pub(crate) fn per_sec(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}
