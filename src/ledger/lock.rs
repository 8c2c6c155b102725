//! One writer per ledger, and the ledger opened as a private file.
//!
//! The ledger is opened by [`crate::files::open_private`]: never through a
//! symbolic link, never a FIFO or a device, never another user's file,
//! created 0600 (a looser existing mode is tightened, and said). The file
//! itself is then locked (an exclusive advisory lock, `flock`)
//! for as long as a run writes it. A second process is refused with a
//! message naming the holder, read from the last header in the file (pid,
//! host, start time). The kernel drops the lock when its process dies, so a
//! run killed with SIGKILL leaves no stale lock behind to block a resume.

use std::fs::{File, TryLockError};
use std::path::Path;

use crate::error::UsageError;
use crate::files::{self, Role};
use crate::ledger::Entry;

/// Opens (creating it, mode 0600) and locks the ledger for appending. An
/// existing file keeps its mode until [`make_private`], called once its
/// content shows it is a ledger.
pub fn lock(path: &Path) -> Result<File, UsageError> {
    let file = files::open_private(Role::Ledger, path, files::Loose::Keep)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(UsageError::LedgerBusy {
            path: path.to_owned(),
            holder: holder(&file),
        }),
        Err(TryLockError::Error(e)) => Err(UsageError::LedgerRead {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// Makes a ledger others may read 0600, and says so: it names users and
/// what was done to them.
pub fn make_private(file: &File, path: &Path) -> Result<(), UsageError> {
    let tightened = files::tighten(file).map_err(|e| UsageError::Path {
        flag: Role::Ledger.flag(),
        path: path.to_owned(),
        reason: format!("could not make it private (chmod 600): {e}"),
    })?;
    if let Some(mode) = tightened {
        tracing::warn!(
            ledger = %path.display(),
            "the ledger was readable by others (mode {mode:o}); made it 0600"
        );
    }
    Ok(())
}

/// How far back from its end the ledger is searched for the holder's
/// header: a busy ledger may be gigabytes, and this is only for a message.
const HOLDER_TAIL: u64 = 16 << 20;

/// Describes the process holding the ledger, from the last header in its
/// last [`HOLDER_TAIL`] bytes.
fn holder(file: &File) -> String {
    let last = (|| {
        use std::os::unix::fs::FileExt;
        let len = file.metadata().ok()?.len();
        let start = len.saturating_sub(HOLDER_TAIL);
        let mut buf = vec![0; (len - start) as usize];
        file.read_exact_at(&mut buf, start).ok()?;
        // The tail's first line may begin mid-record: it parses as no
        // header and is passed over.
        let mut lines = super::Lines::new(&buf[..]);
        let mut last = None;
        while let Ok(Some((_, text))) = lines.next_line() {
            if memchr::memmem::find(text, b"\"header\"").is_none() {
                continue;
            }
            if let Ok(Entry::Header(h)) = serde_json::from_slice::<Entry>(text) {
                last = Some(h);
            }
        }
        last
    })();
    match last {
        Some(h) if h.pid != 0 => format!("pid {} on {}, started {}", h.pid, h.host, h.started_at),
        Some(h) => format!("a run started {}", h.started_at),
        None => "another process that has not written its header yet".into(),
    }
}
