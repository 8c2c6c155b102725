//! `ledger copy FROM TO`: moves a job between a file and a DynamoDB table,
//! either way (or between two tables), record for record.
//!
//! The source is replayed first, so only a whole ledger of one job is
//! copied (a torn last line, which no run acknowledged, is left behind).
//! A table side is held under the job's lease for the whole copy, so no
//! run writes it meanwhile, and a table target must hold no record of the
//! job yet. A file target is created 0600, written whole and put in place
//! only if nothing is there.

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::lines::{self, LineError, Lines};
use super::location::Location;
use super::table::{Holder, Lease, LedgerTable, MAX_PAGE};
use crate::error::UsageError;
use crate::files::{self, NewFile, Role};

/// How long a copy's lease lasts; it is renewed well before.
const LEASE_SECONDS: u64 = 60;

/// Lines handed from the reader to the writer at a time.
const BATCH_LINES: usize = 2000;

/// How to reach tables.
#[derive(Debug, Clone, Default)]
pub struct TableAccess {
    pub region: Option<String>,
    pub profile: Option<String>,
}

/// A table side of a copy, under the job's lease.
struct Held {
    table: LedgerTable,
    lease: Lease,
    renewed: Instant,
}

impl Held {
    async fn take(
        table: &str,
        job: &str,
        access: &TableAccess,
        holder: &Holder,
    ) -> Result<Held, UsageError> {
        let table =
            LedgerTable::connect(table, access.region.as_deref(), access.profile.as_deref())
                .await?;
        table.check_exists().await?;
        let lease = table.acquire(job, holder, LEASE_SECONDS).await?;
        Ok(Held {
            table,
            lease,
            renewed: Instant::now(),
        })
    }

    /// Renews the lease once a third of it has passed.
    async fn keep(&mut self) -> anyhow::Result<()> {
        if self.renewed.elapsed() >= Duration::from_secs(LEASE_SECONDS / 3) {
            self.lease = self
                .table
                .renew(&self.lease, LEASE_SECONDS)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            self.renewed = Instant::now();
        }
        Ok(())
    }
}

/// Copies the ledger at `from` to `to`; returns the records copied.
pub async fn copy(from: &Location, to: &Location, access: &TableAccess) -> anyhow::Result<u64> {
    if let (Location::File(_), Location::File(_)) = (from, to) {
        anyhow::bail!("both are files; copy a file ledger with cp, or name a dynamodb://TABLE/JOB");
    }
    if from == to {
        anyhow::bail!("{from} is both the source and the target");
    }
    if let Location::File(path) = to {
        files::check_output(Role::Ledger, path, false)?;
    }
    let holder = Holder::this_process();
    let mut source = match from {
        Location::Table { table, job } => Some(Held::take(table, job, access, &holder).await?),
        Location::File(_) => None,
    };
    // From here on, every lease taken is given back, whatever happens.
    let mut target = None;
    let result = async {
        if let Location::Table { table, job } = to {
            let held = target.insert(Held::take(table, job, access, &holder).await?);
            if held.table.last_seq(job).await?.is_some() {
                anyhow::bail!(UsageError::LedgerTable {
                    table: table.clone(),
                    reason: format!("job {job} already holds records; copy to a job of its own, e.g. dynamodb://{table}/{job}-copy"),
                });
            }
        }
        let handle = tokio::runtime::Handle::current();
        copy_held(from, to, source.as_ref(), target.as_mut(), handle).await
    }
    .await;
    for held in [source.as_mut(), target.as_mut()].into_iter().flatten() {
        let _ = held.table.release(&held.lease).await;
    }
    result
}

/// Opens the source's text on a blocking thread.
fn open_source(
    from: &Location,
    source: Option<&Held>,
    handle: &tokio::runtime::Handle,
) -> Result<Box<dyn BufRead + Send>, UsageError> {
    Ok(match (from, source) {
        (Location::Table { job, .. }, Some(held)) => {
            Box::new(held.table.lines(job, handle.clone()))
        }
        (location, _) => {
            let path = location.as_path();
            let file = lines::open(&path)?.ok_or_else(|| UsageError::LedgerRead {
                path: path.clone(),
                reason: "no such file".into(),
            })?;
            Box::new(std::io::BufReader::new(file))
        }
    })
}

async fn copy_held(
    from: &Location,
    to: &Location,
    source: Option<&Held>,
    target: Option<&mut Held>,
    handle: tokio::runtime::Handle,
) -> anyhow::Result<u64> {
    // First pass: the source is a whole ledger of one job.
    let name = from.as_path();
    let check = {
        let reader = open_source(from, source, &handle)?;
        let name = name.clone();
        tokio::task::spawn_blocking(move || -> Result<(), UsageError> {
            let replay = super::replay_reader(reader, &name)?;
            replay.check_ledger(&name)?;
            if replay.header.is_none() {
                return Err(UsageError::LedgerRead {
                    path: name,
                    reason: "it holds no records".into(),
                });
            }
            Ok(())
        })
    };
    check.await??;

    // Second pass: the records, in batches of one write.
    let reader = open_source(from, source, &handle)?;
    let (tx, mut batches) = mpsc::channel::<Vec<String>>(4);
    let reading = {
        let name = name.clone();
        tokio::task::spawn_blocking(move || read_batches(reader, &name, tx))
    };
    let copied = match (to, target) {
        (Location::Table { .. }, Some(held)) => {
            let (mut seq, mut copied) = (1, 0);
            let mut text = String::new();
            while let Some(batch) = batches.recv().await {
                held.keep().await?;
                text.clear();
                for line in &batch {
                    text.push_str(line);
                    text.push('\n');
                }
                held.table
                    .append_text(&held.lease, &mut seq, &text)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                copied += batch.len() as u64;
            }
            copied
        }
        (location, _) => {
            let path = location.as_path();
            let mut out = NewFile::create(&path, 0o600)
                .map_err(|e| anyhow::anyhow!("could not create {}: {e}", path.display()))?;
            let mut copied = 0;
            while let Some(batch) = batches.recv().await {
                for line in &batch {
                    out.write_all(line.as_bytes())?;
                    out.write_all(b"\n")?;
                }
                copied += batch.len() as u64;
            }
            out.commit().map_err(|e| {
                anyhow::anyhow!(
                    "could not create {}: {e} (a copy never overwrites)",
                    path.display()
                )
            })?;
            copied
        }
    };
    reading.await??;
    Ok(copied)
}

/// Reads the source's complete lines into batches of one write.
fn read_batches(
    reader: Box<dyn BufRead + Send>,
    name: &Path,
    tx: mpsc::Sender<Vec<String>>,
) -> Result<(), UsageError> {
    let corrupt = |line: u64, reason: &str| UsageError::LedgerCorrupt {
        path: name.to_owned(),
        line,
        reason: reason.into(),
    };
    let mut lines = Lines::new(reader);
    let mut batch = Vec::with_capacity(BATCH_LINES);
    loop {
        let (n, text) = match lines.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(LineError::Io(e)) => {
                return Err(UsageError::LedgerRead {
                    path: name.to_owned(),
                    reason: e.to_string(),
                })
            }
            Err(LineError::TooLong { line }) => {
                return Err(corrupt(line, "the line is longer than any record"))
            }
        };
        if text.len() > MAX_PAGE {
            return Err(corrupt(
                n,
                "the record is larger than a DynamoDB item holds",
            ));
        }
        let text = std::str::from_utf8(text).map_err(|_| corrupt(n, "the line is not UTF-8"))?;
        batch.push(text.to_string());
        if batch.len() == BATCH_LINES && tx.blocking_send(std::mem::take(&mut batch)).is_err() {
            return Ok(()); // the writer stopped; it says why
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(batch);
    }
    Ok(())
}
