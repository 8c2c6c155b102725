//! Pointing a process that uses an AWS SDK at the simulated pool, and at
//! nothing else: the tests and the benchmarks start their clients this way.

use std::path::Path;
use std::process::Command;

/// Variables of the host's AWS set-up that would send a client elsewhere
/// or give it other credentials.
const HOST_AWS_VARS: &[&str] = &[
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_CLOUDWATCH",
    "AWS_SESSION_TOKEN",
    "RUST_LOG",
    "XDG_STATE_HOME",
];

/// Gives `cmd` placeholder credentials (the simulated pool checks none)
/// and nothing of the host's AWS set-up: no profile, region or endpoint
/// from the environment, config and credentials files that do not exist
/// (under `scratch`), no instance metadata, and STS and CloudWatch at a
/// closed loopback port. Cognito's endpoint is the caller's to give
/// (`--endpoint-url`). Its home is `scratch` too, so that what a tool keeps
/// in the home folder (state, claims) stays with the process's own test
/// or benchmark.
pub fn isolate_aws_env(cmd: &mut Command, scratch: &Path) {
    for var in HOST_AWS_VARS {
        cmd.env_remove(var);
    }
    cmd.env("HOME", scratch)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", scratch.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            scratch.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // STS and CloudWatch follow the SDK's endpoint settings, never
        // --endpoint-url: a closed loopback port, so that a client that
        // would reach AWS fails at once. Tests that use them point these
        // at the simulation.
        .env("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1")
        .env("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:1");
}
