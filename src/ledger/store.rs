//! Where a ledger's records are kept, behind one seam: [`LedgerStore`],
//! with a file ([`FileStore`]) and a DynamoDB table's job
//! ([`TableStore`]). Every command reaches a ledger through [`open`] and
//! nothing else knows which kind it has.
//!
//! A store is read ([`LedgerStore::read`]: `status`, `export`, `plan`),
//! held for one writer ([`LedgerStore::hold`]: `run`; the source of
//! `ledger copy`), or made new ([`LedgerStore::create`]: the target of
//! `ledger copy`, whole or not at all).
//!
//! A [`Held`] ledger is one process's until it is released or dropped: a
//! file locked (`flock`, dropped by the kernel with the process), or the
//! job's lease taken and kept from that very moment, renewed every third
//! of its length by a task that lives as long as the hold
//! ([`KeptLease`]). Its records are replayed under the hold, so what a run
//! resumes from is what no one else can change meanwhile. Dropping a held
//! table's lease leaves its release to that task; [`settle`] waits for
//! such tasks before the process exits.

use std::future::Future;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use tokio_util::task::TaskTracker;

use super::claim::{Claimant, PoolKey};
use super::location::{Location, TableJob};
use super::table::{Holder, KeptLease, LeaseKeeper, LedgerTable, TableSink};
use super::writer::{FileSink, OnDurable, Sink};
use super::{Header, LedgerWriter, Replay};
use crate::error::UsageError;
use crate::files::{self, NewFile, Role};

/// A boxed future, as the store's methods answer.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A ledger's text, read on a blocking thread.
pub type Reader = Box<dyn BufRead + Send>;

/// How long `ledger copy` holds its sides' leases for; renewed every
/// third of it.
const COPY_LEASE_SECONDS: u64 = 60;

/// A ledger's store.
pub trait LedgerStore: Send + Sync {
    /// The ledger in messages: its path, or `dynamodb://TABLE/JOB (REGION)`.
    fn name(&self) -> &str;

    /// A table's region; `None` for a file.
    fn region(&self) -> Option<&str>;

    /// The ledger's records, to read on a blocking thread; `None` when
    /// there is no ledger there yet (no file, a job with no records).
    fn read(&self) -> BoxFuture<'_, Result<Option<Reader>, UsageError>>;

    /// What the ledger holds, replayed and checked to be one job's ledger
    /// (nothing, for a ledger that does not exist yet).
    fn replay(&self) -> BoxFuture<'_, Result<Replay, UsageError>>;

    /// Takes the ledger for this process (see [`Held`]) and replays it
    /// under the hold; a ledger another process holds is refused, naming
    /// it. A held table's lease lasts `lease_seconds` and is kept from
    /// this moment.
    fn hold(&self, lease_seconds: u64) -> BoxFuture<'_, Result<(Held, Replay), UsageError>>;

    /// Who holds the store's own claim `key` now, if anyone (a table's
    /// claim item; a file has none), for `plan`.
    fn claimed<'a>(
        &'a self,
        key: &'a PoolKey,
    ) -> BoxFuture<'a, Result<Option<Claimant>, UsageError>>;

    /// A new ledger here, for `ledger copy`: a file that does not exist
    /// yet, or a job with no records.
    fn create(&self) -> BoxFuture<'_, Result<Box<dyn NewLedger>, UsageError>>;

    /// Why there is no ledger here, for a command that needs one.
    fn absent(&self) -> UsageError;
}

/// A ledger being made whole by `ledger copy`.
pub trait NewLedger: Send {
    /// Appends whole lines. Blocks: call it on a blocking thread.
    fn write(&mut self, text: &str) -> Result<(), String>;
    /// Puts the ledger in place, whole. A new ledger dropped before this
    /// leaves nothing that a run would resume from.
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), UsageError>>;
}

/// Opens the store `location` names: a table is reached (its region by
/// the location's rule) and must exist; nothing else is read.
pub async fn open(location: &Location) -> Result<Box<dyn LedgerStore>, UsageError> {
    Ok(match location {
        Location::File(path) => Box::new(FileStore {
            path: path.clone(),
            name: path.display().to_string(),
        }),
        Location::Table(at) => Box::new(TableStore::open(at).await?),
    })
}

/// [`LedgerStore::read`], for a command that needs a ledger there.
pub async fn read_existing(store: &dyn LedgerStore) -> Result<Reader, UsageError> {
    store.read().await?.ok_or_else(|| store.absent())
}

/// Tasks that give leases back after their hold was dropped.
pub(crate) fn background() -> &'static TaskTracker {
    static TASKS: LazyLock<TaskTracker> = LazyLock::new(TaskTracker::new);
    &TASKS
}

/// Waits, at most `within`, for the releases of dropped holds; the
/// process calls it before it exits. A lease whose release did not go out
/// expires by itself.
pub async fn settle(within: Duration) {
    let tasks = background();
    tasks.close();
    let _ = tokio::time::timeout(within, tasks.wait()).await;
}

/// A ledger held by this process, released by [`Held::release`] or on
/// drop.
pub struct Held {
    name: String,
    inner: Box<dyn Holding>,
}

/// What one kind of store does with a ledger it holds.
trait Holding: Send + Sync {
    /// The records again, from the held ledger.
    fn reread(&self) -> Result<Reader, UsageError>;
    /// Where the writer commits: after the torn tail the replay found is
    /// cut (a file), or from the job's next page (a table).
    fn sink(&mut self) -> Result<Box<dyn Sink>, String>;
    /// The lease a table's hold keeps.
    fn lease(&self) -> Option<Arc<LeaseKeeper>>;
    /// The store's own claim on a pool (a table's claim item); a file has
    /// none (`ledger::claim` takes the host's).
    fn claim<'a>(
        &'a self,
        key: &'a PoolKey,
        me: &'a Claimant,
    ) -> BoxFuture<'a, Result<Option<Claimant>, UsageError>>;
    fn release(self: Box<Self>) -> BoxFuture<'static, ()>;
}

impl Held {
    /// The ledger in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The held ledger's records again, from its start.
    pub fn reread(&self) -> Result<Reader, UsageError> {
        self.inner.reread()
    }

    /// A held table's lease: calls may go out only while it is surely
    /// this run's.
    pub fn lease(&self) -> Option<Arc<LeaseKeeper>> {
        self.inner.lease()
    }

    /// Claims `key` in the store itself, where the store can (a table):
    /// `Some(holder)` when another live job holds it.
    pub async fn claim(
        &self,
        key: &PoolKey,
        me: &Claimant,
    ) -> Result<Option<Claimant>, UsageError> {
        self.inner.claim(key, me).await
    }

    /// Starts the ledger writer on this ledger: this run's `header` made
    /// durable first, then one thread that commits records in groups
    /// (`ledger::writer`), calling `on_durable` for each.
    pub async fn writer(
        &mut self,
        header: &Header,
        on_durable: OnDurable,
    ) -> io::Result<(LedgerWriter, std::thread::JoinHandle<()>)> {
        let sink = self.inner.sink().map_err(io::Error::other)?;
        // A table's commit blocks on the runtime: off its threads.
        let (name, header) = (PathBuf::from(&self.name), header.clone());
        tokio::task::spawn_blocking(move || {
            LedgerWriter::open_sink(sink, &name, &header, on_durable)
        })
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e)))
    }

    /// Gives the ledger back: the lock dropped, or the lease (and any
    /// claim under it) released, waiting for that to be sent.
    pub async fn release(self) {
        self.inner.release().await;
    }
}

/// A file ledger.
pub struct FileStore {
    path: PathBuf,
    name: String,
}

impl LedgerStore for FileStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn region(&self) -> Option<&str> {
        None
    }

    fn read(&self) -> BoxFuture<'_, Result<Option<Reader>, UsageError>> {
        Box::pin(async move {
            Ok(super::lines::open(&self.path)?
                .map(|f| Box::new(io::BufReader::with_capacity(1 << 16, f)) as Reader))
        })
    }

    fn replay(&self) -> BoxFuture<'_, Result<Replay, UsageError>> {
        Box::pin(async move { Ok(super::replay_path(&self.path)?.unwrap_or_default()) })
    }

    fn hold(&self, _lease_seconds: u64) -> BoxFuture<'_, Result<(Held, Replay), UsageError>> {
        Box::pin(async move {
            let file = super::lock(&self.path)?;
            let replay = super::replay_file(&file, &self.path)?;
            // It is a ledger (or empty): it names users, so it is private.
            super::make_private(&file, &self.path)?;
            let held = Held {
                name: self.name.clone(),
                inner: Box::new(FileHold {
                    file,
                    path: self.path.clone(),
                    torn: (replay.torn_bytes > 0).then_some(replay.valid_len),
                }),
            };
            Ok((held, replay))
        })
    }

    fn claimed<'a>(
        &'a self,
        _key: &'a PoolKey,
    ) -> BoxFuture<'a, Result<Option<Claimant>, UsageError>> {
        Box::pin(async { Ok(None) })
    }

    fn create(&self) -> BoxFuture<'_, Result<Box<dyn NewLedger>, UsageError>> {
        Box::pin(async move {
            files::check_output(Role::Ledger, &self.path, false)?;
            let file = NewFile::create(&self.path, 0o600).map_err(|e| UsageError::Path {
                flag: Role::Ledger.flag(),
                path: self.path.clone(),
                reason: format!("could not create it: {e}"),
            })?;
            Ok(Box::new(NewFileLedger {
                file,
                path: self.path.clone(),
            }) as Box<dyn NewLedger>)
        })
    }

    fn absent(&self) -> UsageError {
        UsageError::LedgerRead {
            path: self.path.clone(),
            reason: "no such file".into(),
        }
    }
}

/// A file ledger, locked.
struct FileHold {
    file: std::fs::File,
    path: PathBuf,
    /// Where a torn last line begins, to cut before the first write.
    torn: Option<u64>,
}

impl Holding for FileHold {
    fn reread(&self) -> Result<Reader, UsageError> {
        let file = self.file.try_clone().map_err(|e| UsageError::LedgerRead {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        Ok(Box::new(io::BufReader::with_capacity(
            1 << 16,
            ReadAt { file, pos: 0 },
        )))
    }

    fn sink(&mut self) -> Result<Box<dyn Sink>, String> {
        if let Some(len) = self.torn.take() {
            self.file
                .set_len(len)
                .map_err(|e| format!("could not cut the torn last line: {e}"))?;
        }
        let file = self.file.try_clone().map_err(|e| e.to_string())?;
        Ok(Box::new(FileSink(file)))
    }

    fn lease(&self) -> Option<Arc<LeaseKeeper>> {
        None
    }

    fn claim<'a>(
        &'a self,
        _key: &'a PoolKey,
        _me: &'a Claimant,
    ) -> BoxFuture<'a, Result<Option<Claimant>, UsageError>> {
        Box::pin(async { Ok(None) })
    }

    fn release(self: Box<Self>) -> BoxFuture<'static, ()> {
        // Closing the file drops the lock.
        Box::pin(async move { drop(self) })
    }
}

/// Reads a file from its start by position, without moving the offset
/// it shares with the writer's descriptor.
struct ReadAt {
    file: std::fs::File,
    pos: u64,
}

impl io::Read for ReadAt {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// A file ledger written whole, then put in place if nothing is there.
struct NewFileLedger {
    file: NewFile,
    path: PathBuf,
}

impl NewLedger for NewFileLedger {
    fn write(&mut self, text: &str) -> Result<(), String> {
        io::Write::write_all(&mut self.file, text.as_bytes()).map_err(|e| e.to_string())
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), UsageError>> {
        let NewFileLedger { file, path } = *self;
        Box::pin(async move {
            file.commit().map_err(|e| UsageError::Path {
                flag: Role::Ledger.flag(),
                path,
                reason: format!("could not create it: {e} (a copy never overwrites)"),
            })
        })
    }
}

/// A job's ledger in a DynamoDB table.
pub struct TableStore {
    table: LedgerTable,
    job: String,
    name: String,
}

impl TableStore {
    async fn open(at: &TableJob) -> Result<TableStore, UsageError> {
        let table = LedgerTable::connect(&at.table, &at.access).await?;
        table.check_exists().await?;
        Ok(TableStore {
            name: table.job_name(&at.job),
            job: at.job.clone(),
            table,
        })
    }

    /// Refuses a job that holds a copy `ledger copy` did not finish.
    async fn check_whole(&self) -> Result<(), UsageError> {
        if self.table.unfinished_copy(&self.job).await? {
            return Err(UsageError::LedgerRead {
                path: PathBuf::from(&self.name),
                reason: "it holds a copy that `ledger copy` did not finish, so it may lack records of users already done; copy the ledger again into a new job and use that".into(),
            });
        }
        Ok(())
    }

    /// Takes the job's lease and keeps it from this moment.
    async fn take(&self, seconds: u64) -> Result<KeptLease, UsageError> {
        let taken = Instant::now();
        let lease = self
            .table
            .acquire(&self.job, &Holder::this_process(), seconds)
            .await?;
        Ok(KeptLease::start(self.table.clone(), lease, seconds, taken))
    }

    /// The job's records, replayed.
    async fn replay_job(&self) -> Result<Replay, UsageError> {
        let lines = self
            .table
            .lines(&self.job, tokio::runtime::Handle::current());
        let name = PathBuf::from(&self.name);
        tokio::task::spawn_blocking(move || super::replay_reader(lines, &name))
            .await
            .map_err(|e| UsageError::LedgerRead {
                path: PathBuf::from(&self.name),
                reason: e.to_string(),
            })?
    }
}

impl LedgerStore for TableStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn region(&self) -> Option<&str> {
        Some(self.table.region())
    }

    fn read(&self) -> BoxFuture<'_, Result<Option<Reader>, UsageError>> {
        Box::pin(async move {
            self.check_whole().await?;
            if self.table.last_seq(&self.job).await?.is_none() {
                return Ok(None);
            }
            Ok(Some(Box::new(
                self.table
                    .lines(&self.job, tokio::runtime::Handle::current()),
            ) as Reader))
        })
    }

    fn replay(&self) -> BoxFuture<'_, Result<Replay, UsageError>> {
        Box::pin(async move {
            self.check_whole().await?;
            let replay = self.replay_job().await?;
            replay.check_ledger(Path::new(&self.name))?;
            Ok(replay)
        })
    }

    fn claimed<'a>(
        &'a self,
        key: &'a PoolKey,
    ) -> BoxFuture<'a, Result<Option<Claimant>, UsageError>> {
        Box::pin(async move { self.table.live_claim(&key.key()).await })
    }

    fn hold(&self, lease_seconds: u64) -> BoxFuture<'_, Result<(Held, Replay), UsageError>> {
        Box::pin(async move {
            let kept = self.take(lease_seconds).await?;
            // From here on the lease is kept, and given back if the job
            // cannot be held.
            let read = async {
                self.check_whole().await?;
                let replay = self.replay_job().await?;
                replay.check_ledger(Path::new(&self.name))?;
                let next_seq = self.table.last_seq(&self.job).await?.map_or(1, |s| s + 1);
                Ok::<_, UsageError>((replay, next_seq))
            }
            .await;
            match read {
                Ok((replay, next_seq)) => Ok((
                    Held {
                        name: self.name.clone(),
                        inner: Box::new(TableHold {
                            kept,
                            job: self.job.clone(),
                            next_seq,
                        }),
                    },
                    replay,
                )),
                Err(e) => {
                    kept.release().await;
                    Err(e)
                }
            }
        })
    }

    fn create(&self) -> BoxFuture<'_, Result<Box<dyn NewLedger>, UsageError>> {
        Box::pin(async move {
            let kept = self.take(COPY_LEASE_SECONDS).await?;
            let start = async {
                if self.table.last_seq(&self.job).await?.is_some()
                    || self.table.unfinished_copy(&self.job).await?
                {
                    return Err(self.table.error(format!(
                        "job {} already holds records; copy to a job of its own, e.g. dynamodb://{}/{}-copy",
                        self.job,
                        self.table.name(),
                        self.job
                    )));
                }
                let lease = kept.keeper.lease();
                self.table
                    .mark_copying(&lease, false)
                    .await
                    .map_err(|e| self.table.error(e.to_string()))
            }
            .await;
            match start {
                Ok(()) => Ok(Box::new(NewTableLedger {
                    kept: Some(kept),
                    next_seq: 1,
                    handle: tokio::runtime::Handle::current(),
                }) as Box<dyn NewLedger>),
                Err(e) => {
                    kept.release().await;
                    Err(e)
                }
            }
        })
    }

    fn absent(&self) -> UsageError {
        UsageError::LedgerRead {
            path: PathBuf::from(&self.name),
            reason: format!(
                "job {} holds no records in table {} in {}; check the job's name, and the table's region (--ledger-region, else AWS_REGION or the profile's)",
                self.job,
                self.table.name(),
                self.table.region()
            ),
        }
    }
}

/// A job's ledger held under its lease.
struct TableHold {
    kept: KeptLease,
    job: String,
    next_seq: u64,
}

impl Holding for TableHold {
    fn reread(&self) -> Result<Reader, UsageError> {
        Ok(Box::new(
            self.kept
                .keeper
                .table()
                .lines(&self.job, tokio::runtime::Handle::current()),
        ))
    }

    fn sink(&mut self) -> Result<Box<dyn Sink>, String> {
        Ok(Box::new(TableSink {
            table: self.kept.keeper.table().clone(),
            lease: self.kept.keeper.lease(),
            next_seq: self.next_seq,
            handle: tokio::runtime::Handle::current(),
        }))
    }

    fn lease(&self) -> Option<Arc<LeaseKeeper>> {
        Some(self.kept.keeper.clone())
    }

    fn claim<'a>(
        &'a self,
        key: &'a PoolKey,
        me: &'a Claimant,
    ) -> BoxFuture<'a, Result<Option<Claimant>, UsageError>> {
        Box::pin(async move { self.kept.keeper.claim(&key.key(), me).await })
    }

    fn release(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(self.kept.release())
    }
}

/// A job being copied into, under its lease and marked unfinished until
/// its commit.
struct NewTableLedger {
    kept: Option<KeptLease>,
    next_seq: u64,
    handle: tokio::runtime::Handle,
}

impl NewLedger for NewTableLedger {
    fn write(&mut self, text: &str) -> Result<(), String> {
        let kept = self.kept.as_ref().ok_or("the copy was committed")?;
        if !kept.keeper.valid() {
            return Err("the job's lease could not be renewed; the copy stopped".into());
        }
        let lease = kept.keeper.lease();
        self.handle
            .block_on(
                kept.keeper
                    .table()
                    .append_text(&lease, &mut self.next_seq, text),
            )
            .map_err(|e| e.to_string())
    }

    fn commit(mut self: Box<Self>) -> BoxFuture<'static, Result<(), UsageError>> {
        let kept = self.kept.take();
        Box::pin(async move {
            let kept = kept.ok_or_else(|| UsageError::Refused("the copy was committed".into()))?;
            let table = kept.keeper.table().clone();
            let done = table.mark_copying(&kept.keeper.lease(), true).await;
            kept.release().await;
            done.map_err(|e| {
                table.error(format!(
                    "the copy is written but could not be marked whole ({e}); copy it again into a new job"
                ))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::writer::tests::{header, record};
    use std::io::Read;

    /// A file store held: a second hold is refused while the first lives; the writer cuts the torn tail the replay found; a reread reads from the start without moving the writer; the drop gives the lock back.
    #[tokio::test]
    async fn a_held_file_is_one_writers_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.jsonl");
        let mut line = serde_json::to_vec(&super::super::Entry::Header(header())).unwrap();
        line.push(b'\n');
        line.extend_from_slice(b"{\"record\":\"user\",\"usern");
        std::fs::write(&path, &line).unwrap();
        let store = open(&Location::File(path.clone())).await.unwrap();
        assert_eq!(store.region(), None);
        let (mut held, replay) = store.hold(60).await.unwrap();
        assert!(replay.torn_bytes > 0);
        let busy = store
            .hold(60)
            .await
            .err()
            .expect("a second hold is refused");
        assert!(busy.to_string().contains("in use by"), "{busy}");
        let (writer, thread) = held.writer(&header(), Box::new(|_| {})).await.unwrap();
        writer.record(record("alice")).await.unwrap();
        let mut text = String::new();
        held.reread().unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(!text.contains("\"usern\n"), "the torn tail was cut: {text}");
        writer.record(record("bob")).await.unwrap();
        drop(writer);
        thread.join().unwrap();
        drop(held);
        let (_again, replay) = store.hold(60).await.unwrap();
        assert_eq!(
            (replay.runs, replay.counts().succeeded, replay.torn_bytes),
            (2, 2, 0)
        );
    }

    /// A new file ledger appears whole at commit, and not at all without it; an existing file is never a new one.
    #[tokio::test]
    async fn a_new_file_ledger_is_whole_or_absent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copy.jsonl");
        let store = open(&Location::File(path.clone())).await.unwrap();
        let mut new = store.create().await.unwrap();
        new.write("a\n").unwrap();
        drop(new);
        assert!(!path.exists(), "an abandoned copy leaves nothing");
        let mut new = store.create().await.unwrap();
        new.write("a\n").unwrap();
        new.write("b\n").unwrap();
        new.commit().await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
        assert!(store.create().await.is_err());
    }
}
