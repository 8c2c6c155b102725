//! The AWS SDK's configuration, loaded once per client: the region, the
//! profile, a role to assume, credentials resolved up front (a missing
//! profile or a role that cannot be assumed is a usage error before
//! anything is sent, not a thousand failed calls), timeouts and retries.
//! Endpoints follow the SDK's standard settings (`AWS_ENDPOINT_URL`, or per
//! service `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_STS`, ...) unless
//! the caller names one: `--endpoint-url` is Cognito's alone, so STS, which
//! assumes roles and names accounts, never goes there.
//!
//! [`account`] asks STS GetCallerIdentity which account credentials belong
//! to (a fleet keys its ledgers and limiters by it).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::error::UsageError;

/// STS AssumeRole, through aws-config's own provider: the role, its
/// external id, and a session name that ties every call to the run in
/// CloudTrail.
#[derive(Debug, Clone, PartialEq)]
pub struct AssumeRole {
    pub arn: String,
    pub external_id: Option<String>,
    pub session_name: String,
}

/// How to load a client's configuration.
#[derive(Debug, Clone, Default)]
pub struct Load<'a> {
    /// The region; `None`: the SDK's chain (AWS_REGION, the profile).
    pub region: Option<&'a str>,
    pub profile: Option<&'a str>,
    /// This service's endpoint, overriding the SDK's settings.
    pub endpoint_url: Option<&'a str>,
    /// The SDK's own retries (standard mode, 3 attempts); off where the
    /// caller retries and counts every attempt itself (Cognito's calls).
    pub sdk_retries: bool,
    /// Limit for one attempt, connection included.
    pub attempt_timeout: Duration,
    /// Placeholder credentials, for a simulated pool that checks none.
    pub placeholder_credentials: bool,
    /// A role to assume with the credentials found.
    pub role: Option<&'a AssumeRole>,
}

/// Loads the configuration and resolves credentials once.
pub async fn load(how: Load<'_>) -> Result<SdkConfig, UsageError> {
    let config = base(&how).await?;
    Ok(match how.endpoint_url {
        Some(url) => config.into_builder().endpoint_url(url).build(),
        None => config,
    })
}

/// The region the SDK's own chain gives (AWS_REGION, the profile's,
/// instance metadata), for `profile`; `None` where none is set.
pub async fn default_region(profile: Option<&str>) -> Option<String> {
    let mut chain = aws_config::default_provider::region::DefaultRegionChain::builder();
    if let Some(p) = profile {
        chain = chain.profile_name(p);
    }
    chain.build().region().await.map(|r| r.to_string())
}

/// The account the credentials `how` describes belong to: STS
/// GetCallerIdentity at STS's own endpoint (never `endpoint_url`), which
/// needs no permission.
pub async fn account(how: Load<'_>) -> Result<String, UsageError> {
    let config = base(&Load {
        sdk_retries: true,
        ..how
    })
    .await?;
    let out = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            let at = endpoint_of("STS", "sts", config.region().map_or("", |r| r.as_ref()));
            if unreachable(&e) {
                UsageError::Aws(format!(
                    "STS GetCallerIdentity could not reach {at}: {}; nothing was sent. Check the network, any proxy, and AWS_ENDPOINT_URL_STS (or AWS_ENDPOINT_URL)",
                    brief(&e)
                ))
            } else {
                UsageError::Credentials(format!(
                    "STS GetCallerIdentity at {at} refused them ({})",
                    brief(&e)
                ))
            }
        })?;
    out.account()
        .map(str::to_string)
        .ok_or_else(|| UsageError::Credentials("STS GetCallerIdentity named no account".into()))
}

/// The configuration without a caller's endpoint, credentials resolved
/// (the role assumed).
async fn base(how: &Load<'_>) -> Result<SdkConfig, UsageError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(if how.sdk_retries {
            RetryConfig::standard()
        } else {
            RetryConfig::disabled()
        })
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(how.attempt_timeout.min(Duration::from_secs(5)))
                .operation_attempt_timeout(how.attempt_timeout)
                .build(),
        );
    if let Some(region) = how.region {
        loader = loader.region(Region::new(region.to_string()));
    }
    if let Some(profile) = how.profile {
        loader = loader.profile_name(profile);
    }
    if how.placeholder_credentials {
        loader = loader.test_credentials();
    }
    let mut config = loader.load().await;
    if config.region().is_none() {
        return Err(UsageError::Missing(
            "--region",
            "name the AWS region, e.g. --region us-east-1 (or set AWS_REGION)",
        ));
    }
    if let Some(role) = how.role {
        let mut assume = AssumeRoleProvider::builder(&role.arn)
            .session_name(&role.session_name)
            .configure(&config);
        if let Some(id) = &role.external_id {
            assume = assume.external_id(id);
        }
        let provider = assume.build().await;
        config = config
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    }
    let provider = config
        .credentials_provider()
        .ok_or_else(|| UsageError::Credentials("no credentials provider is configured".into()))?;
    provider.provide_credentials().await.map_err(|e| {
        tracing::debug!(error = %DisplayErrorContext(&e), "the credentials chain's error in full");
        let why = crate::text::shown(&causes(&e));
        match how.role {
            Some(role) => UsageError::Aws(format!(
                "could not assume role {}: {why}; check that the credentials may assume it (its trust policy, the external id) and that STS is reachable (AWS_ENDPOINT_URL_STS)",
                role.arn
            )),
            None => UsageError::NoCredentials(no_credentials(how.profile, &why)),
        }
    })?;
    Ok(config)
}

/// Why no credentials were found, from what the environment and the AWS
/// files hold, with the fix; `why` is the SDK's last answer.
fn no_credentials(profile: Option<&str>, why: &str) -> String {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(_), None) => return "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both (and AWS_SESSION_TOKEN for temporary keys), or unset AWS_ACCESS_KEY_ID to use a profile".into(),
        (None, Some(_)) => return "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not; set both (and AWS_SESSION_TOKEN for temporary keys), or unset AWS_SECRET_ACCESS_KEY to use a profile".into(),
        _ => {}
    }
    let home = env("HOME").unwrap_or_default();
    let config = env("AWS_CONFIG_FILE").unwrap_or_else(|| format!("{home}/.aws/config"));
    let creds =
        env("AWS_SHARED_CREDENTIALS_FILE").unwrap_or_else(|| format!("{home}/.aws/credentials"));
    let (name, from) = match (profile, env("AWS_PROFILE")) {
        (Some(p), _) => (p.to_string(), "--profile"),
        (None, Some(p)) => (p, "AWS_PROFILE"),
        (None, None) => ("default".to_string(), ""),
    };
    let defined = profile_defined(&name, &config, &creds);
    let shown = crate::text::shown(&name);
    match (from, defined) {
        ("", false) => format!(
            "none in the environment (AWS_ACCESS_KEY_ID), no profile named (AWS_PROFILE, --profile) and no default one in {config} or {creds}, no web identity token, and no container or instance role answered ({why}); set AWS_PROFILE (or --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (-v shows each source's answer)"
        ),
        (from, false) => format!(
            "the profile '{shown}' ({from}) is in neither {config} nor {creds}; name one they define (aws configure list-profiles), or unset {from}"
        ),
        (_, true) => format!(
            "the profile '{shown}' gave none ({why}); check it with `aws sts get-caller-identity --profile {shown}` (for single sign-on: aws sso login --profile {shown})"
        ),
    }
}

/// Whether the AWS config file (`[profile NAME]`, or `[default]`) or the
/// credentials file (`[NAME]`) defines the profile `name`. A file that
/// cannot be read defines nothing.
fn profile_defined(name: &str, config: &str, creds: &str) -> bool {
    let sections = |path: &str| -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                l.strip_prefix('[')?
                    .strip_suffix(']')
                    .map(|s| s.trim().to_string())
            })
            .collect()
    };
    let in_config = sections(config).iter().any(|s| {
        (name == "default" && s == "default")
            || s.strip_prefix("profile ")
                .is_some_and(|rest| rest.trim() == name)
    });
    in_config || sections(creds).iter().any(|s| s == name)
}

/// Where a service's calls go: its endpoint variable's value when set
/// (`AWS_ENDPOINT_URL_<SERVICE>`, else AWS_ENDPOINT_URL), else its
/// regional host.
pub fn endpoint_of(service: &str, host: &str, region: &str) -> String {
    let var = format!("AWS_ENDPOINT_URL_{}", service.to_ascii_uppercase());
    [var.as_str(), "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| format!("{host}.{region}.amazonaws.com"))
}

/// An AWS SDK error, as the SDK crates all share it.
pub type SdkError<E> = aws_smithy_runtime_api::client::result::SdkError<E, HttpResponse>;

/// An SDK error as one line for a person: the service's error code and
/// message when it answered one; else what came back (an HTTP status and
/// content type that are no AWS error: a wrong endpoint, a proxy's page),
/// or why nothing did (the chain of causes' own messages, no debug
/// structure: "dns error: failed to lookup address information"),
/// shortened and with control characters escaped (`text::shown`). The whole
/// structure goes to the debug log (`-v`).
pub fn brief<E>(e: &SdkError<E>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    tracing::debug!(error = %DisplayErrorContext(e), "the SDK's error in full");
    brief_unlogged(e)
}

/// [`brief`] without the debug line: for the answer to a call that
/// carried a password, whose text is redacted before anything shows it.
pub fn brief_unlogged<E>(e: &SdkError<E>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
    let text = match (e.code(), e) {
        (Some(code), _) => match e.message() {
            Some(m) => format!("{code}: {m}"),
            None => code.to_string(),
        },
        (None, SdkError::ServiceError(ctx)) => answer_text(ctx.raw()),
        (None, SdkError::ResponseError(ctx)) => answer_text(ctx.raw()),
        (None, SdkError::TimeoutError(_)) => "no answer in time".to_string(),
        (None, other) => causes(other),
    };
    crate::text::shown(&text)
}

/// Whether the call never reached the service (no connection, no DNS
/// answer, a timeout before any answer), as opposed to an answer.
pub fn unreachable<E>(e: &SdkError<E>) -> bool {
    matches!(e, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_))
}

/// An HTTP answer that is no AWS error: its status and what it holds.
fn answer_text(raw: &HttpResponse) -> String {
    let kind = raw
        .headers()
        .get("content-type")
        .map_or("no content type", |v| v.split(';').next().unwrap_or(v));
    format!(
        "HTTP {} with no AWS error in it ({kind}); is the endpoint an AWS service's?",
        raw.status().as_u16()
    )
}

/// The messages of an error and its causes, each once, joined by ": ".
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(e) = next {
        let text = e.to_string();
        // Causes often repeat their inner message in their own.
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.retain(|p| !text.contains(p.as_str()));
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}
