//! The real [`PoolApi`]: the AWS SDK for Cognito user pools, the only code
//! that knows the SDK. Every SDK error is reduced here to a [`CallError`];
//! nothing outside matches on SDK types. Messages that come back from a
//! call carrying a password are scrubbed of it before they leave.

use aws_sdk_cognitoidentityprovider::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_cognitoidentityprovider::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_cognitoidentityprovider::error::BoxError;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::operation::RequestId;
use aws_sdk_cognitoidentityprovider::Client;
use std::sync::{Arc, OnceLock};

use crate::error::UsageError;
use crate::identity::facts::Case;
use crate::identity::{ListedUser, NameKind, NameRule, PoolFacts};
use crate::secret::{redact, Password};

use super::{
    classify_error, Answer, AwsSettings, CallError, CallOk, CallResult, ClientPage, ClientTokens,
    Cognito, Connect, ErrorClass, Fence, Operation, Page, PoolApi, UserState,
};

/// Connects through the AWS SDK: the profile or the default credential
/// chain, `--endpoint-url` or the SDK's endpoint settings.
pub struct Aws;

impl Connect for Aws {
    fn connect<'a>(
        &'a self,
        aws: &'a AwsSettings,
        pool_id: &'a str,
    ) -> Answer<'a, Result<Cognito, UsageError>> {
        Box::pin(SdkPool::connect(aws, pool_id, false))
    }
}

/// Connects through the AWS SDK with placeholder credentials, to a
/// simulated pool that checks none (`drill`). Only an endpoint on this
/// machine is accepted, so no request with them can reach AWS.
pub struct LoopbackSimulator;

impl Connect for LoopbackSimulator {
    fn connect<'a>(
        &'a self,
        aws: &'a AwsSettings,
        pool_id: &'a str,
    ) -> Answer<'a, Result<Cognito, UsageError>> {
        Box::pin(async move {
            let loopback = aws.endpoint_url.as_deref().is_some_and(|url| {
                let host = url
                    .split("://")
                    .nth(1)
                    .unwrap_or_default()
                    .split(['/', '?'])
                    .next()
                    .unwrap_or_default();
                let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
                matches!(host, "localhost" | "[::1]")
                    || host
                        .parse::<std::net::Ipv4Addr>()
                        .is_ok_and(|ip| ip.is_loopback())
            });
            if !loopback {
                return Err(UsageError::Value {
                    flag: "--endpoint-url",
                    reason: "placeholder credentials go to a simulated pool on this machine only; give its http://127.0.0.1:PORT address".into(),
                });
            }
            SdkPool::connect(aws, pool_id, true).await
        })
    }
}

/// A pool of an account and region, as ListUserPools names it.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSummary {
    pub id: String,
    pub name: String,
}

/// Every pool of the account and region `aws` reaches: ListUserPools, 60
/// a page (its most), with the SDK's own retries (a few calls, once).
pub async fn list_user_pools(aws: &AwsSettings) -> Result<Vec<PoolSummary>, UsageError> {
    let config = crate::aws::load(crate::aws::Load {
        region: Some(&aws.region),
        profile: aws.profile.as_deref(),
        endpoint_url: aws.endpoint_url.as_deref(),
        sdk_retries: true,
        attempt_timeout: aws.attempt_timeout,
        placeholder_credentials: false,
        role: aws.role.as_ref(),
    })
    .await?;
    let client = Client::new(&config);
    let mut pools = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = client
            .list_user_pools()
            .max_results(60)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| {
                let at = crate::aws::endpoint_of("COGNITO_IDENTITY_PROVIDER", "cognito-idp", &aws.region);
                if crate::aws::unreachable(&e) {
                    UsageError::Aws(format!(
                        "ListUserPools could not reach {at}: {}; nothing was sent. Check the network, any proxy and the endpoint (AWS_ENDPOINT_URL)",
                        crate::aws::brief(&e)
                    ))
                } else {
                    UsageError::Aws(format!(
                        "ListUserPools at {at} answered {}; allow cognito-idp:ListUserPools for the credentials, or name the pools in the manifest",
                        crate::aws::brief(&e)
                    ))
                }
            })?;
        for p in out.user_pools() {
            if let Some(id) = p.id() {
                pools.push(PoolSummary {
                    id: id.to_string(),
                    name: p.name().unwrap_or_default().to_string(),
                });
            }
        }
        match out.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => return Ok(pools),
        }
    }
}

/// A client for one user pool.
struct SdkPool {
    client: Client,
    pool_id: String,
    /// Checked by [`FenceCheck`] before every request leaves.
    fence: Arc<OnceLock<Fence>>,
}

/// Stops a request whose [`Fence`] is down at the last moment the SDK
/// offers, once it is signed and just before the HTTP client sends it
/// ("read before transmit"), so that a process paused mid-call sends
/// nothing once its lease may have passed on.
struct FenceCheck(Arc<OnceLock<Fence>>);

impl std::fmt::Debug for FenceCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FenceCheck")
    }
}

/// What [`FenceCheck`] fails a request with.
#[derive(Debug)]
struct Fenced;

impl std::fmt::Display for Fenced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not sent: the job's lease may have passed to another runner")
    }
}

impl std::error::Error for Fenced {}

impl Intercept for FenceCheck {
    fn name(&self) -> &'static str {
        "FenceCheck"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        match self.0.get() {
            Some(up) if !up() => Err(Box::new(Fenced)),
            _ => Ok(()),
        }
    }
}

impl SdkPool {
    /// Builds the client, resolves credentials once and gives the handle
    /// over it; sends nothing to Cognito.
    async fn connect(
        aws: &AwsSettings,
        pool_id: &str,
        placeholder_credentials: bool,
    ) -> Result<Cognito, UsageError> {
        // The pipeline retries and counts every attempt itself.
        let config = crate::aws::load(crate::aws::Load {
            region: Some(&aws.region),
            profile: aws.profile.as_deref(),
            endpoint_url: aws.endpoint_url.as_deref(),
            sdk_retries: false,
            attempt_timeout: aws.attempt_timeout,
            placeholder_credentials,
            role: aws.role.as_ref(),
        })
        .await?;
        let fence: Arc<OnceLock<Fence>> = Arc::default();
        let client = Client::from_conf(
            aws_sdk_cognitoidentityprovider::config::Builder::from(&config)
                .interceptor(FenceCheck(fence.clone()))
                .build(),
        );
        let pool = SdkPool {
            client,
            pool_id: pool_id.to_string(),
            fence,
        };
        Ok(Cognito::with_api(Arc::new(pool), pool_id))
    }

    /// Carries out `op` for one user. `password` is required for
    /// [`Operation::SetPassword`].
    async fn apply(
        &self,
        op: &Operation,
        username: &str,
        password: Option<&Password>,
    ) -> CallResult {
        match op {
            Operation::Reset { client_metadata } => {
                let mut req = self
                    .client
                    .admin_reset_user_password()
                    .user_pool_id(&self.pool_id)
                    .username(username);
                if !client_metadata.is_empty() {
                    req = req.set_client_metadata(Some(client_metadata.clone()));
                }
                answered(req.send().await)
            }
            Operation::SetPassword { permanent } => {
                let Some(password) = password else {
                    return Err(CallError {
                        class: ErrorClass::UserFailed,
                        code: "MissingPassword".into(),
                        message: "no password was read for this user".into(),
                        request_id: None,
                        outcome_unknown: false,
                    });
                };
                let result = self
                    .client
                    .admin_set_user_password()
                    .user_pool_id(&self.pool_id)
                    .username(username)
                    .password(password.expose())
                    .permanent(*permanent)
                    .send()
                    .await;
                answered(result).map_err(|mut err| {
                    err.message = redact(&err.message, password);
                    err
                })
            }
            Operation::SignOut => answered(
                self.client
                    .admin_user_global_sign_out()
                    .user_pool_id(&self.pool_id)
                    .username(username)
                    .send()
                    .await,
            ),
            Operation::Disable => answered(
                self.client
                    .admin_disable_user()
                    .user_pool_id(&self.pool_id)
                    .username(username)
                    .send()
                    .await,
            ),
            Operation::Enable => answered(
                self.client
                    .admin_enable_user()
                    .user_pool_id(&self.pool_id)
                    .username(username)
                    .send()
                    .await,
            ),
        }
    }

    /// One page (up to 60) of users from ListUsers, and the token of the
    /// next page.
    async fn list_users_page(
        &self,
        filter: Option<&str>,
        token: Option<String>,
    ) -> Result<Page, CallError> {
        let result = self
            .client
            .list_users()
            .user_pool_id(&self.pool_id)
            .limit(60)
            .set_filter(filter.map(str::to_string))
            .set_pagination_token(token)
            .send()
            .await;
        match result {
            Ok(out) => Ok((
                out.users().iter().filter_map(listed_user).collect(),
                out.pagination_token().map(str::to_string),
            )),
            Err(e) => Err(classify(e)),
        }
    }

    /// One page (up to 60) of a group's users from ListUsersInGroup, and
    /// the token of the next page.
    async fn list_group_page(&self, group: &str, token: Option<String>) -> Result<Page, CallError> {
        let result = self
            .client
            .list_users_in_group()
            .user_pool_id(&self.pool_id)
            .group_name(group)
            .limit(60)
            .set_next_token(token)
            .send()
            .await;
        match result {
            Ok(out) => Ok((
                out.users().iter().filter_map(listed_user).collect(),
                out.next_token().map(str::to_string),
            )),
            Err(e) => Err(classify(e)),
        }
    }

    /// One page (up to 60) of the pool's app clients.
    async fn list_clients_page(&self, token: Option<String>) -> Result<ClientPage, CallError> {
        let out = self
            .client
            .list_user_pool_clients()
            .user_pool_id(&self.pool_id)
            .max_results(60)
            .set_next_token(token)
            .send()
            .await
            .map_err(classify)?;
        Ok((
            out.user_pool_clients()
                .iter()
                .filter_map(|c| {
                    Some((
                        c.client_id()?.to_string(),
                        c.client_name().unwrap_or_default().to_string(),
                    ))
                })
                .collect(),
            out.next_token().map(str::to_string),
        ))
    }

    /// An app client's token lifetimes. A validity the answer leaves out
    /// is Cognito's default (API reference, CreateUserPoolClient: access
    /// and ID tokens one hour, refresh tokens 30 days); a unit left out is
    /// the default unit (TokenValidityUnitsType: hours, hours, days).
    async fn describe_client(&self, client_id: &str) -> Result<ClientTokens, CallError> {
        use aws_sdk_cognitoidentityprovider::types::TimeUnitsType;
        let out = self
            .client
            .describe_user_pool_client()
            .user_pool_id(&self.pool_id)
            .client_id(client_id)
            .send()
            .await
            .map_err(classify)?;
        let Some(c) = out.user_pool_client() else {
            return Err(CallError {
                class: ErrorClass::UserFailed,
                code: "EmptyAnswer".into(),
                message: "DescribeUserPoolClient answered no client".into(),
                request_id: None,
                outcome_unknown: false,
            });
        };
        let units = c.token_validity_units();
        // `value` in `unit` (else `default_unit` seconds); 0 or less: the
        // value is unset, and Cognito's default holds.
        let span = |value: i32, unit: Option<&TimeUnitsType>, default_unit: u64, default: u64| {
            let per = match unit {
                Some(TimeUnitsType::Seconds) => 1,
                Some(TimeUnitsType::Minutes) => 60,
                Some(TimeUnitsType::Hours) => 3600,
                Some(TimeUnitsType::Days) => 86_400,
                _ => default_unit,
            };
            std::time::Duration::from_secs(match u64::try_from(value) {
                Ok(v) if v > 0 => v * per,
                _ => default,
            })
        };
        const HOUR: u64 = 3600;
        const DAY: u64 = 86_400;
        Ok(ClientTokens {
            client_id: client_id.to_string(),
            name: c.client_name().unwrap_or_default().to_string(),
            access: span(
                c.access_token_validity().unwrap_or(0),
                units.and_then(|u| u.access_token()),
                HOUR,
                HOUR,
            ),
            id_token: span(
                c.id_token_validity().unwrap_or(0),
                units.and_then(|u| u.id_token()),
                HOUR,
                HOUR,
            ),
            refresh: span(
                c.refresh_token_validity(),
                units.and_then(|u| u.refresh_token()),
                DAY,
                30 * DAY,
            ),
            revocation: c.enable_token_revocation().unwrap_or(false),
        })
    }

    /// The pool's settings (DescribeUserPool).
    async fn describe_pool(&self) -> Result<PoolFacts, CallError> {
        use aws_sdk_cognitoidentityprovider::types::{
            AliasAttributeType, RecoveryOptionNameType, UsernameAttributeType,
        };
        let out = match self
            .client
            .describe_user_pool()
            .user_pool_id(&self.pool_id)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => return Err(classify(e)),
        };
        let Some(pool) = out.user_pool() else {
            return Err(CallError {
                class: ErrorClass::UserFailed,
                code: "NoUserPoolReturned".into(),
                message: "DescribeUserPool returned no pool".into(),
                request_id: None,
                outcome_unknown: false,
            });
        };
        let kind_of = |name: &str| match name {
            "email" => Some(NameKind::Email),
            "phone_number" => Some(NameKind::PhoneNumber),
            "preferred_username" => Some(NameKind::PreferredUsername),
            _ => None,
        };
        // UsernameConfigurationType: case-sensitive "is the default value"
        // (and pools made before the setting existed are case-sensitive).
        let case = match pool.username_configuration() {
            Some(c) if !c.case_sensitive() => Case::Insensitive,
            _ => Case::Sensitive,
        };
        let rule = NameRule {
            case,
            username_attributes: pool
                .username_attributes()
                .iter()
                .filter_map(|a: &UsernameAttributeType| kind_of(a.as_str()))
                .collect(),
            alias_attributes: pool
                .alias_attributes()
                .iter()
                .filter_map(|a: &AliasAttributeType| kind_of(a.as_str()))
                .collect(),
        };
        let mut recovery: Vec<(i32, String)> = pool
            .account_recovery_setting()
            .map(|r| {
                r.recovery_mechanisms()
                    .iter()
                    .map(|m| {
                        let name = match m.name() {
                            RecoveryOptionNameType::AdminOnly => "admin_only".to_string(),
                            other => other.as_str().to_string(),
                        };
                        (m.priority(), name)
                    })
                    .collect()
            })
            .unwrap_or_default();
        recovery.sort();
        let policy = pool.policies().and_then(|p| p.password_policy());
        let lambda = pool.lambda_config();
        let mut triggers = Vec::new();
        if lambda.and_then(|l| l.custom_message()).is_some() {
            triggers.push("custom message".to_string());
        }
        if lambda.and_then(|l| l.custom_email_sender()).is_some() {
            triggers.push("custom email sender".to_string());
        }
        if lambda.and_then(|l| l.custom_sms_sender()).is_some() {
            triggers.push("custom SMS sender".to_string());
        }
        Ok(PoolFacts {
            rule,
            recovery: recovery.into_iter().map(|(_, n)| n).collect(),
            email_sending_account: pool
                .email_configuration()
                .and_then(|e| e.email_sending_account())
                .map_or("COGNITO_DEFAULT", |a| a.as_str())
                .to_string(),
            sms_configured: pool
                .sms_configuration()
                .is_some_and(|s| !s.sns_caller_arn().is_empty()),
            tier: pool.user_pool_tier().map(|t| t.as_str().to_string()),
            password_history_size: policy
                .and_then(|p| p.password_history_size())
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            min_password_length: policy
                .and_then(|p| p.minimum_length())
                .and_then(|n| usize::try_from(n).ok()),
            triggers,
            estimated_users: u64::try_from(pool.estimated_number_of_users()).unwrap_or(0),
            arn: pool.arn().map(str::to_string),
        })
    }

    /// The rate (requests per second) Cognito enforces for an API quota
    /// category (GetProvisionedLimit).
    async fn provisioned_limit(&self, category: &str) -> Result<f64, CallError> {
        use aws_sdk_cognitoidentityprovider::types::{LimitClass, LimitDefinitionType};
        let definition = LimitDefinitionType::builder()
            .limit_class(LimitClass::ApiCategory)
            .attributes("Category", category)
            .build()
            .map_err(|e| CallError {
                class: ErrorClass::StopRun,
                code: "RequestConstructionFailed".into(),
                message: e.to_string(),
                request_id: None,
                outcome_unknown: false,
            })?;
        match self
            .client
            .get_provisioned_limit()
            .limit_definition(definition)
            .send()
            .await
        {
            Ok(out) => match out.limit() {
                Some(l) if l.provisioned_limit_value() > 0 => {
                    Ok(f64::from(l.provisioned_limit_value()))
                }
                _ => Err(CallError {
                    class: ErrorClass::UserFailed,
                    code: "NoLimitReturned".into(),
                    message: "GetProvisionedLimit returned no limit".into(),
                    request_id: None,
                    outcome_unknown: false,
                }),
            },
            Err(e) => Err(classify(e)),
        }
    }

    /// Reads a user's status and when it last changed (AdminGetUser).
    async fn user_state(&self, username: &str) -> Result<UserState, CallError> {
        match self
            .client
            .admin_get_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send()
            .await
        {
            Ok(out) => Ok(UserState {
                status: out
                    .user_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                last_modified: out
                    .user_last_modified_date()
                    .and_then(|d| std::time::SystemTime::try_from(*d).ok()),
                enabled: out.enabled(),
                verified_contact: out.user_attributes().iter().any(|a| {
                    matches!(a.name(), "email_verified" | "phone_number_verified")
                        && a.value() == Some("true")
                }),
            }),
            Err(e) => Err(classify(e)),
        }
    }
}

impl PoolApi for SdkPool {
    fn apply<'a>(
        &'a self,
        op: &'a Operation,
        username: &'a str,
        password: Option<&'a Password>,
    ) -> Answer<'a, CallResult> {
        Box::pin(SdkPool::apply(self, op, username, password))
    }

    fn list_users_page<'a>(
        &'a self,
        filter: Option<&'a str>,
        token: Option<String>,
    ) -> Answer<'a, Result<Page, CallError>> {
        Box::pin(SdkPool::list_users_page(self, filter, token))
    }

    fn list_group_page<'a>(
        &'a self,
        group: &'a str,
        token: Option<String>,
    ) -> Answer<'a, Result<Page, CallError>> {
        Box::pin(SdkPool::list_group_page(self, group, token))
    }

    fn list_clients_page(
        &self,
        token: Option<String>,
    ) -> Answer<'_, Result<ClientPage, CallError>> {
        Box::pin(SdkPool::list_clients_page(self, token))
    }

    fn describe_client<'a>(
        &'a self,
        client_id: &'a str,
    ) -> Answer<'a, Result<ClientTokens, CallError>> {
        Box::pin(SdkPool::describe_client(self, client_id))
    }

    fn describe_pool(&self) -> Answer<'_, Result<PoolFacts, CallError>> {
        Box::pin(SdkPool::describe_pool(self))
    }

    fn provisioned_limit<'a>(&'a self, category: &'a str) -> Answer<'a, Result<f64, CallError>> {
        Box::pin(SdkPool::provisioned_limit(self, category))
    }

    fn user_state<'a>(&'a self, username: &'a str) -> Answer<'a, Result<UserState, CallError>> {
        Box::pin(SdkPool::user_state(self, username))
    }

    fn fence(&self, fence: Fence) {
        let _ = self.fence.set(fence);
    }
}

/// Whether a dispatch failure happened before the request left this
/// machine, and why: the connection was never made (refused, a name that
/// does not resolve, no route) or a local limit (open files) stopped it.
/// Such a call was certainly not carried out, so it is no lost answer.
/// Told from the error's causes: the HTTP client's connect error, or the
/// operating system's error kind.
fn never_sent(
    connector: Option<&aws_sdk_cognitoidentityprovider::error::ConnectorError>,
) -> Option<&'static str> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = connector.map(|e| e as _);
    let mut connect = false;
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match (io.kind(), io.raw_os_error()) {
                (std::io::ErrorKind::ConnectionRefused, _) => return Some("ConnectionRefused"),
                (_, Some(24 | 23)) => return Some("TooManyOpenFiles"),
                (
                    std::io::ErrorKind::AddrNotAvailable
                    | std::io::ErrorKind::NetworkUnreachable
                    | std::io::ErrorKind::HostUnreachable,
                    _,
                ) => return Some("EndpointUnreachable"),
                _ => {}
            }
        }
        if let Some(h) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
            connect |= h.is_connect();
        }
        if connect && e.to_string().starts_with("dns error") {
            return Some("DnsError");
        }
        source = e.source();
    }
    connect.then_some("ConnectFailed")
}

/// A ListUsers user reduced to what resolution and the precheck need.
fn listed_user(u: &aws_sdk_cognitoidentityprovider::types::UserType) -> Option<ListedUser> {
    let attr = |name: &str| {
        u.attributes()
            .iter()
            .find(|a| a.name() == name)
            .and_then(|a| a.value())
    };
    Some(ListedUser {
        username: u.username()?.to_string(),
        sub: attr("sub").map(str::to_string),
        status: u
            .user_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        enabled: u.enabled(),
        email: attr("email").map(str::to_string),
        email_verified: attr("email_verified") == Some("true"),
        phone_number: attr("phone_number").map(str::to_string),
        phone_number_verified: attr("phone_number_verified") == Some("true"),
        preferred_username: attr("preferred_username").map(str::to_string),
    })
}

/// A password or sign-out call's answer: its request id, or the error
/// classified.
fn answered<O: RequestId, E>(
    result: Result<O, SdkError<E, aws_sdk_cognitoidentityprovider::config::http::HttpResponse>>,
) -> CallResult
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    result
        .map(|out| CallOk {
            request_id: out.request_id().map(str::to_string),
        })
        .map_err(classify)
}

/// Reduces an SDK error to a [`CallError`].
fn classify<E>(
    err: SdkError<E, aws_sdk_cognitoidentityprovider::config::http::HttpResponse>,
) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let request_id = err.request_id().map(str::to_string);
    // Not logged here: a set-password call's message is redacted by the
    // caller before it is shown or recorded.
    let message = match err.message() {
        Some(m) => m.to_string(),
        None => crate::aws::brief_unlogged(&err),
    };
    let (class, code, outcome_unknown) = match &err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            match err.code() {
                Some(code) => (
                    classify_error(code, status, &message),
                    code.to_string(),
                    false,
                ),
                None if status >= 500 => {
                    (ErrorClass::Transient, format!("HttpStatus{status}"), true)
                }
                None => (ErrorClass::UserFailed, format!("HttpStatus{status}"), false),
            }
        }
        SdkError::DispatchFailure(d) if is_fenced(d.as_connector_error()) => {
            return CallError::fenced();
        }
        SdkError::TimeoutError(_) => (ErrorClass::Transient, "Timeout".to_string(), true),
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            (ErrorClass::Transient, "Timeout".to_string(), true)
        }
        SdkError::DispatchFailure(d) if never_sent(d.as_connector_error()).is_some() => {
            let code = never_sent(d.as_connector_error()).unwrap_or("ConnectFailed");
            (ErrorClass::Unreachable, code.to_string(), false)
        }
        SdkError::DispatchFailure(d) if d.is_io() => {
            (ErrorClass::Transient, "ConnectionError".to_string(), true)
        }
        SdkError::DispatchFailure(d) if d.is_user() => {
            (ErrorClass::StopRun, "RequestError".to_string(), false)
        }
        SdkError::DispatchFailure(_) => {
            (ErrorClass::Transient, "DispatchFailure".to_string(), true)
        }
        SdkError::ResponseError(r) => {
            let status = r.raw().status().as_u16();
            (ErrorClass::Transient, format!("HttpStatus{status}"), true)
        }
        SdkError::ConstructionFailure(_) => (
            ErrorClass::StopRun,
            "RequestConstructionFailed".to_string(),
            false,
        ),
        _ => (ErrorClass::Transient, "Unknown".to_string(), true),
    };
    // A call that never left: the root cause says it best ("Connection
    // refused (os error 111)"), not the whole chain.
    let message = match (&err, class) {
        (SdkError::DispatchFailure(d), ErrorClass::Unreachable) => {
            root_cause(d.as_connector_error()).unwrap_or(message)
        }
        _ => message,
    };
    CallError {
        class,
        code,
        message,
        request_id,
        outcome_unknown,
    }
}

/// Whether [`FenceCheck`] stopped the request.
fn is_fenced(connector: Option<&aws_sdk_cognitoidentityprovider::error::ConnectorError>) -> bool {
    let mut e: Option<&(dyn std::error::Error + 'static)> = connector.map(|e| e as _);
    while let Some(err) = e {
        if err.is::<Fenced>() {
            return true;
        }
        e = err.source();
    }
    false
}

/// The innermost cause of a connector error, as text.
fn root_cause(
    connector: Option<&aws_sdk_cognitoidentityprovider::error::ConnectorError>,
) -> Option<String> {
    let mut e: &(dyn std::error::Error + 'static) = connector?;
    while let Some(next) = e.source() {
        e = next;
    }
    Some(e.to_string())
}
