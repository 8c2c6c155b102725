//! The pipeline in process, against a scripted pool: each user's answers
//! are written out in the test, so every decision the run makes on them
//! (retry, back off, read back, record, stop) is checked exactly, with no
//! server, timing or randomness in between. The pool is reached through
//! the same seam as the AWS SDK (`cognito::PoolApi`, `cognito::Connect`);
//! the tests over sockets (the simulated pool, moto) check the SDK side.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use cognito_bulk_reset::cognito::{
    Answer, AwsSettings, CallError, CallOk, CallResult, ClientPage, ClientTokens, Cognito, Connect,
    ErrorClass, Operation, Page, PoolApi, UserState,
};
use cognito_bulk_reset::error::UsageError;
use cognito_bulk_reset::identity::{Case, ListedUser, NameRule, PoolFacts};
use cognito_bulk_reset::pipeline;
use cognito_bulk_reset::report::StopReason;
use cognito_bulk_reset::resolve::ResolveMode;
use cognito_bulk_reset::secret::Password;
use cognito_bulk_reset::settings::{Rate, RunArgs, RunSettings};

/// One scripted answer to a password call.
#[derive(Clone)]
enum Say {
    Ok,
    Fail(ErrorClass, &'static str),
    /// The call lands, but its answer is lost (a timeout after sending).
    LandsAnswerLost,
}

/// A pool of CONFIRMED users whose password calls answer as scripted
/// (then `Ok` once the script runs out); a call that lands puts the user
/// in the operation's target status, as Cognito does.
#[derive(Default)]
struct ScriptedPool {
    users: Vec<String>,
    script: Mutex<HashMap<String, VecDeque<Say>>>,
    status: Mutex<HashMap<String, (String, SystemTime)>>,
    /// Password calls per user, and AdminGetUser reads per user.
    calls: Mutex<HashMap<String, u32>>,
    reads: Mutex<HashMap<String, u32>>,
}

impl ScriptedPool {
    fn new(script: &[(&str, &[Say])]) -> Arc<ScriptedPool> {
        Arc::new(ScriptedPool {
            users: script.iter().map(|(u, _)| u.to_string()).collect(),
            script: Mutex::new(
                script
                    .iter()
                    .map(|(u, says)| (u.to_string(), says.iter().cloned().collect()))
                    .collect(),
            ),
            ..ScriptedPool::default()
        })
    }

    fn calls(&self, user: &str) -> u32 {
        self.calls.lock().unwrap().get(user).copied().unwrap_or(0)
    }

    fn reads(&self, user: &str) -> u32 {
        self.reads.lock().unwrap().get(user).copied().unwrap_or(0)
    }

    fn error(class: ErrorClass, code: &str, outcome_unknown: bool) -> CallError {
        CallError {
            class,
            code: code.to_string(),
            message: format!("scripted {code}"),
            request_id: None,
            outcome_unknown,
        }
    }
}

impl PoolApi for ScriptedPool {
    fn apply<'a>(
        &'a self,
        op: &'a Operation,
        username: &'a str,
        _password: Option<&'a Password>,
    ) -> Answer<'a, CallResult> {
        Box::pin(async move {
            *self
                .calls
                .lock()
                .unwrap()
                .entry(username.to_string())
                .or_default() += 1;
            let say = self
                .script
                .lock()
                .unwrap()
                .get_mut(username)
                .and_then(VecDeque::pop_front)
                .unwrap_or(Say::Ok);
            let land = || {
                if let Some(status) = op.target_status() {
                    self.status
                        .lock()
                        .unwrap()
                        .insert(username.to_string(), (status.into(), SystemTime::now()));
                }
            };
            match say {
                Say::Ok => {
                    land();
                    Ok(CallOk { request_id: None })
                }
                Say::Fail(class, code) => Err(Self::error(class, code, false)),
                Say::LandsAnswerLost => {
                    land();
                    Err(Self::error(ErrorClass::Transient, "Timeout", true))
                }
            }
        })
    }

    fn list_clients_page(
        &self,
        _token: Option<String>,
    ) -> Answer<'_, Result<ClientPage, CallError>> {
        Box::pin(async { Ok((Vec::new(), None)) })
    }

    fn describe_client<'a>(&'a self, _id: &'a str) -> Answer<'a, Result<ClientTokens, CallError>> {
        Box::pin(async { panic!("the scripted pool has no app clients") })
    }

    fn list_group_page<'a>(
        &'a self,
        _group: &'a str,
        _token: Option<String>,
    ) -> Answer<'a, Result<Page, CallError>> {
        Box::pin(async { panic!("the scripted runs read no group") })
    }

    fn list_users_page<'a>(
        &'a self,
        filter: Option<&'a str>,
        _token: Option<String>,
    ) -> Answer<'a, Result<Page, CallError>> {
        Box::pin(async move {
            assert!(
                filter.is_none(),
                "the tests resolve by an index of the pool"
            );
            let users = self
                .users
                .iter()
                .map(|u| ListedUser {
                    username: u.clone(),
                    sub: Some(format!("sub-{u}")),
                    status: "CONFIRMED".into(),
                    enabled: true,
                    email: Some(format!("{u}@example.com")),
                    email_verified: true,
                    ..ListedUser::default()
                })
                .collect();
            Ok((users, None))
        })
    }

    fn describe_pool(&self) -> Answer<'_, Result<PoolFacts, CallError>> {
        Box::pin(async move {
            Ok(PoolFacts {
                rule: NameRule {
                    case: Case::Sensitive,
                    username_attributes: vec![],
                    alias_attributes: vec![],
                },
                recovery: vec!["verified_email".into()],
                email_sending_account: "DEVELOPER".into(),
                sms_configured: false,
                tier: Some("ESSENTIALS".into()),
                password_history_size: 0,
                min_password_length: Some(8),
                triggers: vec![],
                estimated_users: self.users.len() as u64,
                arn: None,
            })
        })
    }

    fn provisioned_limit<'a>(&'a self, _category: &'a str) -> Answer<'a, Result<f64, CallError>> {
        Box::pin(async { Ok(30.0) })
    }

    fn user_state<'a>(&'a self, username: &'a str) -> Answer<'a, Result<UserState, CallError>> {
        Box::pin(async move {
            *self
                .reads
                .lock()
                .unwrap()
                .entry(username.to_string())
                .or_default() += 1;
            let (status, last_modified) = self
                .status
                .lock()
                .unwrap()
                .get(username)
                .cloned()
                .unwrap_or(("CONFIRMED".into(), SystemTime::UNIX_EPOCH));
            Ok(UserState {
                status,
                last_modified: Some(last_modified),
                enabled: true,
                verified_contact: true,
            })
        })
    }
}

/// Connects every run to the one scripted pool.
struct Scripted(Arc<ScriptedPool>);

impl Connect for Scripted {
    fn connect<'a>(
        &'a self,
        _aws: &'a AwsSettings,
        pool_id: &'a str,
    ) -> Answer<'a, Result<Cognito, UsageError>> {
        Box::pin(async move { Ok(Cognito::with_api(self.0.clone(), pool_id)) })
    }
}

/// Settings of a reset of `users` (one per row) with the ledger in `dir`.
fn settings(dir: &Path, users: &[&str], more: RunArgs) -> RunSettings {
    let input = dir.join("users.csv");
    std::fs::write(&input, format!("username\n{}\n", users.join("\n"))).unwrap();
    RunArgs {
        user_pool_id: Some("us-east-1_Scripted".into()),
        input: Some(input),
        ledger: Some(dir.join("reset.jsonl")),
        rate: Some(Rate::PerSecond(1000.0)),
        resolve: Some(ResolveMode::Index),
        yes: Some(true),
        ..more
    }
    .check()
    .map(|mut s| {
        // This test's own claims, not the host's: tests run side by side.
        s.claim_dir = Some(dir.join("claims"));
        s
    })
    .unwrap()
}

/// Throttled, transient, refused and lost answers each end as they should:
/// retried until done, recorded failed with the code, or read back instead
/// of called again; a re-run calls no one.
#[tokio::test]
async fn each_scripted_answer_ends_as_it_should() {
    use ErrorClass::*;
    let pool = ScriptedPool::new(&[
        ("alice", &[Say::Fail(Throttled, "TooManyRequestsException")]),
        ("bob", &[Say::Fail(UserFailed, "InvalidParameterException")]),
        ("carol", &[Say::LandsAnswerLost]),
        ("dave", &[Say::Fail(Transient, "InternalErrorException")]),
        ("erin", &[]),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let users = ["alice", "bob", "carol", "dave", "erin"];
    let s = settings(dir.path(), &users, RunArgs::default());
    let first = pipeline::run_with(&Scripted(pool.clone()), &s, std::future::pending(), None)
        .await
        .unwrap();
    assert_eq!((first.succeeded, first.failed), (4, 1));
    assert_eq!(
        first.failed_by_code.get("InvalidParameterException"),
        Some(&1)
    );
    assert_eq!(first.reconciled, 1, "carol's lost answer was read back");
    let calls: Vec<u32> = users.iter().map(|u| pool.calls(u)).collect();
    assert_eq!(calls, [2, 1, 1, 2, 1], "calls per user");
    assert_eq!(pool.reads("carol"), 1);
    assert_eq!(first.exit_code().code(), 1, "some users failed");

    let again = pipeline::run_with(&Scripted(pool.clone()), &s, std::future::pending(), None)
        .await
        .unwrap();
    assert_eq!(again.calls, 0);
    assert_eq!(
        (again.skipped_done, again.skipped_unsuccessful),
        (5, 1),
        "every user skipped, bob's failure among them: {}",
        again.render()
    );
    let calls: Vec<u32> = users.iter().map(|u| pool.calls(u)).collect();
    assert_eq!(calls, [2, 1, 1, 2, 1], "nobody called twice");
}

/// Users failing in a row with one code stop the run at the breaker's
/// count; the users after them are not called.
#[tokio::test]
async fn the_breaker_stops_a_run_of_like_failures() {
    let fail: &[Say] = &[Say::Fail(
        ErrorClass::UserFailed,
        "UserLambdaValidationException",
    )];
    let users = ["u1", "u2", "u3", "u4", "u5", "u6"];
    let script: Vec<(&str, &[Say])> = users.iter().map(|u| (*u, fail)).collect();
    let pool = ScriptedPool::new(&script);
    let dir = tempfile::tempdir().unwrap();
    let s = settings(
        dir.path(),
        &users,
        RunArgs {
            stop_after_failures: Some(3),
            concurrency: Some(1),
            ..RunArgs::default()
        },
    );
    let summary = pipeline::run_with(&Scripted(pool.clone()), &s, std::future::pending(), None)
        .await
        .unwrap();
    assert!(
        matches!(summary.stopped, Some(StopReason::Breaker { count: 3, .. })),
        "{:?}",
        summary.stopped
    );
    assert_eq!(summary.failed, 3);
    let called: u32 = users.iter().map(|u| pool.calls(u)).sum();
    assert_eq!(called, 3, "no call after the breaker tripped");
}

/// set-password: an answer lost after the call landed, then a retry
/// refused as a repeat of a recent password, is a success (the first call
/// landed), with no read; LimitExceeded outlasting the attempts defers the
/// user instead of failing them.
#[tokio::test]
async fn set_password_lost_answers_and_lasting_limits() {
    use ErrorClass::*;
    let limit = Say::Fail(Transient, "LimitExceededException");
    let pool = ScriptedPool::new(&[
        (
            "pat",
            &[
                Say::LandsAnswerLost,
                Say::Fail(UserFailed, "PasswordHistoryPolicyViolationException"),
            ],
        ),
        ("lim", &[limit.clone(), limit.clone(), limit]),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("users.csv");
    std::fs::write(
        &input,
        "username,password\npat,Pw-0001-abcd\nlim,Pw-0002-abcd\n",
    )
    .unwrap();
    let s = RunArgs {
        user_pool_id: Some("us-east-1_Scripted".into()),
        input: Some(input),
        ledger: Some(dir.path().join("set.jsonl")),
        action: Some(cognito_bulk_reset::ledger::Action::SetPassword),
        rate: Some(Rate::PerSecond(1000.0)),
        resolve: Some(ResolveMode::Index),
        max_attempts: Some(2),
        yes: Some(true),
        ..RunArgs::default()
    }
    .check()
    .map(|mut s| {
        s.claim_dir = Some(dir.path().join("claims"));
        s
    })
    .unwrap();
    let summary = pipeline::run_with(&Scripted(pool.clone()), &s, std::future::pending(), None)
        .await
        .unwrap();
    assert_eq!(
        (
            summary.succeeded,
            summary.reconciled,
            summary.deferred,
            summary.failed
        ),
        (1, 1, 1, 0),
        "{}",
        summary.render()
    );
    assert_eq!((pool.calls("pat"), pool.reads("pat")), (2, 0));
    assert_eq!(pool.calls("lim"), 2, "two attempts, then deferred");
    assert_eq!(summary.exit_code().code(), 75, "a limit that clears later");
}
