//! The AWS SDK's configuration, loaded once per client: the region, the
//! profile, credentials resolved up front (a missing profile is a usage
//! error before anything is sent, not a thousand failed calls), timeouts
//! and retries. Endpoints follow the SDK's standard settings
//! (`AWS_ENDPOINT_URL`, or per service `AWS_ENDPOINT_URL_DYNAMODB`, ...)
//! unless the caller names one: `--endpoint-url` is Cognito's alone.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::error::UsageError;

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
}

/// Loads the configuration and resolves credentials once.
pub async fn load(how: Load<'_>) -> Result<SdkConfig, UsageError> {
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
    if let Some(url) = how.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if how.placeholder_credentials {
        loader = loader.test_credentials();
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(UsageError::Missing(
            "--region",
            "name the AWS region, e.g. --region us-east-1 (or set AWS_REGION)",
        ));
    }
    let provider = config
        .credentials_provider()
        .ok_or_else(|| UsageError::Credentials("no credentials provider is configured".into()))?;
    provider
        .provide_credentials()
        .await
        .map_err(|e| UsageError::Credentials(DisplayErrorContext(&e).to_string()))?;
    Ok(config)
}
