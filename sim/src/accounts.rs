//! Accounts, regions and STS: who a request comes from and where it goes.
//!
//! - **Account.** A request's access key names its account, as in AWS
//!   (IAM User Guide, "Manage access keys for IAM users": an access key
//!   belongs to one principal of one account). Keys this simulation did not
//!   issue belong to [`DEFAULT_ACCOUNT`] (moto's default account too); keys
//!   issued by its AssumeRole belong to the role's account.
//! - **Region.** SigV4's credential scope names the region a request was
//!   signed for (IAM User Guide, "Elements of an AWS API request
//!   signature": `Credential=KEY/DATE/REGION/SERVICE/aws4_request`). Cognito
//!   endpoints are regional ("Amazon Cognito endpoints and quotas", AWS
//!   General Reference), so a pool is found only through its own region.
//! - **Quotas** are per account and region, shared by every pool in them
//!   (Cognito Developer Guide, "Quotas in Amazon Cognito": "API request
//!   rate quotas apply to all the user pools in an AWS account in a
//!   Region"); [`BucketKey`] keys them.
//! - **STS**: AssumeRole and GetCallerIdentity over the AWS Query protocol
//!   (form-encoded POST, XML answers; STS API Reference, "AssumeRole",
//!   "GetCallerIdentity", and "Common errors").

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// The account of access keys the simulation did not issue.
pub const DEFAULT_ACCOUNT: &str = "123456789012";

/// The region of requests with no SigV4 credential scope.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where a request's quota is counted: account and region.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucketKey {
    pub account: String,
    pub region: String,
}

impl std::fmt::Display for BucketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.account, self.region)
    }
}

/// Who signed a request, read from its `Authorization` header.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub access_key: String,
    pub region: String,
    pub service: String,
}

/// The access key, region and service of a SigV4 `Authorization` header;
/// defaults where the header is absent or not SigV4.
pub fn caller(authorization: Option<&str>) -> Caller {
    let scope = authorization
        .and_then(|h| h.split("Credential=").nth(1))
        .and_then(|c| c.split([',', ' ']).next())
        .unwrap_or("");
    let mut parts = scope.split('/');
    let access_key = parts.next().unwrap_or("").to_string();
    let _date = parts.next();
    let region = parts
        .next()
        .filter(|r| !r.is_empty())
        .unwrap_or(DEFAULT_REGION)
        .to_string();
    let service = parts.next().unwrap_or("").to_string();
    Caller {
        access_key,
        region,
        service,
    }
}

/// A principal: its account, ARN, and for an assumed role its session.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub account: String,
    pub arn: String,
    pub session: Option<String>,
}

/// The keys AssumeRole issued, and the role sessions they belong to.
#[derive(Default)]
pub struct Accounts {
    issued: Mutex<HashMap<String, Principal>>,
    next: AtomicU64,
    /// Role sessions opened, by session name (for the stats: CloudTrail
    /// shows a session name on every call made with its keys).
    pub sessions: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Accounts {
    /// The principal an access key belongs to.
    pub fn principal(&self, access_key: &str) -> Principal {
        self.issued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(access_key)
            .cloned()
            .unwrap_or_else(|| Principal {
                account: DEFAULT_ACCOUNT.to_string(),
                arn: format!("arn:aws:iam::{DEFAULT_ACCOUNT}:user/simulated"),
                session: None,
            })
    }

    /// Answers an STS request: `body` is the form-encoded query.
    /// `denied_roles` are roles whose trust policy does not let the caller
    /// in (AssumeRole answers AccessDenied, 403).
    pub fn sts(&self, caller: &Caller, body: &[u8], denied_roles: &[String]) -> (u16, String) {
        let form = parse_form(body);
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let request_id = format!("{:08x}-5757-4000-8000-000000000000", fastrand::u32(..));
        match get("Action") {
            Some("GetCallerIdentity") => {
                let p = self.principal(&caller.access_key);
                let user_id = match &p.session {
                    Some(s) => format!("AROASIMULATEDROLE:{s}"),
                    None => "AIDASIMULATEDUSER".to_string(),
                };
                (
                    200,
                    format!(
                        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
                         <GetCallerIdentityResult><Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account></GetCallerIdentityResult>\
                         <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
                        xml(&p.arn),
                        xml(&user_id),
                        p.account
                    ),
                )
            }
            Some("AssumeRole") => {
                let (Some(role), Some(session)) = (get("RoleArn"), get("RoleSessionName")) else {
                    return sts_error(
                        400,
                        "Sender",
                        "ValidationError",
                        "RoleArn and RoleSessionName are required",
                        &request_id,
                    );
                };
                // RoleSessionName: 2..64 characters of [\w+=,.@-] (API
                // reference, AssumeRole, Request Parameters).
                if session.len() < 2
                    || session.len() > 64
                    || !session
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
                {
                    return sts_error(400, "Sender", "ValidationError", &format!("1 validation error detected: Value '{session}' at 'roleSessionName' failed to satisfy constraint"), &request_id);
                }
                // arn:aws:iam::ACCOUNT:role/NAME
                let fields: Vec<&str> = role.split(':').collect();
                let valid = fields.len() == 6
                    && fields[0] == "arn"
                    && fields[2] == "iam"
                    && fields[4].len() == 12
                    && fields[4].bytes().all(|b| b.is_ascii_digit())
                    && fields[5].starts_with("role/");
                if !valid {
                    return sts_error(
                        400,
                        "Sender",
                        "ValidationError",
                        &format!("{role} is invalid"),
                        &request_id,
                    );
                }
                let caller_arn = self.principal(&caller.access_key).arn;
                if denied_roles.iter().any(|d| d == role) {
                    return sts_error(
                        403,
                        "Sender",
                        "AccessDenied",
                        &format!("User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role}"),
                        &request_id,
                    );
                }
                let account = fields[4].to_string();
                let role_name = fields[5].trim_start_matches("role/");
                let n = self.next.fetch_add(1, Relaxed);
                let key = format!("ASIASIM{account}{n:05}");
                let arn = format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}");
                self.issued
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(
                        key.clone(),
                        Principal {
                            account: account.clone(),
                            arn: arn.clone(),
                            session: Some(session.to_string()),
                        },
                    );
                *self
                    .sessions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(session.to_string())
                    .or_default() += 1;
                let expires = time_in(3600);
                (
                    200,
                    format!(
                        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
                         <Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>simulated-secret</SecretAccessKey>\
                         <SessionToken>simulated-session-token-{n}</SessionToken><Expiration>{expires}</Expiration></Credentials>\
                         <AssumedRoleUser><AssumedRoleId>AROASIMULATEDROLE:{}</AssumedRoleId><Arn>{}</Arn></AssumedRoleUser>\
                         </AssumeRoleResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></AssumeRoleResponse>",
                        xml(session),
                        xml(&arn)
                    ),
                )
            }
            other => sts_error(
                400,
                "Sender",
                "InvalidAction",
                &format!("Could not find operation {}", other.unwrap_or("")),
                &request_id,
            ),
        }
    }
}

fn sts_error(
    status: u16,
    kind: &str,
    code: &str,
    message: &str,
    request_id: &str,
) -> (u16, String) {
    (
        status,
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>{kind}</Type>\
             <Code>{code}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            xml(message)
        ),
    )
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `application/x-www-form-urlencoded` pairs, decoded.
fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An ISO 8601 UTC time `secs` from now, as STS writes expirations.
fn time_in(secs: u64) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + secs;
    let (days, rem) = (t / 86_400, t % 86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_credential_scope() {
        let c = caller(Some("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261129/eu-west-1/cognito-idp/aws4_request, SignedHeaders=host, Signature=abc"));
        assert_eq!(c.access_key, "AKIDEXAMPLE");
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(c.service, "cognito-idp");
        assert_eq!(caller(None).region, DEFAULT_REGION);
    }

    #[test]
    fn assumed_keys_belong_to_the_role_account() {
        let a = Accounts::default();
        let c = caller(None);
        let (status, body) = a.sts(
            &c,
            b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A222222222222%3Arole%2Fx&RoleSessionName=run-1",
            &[],
        );
        assert_eq!(status, 200, "{body}");
        let key = body
            .split("<AccessKeyId>")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap();
        let p = a.principal(key);
        assert_eq!(p.account, "222222222222");
        assert_eq!(p.arn, "arn:aws:sts::222222222222:assumed-role/x/run-1");
        assert_eq!(a.principal("test").account, DEFAULT_ACCOUNT);
        let (status, body) = a.sts(
            &c,
            b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A333333333333%3Arole%2Fx&RoleSessionName=run-1",
            &["arn:aws:iam::333333333333:role/x".to_string()],
        );
        assert_eq!(status, 403);
        assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
        assert!(time_in(0).ends_with('Z') && time_in(0).len() == 20);
    }
}
