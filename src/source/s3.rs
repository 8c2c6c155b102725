//! The user list as an S3 object (`--input s3://BUCKET/KEY`), streamed into
//! the CSV reader a chunk at a time, never downloaded whole: memory stays
//! flat however large the object. The only code that knows the S3 SDK.
//!
//! The object's version (its version id where the bucket keeps versions,
//! else its ETag) is recorded in the ledger's header, so that a resume can
//! tell when the list changed under the job. The endpoint follows the
//! SDK's settings (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL); where one is set
//! (a test, an S3-compatible store), requests use path-style addressing.

use std::io::{self, BufRead, Read};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use bytes::Bytes;

use crate::error::UsageError;

/// The prefix that names an S3 object.
pub const SCHEME: &str = "s3://";

/// `s3://BUCKET/KEY`, split; `None` if `value` is no S3 address.
pub fn parse(value: &str) -> Option<Result<(String, String), String>> {
    let rest = value.strip_prefix(SCHEME)?;
    Some(match rest.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
            Ok((bucket.to_string(), key.to_string()))
        }
        _ => Err(format!(
            "'{value}' names no object; write s3://BUCKET/KEY, e.g. s3://migrations/batch-42.csv"
        )),
    })
}

/// An S3 object opened for reading.
pub struct S3Object {
    /// Its version id, else its ETag: what the ledger records.
    pub version: String,
    pub size: u64,
    body: ByteStream,
}

/// Reads the object's metadata and opens its body; sends nothing that
/// changes anything. `region`: the bucket's (the pool's unless given).
pub async fn open(
    bucket: &str,
    key: &str,
    region: &str,
    profile: Option<&str>,
) -> Result<S3Object, UsageError> {
    let config = crate::aws::load(crate::aws::Load {
        region: Some(region),
        profile,
        endpoint_url: None,
        sdk_retries: true,
        attempt_timeout: Duration::from_secs(60),
        placeholder_credentials: false,
        role: None,
    })
    .await?;
    // A custom endpoint is rarely reachable by virtual-hosted names.
    let custom = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    let client = Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(custom)
            .build(),
    );
    let name = format!("{SCHEME}{bucket}/{key}");
    let refused = |op: &str, text: String| {
        UsageError::Input {
        path: name.clone(),
        reason: format!(
            "{op} failed ({text}); check the bucket, the key, the region (--region) and s3:GetObject on it"
        ),
    }
    };
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| refused("GetObject", crate::aws::brief(&e)))?;
    let version = match (out.version_id(), out.e_tag()) {
        (Some(v), _) if v != "null" => format!("version {v}"),
        (_, Some(etag)) => format!("etag {etag}"),
        _ => String::new(),
    };
    Ok(S3Object {
        version,
        size: out.content_length().map_or(0, |n| n.max(0) as u64),
        body: out.body,
    })
}

impl S3Object {
    /// The body as a blocking reader, to use on a blocking thread (it waits
    /// on the runtime `handle` for each chunk).
    pub fn reader(self, handle: tokio::runtime::Handle) -> S3Reader {
        S3Reader {
            body: self.body,
            handle,
            chunk: Bytes::new(),
            done: false,
        }
    }
}

/// An S3 object's body, a chunk at a time.
pub struct S3Reader {
    body: ByteStream,
    handle: tokio::runtime::Handle,
    chunk: Bytes,
    done: bool,
}

impl BufRead for S3Reader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.chunk.is_empty() && !self.done {
            match self.handle.block_on(self.body.next()) {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => {
                    return Err(io::Error::other(format!("reading the S3 object: {e}")))
                }
                None => self.done = true,
            }
        }
        Ok(&self.chunk)
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.chunk.len());
        let _ = self.chunk.split_to(n);
    }
}

impl Read for S3Reader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        crate::bufio::read_from_buf(self, out)
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    /// s3://BUCKET/KEY splits at the first slash; anything else is no S3 address, or a bad one.
    #[test]
    fn addresses() {
        assert_eq!(
            parse("s3://b/dir/k.csv").unwrap().unwrap(),
            ("b".to_string(), "dir/k.csv".to_string())
        );
        assert!(parse("users.csv").is_none());
        assert!(parse("s3://bucket").unwrap().is_err());
        assert!(parse("s3:///key").unwrap().is_err());
    }
}
