//! The fault matrix: each error code of docs/errors.md's table leads to its
//! class's behaviour and exit code, on a fresh simulated pool each.

use cognito_sim::{Behaviour, SimHandle};

use crate::support::*;

const USERS: usize = 20;

fn forced(code: &str, message: &str, rate: f64) -> Behaviour {
    Behaviour {
        error_code: Some(code.into()),
        error_message: message.into(),
        error_rate: rate,
        ..unlimited()
    }
}

/// Runs the users of a fresh pool with `behaviour`; returns the pool, the output and the ledger.
async fn run_case(
    t: &Scratch,
    name: &str,
    behaviour: Behaviour,
    extra: &[&str],
) -> (SimHandle, Finished, std::path::PathBuf) {
    let sim = sim(USERS, behaviour).await;
    let input = t.users_csv(resettable(USERS));
    let ledger = t.path(&format!("{name}.jsonl"));
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--rate", "2000", "--concurrency", "4"])
        .args(extra);
    let out = finish(cmd).await;
    (sim, out, ledger)
}

/// Codes that mean "this user cannot be done now": every user recorded failed with the code, exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_user_codes_fail_the_user_and_go_on() {
    let t = Scratch::new();
    for code in [
        "UserNotFoundException",
        "InvalidParameterException",
        "NotAuthorizedException",
        "InvalidPasswordException",
        "PasswordHistoryPolicyViolationException",
        "UserLambdaValidationException",
        "InvalidLambdaResponseException",
        "UnexpectedLambdaException",
        "CodeNobodyHasSeenException",
    ] {
        let (sim, out, ledger) = run_case(&t, code, forced(code, "injected", 1.0), &[]).await;
        assert_eq!(out.code, 1, "{code}: {out:?}");
        let o = outcomes(&ledger);
        assert_eq!(
            o.len(),
            resettable(USERS).len(),
            "{code}: every user recorded"
        );
        for r in o.values() {
            assert_eq!(
                (r["outcome"].as_str(), r["code"].as_str()),
                (Some("failed"), Some(code)),
                "{code}: {r}"
            );
            assert_eq!(r["attempts"], 1, "{code}: not retried: {r}");
        }
        sim.stop().await;
    }
}

/// Codes that mean "every user would fail": stop at once, exit 3, the code named, no user recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_stopping_codes_stop_with_exit_3() {
    let t = Scratch::new();
    for code in [
        "ResourceNotFoundException",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "ExpiredTokenException",
        "InvalidEmailRoleAccessPolicyException",
        "InvalidSmsRoleAccessPolicyException",
        "InvalidSmsRoleTrustRelationshipException",
        "OperationNotEnabledException",
    ] {
        let (sim, out, ledger) = run_case(&t, code, forced(code, "injected", 1.0), &[]).await;
        assert_eq!(out.code, 3, "{code}: {out:?}");
        assert!(
            out.stdout.contains(code) && out.stdout.contains("STOPPED"),
            "{code}: {out:?}"
        );
        assert!(outcomes(&ledger).is_empty(), "{code}: no user recorded");
        assert!(
            sim.stats().recovery_requests <= 4,
            "{code}: stopped at once ({} reset requests)",
            sim.stats().recovery_requests
        );
        sim.stop().await;
    }
}

/// Retryable codes (throttling, a resource limit, internal error) half the time: every user still succeeds, messaged once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_codes_are_retried_to_success() {
    let t = Scratch::new();
    for (code, message) in [
        ("TooManyRequestsException", "Too many requests"),
        (
            "LimitExceededException",
            "Limit exceeded for the requested resource.",
        ),
        ("InternalErrorException", "Internal error"),
    ] {
        let (sim, out, ledger) = run_case(
            &t,
            code,
            forced(code, message, 0.5),
            &["--max-attempts", "20"],
        )
        .await;
        assert_eq!(out.code, 0, "{code}: {out:?}");
        let o = outcomes(&ledger);
        assert!(
            o.values().any(|r| r["attempts"].as_u64() > Some(1)),
            "{code}: some users were retried"
        );
        for name in resettable(USERS) {
            assert_eq!(o[&name]["outcome"], "succeeded", "{code}: {name}");
            assert_eq!(sim.user(&name).unwrap().messages, 1, "{code}: {name}");
        }
        sim.stop().await;
    }
}

/// The daily email limit pauses the run (exit 75) naming the cause and the fix; once the limit is lifted the same command finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_email_limit_pauses_then_resumes() {
    let t = Scratch::new();
    let daily = "Exceeded daily email limit for the operation or the account. If a higher limit is required, please configure your user pool to use your own Amazon SES configuration for sending email.";
    let sim = sim(USERS, unlimited()).await;
    let names = resettable(USERS);
    let input = t.users_csv(names.clone());
    let ledger = t.path("l.jsonl");
    let args = run_args(&sim, &input, &ledger);
    // The limit is reached after the first users: let 5 through, then refuse.
    let mut cmd = t.bin();
    cmd.args(&args).args(["--rate", "5", "--concurrency", "1"]);
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while sim.stats().messages < 5 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    sim.set_behaviour(forced("LimitExceededException", daily, 1.0));
    let out = finish_child(child).await;
    let stdout = &out.stdout;
    assert_eq!(out.code, 75, "{out:?}");
    assert!(
        stdout.contains("PAUSED")
            && stdout.contains("daily email limit")
            && stdout.contains("SES")
            && stdout.contains("tomorrow"),
        "{stdout}"
    );
    assert!(stdout.contains("run the same command again"), "{stdout}");
    let done = outcomes(&ledger).len();
    assert!(done >= 5 && done < names.len(), "paused part-way ({done})");

    sim.set_behaviour(unlimited());
    let mut cmd = t.bin();
    cmd.args(&args).args(["--rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    for name in &names {
        assert_eq!(sim.user(name).unwrap().messages, 1, "{name}");
    }
}

/// A run-wide LimitExceeded that outlasts every attempt defers users; five in a row pause the run (exit 75), and a later run finishes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_limit_exceeded_defers_and_pauses() {
    let t = Scratch::new();
    let (sim, out, ledger) = run_case(
        &t,
        "persist",
        forced(
            "LimitExceededException",
            "Limit exceeded for the requested resource.",
            1.0,
        ),
        &["--max-attempts", "2"],
    )
    .await;
    assert_eq!(out.code, 75, "{out:?}");
    assert!(
        out.stdout
            .contains("outlasted every attempt for 5 users in a row"),
        "{out:?}"
    );
    let deferred = user_records(&ledger)
        .iter()
        .filter(|r| r["outcome"] == "deferred")
        .count();
    assert!(deferred >= 5, "users were deferred ({deferred})");
    assert!(
        outcomes(&ledger).is_empty(),
        "no final outcome for deferred users"
    );

    sim.set_behaviour(unlimited());
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &t.path("users.csv"), &ledger))
        .args(["--rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let o = outcomes(&ledger);
    for name in resettable(USERS) {
        assert_eq!(o[&name]["outcome"], "succeeded", "{name}");
    }
}

/// The breaker: the last N users failing with one code stop the run (exit 3, naming the code); once fixed, --retry-failed redoes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_stops_after_a_run_of_one_code() {
    let t = Scratch::new();
    let (sim, out, ledger) = run_case(
        &t,
        "breaker",
        forced(
            "UserLambdaValidationException",
            "PreCustomMessage failed",
            1.0,
        ),
        &["--stop-after-failures", "6"],
    )
    .await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stdout
            .contains("the last 6 users all failed with UserLambdaValidationException"),
        "{out:?}"
    );
    assert!(out.stdout.contains("--retry-failed"), "{out:?}");
    let failed = outcomes(&ledger).len();
    assert!(
        (6..6 + 4).contains(&failed),
        "stopped after 6 failures, plus calls in flight ({failed})"
    );

    sim.set_behaviour(unlimited());
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &t.path("users.csv"), &ledger))
        .args(["--rate", "2000", "--retry-failed"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let o = outcomes_last(&ledger);
    for name in resettable(USERS) {
        assert_eq!(o[&name]["outcome"], "succeeded", "{name}");
        assert_eq!(sim.user(&name).unwrap().messages, 1, "{name}");
    }
}

/// A user's own attempt limit ("Attempt limit exceeded", after more reset attempts in an hour than Cognito allows one user) defers that user without a retry and without pausing the run: every other user is done in the same run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_user_attempt_limit_defers_without_pausing() {
    let t = Scratch::new();
    let sim = sim(
        USERS,
        Behaviour {
            reset_attempts_per_hour: 5,
            ..unlimited()
        },
    )
    .await;
    // Eight users have used up their attempts for the hour already: their
    // reset attempts come from other tools, five each.
    let names = resettable(USERS);
    let limited: Vec<String> = names.iter().take(8).cloned().collect();
    for name in &limited {
        sim.spend_reset_attempts(name, 5);
    }
    let input = t.users_csv(names.clone());
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--rate", "2000", "--concurrency", "1"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 75, "deferred users make a paused exit: {out:?}");
    assert!(
        !out.stdout.contains("PAUSED"),
        "the run was not paused: {out:?}"
    );
    assert!(out.stdout.contains("deferred             8"), "{out:?}");
    let records = user_records(&ledger);
    for name in &limited {
        let r = records
            .iter()
            .find(|r| r["username"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} recorded"));
        assert_eq!(
            (
                r["outcome"].as_str(),
                r["code"].as_str(),
                r["attempts"].as_u64()
            ),
            (Some("deferred"), Some("LimitExceededException"), Some(1)),
            "{name}: deferred at once, not retried: {r}"
        );
    }
    for name in names.iter().skip(8) {
        assert_eq!(
            sim.user(name).unwrap().messages,
            1,
            "{name} reset in the same run"
        );
    }
}
