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

/// Opens (creating it, mode 0600) and locks the ledger for appending.
pub fn lock(path: &Path) -> Result<File, UsageError> {
    let opened = files::open_private(Role::Ledger, path, files::Loose::Tighten)?;
    if let Some(mode) = opened.tightened_from {
        tracing::warn!(
            ledger = %path.display(),
            "the ledger was readable by others (mode {mode:o}); made it 0600"
        );
    }
    let file = opened.file;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(UsageError::LedgerBusy {
            path: path.to_owned(),
            holder: holder(path),
        }),
        Err(TryLockError::Error(e)) => Err(UsageError::LedgerRead {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// Describes the process holding the ledger, from its last header.
fn holder(path: &Path) -> String {
    let last = std::fs::read_to_string(path).ok().and_then(|text| {
        text.lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<Entry>(l).ok())
            .find_map(|e| match e {
                Entry::Header(h) => Some(h),
                _ => None,
            })
    });
    match last {
        Some(h) if h.pid != 0 => format!("pid {} on {}, started {}", h.pid, h.host, h.started_at),
        Some(h) => format!("a run started {}", h.started_at),
        None => "another process that has not written its header yet".into(),
    }
}
