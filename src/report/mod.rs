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
pub use summary::{ProductionSeen, ResolutionSummary, StopReason, Summary};

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
