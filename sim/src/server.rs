//! The simulation's HTTP side: AWS JSON 1.1 over HTTP/1.1 on hyper.
//!
//! Order of events for a call: latency, quota (TooManyRequests), injected
//! faults (5xx, LimitExceeded, a forced error code), the operation itself,
//! then an injected drop (carried out, but the connection closes with no
//! reply) or a slow reply (carried out, the answer delayed).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::accounts::{self, BucketKey};
use super::pool::{ApiError, Pool};
use super::{latency, stats, Category, State};

/// The injected "connection dropped" fault: returning it makes hyper close
/// the connection without a response.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

type Reply = Result<Response<Full<Bytes>>, Dropped>;

pub(super) async fn serve(listener: TcpListener, state: Arc<State>, shutdown: CancellationToken) {
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of descriptors or similar: back off briefly.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(state.clone(), req));
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = shutdown.cancelled() => {}
            }
        });
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    if req.method() == Method::GET && req.uri().path() == "/sim/stats" {
        let body = serde_json::to_vec(&stats(&state)).unwrap_or_default();
        return Ok(response(StatusCode::OK, "application/json", body, None));
    }
    state.counters.requests.fetch_add(1, Relaxed);
    let request_id = state.request_id();
    let caller = accounts::caller(
        req.headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
    );
    let principal = state.accounts.principal(&caller.access_key);
    let bucket = BucketKey {
        account: principal.account.clone(),
        region: caller.region.clone(),
    };
    let form = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let path = req.uri().path().to_string();
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    if req_is_cloudwatch(&path) {
        let (status, cbor) = super::cloudwatch::get_metric_data(&state, &bucket, &body);
        let mut r = response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            "application/cbor",
            cbor,
            Some(&request_id),
        );
        r.headers_mut().insert(
            "smithy-protocol",
            hyper::header::HeaderValue::from_static("rpc-v2-cbor"),
        );
        return Ok(r);
    }
    if caller.service == "sts" || form {
        let (status, xml) = state
            .accounts
            .sts(&caller, &body, &state.behaviour().deny_roles);
        return Ok(response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            "text/xml",
            xml.into_bytes(),
            Some(&request_id),
        ));
    }
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => {
                return Ok(error(
                    &ApiError::new("SerializationException", "request body is not JSON"),
                    &request_id,
                ));
            }
        }
    };
    let op = target
        .strip_prefix("AWSCognitoIdentityProviderService.")
        .unwrap_or(&target);
    // An operation the caller's IAM policy does not allow is refused before
    // anything else (Cognito's common errors: AccessDeniedException).
    if state.behaviour().deny.iter().any(|d| d == op) {
        return Ok(error(
            &ApiError::new(
                "AccessDeniedException",
                format!(
                    "User: {} is not authorized to perform: cognito-idp:{op} on resource: {}",
                    principal.arn,
                    input
                        .get("UserPoolId")
                        .and_then(Value::as_str)
                        .unwrap_or("*")
                ),
            ),
            &request_id,
        ));
    }
    let category = match op {
        "AdminResetUserPassword" | "AdminSetUserPassword" => Category::Recovery,
        "AdminGetUser" => Category::Read,
        // Quotas page, "API operation categories": both are UserList.
        "ListUsers" | "ListUsersInGroup" => Category::List,
        // Quotas page, "API operation categories": the three are UserUpdate.
        "AdminUserGlobalSignOut" | "AdminDisableUser" | "AdminEnableUser" => Category::Update,
        "AdminCreateUser" => Category::Create,
        "DescribeUserPool" | "ListUserPools" => Category::PoolRead,
        // Quotas page: the app client reads are UserPoolClientRead.
        "ListUserPoolClients" | "DescribeUserPoolClient" => Category::ClientRead,
        "GetProvisionedLimit" => {
            let b = state.behaviour();
            let category = input
                .pointer("/LimitDefinition/Attributes/Category")
                .and_then(Value::as_str)
                .unwrap_or("");
            let quota = match category {
                "UserAccountRecovery" => b.quota_recovery,
                "UserRead" => b.quota_read,
                "UserList" => b.quota_list,
                "UserUpdate" => b.quota_update,
                "UserCreation" => b.quota_create,
                _ => {
                    return Ok(error(
                        &ApiError::new(
                            "InvalidParameterException",
                            format!("unknown category '{category}'"),
                        ),
                        &request_id,
                    ))
                }
            };
            let out = json!({ "Limit": {
                "LimitDefinition": { "LimitClass": "API_CATEGORY", "Attributes": { "Category": category } },
                "ProvisionedLimitValue": quota as i64,
                "FreeLimitValue": 30,
            }});
            return Ok(response(
                StatusCode::OK,
                "application/x-amz-json-1.1",
                serde_json::to_vec(&out).unwrap_or_default(),
                Some(&request_id),
            ));
        }
        _ => {
            return Ok(error(
                &ApiError::new(
                    "UnknownOperationException",
                    format!("the simulated pool does not implement '{op}'"),
                ),
                &request_id,
            ))
        }
    };
    let mutating = matches!(category, Category::Recovery | Category::Update);
    if mutating {
        state.counters.mutating_requests.fetch_add(1, Relaxed);
    }
    if category == Category::Recovery {
        state.counters.recovery_request();
    }

    let b = state.behaviour();
    if b.latency_ms > 0 {
        tokio::time::sleep(latency(&b)).await;
    }
    let admitted = state.take_token(&bucket, category);
    state.count(&bucket, category, !admitted);
    if !admitted {
        state.counters.throttled.fetch_add(1, Relaxed);
        return Ok(error(
            &ApiError::new("TooManyRequestsException", "Too many requests"),
            &request_id,
        ));
    }
    if chance(b.fail_rate) {
        let n = state.counters.faults.fetch_add(1, Relaxed);
        if n.is_multiple_of(2) {
            return Ok(error(
                &ApiError::new("InternalErrorException", "Internal error (injected)"),
                &request_id,
            ));
        }
        return Ok(response(
            StatusCode::BAD_GATEWAY,
            "text/html",
            b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
            None,
        ));
    }
    if chance(b.limit_exceeded_rate) {
        // A resource limit that clears in seconds (LimitExceededException,
        // "thrown when a user exceeds the limit for a requested AWS
        // resource", API reference, Common errors of the operations). The
        // per-user "Attempt limit exceeded" is modelled in `pool`.
        state.counters.faults.fetch_add(1, Relaxed);
        return Ok(error(
            &ApiError::new(
                "LimitExceededException",
                "Limit exceeded for the requested resource (injected).",
            ),
            &request_id,
        ));
    }
    if let Some(code) = b
        .error_code
        .as_deref()
        .filter(|_| category == Category::Recovery && chance(b.error_rate))
    {
        state.counters.faults.fetch_add(1, Relaxed);
        return Ok(error(
            &ApiError::new(code, b.error_message.clone()),
            &request_id,
        ));
    }

    // The pool the id names, in the caller's account and region; a
    // request with no id goes to the main pool, which says what is missing.
    let pool: Option<&Pool> = match input.get("UserPoolId").and_then(Value::as_str) {
        Some(id) => state.find_pool(&bucket, id),
        None => Some(&state.pool),
    };
    let result = match pool {
        // ListUserPools names no pool: the account and region's.
        _ if op == "ListUserPools" => list_user_pools(&state, &bucket, &input),
        None => Err(ApiError::new(
            "ResourceNotFoundException",
            format!(
                "User pool {} does not exist.",
                input
                    .get("UserPoolId")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ),
        )),
        Some(pool) => match op {
            "AdminResetUserPassword" => {
                pool.admin_reset_user_password(&input, b.reset_attempts_per_hour)
            }
            "AdminSetUserPassword" => pool.admin_set_user_password(&input, b.password_history),
            "AdminGetUser" => pool.admin_get_user(&input),
            "ListUsers" => pool.list_users(&input),
            "ListUsersInGroup" => pool.list_users_in_group(&input),
            "ListUserPoolClients" => pool.list_user_pool_clients(&input),
            "DescribeUserPoolClient" => pool.describe_user_pool_client(&input),
            "AdminUserGlobalSignOut" => pool.admin_user_global_sign_out(&input),
            "AdminDisableUser" => pool.admin_set_enabled(&input, false),
            "AdminEnableUser" => pool.admin_set_enabled(&input, true),
            "AdminCreateUser" => pool.admin_create_user(&input),
            "DescribeUserPool" => {
                pool.describe_user_pool(&input, b.password_history, &bucket.account)
            }
            _ => unreachable!("operations were matched above"),
        },
    };
    if result.is_ok() {
        state.counters.applied(op);
    }
    if mutating && chance(b.drop_rate) {
        state.counters.faults.fetch_add(1, Relaxed);
        return Err(Dropped);
    }
    if mutating && chance(b.slow_rate) {
        state.counters.faults.fetch_add(1, Relaxed);
        tokio::time::sleep(Duration::from_millis(b.slow_ms)).await;
    }
    Ok(match result {
        Ok(out) => response(
            StatusCode::OK,
            "application/x-amz-json-1.1",
            serde_json::to_vec(&out).unwrap_or_default(),
            Some(&request_id),
        ),
        Err(e) => error(&e, &request_id),
    })
}

/// ListUserPools (API reference): the pools of the caller's account in the
/// region, `MaxResults` (1..60, required) at a time, `NextToken` for the
/// next page; each with its Id and Name.
fn list_user_pools(state: &State, bucket: &BucketKey, input: &Value) -> Result<Value, ApiError> {
    let max = input
        .get("MaxResults")
        .and_then(Value::as_u64)
        .filter(|m| (1..=60).contains(m))
        .ok_or_else(|| {
            ApiError::new(
                "InvalidParameterException",
                "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 60",
            )
        })? as usize;
    let start: usize = match input.get("NextToken").and_then(Value::as_str) {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| ApiError::new("InvalidParameterException", "Invalid NextToken"))?,
    };
    let mine: Vec<&Pool> = state
        .pools()
        .filter(|(account, p)| {
            *account == bucket.account && super::pool_region(&p.pool_id) == bucket.region
        })
        .map(|(_, p)| p)
        .collect();
    let page: Vec<Value> = mine
        .iter()
        .skip(start)
        .take(max)
        .map(|p| json!({ "Id": p.pool_id, "Name": p.name, "Status": "Enabled" }))
        .collect();
    let mut out = json!({ "UserPools": page });
    if start + max < mine.len() {
        out["NextToken"] = json!((start + max).to_string());
    }
    Ok(out)
}

/// CloudWatch's RPC v2 CBOR path for GetMetricData.
fn req_is_cloudwatch(path: &str) -> bool {
    path == super::cloudwatch::PATH
}

fn chance(p: f64) -> bool {
    p > 0.0 && fastrand::f64() < p
}

fn error(e: &ApiError, request_id: &str) -> Response<Full<Bytes>> {
    let body =
        serde_json::to_vec(&json!({ "__type": e.code, "message": e.message })).unwrap_or_default();
    let mut r = response(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        "application/x-amz-json-1.1",
        body,
        Some(request_id),
    );
    if let Ok(v) = e.code.parse() {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

fn response(
    status: StatusCode,
    content_type: &str,
    body: Vec<u8>,
    request_id: Option<&str>,
) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", content_type);
    if let Some(id) = request_id {
        builder = builder.header("x-amzn-requestid", id);
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
