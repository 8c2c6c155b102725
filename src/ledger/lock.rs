//! One writer per ledger.
//!
//! The ledger file itself is locked (an exclusive advisory lock, `flock`)
//! for as long as a run writes it. A second process is refused with a
//! message naming the holder, read from the last header in the file (pid,
//! host, start time). The kernel drops the lock when its process dies, so a
//! run killed with SIGKILL leaves no stale lock behind to block a resume.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::error::UsageError;
use crate::ledger::Entry;

/// Opens (creating it, mode 0600) and locks the ledger for appending.
pub fn lock(path: &Path) -> Result<File, UsageError> {
    let io_err = |e: std::io::Error| UsageError::LedgerRead {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let created = !path.exists();
    let file = options.open(path).map_err(io_err)?;
    if created {
        sync_parent_dir(path).map_err(io_err)?;
    }
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(UsageError::LedgerBusy {
            path: path.to_owned(),
            holder: holder(path),
        }),
        Err(TryLockError::Error(e)) => Err(io_err(e)),
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

/// Makes a newly created file's directory entry durable.
fn sync_parent_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
