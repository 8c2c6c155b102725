//! `status --fleet` and `export --fleet`: every target's ledger, found as
//! `run --fleet` finds it (the manifest, each target's account read from
//! STS, discover tables expanded), read as a single ledger is.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::error::ExitCode;
use crate::ledger::store::{self, Reader};
use crate::report::{self, say, ExportFormat, ExportRow, Status};
use crate::settings::RunArgs;

use super::{open, Purpose, Target};

/// A target's ledger, for reading on a blocking thread, and its name;
/// `None` when the target has not started (no file, or a table job with
/// no records).
async fn reader(t: &Target) -> anyhow::Result<Option<(Reader, PathBuf)>> {
    let store = store::open(&t.settings.ledger).await?;
    let name = PathBuf::from(store.name());
    Ok(store.read().await?.map(|r| (r, name)))
}

/// One target's row of `status --fleet`.
#[derive(Debug, Serialize)]
struct StatusRow {
    target: String,
    account: String,
    region: String,
    pool_id: String,
    ledger: String,
    /// `None`: not started.
    status: Option<Status>,
}

/// `status --fleet`: each target's ledger, and the totals.
pub async fn status(cli: RunArgs, json: bool) -> anyhow::Result<ExitCode> {
    let fleet = open(cli, Purpose::Read).await?;
    let mut rows = Vec::new();
    for t in &fleet.targets {
        let status = match reader(t).await? {
            None => None,
            Some((r, name)) => {
                Some(tokio::task::spawn_blocking(move || report::status_from(r, &name)).await??)
            }
        };
        rows.push(StatusRow {
            target: t.at.to_string(),
            account: t.bucket.account.clone(),
            region: t.bucket.region.clone(),
            pool_id: t.settings.pool_id.clone(),
            ledger: t.settings.ledger.to_string(),
            status,
        });
    }
    if json {
        let value = serde_json::json!({
            "manifest": fleet.manifest.display().to_string(),
            "targets": rows,
            "unreachable": fleet.broken.iter().map(|b| serde_json::json!({
                "target": b.at.to_string(), "pool_id": b.pool_id, "region": b.region, "error": b.error,
            })).collect::<Vec<_>>(),
        });
        say(&(serde_json::to_string_pretty(&value)? + "\n"));
    } else {
        say(&render_status(&fleet.manifest, &rows, &fleet.broken));
    }
    Ok(if fleet.broken.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::Stopped
    })
}

fn render_status(
    manifest: &std::path::Path,
    rows: &[StatusRow],
    broken: &[super::Broken],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "fleet {}: {} targets",
        manifest.display(),
        rows.len() + broken.len()
    );
    let _ = writeln!(
        s,
        "  {:<60} {:>9} {:>7} {:>8} {:>8} {:>9}",
        "target", "succeeded", "failed", "deferred", "pending", "remaining"
    );
    let (mut succeeded, mut failed, mut started) = (0u64, 0u64, 0usize);
    for r in rows {
        let name = format!("{}/{}/{}", r.account, r.region, r.pool_id);
        match &r.status {
            None => {
                let _ = writeln!(s, "  {name:<60} not started");
            }
            Some(st) => {
                started += 1;
                succeeded += st.succeeded;
                failed += st.failed;
                let remaining = st
                    .remaining
                    .map_or_else(|| "?".to_string(), |n| n.to_string());
                let _ = writeln!(
                    s,
                    "  {name:<60} {:>9} {:>7} {:>8} {:>8} {remaining:>9}",
                    st.succeeded, st.failed, st.deferred, st.pending
                );
            }
        }
    }
    for b in broken {
        let _ = writeln!(
            s,
            "  {:<60} UNREACHABLE: {}",
            format!("?/{}/{}", b.region, b.pool_id),
            b.error
        );
    }
    let _ = writeln!(
        s,
        "total: {started} of {} targets started; {succeeded} succeeded, {failed} failed",
        rows.len() + broken.len()
    );
    s
}

/// `export --fleet`: every target's rows, with its account, region and
/// pool, as one CSV (one header) or JSON Lines; to `output` (a new private
/// file) or stdout.
pub async fn export(
    cli: RunArgs,
    format: ExportFormat,
    output: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let fleet = open(cli, Purpose::Read).await?;
    let mut all: Vec<ExportRow> = Vec::new();
    for t in &fleet.targets {
        let Some((r, name)) = reader(t).await? else {
            continue;
        };
        let rows = tokio::task::spawn_blocking(move || report::rows_from(r, &name)).await??;
        all.extend(rows.into_iter().map(|row| ExportRow {
            account: Some(t.bucket.account.clone()),
            region: Some(t.bucket.region.clone()),
            pool_id: Some(t.settings.pool_id.clone()),
            ..row
        }));
    }
    let count = all.len();
    tokio::task::spawn_blocking(move || {
        report::write_export(output.as_deref(), |out| {
            report::write_rows(&all, format, out)
        })
    })
    .await??;
    tracing::info!(rows = count, targets = fleet.targets.len(), "exported");
    for b in &fleet.broken {
        tracing::error!(target = %b.at, pool = %b.pool_id, region = %b.region, error = %b.error, "target unreachable: its rows are missing from the export");
    }
    Ok(if fleet.broken.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::Stopped
    })
}
