//! A ledger kept in DynamoDB (`--ledger dynamodb://TABLE/JOB`): the same
//! JSON Lines records as a file ledger, one item a line, in order, under
//! the job's partition key; and the job's lease, one item beside them.
//! docs/dynamodb-ledger.md gives the schema and its sources. This is the
//! only code that knows the DynamoDB SDK.
//!
//! - Records: `job` = the job, `k` = `r#` and a 12-digit page number,
//!   `l` = a page: one or more records (the file ledger's JSON lines, joined
//!   by newlines), at most [`MAX_PAGE`] bytes. A group commit writes its
//!   records as pages. Read back in key order (Query), the pages are the
//!   file ledger's lines, so replay, `status` and `export` read a table
//!   exactly as a file.
//! - The lease: `k` = `lease`, naming its holder (an id, the host, the
//!   pid), when it expires, and a fence that grows with every new holder.
//!   Every write of records is one transaction that also checks that the
//!   writer still holds the lease it took (holder and fence), so a writer
//!   that lost it writes nothing. The lease is kept ([`KeptLease`]) from
//!   the moment it is taken: renewed every third of its length until it is
//!   released or dropped.
//! - A job's claim on a pool (`job` = `#pool/ACCOUNT/POOL/ACTION`, `k` =
//!   `claim`): which job of the table is running that action on that pool
//!   now, renewed and released with the job's lease, so that a second job
//!   of the table on the same pool is refused (see `ledger::claim`).
//! - An unfinished copy (`k` = `copying`): put by `ledger copy` before the
//!   first record it writes into a job and deleted after the last, so that
//!   a copy that stopped part-way is never resumed as if it were the
//!   whole ledger.

use std::collections::HashMap;
use std::io::{self, BufRead, Read};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, KeySchemaElement, KeyType,
    Put, ScalarAttributeType, TableDescription, TableStatus, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;

use crate::error::UsageError;
use crate::ledger::claim::Claimant;
use crate::ledger::location::TableAccess;

/// The partition key: the job.
const JOB: &str = "job";
/// The sort key: `r#<sequence>` for a record, `lease` for the lease.
const KEY: &str = "k";
/// A record's JSON line.
const LINE: &str = "l";
const RECORD_PREFIX: &str = "r#";
const LEASE: &str = "lease";
const CLAIM: &str = "claim";
const COPYING: &str = "copying";
/// The partition of pool claims: no job's items have the sort key
/// [`CLAIM`], so a job named like one cannot collide with it.
const CLAIM_PREFIX: &str = "#pool/";

/// Pages one write carries. A transaction holds at most 100 actions and
/// 4 MB (API reference, TransactWriteItems); one action checks the lease.
pub const PAGES_PER_WRITE: usize = 10;

/// The most one page holds: an item holds at most 400 KB, keys and names
/// included (Developer Guide, "Service, account, and table quotas in
/// Amazon DynamoDB"). A record longer than that cannot be kept.
pub const MAX_PAGE: usize = 350 * 1024;

/// Splits ledger text (whole lines, each ending in a newline) into pages of
/// at most [`MAX_PAGE`] bytes at line ends, each without its last newline.
pub fn pages(text: &str) -> Result<Vec<&str>, String> {
    let mut pages = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = 0;
        for line in rest.split_inclusive('\n') {
            if end + line.len() > MAX_PAGE {
                break;
            }
            end += line.len();
        }
        if end == 0 {
            let first = rest.split_inclusive('\n').next().unwrap_or(rest);
            return Err(format!(
                "a record of {} bytes is larger than a DynamoDB item holds",
                first.len()
            ));
        }
        pages.push(rest[..end].trim_end_matches('\n'));
        rest = &rest[end..];
    }
    Ok(pages)
}

/// A table holding ledgers, in the region the location's rule resolved.
#[derive(Clone)]
pub struct LedgerTable {
    client: Client,
    table: String,
    region: String,
}

/// Who takes a lease.
#[derive(Debug, Clone)]
pub struct Holder {
    /// Unique to this process's run.
    pub id: String,
    pub host: String,
    pub pid: u32,
}

impl Holder {
    /// This process, with a fresh id.
    pub fn this_process() -> Holder {
        let mut b = [0u8; 8];
        // Without randomness the id still differs by time and pid.
        let _ = getrandom::fill(&mut b);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Holder {
            id: format!("{:016x}-{nanos:x}", u64::from_le_bytes(b)),
            host: crate::ledger::host_name(),
            pid: std::process::id(),
        }
    }
}

/// A lease held on a job.
#[derive(Debug, Clone)]
pub struct Lease {
    pub job: String,
    pub holder: Holder,
    /// Grows with every new holder: a write checks it.
    pub fence: u64,
    /// When it expires, milliseconds since the epoch.
    pub expires_ms: u64,
}

/// Why records could not be written.
#[derive(Debug)]
pub enum WriteError {
    /// The lease is no longer this writer's: nothing was written.
    LeaseLost,
    /// Anything else (the table, the network, permissions).
    Failed(String),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::LeaseLost => write!(
                f,
                "the job's lease was taken over by another runner; nothing more was written"
            ),
            WriteError::Failed(why) => write!(f, "{why}"),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A strongly consistent Query of `job`'s pages, in key order.
fn pages_query(
    client: &Client,
    table: &str,
    job: &str,
) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
    client
        .query()
        .table_name(table)
        .key_condition_expression("#j = :j AND begins_with(#k, :r)")
        .expression_attribute_names("#j", JOB)
        .expression_attribute_names("#k", KEY)
        .expression_attribute_values(":j", s(job))
        .expression_attribute_values(":r", s(RECORD_PREFIX))
        .consistent_read(true)
}

fn record_key(seq: u64) -> String {
    format!("{RECORD_PREFIX}{seq:012}")
}

impl LedgerTable {
    /// A client for `table`, reached by `access`: in the region of the
    /// location's rule (`--ledger-region`, else AWS_REGION, else the
    /// profile's; see `ledger::location`), the endpoint from the SDK's
    /// settings (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL). Sends
    /// nothing.
    pub async fn connect(table: &str, access: &TableAccess) -> Result<LedgerTable, UsageError> {
        let profile = access.profile.as_deref();
        let region = match &access.region {
            Some(region) => region.clone(),
            None => crate::aws::default_region(profile)
                .await
                .ok_or(UsageError::Missing(
                        "--ledger-region",
                        "a DynamoDB ledger's table is found by its region, and none is set: give --ledger-region REGION (or set AWS_REGION); the pool's region is not used",
                    ))?,
        };
        let config = crate::aws::load(crate::aws::Load {
            region: Some(&region),
            profile,
            endpoint_url: None,
            sdk_retries: true,
            attempt_timeout: Duration::from_secs(10),
            placeholder_credentials: false,
            role: None,
        })
        .await?;
        Ok(LedgerTable {
            client: Client::new(&config),
            table: table.to_string(),
            region,
        })
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.table
    }

    /// A job of this table as messages name it:
    /// `dynamodb://TABLE/JOB (REGION)`.
    pub fn job_name(&self, job: &str) -> String {
        format!(
            "{}{}/{job} ({})",
            crate::ledger::location::SCHEME,
            self.table,
            self.region
        )
    }

    /// The region the table was found in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// A usage error about this table, naming it and its region.
    pub fn error(&self, reason: String) -> UsageError {
        UsageError::LedgerTable {
            table: self.table.clone(),
            region: self.region.clone(),
            reason,
        }
    }

    /// Creates the table, on demand (pay per request), and waits until it
    /// is active. `false`: it already existed, with the ledger's keys.
    pub async fn create(&self) -> Result<bool, UsageError> {
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| self.error(e.to_string()))
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| self.error(e.to_string()))
        };
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(JOB, KeyType::Hash)?)
            .key_schema(key(KEY, KeyType::Range)?)
            .attribute_definitions(attr(JOB)?)
            .attribute_definitions(attr(KEY)?)
            .send()
            .await;
        let created = match created {
            Ok(_) => true,
            Err(e) if e.code() == Some("ResourceInUseException") => false,
            Err(e) => {
                return Err(self.error(format!("CreateTable failed ({})", crate::aws::brief(&e))))
            }
        };
        // CreateTable answers while the table is CREATING.
        for _ in 0..120 {
            if let Some(table) = self.describe().await? {
                if table.table_status() == Some(&TableStatus::Active) {
                    self.check_keys(&table)?;
                    return Ok(created);
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Err(self.error(
            "it did not become ACTIVE within 2 minutes; check it in the console, then run again"
                .into(),
        ))
    }

    /// The table's description (DescribeTable); `None` if it does not
    /// exist.
    async fn describe(&self) -> Result<Option<TableDescription>, UsageError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(out) => Ok(out.table().cloned()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(self.error(format!("DescribeTable failed ({})", crate::aws::brief(&e)))),
        }
    }

    /// Refuses a table that is missing (naming the command that makes it)
    /// or whose keys are not a ledger table's.
    pub async fn check_exists(&self) -> Result<(), UsageError> {
        match self.describe().await? {
            None => Err(self.error(format!(
                "it does not exist; create it with `cognito-bulk-reset ledger create-table {}`",
                self.table
            ))),
            Some(table) => self.check_keys(&table),
        }
    }

    fn check_keys(&self, table: &TableDescription) -> Result<(), UsageError> {
        let keys: Vec<(String, String)> = table
            .key_schema()
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_string(),
                    k.key_type().as_str().to_string(),
                )
            })
            .collect();
        let want = [
            (JOB.to_string(), "HASH".to_string()),
            (KEY.to_string(), "RANGE".to_string()),
        ];
        if keys.len() == 2 && want.iter().all(|w| keys.contains(w)) {
            Ok(())
        } else {
            Err(self.error(format!(
                "its keys are {keys:?}, not a ledger table's (partition key `job`, sort key `k`, both strings); name another table, or make one with `cognito-bulk-reset ledger create-table`"
            )))
        }
    }

    /// The number of the job's last page, if it has any.
    pub async fn last_seq(&self, job: &str) -> Result<Option<u64>, UsageError> {
        let out = pages_query(&self.client, &self.table, job)
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await
            .map_err(|e| self.error(format!("Query failed ({})", crate::aws::brief(&e))))?;
        Ok(out.items().first().and_then(|item| match item.get(KEY) {
            Some(AttributeValue::S(k)) => k.strip_prefix(RECORD_PREFIX)?.parse().ok(),
            _ => None,
        }))
    }

    /// The job's records as ledger text, read page by page (strongly
    /// consistent): a [`BufRead`] for replay, `status` and `export`. It
    /// blocks on the runtime `handle`: use it on a blocking thread.
    pub fn lines(&self, job: &str, handle: tokio::runtime::Handle) -> TableLines {
        TableLines {
            client: self.client.clone(),
            table: self.table.clone(),
            job: job.to_string(),
            handle,
            next: None,
            done: false,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Takes the job's lease for `seconds`: free, expired, or already this
    /// holder's. Another holder's live lease is refused, naming it.
    pub async fn acquire(
        &self,
        job: &str,
        holder: &Holder,
        seconds: u64,
    ) -> Result<Lease, UsageError> {
        let now = now_ms();
        let expires_ms = now + seconds * 1000;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(JOB, s(job))
            .key(KEY, s(LEASE))
            .update_expression(
                "SET holder = :h, host = :host, pid = :pid, expires_ms = :e, fence = if_not_exists(fence, :zero) + :one",
            )
            .condition_expression(
                "attribute_not_exists(#k) OR expires_ms < :now OR holder = :h",
            )
            .expression_attribute_names("#k", KEY)
            .expression_attribute_values(":h", s(&holder.id))
            .expression_attribute_values(":host", s(&holder.host))
            .expression_attribute_values(":pid", n(u64::from(holder.pid)))
            .expression_attribute_values(":e", n(expires_ms))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => {
                let fence = match out.attributes().and_then(|a| a.get("fence")) {
                    Some(AttributeValue::N(f)) => f.parse().unwrap_or(0),
                    _ => 0,
                };
                Ok(Lease {
                    job: job.to_string(),
                    holder: holder.clone(),
                    fence,
                    expires_ms,
                })
            }
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Err(self.held(job).await)
            }
            Err(e) => Err(self.error(format!(
                "UpdateItem (the lease) failed ({})",
                crate::aws::brief(&e)
            ))),
        }
    }

    /// The item `(job, k)`, strongly consistent; empty if there is none.
    async fn item(
        &self,
        job: &str,
        k: &str,
        what: &str,
    ) -> Result<HashMap<String, AttributeValue>, UsageError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(JOB, s(job))
            .key(KEY, s(k))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                self.error(format!(
                    "GetItem ({what}) failed ({})",
                    crate::aws::brief(&e)
                ))
            })?;
        Ok(out.item().cloned().unwrap_or_default())
    }

    /// The error naming whoever holds the job's lease.
    async fn held(&self, job: &str) -> UsageError {
        let item = match self
            .item(job, LEASE, "the job's lease, which is held")
            .await
        {
            Ok(item) => item,
            Err(e) => return e,
        };
        let text = |name: &str| text_of(&item, name);
        let expires = text("expires_ms")
            .parse::<u64>()
            .map(|ms| crate::ledger::timestamp(UNIX_EPOCH + Duration::from_millis(ms)))
            .unwrap_or_else(|_| "?".into());
        UsageError::LeaseHeld {
            ledger: self.job_name(job),
            host: text("host"),
            pid: text("pid"),
            expires,
        }
    }

    /// Extends `lease` by `seconds` from now, if it is still this
    /// holder's (same fence).
    pub async fn renew(&self, lease: &Lease, seconds: u64) -> Result<Lease, WriteError> {
        let expires_ms = now_ms() + seconds * 1000;
        self.set_expiry(lease, expires_ms, "renewing the lease")
            .await?;
        Ok(Lease {
            expires_ms,
            ..lease.clone()
        })
    }

    /// Gives the lease up (it expires now), if it is still this holder's.
    pub async fn release(&self, lease: &Lease) -> Result<(), UsageError> {
        match self.set_expiry(lease, 0, "releasing the lease").await {
            Ok(()) | Err(WriteError::LeaseLost) => Ok(()),
            Err(WriteError::Failed(reason)) => Err(self.error(reason)),
        }
    }

    /// Sets the lease's expiry, if it is still `lease`'s holder's.
    async fn set_expiry(
        &self,
        lease: &Lease,
        expires_ms: u64,
        doing: &str,
    ) -> Result<(), WriteError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(JOB, s(&lease.job))
            .key(KEY, s(LEASE))
            .update_expression("SET expires_ms = :e")
            .condition_expression("holder = :h AND fence = :f")
            .expression_attribute_values(":e", n(expires_ms))
            .expression_attribute_values(":h", s(&lease.holder.id))
            .expression_attribute_values(":f", n(lease.fence))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Err(WriteError::LeaseLost)
            }
            Err(e) => Err(WriteError::Failed(format!(
                "UpdateItem ({doing}) on table {} failed ({})",
                self.table,
                crate::aws::brief(&e)
            ))),
        }
    }

    /// Takes the claim `key` for `lease`'s job: free, expired, this
    /// holder's, or this job's (whose earlier runner is fenced off by the
    /// lease). Another live job's claim is not taken: `Some(its holder)`.
    async fn take_claim(
        &self,
        key: &str,
        lease: &Lease,
        me: &Claimant,
        seconds: u64,
    ) -> Result<Option<Claimant>, UsageError> {
        let now = now_ms();
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(JOB, s(&claim_partition(key)))
            .key(KEY, s(CLAIM))
            .update_expression(
                "SET holder = :h, ledger = :l, host = :host, pid = :pid, since = :since, expires_ms = :e",
            )
            .condition_expression(
                "attribute_not_exists(#k) OR expires_ms < :now OR holder = :h OR ledger = :l",
            )
            .expression_attribute_names("#k", KEY)
            .expression_attribute_values(":h", s(&lease.holder.id))
            .expression_attribute_values(":l", s(&me.ledger))
            .expression_attribute_values(":host", s(&me.host))
            .expression_attribute_values(":pid", n(u64::from(me.pid)))
            .expression_attribute_values(":since", s(&me.since))
            .expression_attribute_values(":e", n(now + seconds * 1000))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match out {
            Ok(_) => Ok(None),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Ok(Some(self.claimant(key).await?))
            }
            Err(e) => Err(self.error(format!(
                "UpdateItem (the pool claim) failed ({})",
                crate::aws::brief(&e)
            ))),
        }
    }

    /// Who holds the claim `key`, if it is live.
    pub async fn live_claim(&self, key: &str) -> Result<Option<Claimant>, UsageError> {
        let item = self.claim_item(key).await?;
        let live = match item.get("expires_ms") {
            Some(AttributeValue::N(ms)) => ms.parse::<u64>().is_ok_and(|ms| ms >= now_ms()),
            _ => false,
        };
        Ok(live.then(|| claimant_of(&item)))
    }

    async fn claimant(&self, key: &str) -> Result<Claimant, UsageError> {
        Ok(claimant_of(&self.claim_item(key).await?))
    }

    async fn claim_item(&self, key: &str) -> Result<HashMap<String, AttributeValue>, UsageError> {
        self.item(&claim_partition(key), CLAIM, "the pool claim")
            .await
    }

    /// Sets the claim's expiry, if it is still `lease`'s holder's.
    async fn set_claim_expiry(
        &self,
        key: &str,
        lease: &Lease,
        expires_ms: u64,
    ) -> Result<(), WriteError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(JOB, s(&claim_partition(key)))
            .key(KEY, s(CLAIM))
            .update_expression("SET expires_ms = :e")
            .condition_expression("holder = :h")
            .expression_attribute_values(":e", n(expires_ms))
            .expression_attribute_values(":h", s(&lease.holder.id))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| match e.code() {
                Some("ConditionalCheckFailedException") => WriteError::LeaseLost,
                _ => WriteError::Failed(crate::aws::brief(&e)),
            })
    }

    /// A transaction's first action: it holds only while `lease` is still
    /// this writer's (holder and fence).
    fn lease_check(&self, lease: &Lease) -> Result<TransactWriteItem, WriteError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key(JOB, s(&lease.job))
            .key(KEY, s(LEASE))
            .condition_expression("holder = :h AND fence = :f")
            .expression_attribute_values(":h", s(&lease.holder.id))
            .expression_attribute_values(":f", n(lease.fence))
            .build()
            .map_err(|e| WriteError::Failed(e.to_string()))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Whether `job` holds a copy that `ledger copy` did not finish.
    pub async fn unfinished_copy(&self, job: &str) -> Result<bool, UsageError> {
        Ok(!self.item(job, COPYING, "the copy mark").await?.is_empty())
    }

    /// Marks `lease`'s job as a copy under way (before its first record),
    /// or, `done`, as whole (after its last).
    pub async fn mark_copying(&self, lease: &Lease, done: bool) -> Result<(), WriteError> {
        let mark = if done {
            TransactWriteItem::builder()
                .delete(
                    aws_sdk_dynamodb::types::Delete::builder()
                        .table_name(&self.table)
                        .key(JOB, s(&lease.job))
                        .key(KEY, s(COPYING))
                        .build()
                        .map_err(|e| WriteError::Failed(e.to_string()))?,
                )
                .build()
        } else {
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .item(JOB, s(&lease.job))
                        .item(KEY, s(COPYING))
                        .item("holder", s(&lease.holder.id))
                        .build()
                        .map_err(|e| WriteError::Failed(e.to_string()))?,
                )
                .build()
        };
        let items = vec![self.lease_check(lease)?, mark];
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                WriteError::Failed(format!(
                    "TransactWriteItems on table {} failed ({})",
                    self.table,
                    crate::aws::brief(&e)
                ))
            })
    }

    /// Appends ledger `text` (whole lines) as the job's next pages, from
    /// page `next_seq` on, which it advances: transactions of at most
    /// [`PAGES_PER_WRITE`] pages, each holding only if `lease` is still this
    /// writer's. Pages written before a failing transaction stay written.
    pub async fn append_text(
        &self,
        lease: &Lease,
        next_seq: &mut u64,
        text: &str,
    ) -> Result<(), WriteError> {
        let pages = pages(text).map_err(WriteError::Failed)?;
        for chunk in pages.chunks(PAGES_PER_WRITE) {
            self.append(lease, *next_seq, chunk).await?;
            *next_seq += chunk.len() as u64;
        }
        Ok(())
    }

    /// Writes `lines` (pages) as the job's items `first_seq`, `first_seq +
    /// 1`, ... in one transaction that holds only if `lease` is still this
    /// writer's and no item has those numbers.
    async fn append(
        &self,
        lease: &Lease,
        first_seq: u64,
        lines: &[&str],
    ) -> Result<(), WriteError> {
        let mut items = vec![self.lease_check(lease)?];
        for (i, line) in lines.iter().enumerate() {
            let put = Put::builder()
                .table_name(&self.table)
                .item(JOB, s(&lease.job))
                .item(KEY, s(&record_key(first_seq + i as u64)))
                .item(LINE, s(line))
                .condition_expression("attribute_not_exists(#k)")
                .expression_attribute_names("#k", KEY)
                .build()
                .map_err(|e| WriteError::Failed(e.to_string()))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let text = crate::aws::brief(&e);
                // The first action is the lease check; its reason comes
                // first in the cancellation reasons.
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                let lease_failed = match e.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(t)) => t
                        .cancellation_reasons()
                        .first()
                        .is_some_and(|r| r.code() == Some("ConditionalCheckFailed")),
                    _ => false,
                };
                if lease_failed {
                    Err(WriteError::LeaseLost)
                } else {
                    Err(WriteError::Failed(format!(
                        "TransactWriteItems on table {} failed ({text})",
                        self.table
                    )))
                }
            }
        }
    }
}

/// The ledger writer's sink for a table: each group commit's records as
/// pages numbered on from `next_seq`, in transactions that hold only while
/// the lease is this writer's.
pub struct TableSink {
    pub table: LedgerTable,
    pub lease: Lease,
    pub next_seq: u64,
    pub handle: tokio::runtime::Handle,
}

impl crate::ledger::writer::Sink for TableSink {
    fn commit(&mut self, text: &[u8]) -> Result<(), String> {
        let text = std::str::from_utf8(text).map_err(|e| e.to_string())?;
        self.handle
            .block_on(
                self.table
                    .append_text(&self.lease, &mut self.next_seq, text),
            )
            .map_err(|e| e.to_string())
    }
}

/// Keeps a lease: renews it every third of its length, and tells the run
/// whether it may still call (its calls stop before the lease could have
/// passed to another runner, even if this process was paused). A pool
/// claim taken under the lease is renewed and released with it.
pub struct LeaseKeeper {
    table: LedgerTable,
    lease: std::sync::Mutex<Lease>,
    seconds: u64,
    /// Calls may go out until then: two thirds of the lease after the last
    /// renewal was sent, leaving a third for clock skew between hosts.
    valid_until: std::sync::Mutex<std::time::Instant>,
    lost: std::sync::atomic::AtomicBool,
    /// The pool claim taken under this lease, if any.
    claim: std::sync::Mutex<Option<String>>,
}

impl LeaseKeeper {
    fn window(seconds: u64) -> Duration {
        Duration::from_millis(seconds * 1000 * 2 / 3)
    }

    /// Whether the run may still make a call.
    pub fn valid(&self) -> bool {
        !self.lost.load(std::sync::atomic::Ordering::SeqCst)
            && std::time::Instant::now()
                < *self.valid_until.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lease as last renewed.
    pub fn lease(&self) -> Lease {
        self.lease.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The table the lease is in.
    pub fn table(&self) -> &LedgerTable {
        &self.table
    }

    /// Renews the lease (and the claim) until `stop` is cancelled, then
    /// releases both; returns at once, releasing nothing, once the lease is
    /// lost.
    async fn keep(&self, stop: tokio_util::sync::CancellationToken) {
        let mut wait = Duration::from_millis(self.seconds * 1000 / 3);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
            let sent = std::time::Instant::now();
            let current = self.lease();
            match self.table.renew(&current, self.seconds).await {
                Ok(lease) => {
                    *self.lease.lock().unwrap_or_else(|e| e.into_inner()) = lease;
                    *self.valid_until.lock().unwrap_or_else(|e| e.into_inner()) =
                        sent + Self::window(self.seconds);
                    wait = Duration::from_millis(self.seconds * 1000 / 3);
                    self.renew_claim(&current).await;
                }
                Err(WriteError::LeaseLost) => {
                    tracing::warn!(
                        ledger = %self.table.job_name(&current.job),
                        "the job's lease was taken over by another runner; no more calls"
                    );
                    self.lost.store(true, std::sync::atomic::Ordering::SeqCst);
                    return;
                }
                Err(WriteError::Failed(why)) => {
                    tracing::warn!(%why, "could not renew the job's lease; trying again");
                    wait = Duration::from_millis(self.seconds * 1000 / 6)
                        .clamp(Duration::from_millis(200), Duration::from_secs(2));
                }
            }
        }
        let lease = self.lease();
        let claim = self.claim.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(key) = claim {
            let _ = self.table.set_claim_expiry(&key, &lease, 0).await;
        }
        if let Err(e) = self.table.release(&lease).await {
            tracing::warn!(error = %e, "could not release the job's lease; it expires by itself");
        }
    }

    async fn renew_claim(&self, lease: &Lease) {
        let claim = self.claim.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(key) = claim {
            let expires_ms = now_ms() + self.seconds * 1000;
            if let Err(e) = self.table.set_claim_expiry(&key, lease, expires_ms).await {
                tracing::warn!(error = %e, pool = %key, "could not renew the job's claim on the pool; another job may now start on it");
            }
        }
    }

    /// Claims `key` (a pool and action) for this lease's job: refused with
    /// who holds it when another live job of the table does.
    pub async fn claim(&self, key: &str, me: &Claimant) -> Result<Option<Claimant>, UsageError> {
        let lease = self.lease();
        let other = self.table.take_claim(key, &lease, me, self.seconds).await?;
        if other.is_none() {
            *self.claim.lock().unwrap_or_else(|e| e.into_inner()) = Some(key.to_string());
        }
        Ok(other)
    }
}

/// A lease kept from the moment it was taken: a task renews it until
/// [`KeptLease::release`] (which waits for the release to be sent) or the
/// drop (which leaves the release to that task; `ledger::store::settle`
/// waits for such tasks before the process exits).
pub struct KeptLease {
    pub keeper: std::sync::Arc<LeaseKeeper>,
    stop: tokio_util::sync::CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl KeptLease {
    /// Starts keeping `lease`, taken for `seconds` just after `taken`.
    pub fn start(
        table: LedgerTable,
        lease: Lease,
        seconds: u64,
        taken: std::time::Instant,
    ) -> KeptLease {
        let keeper = std::sync::Arc::new(LeaseKeeper {
            table,
            lease: std::sync::Mutex::new(lease),
            seconds,
            valid_until: std::sync::Mutex::new(taken + LeaseKeeper::window(seconds)),
            lost: std::sync::atomic::AtomicBool::new(false),
            claim: std::sync::Mutex::new(None),
        });
        let stop = tokio_util::sync::CancellationToken::new();
        let task = {
            let (keeper, stop) = (keeper.clone(), stop.clone());
            crate::ledger::store::background().spawn(async move { keeper.keep(stop).await })
        };
        KeptLease {
            keeper,
            stop,
            task: Some(task),
        }
    }

    /// Stops renewing and gives the lease (and any claim) back.
    pub async fn release(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for KeptLease {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The partition key of the pool claim `key`.
fn claim_partition(key: &str) -> String {
    format!("{CLAIM_PREFIX}{key}")
}

/// An item's string or number attribute as text; `?` when absent.
fn text_of(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(v)) | Some(AttributeValue::N(v)) => v.clone(),
        _ => "?".into(),
    }
}

/// A claim item's holder.
fn claimant_of(item: &HashMap<String, AttributeValue>) -> Claimant {
    let text = |name: &str| text_of(item, name);
    Claimant {
        ledger: text("ledger"),
        host: text("host"),
        pid: text("pid").parse().unwrap_or(0),
        since: text("since"),
    }
}

/// A job's records as ledger text (see [`LedgerTable::lines`]).
pub struct TableLines {
    client: Client,
    table: String,
    job: String,
    handle: tokio::runtime::Handle,
    next: Option<HashMap<String, AttributeValue>>,
    done: bool,
    buf: Vec<u8>,
    pos: usize,
}

impl TableLines {
    /// Reads the next page of records into the buffer.
    fn fetch(&mut self) -> io::Result<()> {
        let query = pages_query(&self.client, &self.table, &self.job)
            .set_exclusive_start_key(self.next.take());
        let out = self.handle.block_on(query.send()).map_err(|e| {
            io::Error::other(format!(
                "Query on table {} failed ({})",
                self.table,
                crate::aws::brief(&e)
            ))
        })?;
        self.buf.clear();
        self.pos = 0;
        for item in out.items() {
            if let Some(AttributeValue::S(line)) = item.get(LINE) {
                self.buf.extend_from_slice(line.as_bytes());
                self.buf.push(b'\n');
            }
        }
        self.next = out.last_evaluated_key().cloned();
        self.done = self.next.is_none();
        Ok(())
    }
}

impl Read for TableLines {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        crate::bufio::read_from_buf(self, out)
    }
}

impl BufRead for TableLines {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        // A page may hold no record line (or be empty): read on.
        while self.pos >= self.buf.len() && !self.done {
            self.fetch()?;
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages end at line ends, hold at most MAX_PAGE bytes, and give the text back joined; a record too large for an item is refused.
    #[test]
    fn pages_split_at_line_ends() {
        let line = format!("{}\n", "x".repeat(1000));
        let text = line.repeat(1000); // about 1 MB
        let p = pages(&text).unwrap();
        assert!(p.len() >= 3 && p.iter().all(|p| p.len() <= MAX_PAGE));
        let joined: String = p.iter().map(|p| format!("{p}\n")).collect();
        assert_eq!(joined, text);
        assert_eq!(pages("a\nb\n").unwrap(), ["a\nb"]);
        assert!(pages("").unwrap().is_empty());
        let huge = format!("{}\n", "y".repeat(MAX_PAGE + 1));
        assert!(pages(&huge)
            .unwrap_err()
            .contains("larger than a DynamoDB item"));
    }
}
