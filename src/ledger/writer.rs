//! The ledger writer: one thread that owns the file, appends records and
//! fsyncs them in groups.
//!
//! Callers [`append`](LedgerWriter::append) an entry (an intent or an
//! outcome) and wait for the answer; the answer comes only after the entry's
//! bytes are written and `fdatasync` returned, and the `on_durable` callback
//! (which counts the user done) runs at that same moment, never before. Every record that
//! arrives while a sync is running joins the next group, so the cost of an
//! fsync is shared by up to `MAX_GROUP` records. Once a write or sync
//! fails, every later append fails too: nothing more is counted done, and the
//! pipeline stops the run.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{Entry, Header, UserRecord};

/// Records committed by one fsync, at most.
const MAX_GROUP: usize = 4096;

/// Under load, syncs start at most this often: a group that forms sooner
/// after the previous sync waits out the rest of the interval and takes in
/// whatever arrived meanwhile. An fsync costs about as much CPU as a call, and
/// without pacing a fast disk syncs every 2 or 3 records; with it, a run at
/// 10,000 users/s commits 20 records a sync. A record waits at most this
/// long more, and only when the previous sync was this recent (never at the
/// rates a quota allows, a few hundred calls per second at most, where
/// records arrive milliseconds apart).
const SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_millis(1);

/// Called on the writer thread for each entry once it is durable.
pub type OnDurable = Box<dyn Fn(&Entry) + Send>;

/// Where the writer thread commits records: a file ([`FileSink`]) or a
/// DynamoDB table (`table::TableSink`).
pub trait Sink: Send + 'static {
    /// Makes `text` (whole JSON lines, each ending in a newline) durable, in
    /// order; an error means nothing more may be counted done.
    fn commit(&mut self, text: &[u8]) -> Result<(), String>;
}

/// A ledger file: appended to, then `fdatasync`.
pub struct FileSink(pub File);

impl Sink for FileSink {
    fn commit(&mut self, text: &[u8]) -> Result<(), String> {
        self.0
            .write_all(text)
            .and_then(|()| self.0.sync_data())
            .map_err(|e| e.to_string())
    }
}

/// The error every append gets once the ledger could not be written.
#[derive(Debug, Clone, thiserror::Error)]
#[error("could not write ledger {path}: {reason}")]
pub struct WriteError {
    pub path: PathBuf,
    pub reason: Arc<str>,
}

type Ack = oneshot::Sender<Result<(), WriteError>>;

/// Handle to the writer thread. Dropping every clone ends the thread after
/// it has committed what it was sent.
#[derive(Clone)]
pub struct LedgerWriter {
    tx: mpsc::Sender<(Entry, Ack)>,
}

impl LedgerWriter {
    /// Appends this run's header durably to `sink` and starts the writer
    /// thread; `path` names the ledger in errors.
    pub fn open_sink(
        mut sink: Box<dyn Sink>,
        path: &Path,
        header: &Header,
        on_durable: OnDurable,
    ) -> io::Result<(LedgerWriter, std::thread::JoinHandle<()>)> {
        let mut line = serde_json::to_vec(&Entry::Header(header.clone()))?;
        line.push(b'\n');
        sink.commit(&line).map_err(io::Error::other)?;

        let (tx, rx) = mpsc::channel(MAX_GROUP);
        let path = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || write_loop(sink, path, rx, on_durable))?;
        Ok((LedgerWriter { tx }, thread))
    }

    /// Appends an entry; returns once it is durable.
    pub async fn append(&self, entry: Entry) -> Result<(), WriteError> {
        let (ack, done) = oneshot::channel();
        let closed = || WriteError {
            path: PathBuf::from("ledger"),
            reason: "the ledger writer has stopped".into(),
        };
        self.tx.send((entry, ack)).await.map_err(|_| closed())?;
        done.await.map_err(|_| closed())?
    }

    /// Appends a user's outcome; returns once it is durable.
    pub async fn record(&self, record: UserRecord) -> Result<(), WriteError> {
        self.append(Entry::User(record)).await
    }
}

fn write_loop(
    mut sink: Box<dyn Sink>,
    path: PathBuf,
    mut rx: mpsc::Receiver<(Entry, Ack)>,
    on_durable: OnDurable,
) {
    let mut group: Vec<(Entry, Ack)> = Vec::with_capacity(64);
    let mut bytes = Vec::with_capacity(64 * 1024);
    let mut failed: Option<WriteError> = None;
    let mut last_sync: Option<std::time::Instant> = None;
    let drain = |group: &mut Vec<(Entry, Ack)>, rx: &mut mpsc::Receiver<(Entry, Ack)>| {
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
    };
    while let Some(first) = rx.blocking_recv() {
        group.push(first);
        drain(&mut group, &mut rx);
        if let Some(wait) = last_sync.and_then(|t| SYNC_INTERVAL.checked_sub(t.elapsed())) {
            if group.len() < MAX_GROUP && failed.is_none() {
                std::thread::sleep(wait);
                drain(&mut group, &mut rx);
            }
        }
        if failed.is_none() {
            last_sync = Some(std::time::Instant::now());
            bytes.clear();
            for (entry, _) in &group {
                // Serialising plain strings and numbers cannot fail.
                serde_json::to_writer(&mut bytes, entry).expect("a ledger entry serialises");
                bytes.push(b'\n');
            }
            if let Err(e) = sink.commit(&bytes) {
                failed = Some(WriteError {
                    path: path.clone(),
                    reason: e.into(),
                });
            }
        }
        for (entry, ack) in group.drain(..) {
            let result = match &failed {
                None => {
                    on_durable(&entry);
                    Ok(())
                }
                Some(e) => Err(e.clone()),
            };
            let _ = ack.send(result);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ledger::{lock, replay_path, Action, Outcome};
    use std::sync::atomic::{AtomicU64, Ordering};

    pub(crate) fn header() -> Header {
        Header {
            tool_version: "t".into(),
            pool_id: "us-east-1_T".into(),
            action: Action::Reset,
            region: "us-east-1".into(),
            input: "in.csv".into(),
            started_at: "now".into(),
            pid: 1,
            host: "h".into(),
            rate: None,
            input_rows: None,
            resolves: true,
            sign_out: false,
            disable: false,
            input_version: None,
            run_id: String::new(),
        }
    }

    pub(crate) fn record(name: &str) -> UserRecord {
        UserRecord {
            username: name.into(),
            user: None,
            outcome: Outcome::Succeeded,
            step: None,
            line: Some(1),
            code: None,
            message: None,
            detail: None,
            attempts: 1,
            throttled: 0,
            request_id: Some("rid".into()),
            at: "now".into(),
        }
    }

    /// Appended records are durable and counted once each when append returns; a re-open repairs a torn tail before appending.
    #[tokio::test]
    async fn append_counts_after_write_and_repairs_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.jsonl");
        let counted = Arc::new(AtomicU64::new(0));
        let c = counted.clone();
        let (w, thread) = LedgerWriter::open_sink(
            Box::new(FileSink(lock(&path).unwrap())),
            &path,
            &header(),
            Box::new(move |_| {
                c.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .unwrap();
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let w = w.clone();
                tokio::spawn(async move { w.record(record(&format!("u{i}"))).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(counted.load(Ordering::SeqCst), 100);
        drop(w);
        thread.join().unwrap();

        // Tear the tail as a crash would, then reopen.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"record\":\"user\",\"usern")
            .unwrap();
        let r = replay_path(&path).unwrap().unwrap();
        assert!(r.torn_bytes > 0);
        let file = lock(&path).unwrap();
        file.set_len(r.valid_len).unwrap();
        let (w, thread) =
            LedgerWriter::open_sink(Box::new(FileSink(file)), &path, &header(), Box::new(|_| {}))
                .unwrap();
        w.record(record("late")).await.unwrap();
        drop(w);
        thread.join().unwrap();
        let r = replay_path(&path).unwrap().unwrap();
        assert_eq!((r.runs, r.counts().succeeded, r.torn_bytes), (2, 101, 0));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
