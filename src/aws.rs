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
            UsageError::Credentials(format!(
                "STS GetCallerIdentity failed: {}",
                DisplayErrorContext(&e)
            ))
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
        let e = DisplayErrorContext(&e).to_string();
        UsageError::Credentials(match how.role {
            Some(role) => format!("could not assume role {}: {e}", role.arn),
            None => e,
        })
    })?;
    Ok(config)
}
