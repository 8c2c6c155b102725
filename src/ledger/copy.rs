//! `ledger copy FROM TO`: moves a job between any two stores (a file and a
//! DynamoDB table's job, either way, or two of a kind), record for record.
//!
//! The source is held for the whole copy (a file locked, a job under its
//! lease), so no run writes it meanwhile, and it is replayed first, so
//! only a whole ledger of one job is copied (a torn last line, which no
//! run acknowledged, is left behind). The target is made whole or not at
//! all ([`super::store::LedgerStore::create`]): a file is created 0600,
//! written whole and put in place only if nothing is there; a job must
//! hold no records yet and is marked unfinished until its last record is
//! written, so a copy that stopped part-way is never resumed as if it held
//! the whole ledger.

use std::path::Path;

use tokio::sync::mpsc;

use super::lines::{LineError, Lines};
use super::location::Location;
use super::store::{self, NewLedger, Reader};
use super::table::MAX_PAGE;
use crate::error::UsageError;

/// Lines handed from the reader to the writer at a time.
const BATCH_LINES: usize = 2000;

/// How long a copy's source lease lasts; it is kept (renewed) throughout.
const LEASE_SECONDS: u64 = 60;

/// Copies the ledger at `from` to `to`; returns the records copied.
pub async fn copy(from: &Location, to: &Location) -> anyhow::Result<u64> {
    if from == to {
        anyhow::bail!("{from} is both the source and the target");
    }
    let (source, target) = (store::open(from).await?, store::open(to).await?);
    if source.name() == target.name() {
        anyhow::bail!("{} is both the source and the target", source.name());
    }
    let (held, replay) = source.hold(LEASE_SECONDS).await?;
    let result = async {
        if replay.header.is_none() {
            return Err(UsageError::LedgerRead {
                path: held.name().into(),
                reason: "it holds no records".into(),
            }
            .into());
        }
        let new = target.create().await?;
        copy_into(held.reread()?, held.name(), new).await
    }
    .await;
    held.release().await;
    result
}

/// Writes every complete line of `reader` into `new`, in batches, and
/// commits it.
async fn copy_into(reader: Reader, name: &str, mut new: Box<dyn NewLedger>) -> anyhow::Result<u64> {
    let (tx, mut batches) = mpsc::channel::<Vec<String>>(4);
    let reading = {
        let name = name.to_string();
        tokio::task::spawn_blocking(move || read_batches(reader, Path::new(&name), tx))
    };
    let mut copied = 0;
    let mut text = String::new();
    while let Some(batch) = batches.recv().await {
        text.clear();
        for line in &batch {
            text.push_str(line);
            text.push('\n');
        }
        let chunk = std::mem::take(&mut text);
        let (back, written) = tokio::task::spawn_blocking(move || {
            let written = new.write(&chunk);
            (new, written.map(|()| chunk))
        })
        .await?;
        new = back;
        text = written.map_err(anyhow::Error::msg)?;
        copied += batch.len() as u64;
    }
    reading.await??;
    new.commit().await?;
    Ok(copied)
}

/// Reads the source's complete lines into batches of one write.
fn read_batches(
    reader: Reader,
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
