//! The boundary with Amazon Cognito: the only module that knows the AWS SDK.
//!
//! It builds the client (SDK retries off, since the pipeline retries and
//! counts every attempt itself; explicit timeouts; optional endpoint for the
//! simulated pool or moto), resolves credentials once up front so a missing
//! profile is a usage error rather than a thousand failed users, and offers
//! one function per operation. Every SDK error is classified here, by error
//! *code* (never by HTTP status alone), into an [`ErrorClass`]: the few
//! distinctions the pipeline acts on. Nothing outside this module matches on
//! SDK types. Messages that come back from a call carrying a password are
//! scrubbed of it before they leave this module.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_cognitoidentityprovider::config::retry::RetryConfig;
use aws_sdk_cognitoidentityprovider::config::timeout::TimeoutConfig;
use aws_sdk_cognitoidentityprovider::config::{ProvideCredentials, Region};
use aws_sdk_cognitoidentityprovider::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::operation::RequestId;
use aws_sdk_cognitoidentityprovider::Client;

use crate::error::UsageError;
use crate::identity::facts::Case;
use crate::identity::{ListedUser, NameKind, NameRule, PoolFacts};
use crate::secret::{redact, Password};

/// How to reach Cognito.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsSettings {
    pub region: String,
    pub profile: Option<String>,
    /// Send requests here instead of the real regional endpoint.
    pub endpoint_url: Option<String>,
    /// Limit for one attempt, connection included.
    pub attempt_timeout: Duration,
    /// Use fixed fake credentials (the simulated pool in `drill`).
    pub test_credentials: bool,
}

impl AwsSettings {
    /// The endpoint the calls go to, for messages: `--endpoint-url`, else
    /// the SDK's environment settings, else Cognito's regional endpoint.
    pub fn endpoint_name(&self) -> String {
        self.endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .unwrap_or_else(|| format!("https://cognito-idp.{}.amazonaws.com", self.region))
    }
}

/// What to do to each user.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// AdminResetUserPassword, with ClientMetadata for the Lambda triggers.
    Reset {
        client_metadata: HashMap<String, String>,
    },
    /// AdminSetUserPassword with the row's password.
    SetPassword { permanent: bool },
    /// AdminUserGlobalSignOut: revokes the user's refresh tokens.
    SignOut,
}

/// How the pipeline should treat a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The account's quota is busy: slow down and retry; not the user's fault.
    Throttled,
    /// Likely to clear: retry with backoff while attempts remain.
    Transient,
    /// This user cannot be done now: record it failed and go on.
    UserFailed,
    /// Every user would fail the same way: stop sending, keep the ledger.
    StopRun,
    /// A limit that will not clear soon (the daily email limit): stop
    /// sending, keep the ledger, resume later.
    Pause,
    /// A limit on this one user that clears later ("Attempt limit
    /// exceeded": too many reset attempts for the user in an hour): record
    /// the user deferred and go on; it says nothing about the run.
    UserLimited,
    /// The request never left this machine: the endpoint could not be
    /// reached (connection refused, a name that does not resolve) or a
    /// local limit (open files) stopped it. Safe to retry, since nothing
    /// was sent; if it persists, the run stops naming the endpoint.
    Unreachable,
}

/// A failed call, reduced to what the pipeline and the ledger need.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub class: ErrorClass,
    /// Cognito's error code, or a name for a failure with none
    /// (`Timeout`, `ConnectionError`, `HttpStatus502`, ...).
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    /// The request may have reached Cognito and been carried out
    /// (a timeout or a connection lost after sending).
    pub outcome_unknown: bool,
}

/// What AdminGetUser tells about a user, for reconciling a lost answer.
#[derive(Debug, Clone, PartialEq)]
pub struct UserState {
    /// `CONFIRMED`, `RESET_REQUIRED`, `FORCE_CHANGE_PASSWORD`, ...
    pub status: String,
    pub last_modified: Option<std::time::SystemTime>,
    pub enabled: bool,
    /// A verified email or phone number a code can be sent to.
    pub verified_contact: bool,
}

impl Operation {
    /// The status a user has once this operation was carried out; `None`
    /// for sign-out, which leaves no trace to read back (and is safe to
    /// repeat).
    pub fn target_status(&self) -> Option<&'static str> {
        match self {
            Operation::Reset { .. } => Some("RESET_REQUIRED"),
            Operation::SetPassword { permanent: true } => Some("CONFIRMED"),
            Operation::SetPassword { permanent: false } => Some("FORCE_CHANGE_PASSWORD"),
            Operation::SignOut => None,
        }
    }

    /// Whether carrying it out sends the user a message (so a repeat would
    /// send a second one).
    pub fn sends_message(&self) -> bool {
        matches!(self, Operation::Reset { .. })
    }
}

/// A successful call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOk {
    pub request_id: Option<String>,
}

pub type CallResult = Result<CallOk, CallError>;

/// Classifies a Cognito error code; `status` decides for codes not listed.
/// The table is docs/errors.md.
pub fn classify_code(code: &str, status: u16) -> ErrorClass {
    match code {
        "TooManyRequestsException" | "ThrottlingException" | "Throttling" => ErrorClass::Throttled,
        "LimitExceededException"
        | "InternalErrorException"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "RequestTimeout"
        | "RequestTimeoutException" => ErrorClass::Transient,
        "ResourceNotFoundException"
        | "AccessDeniedException"
        | "UnrecognizedClientException"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "InvalidEmailRoleAccessPolicyException"
        | "InvalidSmsRoleAccessPolicyException"
        | "InvalidSmsRoleTrustRelationshipException"
        | "OperationNotEnabledException" => ErrorClass::StopRun,
        // UserNotFound, InvalidParameter, NotAuthorized, InvalidPassword,
        // PasswordHistoryPolicyViolation, the Lambda trigger errors, and any
        // code this table does not know: a per-user failure, recorded with
        // its code, unless the server said it was its own fault.
        _ if status >= 500 => ErrorClass::Transient,
        _ => ErrorClass::UserFailed,
    }
}

/// A client for one user pool.
#[derive(Clone)]
pub struct Cognito {
    client: Client,
    pool_id: String,
}

impl Cognito {
    /// Builds the client and resolves credentials once; sends nothing to
    /// Cognito.
    pub async fn connect(aws: &AwsSettings, pool_id: &str) -> Result<Cognito, UsageError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(aws.region.clone()))
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(aws.attempt_timeout.min(Duration::from_secs(5)))
                    .operation_attempt_timeout(aws.attempt_timeout)
                    .build(),
            );
        if let Some(profile) = &aws.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &aws.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if aws.test_credentials {
            loader = loader.test_credentials();
        }
        let config = loader.load().await;
        let provider = config.credentials_provider().ok_or_else(|| {
            UsageError::Credentials("no credentials provider is configured".into())
        })?;
        provider
            .provide_credentials()
            .await
            .map_err(|e| UsageError::Credentials(DisplayErrorContext(&e).to_string()))?;
        Ok(Cognito {
            client: Client::new(&config),
            pool_id: pool_id.to_string(),
        })
    }

    pub fn pool_id(&self) -> &str {
        &self.pool_id
    }

    /// Carries out `op` for one user. `password` is required for
    /// [`Operation::SetPassword`].
    pub async fn apply(
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
                match req.send().await {
                    Ok(out) => Ok(CallOk {
                        request_id: out.request_id().map(str::to_string),
                    }),
                    Err(e) => Err(classify(e)),
                }
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
                match result {
                    Ok(out) => Ok(CallOk {
                        request_id: out.request_id().map(str::to_string),
                    }),
                    Err(e) => {
                        let mut err = classify(e);
                        err.message = redact(&err.message, password);
                        Err(err)
                    }
                }
            }
            Operation::SignOut => {
                match self
                    .client
                    .admin_user_global_sign_out()
                    .user_pool_id(&self.pool_id)
                    .username(username)
                    .send()
                    .await
                {
                    Ok(out) => Ok(CallOk {
                        request_id: out.request_id().map(str::to_string),
                    }),
                    Err(e) => Err(classify(e)),
                }
            }
        }
    }

    /// One page (up to 60) of users from ListUsers, and the token of the
    /// next page.
    pub async fn list_users_page(
        &self,
        filter: Option<&str>,
        token: Option<String>,
    ) -> Result<(Vec<ListedUser>, Option<String>), CallError> {
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

    /// The pool's settings (DescribeUserPool).
    pub async fn describe_pool(&self) -> Result<PoolFacts, CallError> {
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
        })
    }

    /// The rate (requests per second) Cognito enforces for an API quota
    /// category (GetProvisionedLimit).
    pub async fn provisioned_limit(&self, category: &str) -> Result<f64, CallError> {
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
    pub async fn user_state(&self, username: &str) -> Result<UserState, CallError> {
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

/// Classifies an error by code, HTTP status and, for the one ambiguous
/// code, the message. LimitExceededException means three things
/// (docs/identity.md): the daily email limit, which will not clear today,
/// pauses the run; "Attempt limit exceeded" is one user's limit on reset
/// attempts in an hour, which defers that user only; any other is a
/// resource limit that clears in seconds, retried as transient.
pub fn classify_error(code: &str, status: u16, message: &str) -> ErrorClass {
    if code == "LimitExceededException" {
        let m = message.to_ascii_lowercase();
        if m.contains("daily email limit") {
            return ErrorClass::Pause;
        }
        if m.contains("attempt limit exceeded") {
            return ErrorClass::UserLimited;
        }
    }
    classify_code(code, status)
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

/// Reduces an SDK error to a [`CallError`].
fn classify<E>(
    err: SdkError<E, aws_sdk_cognitoidentityprovider::config::http::HttpResponse>,
) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let request_id = err.request_id().map(str::to_string);
    let message = match err.message() {
        Some(m) => m.to_string(),
        None => DisplayErrorContext(&err).to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// LimitExceededException is told apart by its message: the daily email limit pauses, a user's attempt limit defers that user, anything else is transient.
    #[test]
    fn limit_exceeded_by_message() {
        use ErrorClass::*;
        let cases = [
            (
                "Exceeded daily email limit for the operation or the account.",
                Pause,
            ),
            (
                "Attempt limit exceeded, please try after some time.",
                UserLimited,
            ),
            ("Limit exceeded for the requested resource.", Transient),
        ];
        for (message, want) in cases {
            assert_eq!(
                classify_error("LimitExceededException", 400, message),
                want,
                "{message}"
            );
        }
    }

    /// Codes land in the classes docs/errors.md gives them, whatever the HTTP status says.
    #[test]
    fn classification_follows_the_domain_table() {
        use ErrorClass::*;
        let cases = [
            ("TooManyRequestsException", 400, Throttled),
            ("TooManyRequestsException", 429, Throttled),
            ("LimitExceededException", 400, Transient),
            ("InternalErrorException", 500, Transient),
            ("UserNotFoundException", 400, UserFailed),
            ("InvalidParameterException", 400, UserFailed),
            ("NotAuthorizedException", 400, UserFailed),
            ("InvalidPasswordException", 400, UserFailed),
            ("PasswordHistoryPolicyViolationException", 400, UserFailed),
            ("UserLambdaValidationException", 400, UserFailed),
            ("InvalidLambdaResponseException", 400, UserFailed),
            ("UnexpectedLambdaException", 400, UserFailed),
            ("ResourceNotFoundException", 400, StopRun),
            ("AccessDeniedException", 400, StopRun),
            ("UnrecognizedClientException", 400, StopRun),
            ("ExpiredTokenException", 400, StopRun),
            ("InvalidEmailRoleAccessPolicyException", 400, StopRun),
            ("InvalidSmsRoleAccessPolicyException", 400, StopRun),
            ("InvalidSmsRoleTrustRelationshipException", 400, StopRun),
            ("OperationNotEnabledException", 400, StopRun),
            ("SomethingNewException", 400, UserFailed),
            ("SomethingNewException", 503, Transient),
        ];
        for (code, status, want) in cases {
            assert_eq!(
                classify_code(code, status),
                want,
                "{code} with HTTP {status}"
            );
        }
    }
}
