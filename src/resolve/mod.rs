//! Resolving each input value to the person it names, before the run
//! de-duplicates and calls.
//!
//! Two ways, both through ListUsers (UserList quota, bills no one), chosen
//! by cost ([`choose`]) and shown by `plan`:
//!
//! - **index**: page through the whole pool once (one call per 60 users)
//!   into a [`PoolIndex`], then resolve every row in memory. Exact whatever
//!   the pool's settings, and the only way when they could not be read.
//! - **lookup**: one filtered ListUsers per value (`email = "..."`,
//!   `username = "..."`, `sub = "..."`), for an input much smaller than the
//!   pool. The answer is checked against the pool's own rules (an email
//!   names a user only if it is a verified alias, names compare by the
//!   case rule), so a filter that matches more loosely than sign-in does
//!   changes nothing; in a case-insensitive pool the lower-cased value is
//!   tried too, and the run de-duplicates by the folded name as well
//!   (docs/identity.md says why).
//!
//! `--from-pool` needs neither: ListUsers already names each user by their
//! canonical username. `--resolve exact` keys rows by their exact text.
//!
//! The [`stage`](Resolver::spawn_stage) sits between the input and the
//! run: it resolves up to `width` rows at once and hands them on in input
//! order, so "same person as line N" always names the earlier line.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::info;

pub mod index;

use self::index::{Hit, PoolIndex};
use crate::cognito::{CallError, Cognito};
use crate::error::UsageError;
use crate::identity::{
    looks_like_email, looks_like_phone, parse_uuid, Case, Identity, ListedUser, NameKind, NameRule,
    Person, PoolFacts, UserFacts,
};
use crate::limiter::Limiter;
use crate::retry::{call_with_retry, RetryPolicy};
use crate::source::SourceItem;

/// `--resolve`: how input values are resolved to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResolveMode {
    /// Index or lookup, whichever costs fewer ListUsers calls.
    #[default]
    Auto,
    /// Page through the whole pool into an index.
    Index,
    /// One filtered ListUsers per input value.
    Lookup,
    /// No resolution: rows are keyed by their exact text (a person named
    /// two ways is called twice).
    Exact,
}

/// How this run resolves values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Index,
    Lookup,
    /// `--from-pool`: the listing names each user by their username.
    Listing,
    Exact,
}

/// The strategy chosen, why, and what it costs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Choice {
    pub strategy: Strategy,
    /// ListUsers calls it is expected to take (lookups: about one a row).
    pub list_calls: u64,
    pub why: String,
}

/// Users a ListUsers page holds.
const PAGE: u64 = 60;

/// Chooses how to resolve: `--from-pool` needs nothing; `--resolve exact`
/// resolves nothing; with the pool's rules unknown only the index is
/// exact. Otherwise the faster of paging through the pool
/// (`ceil(pool / 60)` calls at `list_rate`, then the calls at `rate`) and
/// one lookup per row still to do (the lookups run beside the calls, so
/// the slower of the two sets the pace); lookups must save a tenth of the
/// time to be chosen, since they spend many more calls of the UserList
/// quota the production app shares. An input of unknown size (stdin)
/// counts as large.
pub fn choose(
    mode: ResolveMode,
    from_pool: bool,
    facts: Option<&PoolFacts>,
    rows_to_do: Option<u64>,
    list_rate: f64,
    rate: f64,
) -> Result<Choice, UsageError> {
    if from_pool {
        return Ok(Choice {
            strategy: Strategy::Listing,
            list_calls: 0,
            why: "--from-pool: ListUsers names each user by their username".into(),
        });
    }
    if mode == ResolveMode::Exact {
        return Ok(Choice {
            strategy: Strategy::Exact,
            list_calls: 0,
            why: "--resolve exact: rows are keyed by their exact text; a person named two ways (another case, an alias) is called twice".into(),
        });
    }
    let pool_users = facts.map(|f| f.estimated_users);
    let index_calls = pool_users.map_or(0, |n| n.div_ceil(PAGE).max(1));
    let index = |why: String| Choice {
        strategy: Strategy::Index,
        list_calls: index_calls,
        why,
    };
    let Some(facts) = facts else {
        if mode == ResolveMode::Lookup {
            return Err(UsageError::Value {
                flag: "--resolve lookup",
                reason: "it needs the pool's sign-in settings, and DescribeUserPool could not be read; allow cognito-idp:DescribeUserPool, or use --resolve index".into(),
            });
        }
        return Ok(index(
            "the pool's settings could not be read, so only an index of the whole pool resolves values exactly".into(),
        ));
    };
    let lookup = |why: String| Choice {
        strategy: Strategy::Lookup,
        list_calls: rows_to_do.unwrap_or(0),
        why,
    };
    match (mode, rows_to_do) {
        (ResolveMode::Index, _) => Ok(index("--resolve index".into())),
        (ResolveMode::Lookup, _) => Ok(lookup("--resolve lookup".into())),
        (_, None) => Ok(index(format!(
            "the input's size is not known in advance (stdin); paging through the pool takes {index_calls} calls"
        ))),
        (_, Some(rows)) => {
            let calls = rows as f64 / rate;
            let by_index = index_calls as f64 / list_rate + calls;
            let by_lookup = (rows as f64 / list_rate).max(calls);
            let compare = format!(
                "{rows} rows to resolve against a pool of {} users: one lookup per row takes about {:.0} s, an index ({index_calls} calls) about {:.0} s",
                facts.estimated_users, by_lookup, by_index
            );
            Ok(if by_lookup < 0.9 * by_index {
                lookup(compare)
            } else {
                index(compare)
            })
        }
    }
}

/// A failure to resolve users, carried through the input channel to the
/// run, which stops on it.
#[derive(Debug)]
pub struct ResolveError(pub CallError);

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ListUsers (resolving users) failed: {}: {}",
            self.0.code, self.0.message
        )
    }
}

impl std::error::Error for ResolveError {}

/// Resolves input values (see the module documentation).
pub struct Resolver {
    choice: Choice,
    rule: NameRule,
    /// Why the rule is unknown, when it is.
    unknown_because: Option<String>,
    index: Option<PoolIndex>,
    cognito: Cognito,
    limiter: Arc<Limiter>,
    retry: RetryPolicy,
    calls: AtomicU64,
}

/// Whether the ledger already finished a value (see `Triage::finished`).
pub type Finished = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// A row on its way through the stage, in input order.
enum Slot {
    Ready(io::Result<SourceItem>),
    Task(tokio::task::JoinHandle<io::Result<SourceItem>>),
}

impl Resolver {
    /// Sets up `choice`: builds the index (paging through the pool; this is
    /// where a large pool's resolution cost is paid, before any call), or
    /// checks with one ListUsers that lookups are permitted. A failure is
    /// the ListUsers error.
    pub async fn open(
        choice: Choice,
        facts: Result<&PoolFacts, String>,
        cognito: &Cognito,
        limiter: Arc<Limiter>,
        retry: RetryPolicy,
    ) -> Result<Resolver, CallError> {
        let expected = facts.as_ref().map_or(0, |f| f.estimated_users) as usize;
        let (rule, unknown_because) = match facts {
            Ok(f) => (f.rule.clone(), None),
            Err(why) => (NameRule::unknown(), Some(why)),
        };
        let mut resolver = Resolver {
            choice,
            rule,
            unknown_because,
            index: None,
            cognito: cognito.clone(),
            limiter,
            retry,
            calls: AtomicU64::new(0),
        };
        match resolver.choice.strategy {
            Strategy::Index => {
                resolver.index = Some(resolver.build_index(expected).await?);
            }
            Strategy::Lookup => {
                resolver.list(None).await?;
            }
            Strategy::Listing | Strategy::Exact => {}
        }
        Ok(resolver)
    }

    pub fn choice(&self) -> &Choice {
        &self.choice
    }

    /// Whether rows are resolved to people (an index or lookups).
    pub fn resolves(&self) -> bool {
        matches!(self.choice.strategy, Strategy::Index | Strategy::Lookup)
    }

    pub fn rule(&self) -> &NameRule {
        &self.rule
    }

    /// ListUsers calls made so far to resolve users.
    pub fn calls(&self) -> u64 {
        self.calls.load(Relaxed)
    }

    /// Bytes the index holds (0 without one).
    pub fn index_bytes(&self) -> usize {
        self.index.as_ref().map_or(0, PoolIndex::bytes)
    }

    /// Whether the run should also de-duplicate by the folded name: a
    /// lookup in a case-insensitive pool, whose filter may compare more
    /// strictly than sign-in does.
    pub fn dedupe_folded(&self) -> bool {
        self.choice.strategy == Strategy::Lookup && self.rule.case == Case::Insensitive
    }

    async fn list(&self, filter: Option<&str>) -> Result<Vec<ListedUser>, CallError> {
        let cognito = &self.cognito;
        self.calls.fetch_add(1, Relaxed);
        call_with_retry(&self.limiter, &self.retry, || {
            cognito.list_users_page(filter, None)
        })
        .await
        .map(|(users, _)| users)
    }

    /// Pages through the whole pool into an index.
    async fn build_index(&self, expected: usize) -> Result<PoolIndex, CallError> {
        let cognito = &self.cognito;
        let mut index = PoolIndex::new(self.rule.clone(), expected);
        let started = Instant::now();
        let mut told = Instant::now();
        let mut token = None;
        info!(
            users = expected,
            pages = (expected as u64).div_ceil(PAGE),
            rate = self.limiter.rate(),
            "resolving users: reading the pool's listing (ListUsers) into an index"
        );
        loop {
            self.calls.fetch_add(1, Relaxed);
            let (users, next) = call_with_retry(&self.limiter, &self.retry, || {
                cognito.list_users_page(None, token.clone())
            })
            .await?;
            for u in &users {
                index.add(u);
            }
            if told.elapsed() >= Duration::from_secs(10) {
                told = Instant::now();
                info!(
                    indexed = index.users(),
                    of = expected,
                    "resolving users: indexing"
                );
            }
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        info!(
            users = index.users(),
            bytes = index.bytes(),
            secs = started.elapsed().as_secs_f64(),
            "resolving users: index ready"
        );
        Ok(index)
    }

    /// Resolves without waiting, when it can: `None` when the pool must be
    /// asked.
    fn resolve_now(&self, value: &str) -> Option<Identity> {
        match self.choice.strategy {
            Strategy::Listing | Strategy::Exact => Some(Identity::Unresolved),
            Strategy::Lookup => None,
            Strategy::Index => {
                let index = self.index.as_ref()?;
                match index.lookup(value) {
                    Hit::Nobody => Some(Identity::Nobody),
                    Hit::Ambiguous { via, folded } => {
                        Some(Identity::Ambiguous(self.ambiguity(via, folded)))
                    }
                    Hit::User { slot, via } => {
                        let username = index.username(slot, value)?;
                        Some(Identity::Person(Person {
                            key: index.key(slot),
                            username,
                            facts: Some(index.facts(slot)),
                            via,
                        }))
                    }
                }
            }
        }
    }

    fn ambiguity(&self, via: NameKind, folded: bool) -> String {
        let why = self
            .unknown_because
            .as_deref()
            .unwrap_or("the pool's settings were not read");
        if !self.rule.known() && folded {
            format!("matches a user's {} in another case, and whether the pool ignores case is unknown ({why}); allow cognito-idp:DescribeUserPool and re-run, or list the exact username", via.attribute())
        } else if !self.rule.known() {
            format!("matches a user's {}, which may or may not be a sign-in alias in this pool ({why}); allow cognito-idp:DescribeUserPool and re-run, or list the username", via.attribute())
        } else {
            format!(
                "the {} names more than one user in the pool; list the username instead",
                via.attribute()
            )
        }
    }

    /// The key of the person `value` names, if it names one: from the index
    /// at once (no canonical name needed), or by a lookup.
    pub async fn person_key(&self, value: &str) -> Result<Option<u128>, CallError> {
        if let (Strategy::Index, Some(index)) = (self.choice.strategy, self.index.as_ref()) {
            return Ok(match index.lookup(value) {
                Hit::User { slot, .. } => Some(index.key(slot)),
                _ => None,
            });
        }
        Ok(match self.resolve(value).await? {
            Identity::Person(p) => Some(p.key),
            _ => None,
        })
    }

    /// Resolves `value` to a person even in a run whose own rows need no
    /// resolving (a listing's are canonical already): such a run looks it
    /// up. For names from elsewhere, such as an exclusion list.
    pub async fn resolve_named(&self, value: &str) -> Result<Identity, CallError> {
        match self.choice.strategy {
            Strategy::Listing => self.lookup(value).await,
            _ => self.resolve(value).await,
        }
    }

    /// Resolves `value`, asking the pool when the index cannot say.
    pub async fn resolve(&self, value: &str) -> Result<Identity, CallError> {
        if let Some(identity) = self.resolve_now(value) {
            return Ok(identity);
        }
        match self.choice.strategy {
            Strategy::Index => self.canonical_by_sub(value).await,
            _ => self.lookup(value).await,
        }
    }

    /// An index hit whose canonical username the index cannot give: one
    /// ListUsers by the user's sub.
    async fn canonical_by_sub(&self, value: &str) -> Result<Identity, CallError> {
        // Only an index's user hits come here; anything else is looked up.
        let Some(index) = self.index.as_ref() else {
            return self.lookup(value).await;
        };
        let Hit::User { slot, via } = index.lookup(value) else {
            return self.lookup(value).await;
        };
        let Some(sub) = index.sub(slot) else {
            return Ok(Identity::Nobody);
        };
        let users = self.list(Some(&filter(NameKind::Sub, &sub))).await?;
        Ok(
            match users
                .iter()
                .find(|u| u.sub.as_deref() == Some(sub.as_str()))
            {
                Some(u) => {
                    Identity::Person(Person::new(u.username.clone(), Some(UserFacts::of(u)), via))
                }
                // Deleted since the index was built.
                None => Identity::Nobody,
            },
        )
    }

    /// The kinds to look `value` up by, in Cognito's order, skipping those
    /// its shape rules out: an email-shaped value is no username in a pool
    /// where email is a sign-in attribute (Cognito refuses such usernames
    /// there), and likewise for phone numbers.
    fn kinds_for(&self, value: &str) -> Vec<NameKind> {
        let login = |k: NameKind| {
            self.rule.username_attributes.contains(&k) || self.rule.alias_attributes.contains(&k)
        };
        self.rule
            .kinds()
            .into_iter()
            .filter(|k| match k {
                NameKind::Username => {
                    !(looks_like_email(value) && login(NameKind::Email)
                        || looks_like_phone(value) && login(NameKind::PhoneNumber))
                }
                NameKind::Email => looks_like_email(value),
                NameKind::PhoneNumber => looks_like_phone(value),
                NameKind::PreferredUsername => true,
                NameKind::Sub => parse_uuid(value).is_some(),
            })
            .collect()
    }

    /// One filtered ListUsers per kind until one names a user.
    async fn lookup(&self, value: &str) -> Result<Identity, CallError> {
        for kind in self.kinds_for(value) {
            let mut probes = vec![value.to_string()];
            let folded = self.rule.fold(kind, value);
            if folded != value {
                probes.push(folded.into_owned());
            }
            for probe in probes {
                let users = self.list(Some(&filter(kind, &probe))).await?;
                let wanted = self.rule.fold(kind, value);
                let named: Vec<&ListedUser> = users
                    .iter()
                    .filter(|u| {
                        self.rule.names(kind, u) == Some(true)
                            && u.name(kind)
                                .is_some_and(|n| self.rule.fold(kind, n) == wanted)
                    })
                    .collect();
                match named.as_slice() {
                    [] => {}
                    [u] => {
                        return Ok(Identity::Person(Person::new(
                            u.username.clone(),
                            Some(UserFacts::of(u)),
                            kind,
                        )))
                    }
                    _ => return Ok(Identity::Ambiguous(self.ambiguity(kind, false))),
                }
            }
        }
        Ok(Identity::Nobody)
    }

    /// Starts resolving one item: at once when the answer is known (or the
    /// ledger `finished` the value already), else on a task.
    fn start(self: &Arc<Self>, item: io::Result<SourceItem>, finished: &Finished) -> Slot {
        let mut row = match item {
            Ok(SourceItem::User(row)) if row.identity == Identity::Unresolved => row,
            other => return Slot::Ready(other),
        };
        if finished(&row.username) {
            row.identity = Identity::Recorded;
            return Slot::Ready(Ok(SourceItem::User(row)));
        }
        if let Some(identity) = self.resolve_now(&row.username) {
            row.identity = identity;
            return Slot::Ready(Ok(SourceItem::User(row)));
        }
        let resolver = self.clone();
        Slot::Task(tokio::spawn(async move {
            match resolver.resolve(&row.username).await {
                Ok(identity) => {
                    row.identity = identity;
                    Ok(SourceItem::User(row))
                }
                Err(e) => Err(io::Error::other(ResolveError(e))),
            }
        }))
    }

    /// Resolves the items from `rx` and sends them to `tx` in input order,
    /// with up to `width` lookups in flight; values the ledger already
    /// `finished` are passed on unresolved (a resume asks nothing about
    /// them). Ends when `rx` ends or `tx`'s receiver is dropped (the run
    /// stopped).
    pub fn spawn_stage(
        self: Arc<Self>,
        mut rx: mpsc::Receiver<io::Result<SourceItem>>,
        tx: mpsc::Sender<io::Result<SourceItem>>,
        width: usize,
        finished: Finished,
    ) {
        let (slots_tx, mut slots_rx) = mpsc::channel::<Slot>(width.max(1));
        tokio::spawn(async move {
            while let Some(item) = rx.recv().await {
                if slots_tx.send(self.start(item, &finished)).await.is_err() {
                    return;
                }
            }
        });
        tokio::spawn(async move {
            while let Some(slot) = slots_rx.recv().await {
                let item = match slot {
                    Slot::Ready(item) => item,
                    Slot::Task(task) => task.await.unwrap_or_else(|e| {
                        Err(io::Error::other(format!("resolving a row failed: {e}")))
                    }),
                };
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// A ListUsers filter matching `value` exactly on `kind`, with quotes and
/// backslashes escaped (ListUsers: "Quotation marks within the filter string
/// must be escaped using the backslash (\) character").
pub fn filter(kind: NameKind, value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("{} = \"{escaped}\"", kind.attribute())
}

#[cfg(test)]
mod tests;
