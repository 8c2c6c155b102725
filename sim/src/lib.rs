//! A simulated Cognito user pool on loopback, for cognito-bulk-reset's
//! `drill` and `sim` commands, its tests and its benchmarks. A crate of its
//! own: it models Cognito, from AWS's documentation (each behaviour cites
//! its page), and knows nothing of the tool.
//!
//! It speaks the real AWS JSON 1.1 wire protocol (`X-Amz-Target` header,
//! `__type` errors, `x-amzn-RequestId`), so the real SDK client is what gets
//! exercised, for the operations the tool uses: AdminResetUserPassword,
//! AdminSetUserPassword, AdminGetUser, AdminCreateUser, ListUsers and
//! AdminUserGlobalSignOut, AdminDisableUser, AdminEnableUser,
//! ListUsersInGroup, ListUserPoolClients, DescribeUserPoolClient (and
//! GetProvisionedLimit, answering its quotas).
//! On top of the behaviour of a pool ([`pool`]) it
//! enforces a token-bucket quota per API category and answers
//! TooManyRequestsException above it, can add latency and inject faults (5xx,
//! LimitExceeded, dropped connections after the call was carried out, slow
//! replies), and counts calls and messages per user. `GET /sim/stats` returns
//! the counters as JSON for clients outside the process.

pub mod accounts;
mod client;
mod cloudwatch;
pub mod pool;
mod server;
pub mod usage;
mod username;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use accounts::{BucketKey, DEFAULT_ACCOUNT};
pub use client::isolate_aws_env;
pub use pool::{
    uuid_for, AppClient, EmailSending, LoginAttribute, Pool, PoolSettings, SimUser, Status,
};

/// The simulated pool's settings (also the flags of `sim`).
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct SimConfig {
    /// The pool id the simulation answers to.
    #[arg(long, default_value = "us-east-1_SimPool01")]
    pub pool_id: String,

    /// Users to create: user-000000, user-000001, ... About 6% of them
    /// cannot be reset (see `population`).
    #[arg(long, default_value_t = 1000)]
    pub users: usize,

    /// How the pool identifies users, recovers accounts and sends email.
    #[command(flatten)]
    pub pool: PoolSettings,

    /// Another pool, `ACCOUNT:POOL_ID:USERS[:NAME]` (repeatable), with the same
    /// settings and generated users. The pool above is in account
    /// 123456789012, the account of any access key the simulation did not
    /// issue; keys from its STS AssumeRole into
    /// `arn:aws:iam::ACCOUNT:role/NAME` belong to ACCOUNT. A pool id's
    /// prefix is its region, and a pool answers only requests signed for
    /// its account and region.
    #[arg(long = "extra-pool", value_name = "ACCOUNT:POOL_ID:USERS[:NAME]", value_parser = parse_extra_pool)]
    pub extra_pools: Vec<ExtraPool>,

    /// Quotas and faults.
    #[command(flatten)]
    pub behaviour: Behaviour,
}

/// What the simulation does to calls; can be changed while it runs.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct Behaviour {
    /// UserAccountRecovery quota (reset, set-password), requests/s; 0: none.
    #[arg(long, default_value_t = 30.0)]
    pub quota_recovery: f64,
    /// UserRead quota (AdminGetUser), requests/s; 0: none.
    #[arg(long, default_value_t = 120.0)]
    pub quota_read: f64,
    /// UserList quota (ListUsers), requests/s; 0: none.
    #[arg(long, default_value_t = 30.0)]
    pub quota_list: f64,
    /// UserUpdate quota (AdminUserGlobalSignOut), requests/s; 0: none.
    #[arg(long, default_value_t = 25.0)]
    pub quota_update: f64,
    /// UserCreation quota (AdminCreateUser), requests/s; 0: none.
    #[arg(long, default_value_t = 50.0)]
    pub quota_create: f64,
    /// UserPoolRead quota (DescribeUserPool), requests/s; 0: none.
    #[arg(long, default_value_t = 15.0)]
    pub quota_pool_read: f64,
    /// UserPoolClientRead quota (ListUserPoolClients,
    /// DescribeUserPoolClient), requests/s; 0: none.
    #[arg(long, default_value_t = 15.0)]
    pub quota_client_read: f64,
    /// Operations the caller is not permitted to call (answered
    /// AccessDeniedException, as IAM would), e.g. DescribeUserPool.
    #[arg(long, value_name = "OPERATION", value_delimiter = ',')]
    pub deny: Vec<String>,
    /// Roles whose trust policy does not let the caller in: STS AssumeRole
    /// into them answers AccessDenied.
    #[arg(long = "deny-role", value_name = "ROLE_ARN")]
    pub deny_roles: Vec<String>,
    /// Latency added to every reply, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of calls (0..1) answered with a server error (500 or an HTML
    /// 502) without being carried out.
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Share of calls answered LimitExceededException (a resource limit
    /// that clears in seconds), not carried out.
    #[arg(long, default_value_t = 0.0)]
    pub limit_exceeded_rate: f64,
    /// Share of mutating calls carried out whose connection is then dropped
    /// with no reply (the client cannot know the outcome).
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Share of calls carried out whose reply is then delayed by --slow-ms
    /// (past the client's timeout, its answer is lost).
    #[arg(long, default_value_t = 0.0)]
    pub slow_rate: f64,
    /// Delay of a slow call, milliseconds.
    #[arg(long, default_value_t = 15_000)]
    pub slow_ms: u64,
    /// Reset attempts a user may have in an hour before
    /// LimitExceededException ("Attempt limit exceeded"); 0: no limit.
    #[arg(long, default_value_t = 5)]
    pub reset_attempts_per_hour: u32,
    /// Refuse AdminSetUserPassword with the user's current password
    /// (PasswordHistoryPolicyViolationException), as a pool with a password
    /// history policy does.
    #[arg(long)]
    pub password_history: bool,
    /// Answer a share (--error-rate) of reset and set-password calls with
    /// this error code, without carrying them out (e.g. LimitExceededException).
    #[arg(long, value_name = "CODE")]
    pub error_code: Option<String>,
    /// The message of --error-code.
    #[arg(long, default_value = "injected error")]
    pub error_message: String,
    /// Share of reset and set-password calls answered with --error-code.
    #[arg(long, default_value_t = 1.0)]
    pub error_rate: f64,
    /// Production traffic: the app's own calls in the UserAccountRecovery
    /// category (ForgotPassword, ConfirmForgotPassword), per second, in
    /// the main pool's account and region; 0: none.
    #[arg(long, default_value_t = 0.0)]
    pub production_rate: f64,
    /// Production's calls arrive in bursts of this many at once, at the
    /// same average rate (30 at 10/s: a burst every 3 s); 1: steady.
    #[arg(long, default_value_t = 1)]
    pub production_burst: u32,
    /// Production's bursts (or single calls) come at random, as independent
    /// users do (a Poisson process: exponential gaps of the same mean),
    /// instead of evenly.
    #[arg(long)]
    pub production_poisson: bool,
    /// Seconds after a minute ends before CloudWatch serves its usage
    /// metrics (they are not real-time).
    #[arg(long, default_value_t = 60)]
    pub metrics_delay_secs: u64,
    /// Minutes are published together, every this many seconds (a
    /// multiple of 60): CloudWatch collects usage metrics every minute
    /// (CloudWatch User Guide, "CloudWatch usage metrics"), while Cognito's
    /// guide says its metrics "are available at five minute intervals"
    /// ("Tracking quotas and usage in CloudWatch and Service Quotas"): 300
    /// models that reading.
    #[arg(long, default_value_t = 60)]
    pub metrics_interval_secs: u64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            quota_recovery: 30.0,
            quota_read: 120.0,
            quota_list: 30.0,
            quota_update: 25.0,
            quota_create: 50.0,
            quota_pool_read: 15.0,
            quota_client_read: 15.0,
            deny: Vec::new(),
            deny_roles: Vec::new(),
            latency_ms: 0,
            fail_rate: 0.0,
            limit_exceeded_rate: 0.0,
            drop_rate: 0.0,
            slow_rate: 0.0,
            slow_ms: 15_000,
            reset_attempts_per_hour: 5,
            password_history: false,
            error_code: None,
            error_message: "injected error".into(),
            error_rate: 1.0,
            production_rate: 0.0,
            production_burst: 1,
            production_poisson: false,
            metrics_delay_secs: 60,
            metrics_interval_secs: 60,
        }
    }
}

/// A pool beside the main one (`--extra-pool`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExtraPool {
    pub account: String,
    pub pool_id: String,
    pub users: usize,
    /// Its name (ListUserPools); `None`: "simulated".
    pub name: Option<String>,
}

fn parse_extra_pool(s: &str) -> Result<ExtraPool, String> {
    let mut parts = s.splitn(4, ':');
    let (Some(account), Some(pool_id), Some(users)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("'{s}' is not ACCOUNT:POOL_ID:USERS[:NAME]"));
    };
    let name = parts.next().map(str::to_string);
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{account}' is not a 12-digit account id"));
    }
    if !pool_id.contains('_') {
        return Err(format!("'{pool_id}' is not a pool id (REGION_ID)"));
    }
    Ok(ExtraPool {
        account: account.into(),
        pool_id: pool_id.into(),
        users: users
            .parse()
            .map_err(|_| format!("'{users}' is not a number of users"))?,
        name,
    })
}

/// The region a pool id names: its prefix (`us-east-1_AbC` is in us-east-1).
pub fn pool_region(pool_id: &str) -> &str {
    pool_id.split('_').next().unwrap_or("")
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            pool_id: "us-east-1_SimPool01".into(),
            users: 1000,
            pool: PoolSettings::default(),
            extra_pools: Vec::new(),
            behaviour: Behaviour::default(),
        }
    }
}

/// The generated users: `user-NNNNNN` with the email
/// `user-NNNNNN@example.com`, all CONFIRMED with that email verified, except
/// that of every 50 users one is in FORCE_CHANGE_PASSWORD (reset:
/// NotAuthorized), one is disabled (NotAuthorized) and one has no verified
/// email or phone (InvalidParameter). In a pool with email as a username
/// attribute the username is instead a UUID equal to the sub (see
/// [`population_login`]); in a pool with preferred_username as an alias,
/// each user also has `nick-NNNNNN`.
pub fn population(
    n: usize,
    settings: &PoolSettings,
) -> impl Iterator<Item = (String, SimUser)> + '_ {
    (0..n).map(move |i| {
        let mut user = match i % 50 {
            7 => SimUser::new(Status::ForceChangePassword, true, true),
            23 => SimUser::new(Status::Confirmed, false, true),
            41 => SimUser::new(Status::Confirmed, true, false),
            _ => SimUser::new(Status::Confirmed, true, true),
        };
        user.email = Some(population_email(i));
        if settings
            .alias_attributes
            .contains(&LoginAttribute::PreferredUsername)
        {
            user.preferred_username = Some(format!("nick-{i:06}"));
        }
        let name = if settings.username_attributes.is_empty() {
            population_name(i)
        } else {
            let uuid = uuid_for(&population_name(i));
            user.sub = uuid.clone();
            uuid
        };
        (name, user)
    })
}

/// The username of generated user `i` in a pool without username
/// attributes.
pub fn population_name(i: usize) -> String {
    format!("user-{i:06}")
}

/// The email of generated user `i`.
pub fn population_email(i: usize) -> String {
    format!("user-{i:06}@example.com")
}

/// What generated user `i` signs in with: its username, or in a pool with
/// username attributes its email.
pub fn population_login(i: usize, settings: &PoolSettings) -> String {
    if settings.username_attributes.is_empty() {
        population_name(i)
    } else {
        population_email(i)
    }
}

/// Whether generated user `i` can be reset.
pub fn population_resettable(i: usize) -> bool {
    !matches!(i % 50, 7 | 23 | 41)
}

/// API quota categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    Recovery,
    Read,
    List,
    Update,
    Create,
    PoolRead,
    ClientRead,
}

/// One quota category's token bucket for an account and region: `rate`
/// tokens a second ("Quotas in Amazon Cognito": requests per second per
/// category), holding at most one second of them. AWS documents no burst
/// allowance; one second's worth is this simulation's assumption, and a
/// burst larger than the bucket is throttled whoever else calls.
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64) -> Bucket {
        Bucket {
            rate,
            tokens: rate.max(1.0),
            last: Instant::now(),
        }
    }

    /// Takes a token if one is there. A rate of 0 means no quota.
    fn try_take(&mut self) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let now = Instant::now();
        let capacity = self.rate.max(1.0);
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Counters of what reached the simulation.
#[derive(Debug, Default)]
pub struct SimCounters {
    /// Requests received, all kinds.
    pub requests: AtomicU64,
    /// Answered TooManyRequestsException.
    pub throttled: AtomicU64,
    /// Faults injected (5xx, LimitExceeded, drops).
    pub faults: AtomicU64,
    /// Calls carried out, by operation.
    applied: Mutex<BTreeMap<String, u64>>,
    /// Reset and set-password requests received (throttled ones included).
    pub recovery_requests: AtomicU64,
    /// Requests of operations that change users (reset, set-password,
    /// sign-out), throttled ones included.
    pub mutating_requests: AtomicU64,
    /// When the first and the latest of them arrived, microseconds since the
    /// Unix epoch (0: none yet).
    pub first_recovery_us: AtomicU64,
    pub last_recovery_us: AtomicU64,
}

impl SimCounters {
    pub(crate) fn applied(&self, op: &str) {
        let mut applied = self.applied.lock().unwrap_or_else(|e| e.into_inner());
        match applied.get_mut(op) {
            Some(n) => *n += 1,
            None => {
                applied.insert(op.to_string(), 1);
            }
        }
    }

    /// Counts a reset or set-password request as it arrives.
    pub(crate) fn recovery_request(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        self.recovery_requests.fetch_add(1, Relaxed);
        let _ = self
            .first_recovery_us
            .compare_exchange(0, now, Relaxed, Relaxed);
        self.last_recovery_us.fetch_max(now, Relaxed);
    }

    /// Calls carried out for `op`.
    pub fn applied_count(&self, op: &str) -> u64 {
        self.applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(op)
            .copied()
            .unwrap_or(0)
    }
}

/// What one account and region's quota saw.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct BucketStats {
    /// Requests of every category.
    pub requests: u64,
    /// Answered TooManyRequestsException.
    pub throttled: u64,
    /// Reset and set-password requests, throttled ones included, and when
    /// the first and the latest arrived (microseconds since the Unix epoch).
    pub recovery_requests: u64,
    /// Of those, answered TooManyRequestsException.
    #[serde(default)]
    pub recovery_throttled: u64,
    pub first_recovery_unix_us: u64,
    pub last_recovery_unix_us: u64,
}

impl BucketStats {
    /// The rate of reset and set-password requests the bucket saw,
    /// throttled ones included.
    pub fn recovery_rate(&self) -> f64 {
        match self.recovery_span() {
            Some(span) => (self.recovery_requests - 1) as f64 / span,
            None => 0.0,
        }
    }

    /// The rate of those it let through (not throttled).
    pub fn admitted_rate(&self) -> f64 {
        match self.recovery_span() {
            Some(span) => {
                (self.recovery_requests - self.recovery_throttled).saturating_sub(1) as f64 / span
            }
            None => 0.0,
        }
    }

    /// The share of reset and set-password requests throttled.
    pub fn recovery_throttled_share(&self) -> f64 {
        self.recovery_throttled as f64 / self.recovery_requests.max(1) as f64
    }

    fn recovery_span(&self) -> Option<f64> {
        let span = self
            .last_recovery_unix_us
            .saturating_sub(self.first_recovery_unix_us) as f64
            / 1e6;
        (self.recovery_requests >= 2 && span > 0.0).then_some(span)
    }
}

/// What one pool's users went through.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct PoolStats {
    pub users: u64,
    pub messages: u64,
    pub users_with_repeat_messages: u64,
    pub max_mutations_per_user: u32,
}

/// Shared state of a running simulation.
pub(crate) struct State {
    /// The main pool, in [`DEFAULT_ACCOUNT`].
    pub pool: Pool,
    /// `--extra-pool`s, with their accounts.
    pub extra: Vec<(String, Pool)>,
    pub accounts: accounts::Accounts,
    pub counters: SimCounters,
    /// Calls and throttles per minute, as CloudWatch's usage metrics.
    pub usage: usage::Usage,
    pub production: usage::ProductionCounters,
    behaviour: Mutex<Arc<Behaviour>>,
    buckets: Mutex<HashMap<BucketKey, [Bucket; 7]>>,
    by_bucket: Mutex<BTreeMap<BucketKey, BucketStats>>,
    next_request: AtomicU64,
}

impl State {
    /// The main pool's account and region: production's.
    pub(crate) fn main_bucket(&self) -> BucketKey {
        BucketKey {
            account: DEFAULT_ACCOUNT.into(),
            region: pool_region(&self.pool.pool_id).into(),
        }
    }

    /// Every pool with its account, the main one first.
    pub(crate) fn pools(&self) -> impl Iterator<Item = (&str, &Pool)> {
        std::iter::once((DEFAULT_ACCOUNT, &self.pool))
            .chain(self.extra.iter().map(|(a, p)| (a.as_str(), p)))
    }

    /// The pool `pool_id` names for a caller in `bucket`: only a pool of
    /// the caller's account, reached through its own region.
    pub(crate) fn find_pool(&self, bucket: &BucketKey, pool_id: &str) -> Option<&Pool> {
        self.pools()
            .find(|(account, p)| {
                *account == bucket.account
                    && p.pool_id == pool_id
                    && pool_region(pool_id) == bucket.region
            })
            .map(|(_, p)| p)
    }

    /// Counts a request in its bucket, and in the usage history.
    pub(crate) fn count(&self, bucket: &BucketKey, category: Category, throttled: bool) {
        let recovery = category == Category::Recovery;
        self.usage.record(
            bucket,
            usage::category_name(category),
            usage::unix_secs(),
            throttled,
        );
        let mut all = self.by_bucket.lock().unwrap_or_else(|e| e.into_inner());
        let b = all.entry(bucket.clone()).or_default();
        b.requests += 1;
        b.throttled += u64::from(throttled);
        if recovery {
            b.recovery_throttled += u64::from(throttled);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64);
            b.recovery_requests += 1;
            if b.first_recovery_unix_us == 0 {
                b.first_recovery_unix_us = now;
            }
            b.last_recovery_unix_us = b.last_recovery_unix_us.max(now);
        }
    }

    pub(crate) fn behaviour(&self) -> Arc<Behaviour> {
        self.behaviour
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn take_token(&self, bucket: &BucketKey, category: Category) -> bool {
        let behaviour = self.behaviour();
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(bucket.clone())
            .or_insert_with(|| buckets(&behaviour))[category as usize]
            .try_take()
    }

    fn request_id(&self) -> String {
        let n = self.next_request.fetch_add(1, Relaxed);
        format!("{:08x}-5151-4000-8000-{:012x}", std::process::id(), n)
    }
}

/// What `GET /sim/stats` returns.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct SimStats {
    pub requests: u64,
    pub throttled: u64,
    pub faults: u64,
    pub applied: BTreeMap<String, u64>,
    pub users: u64,
    pub messages: u64,
    /// Users sent more than one message.
    pub users_with_repeat_messages: u64,
    pub max_messages_per_user: u32,
    pub max_mutations_per_user: u32,
    /// Users billed as monthly active users (touched by AdminGetUser,
    /// AdminSetUserPassword or AdminUserGlobalSignOut).
    #[serde(default)]
    pub mau: u64,
    /// Reset and set-password requests received, throttled ones included,
    /// and when the first and the latest arrived (microseconds since the Unix
    /// epoch; 0: none): the rate the pool saw is
    /// `(recovery_requests - 1) / (last - first)`.
    #[serde(default)]
    pub recovery_requests: u64,
    /// Requests of operations that change users, throttled ones included.
    #[serde(default)]
    pub mutating_requests: u64,
    #[serde(default)]
    pub first_recovery_unix_us: u64,
    #[serde(default)]
    pub last_recovery_unix_us: u64,
    /// Per account and region (`ACCOUNT/REGION`).
    #[serde(default)]
    pub buckets: BTreeMap<String, BucketStats>,
    /// Per pool (`ACCOUNT/POOL_ID`).
    #[serde(default)]
    pub pools: BTreeMap<String, PoolStats>,
    /// Role sessions opened by AssumeRole, by session name.
    #[serde(default)]
    pub sessions: BTreeMap<String, u64>,
    /// Production's calls (`--production-rate`), and of those throttled.
    #[serde(default)]
    pub production_calls: u64,
    #[serde(default)]
    pub production_throttled: u64,
}

/// A running simulation. Dropping it does not stop it; call [`SimHandle::stop`].
pub struct SimHandle {
    pub addr: SocketAddr,
    state: Arc<State>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// A full quota bucket per API category, in [`Category`] order.
fn buckets(b: &Behaviour) -> [Bucket; 7] {
    [
        Bucket::new(b.quota_recovery),
        Bucket::new(b.quota_read),
        Bucket::new(b.quota_list),
        Bucket::new(b.quota_update),
        Bucket::new(b.quota_create),
        Bucket::new(b.quota_pool_read),
        Bucket::new(b.quota_client_read),
    ]
}

impl SimConfig {
    /// `users` generated users in a pool with these settings, calls met
    /// with `behaviour` (the default pool id).
    pub fn with(users: usize, pool: PoolSettings, behaviour: Behaviour) -> SimConfig {
        SimConfig {
            users,
            pool,
            behaviour,
            ..SimConfig::default()
        }
    }
}

/// Starts a simulation on a free port of the loopback interface.
pub async fn start_local(config: SimConfig) -> std::io::Result<SimHandle> {
    start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// Starts a simulation on `listen` (use port 0 for any free port).
pub async fn start(config: SimConfig, listen: SocketAddr) -> std::io::Result<SimHandle> {
    // The default sender's daily email count is the account's, shared by
    // its pools.
    let mut emails: HashMap<String, Arc<Mutex<pool::EmailDay>>> = HashMap::new();
    let mut populated = |account: &str, pool_id: &str, users: usize, name: Option<&String>| {
        let name = name.cloned().unwrap_or_else(|| "simulated".into());
        let pool = Pool::named(pool_id.to_string(), name, config.pool.clone())
            .sharing_emails(emails.entry(account.to_string()).or_default().clone());
        for (name, user) in population(users, &config.pool) {
            pool.put(&name, user);
        }
        pool
    };
    let state = Arc::new(State {
        pool: populated(DEFAULT_ACCOUNT, &config.pool_id, config.users, None),
        extra: config
            .extra_pools
            .iter()
            .map(|e| {
                (
                    e.account.clone(),
                    populated(&e.account, &e.pool_id, e.users, e.name.as_ref()),
                )
            })
            .collect(),
        accounts: accounts::Accounts::default(),
        counters: SimCounters::default(),
        usage: usage::Usage::default(),
        production: usage::ProductionCounters::default(),
        behaviour: Mutex::new(Arc::new(config.behaviour.clone())),
        buckets: Mutex::new(HashMap::new()),
        by_bucket: Mutex::new(BTreeMap::new()),
        next_request: AtomicU64::new(1),
    });
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(server::serve(listener, state.clone(), shutdown.clone()));
    tokio::spawn(usage::production(
        state.clone(),
        state.main_bucket(),
        shutdown.clone(),
    ));
    Ok(SimHandle {
        addr,
        state,
        shutdown,
        task,
    })
}

impl SimHandle {
    /// The URL to give `--endpoint-url`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pool_id(&self) -> &str {
        &self.state.pool.pool_id
    }

    /// Replaces quotas and faults; quota buckets start full again.
    pub fn set_behaviour(&self, b: Behaviour) {
        self.state
            .buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        *self
            .state
            .behaviour
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(b);
    }

    /// Production's usage for the `minutes` whole minutes before this one,
    /// as if the app had been running at `rate` a second (none throttled):
    /// the history a job started now would find in CloudWatch.
    pub fn backfill_production(&self, minutes: u64, rate: f64) {
        let now = usage::unix_secs() / 60;
        let bucket = self.state.main_bucket();
        for m in now.saturating_sub(minutes)..now {
            self.state.usage.add(
                &bucket,
                "UserAccountRecovery",
                m,
                (rate * 60.0).round() as u64,
                0,
            );
        }
    }

    pub fn counters(&self) -> &SimCounters {
        &self.state.counters
    }

    /// A copy of one user's state.
    pub fn user(&self, name: &str) -> Option<SimUser> {
        self.state
            .pool
            .users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_name
            .get(name)
            .cloned()
    }

    /// The username `value` names in the pool, as Cognito resolves it
    /// (username, alias or sub; see [`Pool::resolve`]).
    pub fn resolve(&self, value: &str) -> Option<String> {
        let users = self
            .state
            .pool
            .users
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.state.pool.resolve(&users, value)
    }

    /// Adds a group to the main pool with these members (as CreateGroup
    /// and AdminAddUserToGroup would).
    pub fn add_group(&self, group: &str, members: &[String]) {
        self.state.pool.add_group(group, members);
    }

    /// Adds or replaces a user.
    pub fn put_user(&self, name: &str, user: SimUser) {
        self.state.pool.put(name, user);
    }

    /// Uses up `n` of user `name`'s reset attempts for the hour, as other
    /// callers' resets would.
    pub fn spend_reset_attempts(&self, name: &str, n: usize) {
        self.state.pool.spend_reset_attempts(name, n);
    }

    /// Calls `f` with each user, in name order.
    pub fn for_each_user(&self, mut f: impl FnMut(&str, &SimUser)) {
        for (name, u) in self
            .state
            .pool
            .users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_name
            .iter()
        {
            f(name, u);
        }
    }

    pub fn stats(&self) -> SimStats {
        stats(&self.state)
    }

    /// Stops serving and waits for the listener to close.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

pub(crate) fn stats(state: &State) -> SimStats {
    let mut s = SimStats {
        requests: state.counters.requests.load(Relaxed),
        throttled: state.counters.throttled.load(Relaxed),
        faults: state.counters.faults.load(Relaxed),
        applied: state
            .counters
            .applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
        users: 0,
        messages: 0,
        users_with_repeat_messages: 0,
        max_messages_per_user: 0,
        max_mutations_per_user: 0,
        mau: 0,
        recovery_requests: state.counters.recovery_requests.load(Relaxed),
        mutating_requests: state.counters.mutating_requests.load(Relaxed),
        first_recovery_unix_us: state.counters.first_recovery_us.load(Relaxed),
        last_recovery_unix_us: state.counters.last_recovery_us.load(Relaxed),
        buckets: state
            .by_bucket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        pools: BTreeMap::new(),
        production_calls: state.production.calls.load(Relaxed),
        production_throttled: state.production.throttled.load(Relaxed),
        sessions: state
            .accounts
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
    };
    for (account, pool) in state.pools() {
        let users = pool.users.lock().unwrap_or_else(|e| e.into_inner());
        let mut p = PoolStats {
            users: users.by_name.len() as u64,
            ..PoolStats::default()
        };
        for u in users.by_name.values() {
            s.mau += u64::from(u.billed);
            p.messages += u64::from(u.messages);
            p.users_with_repeat_messages += u64::from(u.messages > 1);
            s.max_messages_per_user = s.max_messages_per_user.max(u.messages);
            p.max_mutations_per_user = p.max_mutations_per_user.max(u.mutations);
        }
        s.users += p.users;
        s.messages += p.messages;
        s.users_with_repeat_messages += p.users_with_repeat_messages;
        s.max_mutations_per_user = s.max_mutations_per_user.max(p.max_mutations_per_user);
        s.pools.insert(format!("{account}/{}", pool.pool_id), p);
    }
    s
}

/// Serves a simulation until `shutdown` resolves (the `sim` command).
pub async fn serve_until(
    config: SimConfig,
    listen: SocketAddr,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<SimStats> {
    let users = config.users;
    let handle = start(config, listen).await?;
    let (pool, url) = (handle.pool_id(), handle.endpoint_url());
    println!("simulated user pool {pool} listening on {url}");
    println!(
        "  its users:  (echo username; seq -f 'user-%06g' 0 {}) > users.csv",
        users.saturating_sub(1)
    );
    println!("  any key:    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test");
    println!("  look first: cognito-bulk-reset plan --user-pool-id {pool} --endpoint-url {url} --input users.csv");
    println!("  then run:   the same with `run`: it shows the plan and asks you to type the pool id; Ctrl-C stops it, the same command resumes, `status` and `export` read the ledger");
    println!("  counters:   GET {url}/sim/stats");
    shutdown.await;
    let stats = handle.stats();
    handle.stop().await;
    Ok(stats)
}

pub(crate) fn latency(b: &Behaviour) -> Duration {
    Duration::from_millis(b.latency_ms)
}
