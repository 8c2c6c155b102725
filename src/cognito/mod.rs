//! The boundary with Amazon Cognito.
//!
//! The run sees one user pool through [`Cognito`], a cheap handle over a
//! [`PoolApi`]: one method per operation the tool calls, each answering
//! with the pool's data or a [`CallError`]. Errors are classified by error
//! *code* (never by HTTP status alone) into an [`ErrorClass`], the few
//! distinctions the pipeline acts on; the table is docs/errors.md.
//!
//! A [`Connect`] makes the handle for a run. [`Aws`] is the real one (the
//! `sdk` submodule, the only code that knows the AWS SDK: SDK retries off,
//! since the pipeline retries and counts every attempt itself; explicit
//! timeouts; credentials resolved once up front, so a missing profile is a
//! usage error rather than a thousand failed users). [`LoopbackSimulator`]
//! is the same SDK client with placeholder credentials, for a simulated
//! pool on this machine only. Tests connect fakes with scripted answers
//! through [`Cognito::with_api`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::UsageError;
use crate::identity::{ListedUser, PoolFacts};
use crate::secret::Password;

mod sdk;

pub use crate::aws::AssumeRole;
pub use sdk::{list_user_pools, Aws, LoopbackSimulator, PoolSummary};

/// How to reach Cognito.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsSettings {
    pub region: String,
    pub profile: Option<String>,
    /// Send requests here instead of the real regional endpoint.
    pub endpoint_url: Option<String>,
    /// Limit for one attempt, connection included.
    pub attempt_timeout: Duration,
    /// A role to assume (a fleet's target in another account).
    pub role: Option<AssumeRole>,
}

impl AwsSettings {
    /// The endpoint the calls go to, for messages: `--endpoint-url`, else
    /// the SDK's environment settings, else Cognito's regional endpoint.
    pub fn endpoint_name(&self) -> String {
        self.custom_endpoint()
            .unwrap_or_else(|| format!("https://cognito-idp.{}.amazonaws.com", self.region))
    }

    /// The endpoint when it is not Cognito's regional one: `--endpoint-url`,
    /// else the SDK's environment settings.
    pub fn custom_endpoint(&self) -> Option<String> {
        self.endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
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
    /// AdminDisableUser: the user cannot sign in; access tokens revoked.
    Disable,
    /// AdminEnableUser: the user can sign in again.
    Enable,
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
    /// Not sent: the run's [`Fence`] was down (a DynamoDB ledger's lease
    /// may have passed to another runner). The run stops.
    Fenced,
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

impl CallError {
    /// A call the run's [`Fence`] kept from being sent.
    pub fn fenced() -> CallError {
        CallError {
            class: ErrorClass::Fenced,
            code: "LeaseLost".into(),
            message:
                "not sent: the job's lease on its DynamoDB ledger may have passed to another runner"
                    .into(),
            request_id: None,
            outcome_unknown: false,
        }
    }

    /// LimitExceededException: a limit that clears later (retried as
    /// transient); when it outlasts a user's attempts the user is deferred,
    /// not failed.
    pub fn is_limit_exceeded(&self) -> bool {
        self.code == "LimitExceededException"
    }

    /// PasswordHistoryPolicyViolationException: the password is one of
    /// the user's recent ones (after a lost answer: the first call landed).
    pub fn is_recent_password(&self) -> bool {
        self.code == "PasswordHistoryPolicyViolationException"
    }
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

/// How long an app client's tokens live (DescribeUserPoolClient), and
/// whether it has token revocation on.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientTokens {
    pub client_id: String,
    pub name: String,
    pub access: Duration,
    pub id_token: Duration,
    pub refresh: Duration,
    pub revocation: bool,
}

/// One page of a pool's app clients (ListUserPoolClients): ids and names,
/// and the token of the next page.
pub type ClientPage = (Vec<(String, String)>, Option<String>);

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

/// One page of ListUsers: its users, and the token of the next page.
pub type Page = (Vec<ListedUser>, Option<String>);

/// A future a [`PoolApi`] or a [`Connect`] answers with.
pub type Answer<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One user pool's API, as the tool uses it: the seam between the run and
/// Cognito. Every method is one call (no retries: the run paces, retries
/// and counts each attempt itself).
pub trait PoolApi: Send + Sync {
    /// Carries out `op` for one user (AdminResetUserPassword,
    /// AdminSetUserPassword with `password`, AdminUserGlobalSignOut).
    fn apply<'a>(
        &'a self,
        op: &'a Operation,
        username: &'a str,
        password: Option<&'a Password>,
    ) -> Answer<'a, CallResult>;

    /// One page (up to 60) of users from ListUsers, and the token of the
    /// next page.
    fn list_users_page<'a>(
        &'a self,
        filter: Option<&'a str>,
        token: Option<String>,
    ) -> Answer<'a, Result<Page, CallError>>;

    /// One page (up to 60) of a group's users from ListUsersInGroup, and
    /// the token of the next page.
    fn list_group_page<'a>(
        &'a self,
        group: &'a str,
        token: Option<String>,
    ) -> Answer<'a, Result<Page, CallError>>;

    /// One page of the pool's app clients (ListUserPoolClients).
    fn list_clients_page(&self, token: Option<String>)
        -> Answer<'_, Result<ClientPage, CallError>>;

    /// An app client's token lifetimes (DescribeUserPoolClient).
    fn describe_client<'a>(
        &'a self,
        client_id: &'a str,
    ) -> Answer<'a, Result<ClientTokens, CallError>>;

    /// The pool's settings (DescribeUserPool).
    fn describe_pool(&self) -> Answer<'_, Result<PoolFacts, CallError>>;

    /// The rate (requests per second) Cognito enforces for an API quota
    /// category (GetProvisionedLimit).
    fn provisioned_limit<'a>(&'a self, category: &'a str) -> Answer<'a, Result<f64, CallError>>;

    /// A user's status and when it last changed (AdminGetUser).
    fn user_state<'a>(&'a self, username: &'a str) -> Answer<'a, Result<UserState, CallError>>;

    /// From now on, checks `fence` as late as the client can before each
    /// request leaves, and sends nothing while it is down. Without it, the
    /// [`Cognito`] handle's own check, made just before each call, is the
    /// last.
    fn fence(&self, _fence: Fence) {}
}

/// Whether a call may still be sent: `false` once a DynamoDB ledger's
/// lease may have passed to another runner.
pub type Fence = Arc<dyn Fn() -> bool + Send + Sync>;

/// How a run reaches its pool: builds the [`Cognito`] handle once, before
/// the first call, sending nothing.
pub trait Connect: Send + Sync {
    fn connect<'a>(
        &'a self,
        aws: &'a AwsSettings,
        pool_id: &'a str,
    ) -> Answer<'a, Result<Cognito, UsageError>>;
}

/// One user pool, as the run calls it.
#[derive(Clone)]
pub struct Cognito {
    api: Arc<dyn PoolApi>,
    pool_id: String,
    /// Set once the run holds a lease; clones share it.
    fence: Arc<std::sync::OnceLock<Fence>>,
}

impl Cognito {
    /// A handle on `api`, the pool `pool_id` (a fake's, in tests).
    pub fn with_api(api: Arc<dyn PoolApi>, pool_id: &str) -> Cognito {
        Cognito {
            api,
            pool_id: pool_id.to_string(),
            fence: Arc::default(),
        }
    }

    /// No call of this handle (or its clones) is sent from now on while
    /// `fence` is down: checked before each call and, through the SDK,
    /// again just before the request is transmitted.
    pub fn fence(&self, fence: Fence) {
        if self.fence.set(fence.clone()).is_ok() {
            self.api.fence(fence);
        }
    }

    /// The error of a call the fence stopped.
    fn fenced(&self) -> Result<(), CallError> {
        match self.fence.get() {
            Some(up) if !up() => Err(CallError::fenced()),
            _ => Ok(()),
        }
    }

    /// Connects through the SDK with the default credential chain.
    pub async fn connect(aws: &AwsSettings, pool_id: &str) -> Result<Cognito, UsageError> {
        Aws.connect(aws, pool_id).await
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
        self.fenced()?;
        self.api.apply(op, username, password).await
    }

    /// One page (up to 60) of users from ListUsers, and the token of the
    /// next page.
    pub async fn list_users_page(
        &self,
        filter: Option<&str>,
        token: Option<String>,
    ) -> Result<Page, CallError> {
        self.fenced()?;
        self.api.list_users_page(filter, token).await
    }

    /// One page (up to 60) of a group's users from ListUsersInGroup, and
    /// the token of the next page.
    pub async fn list_group_page(
        &self,
        group: &str,
        token: Option<String>,
    ) -> Result<Page, CallError> {
        self.fenced()?;
        self.api.list_group_page(group, token).await
    }

    /// One page of the pool's app clients (ListUserPoolClients).
    pub async fn list_clients_page(&self, token: Option<String>) -> Result<ClientPage, CallError> {
        self.fenced()?;
        self.api.list_clients_page(token).await
    }

    /// An app client's token lifetimes (DescribeUserPoolClient).
    pub async fn describe_client(&self, client_id: &str) -> Result<ClientTokens, CallError> {
        self.fenced()?;
        self.api.describe_client(client_id).await
    }

    /// The pool's settings (DescribeUserPool).
    pub async fn describe_pool(&self) -> Result<PoolFacts, CallError> {
        self.fenced()?;
        self.api.describe_pool().await
    }

    /// The rate Cognito enforces for an API quota category.
    pub async fn provisioned_limit(&self, category: &str) -> Result<f64, CallError> {
        self.fenced()?;
        self.api.provisioned_limit(category).await
    }

    /// Reads a user's status and when it last changed (AdminGetUser).
    pub async fn user_state(&self, username: &str) -> Result<UserState, CallError> {
        self.fenced()?;
        self.api.user_state(username).await
    }
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
