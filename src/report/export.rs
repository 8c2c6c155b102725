//! The `export` command: one row per user (and per invalid row) from a
//! ledger, as CSV (cells made safe for spreadsheets) or JSON Lines.

use std::path::Path;

use serde::Serialize;

use crate::error::UsageError;
use crate::ledger::{self, Entry, Outcome};

/// Formats of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

/// One user's row in an export: the final outcome and how it came about.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportRow {
    /// A fleet's export: the target's account, region and pool (absent
    /// from a single job's export).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<String>,
    /// The input's value.
    pub username: String,
    /// The canonical username it names, when it is another name (an alias,
    /// another case, the sub).
    pub user: Option<String>,
    pub line: Option<u64>,
    /// `succeeded`, `failed`, `skipped`, `invalid`, `deferred`, or
    /// `unknown` (a call whose answer was lost and not yet read back).
    pub outcome: String,
    pub code: Option<String>,
    pub message: Option<String>,
    pub detail: Option<String>,
    /// The sign-out step's outcome (`--sign-out`): `succeeded`, `failed`,
    /// `deferred`; empty where none was recorded.
    pub sign_out: Option<String>,
    /// Its error code, when it did not succeed.
    pub sign_out_code: Option<String>,
    /// The disable step's outcome (`--disable`), as `sign_out`'s.
    pub disable: Option<String>,
    /// Its error code, when it did not succeed.
    pub disable_code: Option<String>,
    /// Records about this user (intents and outcomes, across runs).
    pub steps: u32,
    /// Calls made for the user, across runs.
    pub attempts: u32,
    pub throttled: u32,
    /// Request ids of the user's outcome records, in order, `;`-separated.
    pub request_ids: String,
    /// When the user's first intent or record was written.
    pub first_at: String,
    /// When the final outcome was recorded.
    pub at: String,
}

/// `export`: one row per user of the ledger at `location`, in the order
/// users first appear, to `output` (a new private file) or stdout.
pub async fn export(
    location: &crate::ledger::location::Location,
    format: ExportFormat,
    output: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let store = ledger::store::open(location).await?;
    let reader = ledger::store::read_existing(store.as_ref()).await?;
    let name = std::path::PathBuf::from(store.name());
    tokio::task::spawn_blocking(move || {
        write_export(output.as_deref(), |out| {
            export_from(reader, &name, format, out).map(|_| ())
        })
    })
    .await?
}

/// [`export`] of a ledger read from `reader` (a table's records, see
/// `ledger::table`); `path` names it in messages.
pub fn export_from(
    reader: impl std::io::BufRead,
    path: &Path,
    format: ExportFormat,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<u64> {
    let rows = rows_from(reader, path)?;
    write_rows(&rows, format, out)?;
    Ok(rows.len() as u64)
}

/// The rows of the ledger read from `reader`, in the order users first
/// appear.
pub fn rows_from(reader: impl std::io::BufRead, path: &Path) -> anyhow::Result<Vec<ExportRow>> {
    use std::collections::HashMap;
    let mut rows: Vec<ExportRow> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut job: Option<(String, ledger::Action)> = None;
    let mut lines = ledger::Lines::new(reader);
    loop {
        // A torn last line (a crash mid-write) is no record.
        let (n, text) = match lines.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(ledger::lines::LineError::Io(e)) => return Err(e.into()),
            Err(ledger::lines::LineError::TooLong { line }) => {
                return Err(UsageError::LedgerCorrupt {
                    path: path.to_owned(),
                    line,
                    reason: "the line is longer than any record".into(),
                }
                .into())
            }
        };
        let entry: Entry = serde_json::from_slice(text).map_err(|e| UsageError::LedgerCorrupt {
            path: path.to_owned(),
            line: n,
            reason: e.to_string(),
        })?;
        let (key, username, line_no, at) = match &entry {
            Entry::Header(h) => {
                match &job {
                    None => job = Some((h.pool_id.clone(), h.action)),
                    Some((pool, action)) if *pool != h.pool_id || *action != h.action => {
                        return Err(UsageError::LedgerCorrupt {
                            path: path.to_owned(),
                            line: n,
                            reason: format!(
                                "it is the header of another job (pool {}, action {}) than the ledger's first; a ledger holds one job",
                                h.pool_id,
                                h.action.as_str()
                            ),
                        }
                        .into())
                    }
                    Some(_) => {}
                }
                continue;
            }
            Entry::Intent(i) => (
                i.user.clone().unwrap_or_else(|| i.username.clone()),
                i.username.clone(),
                i.line,
                i.at.clone(),
            ),
            Entry::User(u) if u.outcome == Outcome::Invalid => (
                format!("\0invalid:{}", u.line.unwrap_or(0)),
                u.username.clone(),
                u.line,
                u.at.clone(),
            ),
            Entry::User(u) => (
                u.key_name().to_string(),
                u.username.clone(),
                u.line,
                u.at.clone(),
            ),
        };
        let i = *index.entry(key).or_insert_with(|| {
            rows.push(ExportRow {
                username,
                line: line_no,
                outcome: "unknown".into(),
                first_at: at.clone(),
                ..ExportRow::default()
            });
            rows.len() - 1
        });
        let row = &mut rows[i];
        row.steps += 1;
        if let Entry::Intent(intent) = &entry {
            row.user = row.user.take().or_else(|| intent.user.clone());
        }
        if let Entry::User(u) = entry {
            row.user = row.user.take().or(u.user);
            let outcome = serde_json::to_value(u.outcome)?
                .as_str()
                .unwrap_or_default()
                .to_string();
            // Each step has columns of its own: the action's outcome stays
            // the user's.
            if u.step == Some(ledger::Step::SignOut) {
                row.sign_out = Some(outcome);
                row.sign_out_code = u.code;
            } else if u.step == Some(ledger::Step::Disable) {
                row.disable = Some(outcome);
                row.disable_code = u.code;
            } else {
                row.outcome = outcome;
                row.code = u.code;
                row.message = u.message;
                row.detail = u.detail;
            }
            row.attempts += u.attempts;
            row.throttled += u.throttled;
            if let Some(id) = u.request_id {
                if !row.request_ids.is_empty() {
                    row.request_ids.push(';');
                }
                row.request_ids.push_str(&id);
            }
            row.at = u.at;
        }
    }
    Ok(rows)
}

/// Writes an export with `write`: to `output`, a new private file, or to
/// standard output when `output` is `None` or `-`. Usernames are personal
/// data: the file is created 0600, written whole, and put in place only if
/// nothing is there (an export never overwrites). A reader that closes the
/// pipe early (`export | head`) ends the export quietly: it had what it
/// wanted. Blocking.
pub fn write_export(
    output: Option<&Path>,
    write: impl FnOnce(&mut dyn std::io::Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    match output.filter(|p| *p != Path::new("-")) {
        Some(path) => {
            crate::files::check_output(crate::files::Role::Export, path, false)?;
            let mut out = crate::files::NewFile::create(path, 0o600)
                .map_err(|e| anyhow::anyhow!("could not create {}: {e}", path.display()))?;
            write(&mut out)?;
            out.commit().map_err(|e| {
                anyhow::anyhow!(
                    "could not create {}: {e} (export never overwrites)",
                    path.display()
                )
            })
        }
        None => {
            let mut out = ClosedPipe {
                out: std::io::stdout().lock(),
                closed: false,
            };
            let written = write(&mut out).and_then(|()| Ok(std::io::Write::flush(&mut out)?));
            match written {
                Err(_) if out.closed => Ok(()),
                other => other,
            }
        }
    }
}

/// Standard output that remembers whether its reader went away (EPIPE).
struct ClosedPipe<W> {
    out: W,
    closed: bool,
}

impl<W: std::io::Write> ClosedPipe<W> {
    fn note<T>(&mut self, r: std::io::Result<T>) -> std::io::Result<T> {
        if matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe) {
            self.closed = true;
        }
        r
    }
}

impl<W: std::io::Write> std::io::Write for ClosedPipe<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.out.write(buf);
        self.note(r)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.out.flush();
        self.note(r)
    }
}

/// Writes `rows` as `format` (CSV: one header line, then the rows).
pub fn write_rows(
    rows: &[ExportRow],
    format: ExportFormat,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    match format {
        ExportFormat::Jsonl => {
            for row in rows {
                serde_json::to_writer(&mut *out, row)?;
                out.write_all(b"\n")?;
            }
        }
        ExportFormat::Csv => {
            // Cells a spreadsheet would evaluate are neutralised (see
            // `files::safe_cell`: a leading `'`, control characters escaped).
            let safe = |v: &str| crate::files::safe_cell(v).into_owned();
            let opt = |v: &Option<String>| v.as_deref().map(safe);
            let mut w = csv::Writer::from_writer(out);
            for row in rows {
                w.serialize(ExportRow {
                    username: safe(&row.username),
                    user: opt(&row.user),
                    code: opt(&row.code),
                    message: opt(&row.message),
                    detail: opt(&row.detail),
                    ..row.clone()
                })?;
            }
            w.flush()?;
        }
    }
    Ok(())
}
