//! One job per pool: a run's claim on an (account, pool, action), beside
//! its ledger's lock or lease. Two jobs with different ledgers resetting
//! the same pool would message the same people twice; the ledger's lock
//! covers one ledger only, the claim covers the pool.
//!
//! A claim is taken in two places, each where a second job can be seen:
//! - **on this host**: a file `ACCOUNT_POOL_ACTION.lock` in the tool's
//!   state folder (`$XDG_STATE_HOME/cognito-bulk-reset/pools`, else
//!   `~/.local/state/cognito-bulk-reset/pools`; 0700), locked (`flock`)
//!   for as long as the run goes on and naming its holder. The kernel drops
//!   the lock when its process dies, so a killed run leaves no stale claim.
//!   It sees jobs of the same OS user on the same host; where that folder
//!   cannot be made (a read-only home, a container), the run says so and
//!   goes on with the table's claim alone.
//! - **in a DynamoDB ledger's table**: an item beside the jobs, renewed
//!   and released with the job's lease (`ledger::table`), so a second job
//!   of the same table on the same pool is seen from any host.
//!
//! The account comes from the pool's ARN (DescribeUserPool); where that
//! cannot be read, the claim names no account, and a job that knows the
//! account does not see it.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::files::{self, Role};
use crate::ledger::Action;

/// What a claim is on: an action on a pool of an account, reached at an
/// endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolKey {
    /// `None` when the pool's ARN could not be read.
    pub account: Option<String>,
    pub pool_id: String,
    pub action: Action,
    /// An endpoint other than Cognito's regional one (`--endpoint-url`: a
    /// simulated pool, moto): pools of the same id behind two such
    /// endpoints are two pools.
    pub endpoint: Option<String>,
}

impl PoolKey {
    /// `ACCOUNT/POOL/ACTION` (`unknown-account` when the account is not
    /// known), then `@ENDPOINT` when there is one: the key of the table's
    /// claim item.
    pub fn key(&self) -> String {
        let mut key = format!(
            "{}/{}/{}",
            self.account.as_deref().unwrap_or("unknown-account"),
            self.pool_id,
            self.action.as_str()
        );
        if let Some(endpoint) = &self.endpoint {
            key.push('@');
            key.push_str(endpoint);
        }
        key
    }

    /// The host lock's file name. A pool id is `[\w-]+_[0-9a-zA-Z]+` and
    /// an account twelve digits, so the name needs no escaping; an endpoint
    /// is named by its hash.
    fn file_name(&self) -> String {
        let mut name = format!(
            "{}_{}_{}",
            self.account.as_deref().unwrap_or("unknown-account"),
            self.pool_id,
            self.action.as_str()
        );
        if let Some(endpoint) = &self.endpoint {
            name.push_str(&format!(
                "_{:016x}",
                xxhash_rust::xxh3::xxh3_64(endpoint.as_bytes())
            ));
        }
        name + ".lock"
    }
}

/// Who holds a claim, for messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claimant {
    /// The holder's ledger.
    pub ledger: String,
    pub host: String,
    pub pid: u32,
    /// When the holder's run started (RFC 3339).
    pub since: String,
}

impl Claimant {
    /// This process's run, keeping `ledger`.
    pub fn this_run(ledger: &str) -> Claimant {
        Claimant {
            ledger: ledger.to_string(),
            host: super::host_name(),
            pid: std::process::id(),
            since: super::now(),
        }
    }
}

impl std::fmt::Display for Claimant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ledger {}, pid {} on {}, since {}",
            self.ledger, self.pid, self.host, self.since
        )
    }
}

/// The folder of this host's claims: `$XDG_STATE_HOME/cognito-bulk-reset/pools`,
/// else `$HOME/.local/state/cognito-bulk-reset/pools`; `None` without either.
pub fn host_dir() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".local").join("state"))
        })?;
    Some(state.join("cognito-bulk-reset").join("pools"))
}

/// A claim held on this host: the lock file, locked until dropped.
#[derive(Debug)]
pub struct HostClaim {
    _file: File,
}

/// Takes `key`'s claim in `dir` for `me`. `Ok(Err(holder))`: another live
/// process holds it. `Err`: the claim could not be taken at all (the
/// folder cannot be made or used), why.
pub fn take_host(
    dir: &Path,
    key: &PoolKey,
    me: &Claimant,
) -> Result<Result<HostClaim, Claimant>, String> {
    let file = open(dir, key)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(Err(holder(&file))),
        Err(TryLockError::Error(e)) => return Err(e.to_string()),
    }
    let mut line = serde_json::to_vec(me).map_err(|e| e.to_string())?;
    line.push(b'\n');
    // Opened for appending: the holder's line replaces the last one's.
    file.set_len(0)
        .and_then(|()| (&file).write_all(&line))
        .map_err(|e| e.to_string())?;
    Ok(Ok(HostClaim { _file: file }))
}

/// Who holds `key`'s claim in `dir` now, if anyone (for `plan`).
pub fn probe_host(dir: &Path, key: &PoolKey) -> Option<Claimant> {
    let path = dir.join(key.file_name());
    // Never create the folder or the file just to look.
    if std::fs::symlink_metadata(&path).is_err() {
        return None;
    }
    let file = open(dir, key).ok()?;
    match file.try_lock() {
        Ok(()) => None, // unlocked when `file` closes
        Err(_) => Some(holder(&file)),
    }
}

/// Opens (creating them 0700 and 0600) the folder and `key`'s lock file,
/// with the rules of every path the tool writes (no link, no FIFO, no
/// other user's file).
fn open(dir: &Path, key: &PoolKey) -> Result<File, String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("could not make {}: {e}", dir.display()))?;
    let path = dir.join(key.file_name());
    files::open_private(Role::PoolClaim, &path, files::Loose::Keep).map_err(|e| e.to_string())
}

/// The holder named in a locked claim file.
fn holder(file: &File) -> Claimant {
    let mut text = String::new();
    let mut f = file;
    let _ = f
        .seek(std::io::SeekFrom::Start(0))
        .and_then(|_| f.take(4096).read_to_string(&mut text));
    serde_json::from_str(text.trim()).unwrap_or_else(|_| Claimant {
        ledger: "?".into(),
        host: super::host_name(),
        pid: 0,
        since: "?".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(account: Option<&str>, action: Action) -> PoolKey {
        PoolKey {
            account: account.map(str::to_string),
            pool_id: "us-east-1_AbC".into(),
            action,
            endpoint: None,
        }
    }

    /// A claim is one holder's until dropped: a second is told who holds it, another action or account is another claim, and plan's probe sees the holder without taking it.
    #[test]
    fn one_holder_per_pool_and_action() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("pools");
        let me = Claimant::this_run("a.jsonl");
        let k = key(Some("111111111111"), Action::Reset);
        assert_eq!(probe_host(&dir, &k), None);
        let held = take_host(&dir, &k, &me).unwrap().unwrap();
        let other = take_host(&dir, &k, &Claimant::this_run("b.jsonl"))
            .unwrap()
            .unwrap_err();
        assert_eq!(other, me);
        assert_eq!(probe_host(&dir, &k), Some(me.clone()));
        assert!(
            take_host(&dir, &key(Some("111111111111"), Action::SetPassword), &me)
                .unwrap()
                .is_ok()
        );
        assert!(
            take_host(&dir, &key(Some("222222222222"), Action::Reset), &me)
                .unwrap()
                .is_ok()
        );
        let elsewhere = PoolKey {
            endpoint: Some("http://127.0.0.1:4599".into()),
            ..k.clone()
        };
        assert!(take_host(&dir, &elsewhere, &me).unwrap().is_ok());
        drop(held);
        assert_eq!(probe_host(&dir, &k), None);
        let again = take_host(&dir, &k, &Claimant::this_run("b.jsonl")).unwrap();
        assert!(again.is_ok());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(
            key(None, Action::Reset).key(),
            "unknown-account/us-east-1_AbC/reset"
        );
    }

    /// A claim file that is a symbolic link is refused, never followed.
    #[test]
    fn a_linked_claim_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pools = dir.path().join("pools");
        std::fs::create_dir(&pools).unwrap();
        let k = key(Some("111111111111"), Action::Reset);
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "x").unwrap();
        std::os::unix::fs::symlink(&target, pools.join(k.file_name())).unwrap();
        let e = take_host(&pools, &k, &Claimant::this_run("a")).unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "x");
    }
}
