//! Where the users come from: rows streamed from a CSV file or stdin
//! ([`csv`]), or the pool's own listing ([`pool`]).
//!
//! A source yields [`SourceItem`]s one at a time, so memory stays flat
//! whatever the input size. Every row becomes either a [`UserRow`] or an
//! [`SourceItem::Invalid`] carrying its line number and the reason: a bad row
//! is data for the ledger, never a reason to stop, and never skipped silently.
//! Problems with the input as a whole (no username column, unreadable file)
//! are [`UsageError`](crate::error::UsageError)s, raised before any call.

pub mod csv;
pub mod pool;
pub mod s3;

use std::io::{self, Read};

use tokio::sync::mpsc;

use crate::identity::Identity;
use crate::secret::Password;

/// An opened source of users.
pub enum Source {
    Csv(csv::CsvSource<Box<dyn Read + Send>>),
    Pool(pool::PoolSource),
}

impl Source {
    /// Streams every item into `tx` (bounded) on its own thread or task,
    /// until the input ends or the receiver is dropped.
    pub fn spawn(self, tx: mpsc::Sender<io::Result<SourceItem>>) {
        match self {
            Source::Csv(rows) => {
                let failed = tx.clone();
                let spawned = std::thread::Builder::new()
                    .name("input-reader".into())
                    .spawn(move || {
                        for item in rows {
                            if tx.blocking_send(item).is_err() {
                                return; // the run stopped
                            }
                        }
                    });
                if let Err(e) = spawned {
                    // Not an empty input: the run stops, saying why (the
                    // channel is empty, so the error fits).
                    let e =
                        io::Error::new(e.kind(), format!("could not start the input reader: {e}"));
                    let _ = failed.try_send(Err(e));
                }
            }
            Source::Pool(listing) => {
                tokio::spawn(listing.run(tx));
            }
        }
    }
}

/// A row that passed validation and names a user to act on.
#[derive(Debug)]
pub struct UserRow {
    /// Line in the input where the row starts (1-based).
    pub line: u64,
    /// The value as the input gives it (a username, an alias or a sub).
    pub username: String,
    /// Present for `set-password`; never formatted (see [`Password`]).
    pub password: Option<Password>,
    /// Who the value names; filled in by the resolver
    /// ([`crate::resolve`]), or by the pool's listing.
    pub identity: Identity,
}

/// One row of input, good or bad.
#[derive(Debug)]
pub enum SourceItem {
    User(UserRow),
    Invalid {
        line: u64,
        /// The username as far as it could be read: lossy UTF-8, cut to 200
        /// characters, for the ledger record. Never includes a password.
        username: String,
        reason: String,
    },
}

pub(crate) use crate::text::{excerpt, shown};
