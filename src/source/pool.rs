//! Users from the pool itself: ListUsers, 60 a page, optionally filtered
//! with Cognito's filter syntax (e.g. `cognito:user_status = "CONFIRMED"`),
//! or a group's members (ListUsersInGroup, 60 a page, no filter), paced by
//! its own limiter (the UserList quota category, both operations', separate
//! from the password operations'). So "reset everyone" needs no export.
//!
//! The first page is read when the source is opened, before any mutating
//! call, so a bad filter or a missing pool is refused up front. Each user
//! comes with its canonical username and the facts a precheck needs
//! (status, enabled, verified email or phone), so nothing more is read
//! per user. Later pages
//! stream into the pipeline's bounded channel; throttling and transient
//! errors are retried by the run's retry policy. Resume works because the
//! listing is repeated and the ledger's finished users are skipped. Each
//! user's "line" is its position in the listing.

use std::io;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{SourceItem, UserRow};
use crate::cognito::{CallError, Cognito, Page};
use crate::error::UsageError;
use crate::identity::{Identity, ListedUser, Person};
use crate::limiter::Limiter;
use crate::retry::{call_with_retry, RetryPolicy};

/// What a listing pages through.
#[derive(Debug, Clone, PartialEq)]
pub enum Listing {
    /// ListUsers, with an optional filter.
    Users { filter: Option<String> },
    /// ListUsersInGroup: a group's members.
    Group(String),
}

impl Listing {
    /// The operation it calls, for messages.
    pub fn call(&self) -> &'static str {
        match self {
            Listing::Users { .. } => "ListUsers",
            Listing::Group(_) => "ListUsersInGroup",
        }
    }
}

/// A listing in progress.
pub struct PoolSource {
    cognito: Cognito,
    listing: Listing,
    limiter: Arc<Limiter>,
    retry: RetryPolicy,
    first: Vec<ListedUser>,
    next_token: Option<String>,
}

impl PoolSource {
    /// Reads the first page; a refusal is a [`UsageError`] naming the fix.
    pub async fn open(
        cognito: Cognito,
        listing: Listing,
        limiter: Arc<Limiter>,
        retry: RetryPolicy,
    ) -> Result<PoolSource, UsageError> {
        let mut source = PoolSource {
            cognito,
            listing,
            limiter,
            retry,
            first: Vec::new(),
            next_token: None,
        };
        let (users, token) = source.page(None).await.map_err(|e| match &source.listing {
            Listing::Group(group) if e.code == "ResourceNotFoundException" => UsageError::Value {
                flag: "--from-group",
                reason: format!(
                    "the pool has no group '{}' (ListUsersInGroup: {}); group names are case-sensitive",
                    crate::text::shown(group),
                    e.message
                ),
            },
            _ => UsageError::Listing {
                code: e.code,
                message: e.message,
            },
        })?;
        source.first = users;
        source.next_token = token;
        Ok(source)
    }

    /// One page, with retries on throttling and transient errors.
    async fn page(&self, token: Option<String>) -> Result<Page, CallError> {
        call_with_retry(&self.limiter, &self.retry, || async {
            match &self.listing {
                Listing::Users { filter } => {
                    self.cognito
                        .list_users_page(filter.as_deref(), token.clone())
                        .await
                }
                Listing::Group(group) => self.cognito.list_group_page(group, token.clone()).await,
            }
        })
        .await
    }

    /// Every listed user, read to the end (an exclusion group's members).
    pub async fn collect(mut self) -> Result<Vec<ListedUser>, CallError> {
        let mut all = std::mem::take(&mut self.first);
        let mut token = self.next_token.take();
        while let Some(t) = token.take() {
            let (next, next_token) = self.page(Some(t)).await?;
            all.extend(next);
            token = next_token;
        }
        Ok(all)
    }

    /// Streams every listed user into `tx`; an error ends the stream with an
    /// `Err` item (the pipeline stops the run on it).
    pub async fn run(mut self, tx: mpsc::Sender<io::Result<SourceItem>>) {
        let mut position = 0u64;
        let mut users = std::mem::take(&mut self.first);
        let mut token = self.next_token.take();
        loop {
            for user in users.drain(..) {
                position += 1;
                let item = SourceItem::User(UserRow {
                    line: position,
                    username: user.username.clone(),
                    password: None,
                    identity: Identity::Person(Person::listed(&user)),
                });
                if tx.send(Ok(item)).await.is_err() {
                    return; // the run stopped
                }
            }
            let Some(t) = token.take() else { return };
            match self.page(Some(t)).await {
                Ok((next, next_token)) => {
                    users = next;
                    token = next_token;
                }
                Err(e) => {
                    let _ = tx
                        .send(Err(io::Error::other(format!(
                            "{} failed: {}: {}",
                            self.listing.call(),
                            e.code,
                            e.message
                        ))))
                        .await;
                    return;
                }
            }
        }
    }
}
