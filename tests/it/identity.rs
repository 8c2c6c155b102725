//! One person, one message: rows are resolved to the person Cognito would
//! resolve them to (case, aliases, sub), and the pool is read before the
//! first call (DescribeUserPool: recovery, email sender, case, aliases).

use std::collections::HashMap;
use std::time::Duration;

use cognito_sim::{
    self as sim, Behaviour, EmailSending, LoginAttribute, PoolSettings, SimHandle, SimUser, Status,
};

use crate::support::*;

fn ci_aliases() -> PoolSettings {
    PoolSettings {
        case_insensitive: true,
        alias_attributes: vec![LoginAttribute::Email, LoginAttribute::PreferredUsername],
        ..PoolSettings::default()
    }
}

/// A second name for generated user `i` of a case-insensitive pool with
/// email and preferred_username aliases: another case, the email in another
/// case, the preferred_username, or the sub. User `i % 50 == 41` has an
/// unverified email, which is no alias: it gets another case instead.
fn second_name(sim: &SimHandle, i: usize) -> String {
    let name = sim::population_name(i);
    match i % 4 {
        _ if i % 50 == 41 => name.to_uppercase(),
        0 => name.to_uppercase(),
        1 => sim::population_email(i)
            .replace("user", "User")
            .replace("example", "EXAMPLE"),
        2 => format!("NICK-{i:06}"),
        _ => sim.user(&name).unwrap().sub,
    }
}

/// Rows naming 200 people, 80 of them twice (the second name first for
/// half of those).
fn two_names_each(sim: &SimHandle) -> Vec<String> {
    let mut rows = Vec::new();
    for i in 0..200 {
        let name = sim::population_name(i);
        if i < 80 {
            if i % 2 == 0 {
                rows.push(second_name(sim, i));
                rows.push(name);
            } else {
                rows.push(name);
                rows.push(second_name(sim, i));
            }
        } else {
            rows.push(name);
        }
    }
    rows
}

/// In a case-insensitive pool with email and preferred_username aliases, 280 rows naming 200 people (80 of them twice: in another case, by email, by preferred_username or by sub) make one call per person, by the index and by lookups alike; the summary counts 80 duplicate rows naming their earlier line, the ledger keys every person by the canonical username, and resolving bills no one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_named_several_ways_get_one_call() {
    for how in ["index", "lookup"] {
        let t = Scratch::new();
        let sim = sim_pool(200, ci_aliases(), unlimited()).await;
        let input = t.users_csv(two_names_each(&sim));
        let ledger = t.path("l.jsonl");
        let mut cmd = t.bin();
        cmd.args(run_args(&sim, &input, &ledger)).args([
            "--rate",
            "2000",
            "--list-rate",
            "2000",
            "--resolve",
            how,
        ]);
        let out = finish(cmd).await;
        assert_eq!(out.code, 1, "{how}: ineligible users fail: {out:?}");
        let stats = sim.stats();
        assert_eq!(stats.users_with_repeat_messages, 0, "{how}: {stats:?}");
        assert_eq!(
            stats.mutating_requests, 200,
            "{how}: one call per person: {stats:?}"
        );
        assert_eq!(stats.mau, 0, "{how}: resolving billed no one");
        for name in resettable(200) {
            assert_eq!(sim.user(&name).unwrap().messages, 1, "{how}: {name}");
        }
        let o = outcomes_by_person(&ledger);
        assert_eq!(o.len(), 200, "{how}: one outcome per person");
        for i in 0..200 {
            assert!(
                o.contains_key(&sim::population_name(i)),
                "{how}: user {i} is keyed by its canonical username"
            );
        }
        assert!(
            out.stdout.contains("duplicate rows       80"),
            "{how}: {out:?}"
        );
        assert!(
            out.stdout.contains("line 3: same person as line 2"),
            "{how}: {out:?}"
        );
        // A re-run finds everyone done, resolving nothing again.
        let mut cmd = t.bin();
        cmd.args(run_args(&sim, &input, &ledger)).args([
            "--rate",
            "2000",
            "--list-rate",
            "2000",
            "--resolve",
            how,
        ]);
        let again = finish(cmd).await;
        assert_eq!(again.code, 1, "{how}: {again:?}");
        // A row the first run recorded under its own name counts as done
        // before; one it passed over as a duplicate is a duplicate again
        // (lookups in a case-insensitive pool also tell another case of a
        // name apart without asking: 20 more duplicates).
        let (done, dup) = if how == "index" { (240, 40) } else { (220, 60) };
        assert!(
            again
                .stdout
                .contains(&format!("skipped, done before {done} "))
                && again
                    .stdout
                    .contains(&format!("duplicate rows       {dup} ")),
            "{how}: {again:?}"
        );
        assert_eq!(
            sim.stats().mutating_requests,
            200,
            "{how}: nothing called again"
        );
    }
}

/// In a case-sensitive pool, Bob and bob are two people: both are reset; BOB names nobody and fails UserNotFoundException.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_sensitive_pool_keeps_two_people_apart() {
    for how in ["index", "lookup"] {
        let t = Scratch::new();
        let sim = sim_pool(5, PoolSettings::default(), unlimited()).await;
        sim.put_user("Bob", SimUser::new(Status::Confirmed, true, true));
        sim.put_user("bob", SimUser::new(Status::Confirmed, true, true));
        let input = t.users_csv(["Bob", "bob", "BOB", "Bob"].map(String::from));
        let ledger = t.path("l.jsonl");
        let mut cmd = t.bin();
        cmd.args(run_args(&sim, &input, &ledger))
            .args(["--rate", "2000", "--resolve", how]);
        let out = finish(cmd).await;
        assert_eq!(out.code, 1, "{how}: {out:?}");
        assert_eq!(sim.user("Bob").unwrap().messages, 1, "{how}");
        assert_eq!(sim.user("bob").unwrap().messages, 1, "{how}");
        let o = outcomes_by_person(&ledger);
        assert_eq!(o["BOB"]["code"], "UserNotFoundException", "{how}: {o:?}");
        assert!(
            out.stdout.contains("duplicate rows       1"),
            "{how}: {out:?}"
        );
    }
}

/// With DescribeUserPool denied, the plan says what could not be checked; the run still messages no one twice: exact usernames and subs are reset, rows that might be an alias or another case of someone are not called, with the reason, never guessed (exit 75), and a re-run with the permission back resolves them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_denied_never_messages_twice() {
    let t = Scratch::new();
    let sim = sim_pool(
        100,
        ci_aliases(),
        Behaviour {
            deny: vec!["DescribeUserPool".into()],
            ..unlimited()
        },
    )
    .await;
    let mut rows = Vec::new();
    for i in 0..100 {
        if i < 40 {
            rows.push(second_name(&sim, i));
        }
        rows.push(sim::population_name(i));
    }
    let input = t.users_csv(rows);
    let ledger = t.path("l.jsonl");
    let mut plan = t.bin();
    let mut args = run_args(&sim, &input, &ledger);
    args[0] = "plan".into();
    plan.args(&args).args(["--list-rate", "2000"]);
    let out = finish(plan).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("pool settings        could not be read")
            && out.stdout.contains("not checked: case sensitivity")
            && out.stdout.contains("cognito-idp:DescribeUserPool"),
        "{out:?}"
    );

    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--rate", "2000", "--list-rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 75, "deferred rows: a re-run does them: {out:?}");
    let stats = sim.stats();
    assert_eq!(stats.users_with_repeat_messages, 0, "{stats:?}");
    for name in resettable(100) {
        assert_eq!(sim.user(&name).unwrap().messages, 1, "{name}");
    }
    // Of the 40 second names, the 10 subs resolve exactly; the other 30
    // (another case, an email, a preferred_username) are not called, and
    // the summary says why.
    assert!(out.stdout.contains("unresolved rows      30"), "{out:?}");
    assert!(out.stdout.contains("DescribeUserPool"), "{out:?}");
    assert!(out.stdout.contains("duplicate rows       10"), "{out:?}");
    assert_eq!(outcomes_by_person(&ledger).len(), 100);

    sim.set_behaviour(unlimited());
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--rate", "2000", "--list-rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(sim.stats().users_with_repeat_messages, 0);
    assert!(out.stdout.contains("duplicate rows       30"), "{out:?}");
}

/// A pool whose account recovery is admin-only cannot use AdminResetUserPassword: reset is refused before any call (exit 2), naming --action set-password; plan refuses the same way; set-password works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_only_recovery_refuses_reset() {
    let t = Scratch::new();
    let sim = sim_pool(
        10,
        PoolSettings {
            admin_only_recovery: true,
            ..PoolSettings::default()
        },
        unlimited(),
    )
    .await;
    let input = t.users_csv(resettable(10));
    let ledger = t.path("l.jsonl");
    for verb in ["plan", "run"] {
        let mut args = run_args(&sim, &input, &ledger);
        args[0] = verb.into();
        let mut cmd = t.bin();
        cmd.args(&args);
        let out = finish(cmd).await;
        assert_eq!(out.code, 2, "{verb}: {out:?}");
        assert!(
            out.stderr.contains("admin-only")
                && out.stderr.contains("--action set-password")
                && out.stderr.contains("nothing was sent"),
            "{verb}: {out:?}"
        );
    }
    assert_eq!(sim.stats().mutating_requests, 0);
    assert!(!ledger.exists() || user_records(&ledger).is_empty());

    let out_file = t.path("passwords.csv");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger)).args([
        "--action",
        "set-password",
        "--generate-passwords",
        "--passwords-out",
    ]);
    cmd.arg(&out_file).args(["--rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
}

/// Under Cognito's default email sender, plan and the typed confirmation state the cap of about 50 emails a day, the days this run needs at that cap, and SES as the way to lift it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_email_sender_is_shown_in_plan() {
    let t = Scratch::new();
    let sim = sim_pool(
        130,
        PoolSettings {
            email_sending_account: EmailSending::CognitoDefault,
            ..PoolSettings::default()
        },
        unlimited(),
    )
    .await;
    let input = t.users_csv((0..130).map(sim::population_name));
    let ledger = t.path("l.jsonl");
    let mut args = run_args(&sim, &input, &ledger);
    args[0] = "plan".into();
    let mut cmd = t.bin();
    cmd.args(&args);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    for want in [
        "email                Cognito's default sender (COGNITO_DEFAULT)",
        "about 50 emails a day for the whole account: 130 users need about 3 day(s)",
        "Amazon SES",
        "who is a user        case-sensitive",
        "account recovery     verified_email, verified_phone_number",
        "feature plan         ESSENTIALS",
    ] {
        assert!(out.stdout.contains(want), "expected '{want}' in {out:?}");
    }
    assert_eq!(sim.stats().mutating_requests, 0);

    // The run pauses at the cap (exit 75), naming SES.
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--rate", "2000", "--concurrency", "1"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 75, "{out:?}");
    assert!(
        out.stdout.contains("daily email limit") && out.stdout.contains("SES"),
        "{out:?}"
    );
    assert_eq!(sim.stats().messages, 50);
}

/// set-password never gives a federated (EXTERNAL_PROVIDER) user a password, from a CSV or from the pool's own listing: they are recorded skipped with the reason and never called; --include-federated sets one anyway (and the user becomes CONFIRMED, as Cognito documents).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federated_users_get_no_password() {
    let t = Scratch::new();
    let sim = sim_pool(20, PoolSettings::default(), unlimited()).await;
    for n in ["Google_1111", "Google_2222"] {
        sim.put_user(n, SimUser::new(Status::ExternalProvider, true, true));
    }
    let mut csv = String::from("username,password\n");
    for name in (0..20)
        .map(sim::population_name)
        .chain(["Google_1111".into(), "Google_2222".into()])
    {
        csv.push_str(&format!("{name},Secret-Passw0rd!\n"));
    }
    let input = t.write("passwords.csv", csv);
    let ledger = t.path("csv.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--action", "set-password", "--rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "skipped users make exit 1: {out:?}");
    assert!(out.stdout.contains("skipped, federated   2"), "{out:?}");
    let o = outcomes(&ledger);
    for n in ["Google_1111", "Google_2222"] {
        let u = sim.user(n).unwrap();
        assert_eq!((u.status, u.calls), (Status::ExternalProvider, 0), "{n}");
        assert_eq!(o[n]["outcome"], "skipped", "{}", o[n]);
        assert!(o[n]["message"]
            .as_str()
            .unwrap()
            .contains("EXTERNAL_PROVIDER"));
    }

    // From the pool's listing, with generated passwords.
    let pool_ledger = t.path("pool.jsonl");
    let mut args = run_args(&sim, std::path::Path::new("-"), &pool_ledger);
    let i = args.iter().position(|a| a == "--input").unwrap();
    args.drain(i..i + 2);
    let mut cmd = t.bin();
    cmd.args(&args).args([
        "--from-pool",
        "--action",
        "set-password",
        "--generate-passwords",
        "--passwords-out",
    ]);
    cmd.arg(t.path("generated.csv")).args(["--rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    for n in ["Google_1111", "Google_2222"] {
        assert_eq!(sim.user(n).unwrap().calls, 0, "{n}: never called");
    }
    let generated = std::fs::read_to_string(t.path("generated.csv")).unwrap();
    assert!(!generated.contains("Google_"), "no password made for them");

    // --include-federated: the operator's explicit choice.
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &t.path("incl.jsonl")))
        .args([
            "--action",
            "set-password",
            "--include-federated",
            "--rate",
            "2000",
        ]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(sim.user("Google_1111").unwrap().status, Status::Confirmed);
}

/// Killed at random moments while resetting a case-insensitive alias pool from rows that name people several ways, then re-run: nobody gets a second message, everybody who can be reset gets one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_over_aliases_after_kills() {
    const USERS: usize = 600;
    let t = Scratch::new();
    let sim = sim_pool(
        USERS,
        ci_aliases(),
        Behaviour {
            quota_recovery: 150.0,
            latency_ms: 3,
            drop_rate: 0.02,
            ..unlimited()
        },
    )
    .await;
    let mut rows = Vec::new();
    for i in 0..USERS {
        let name = sim::population_name(i);
        if i % 3 == 0 {
            rows.push(second_name(&sim, i));
        }
        rows.push(if i % 2 == 0 {
            name.to_uppercase()
        } else {
            name
        });
    }
    let input = t.users_csv(rows);
    let ledger = t.path("l.jsonl");
    let args = run_args(&sim, &input, &ledger);
    let extra = ["--rate", "300", "--list-rate", "2000", "--read-rate", "500"];
    let mut rng = fastrand::Rng::with_seed(0xa11a5);
    for _ in 0..6 {
        let mut cmd = t.bin();
        cmd.args(&args).args(extra);
        kill_after(cmd, Duration::from_millis(rng.u64(200..900))).await;
        assert_eq!(sim.stats().users_with_repeat_messages, 0);
    }
    let mut cmd = t.bin();
    cmd.args(&args).args(extra);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    let stats = sim.stats();
    assert_eq!(stats.users_with_repeat_messages, 0, "{stats:?}");
    for name in resettable(USERS) {
        assert_eq!(sim.user(&name).unwrap().messages, 1, "{name}");
    }
    let o = outcomes_by_person(&ledger); // panics on two outcomes for one person
    assert_eq!(o.len(), USERS);
}

/// A ledger written before rows were resolved (records keyed by the row's own text, no `user`) resumes without a second message: the people it finished are skipped, whichever name this input uses for them, and only the rest are called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledgers_from_before_resolution_still_resume() {
    let t = Scratch::new();
    let sim = sim_pool(40, ci_aliases(), unlimited()).await;
    let rows: Vec<String> = (0..40)
        .map(|i| {
            if i % 2 == 0 {
                sim::population_email(i)
            } else {
                sim::population_name(i).to_uppercase()
            }
        })
        .collect();
    // The earlier version reset the first 20 rows and recorded them under
    // the rows' text.
    let mut text = String::from("{\"record\":\"header\",\"tool_version\":\"0.1.0\",\"pool_id\":\"us-east-1_SimPool01\",\"action\":\"reset\",\"region\":\"us-east-1\",\"input\":\"users.csv\",\"started_at\":\"2026-11-01T00:00:00.000Z\",\"pid\":1,\"host\":\"h\"}\n");
    let mut seen = HashMap::new();
    for (i, row) in rows.iter().enumerate().take(20) {
        let name = sim::population_name(i);
        if sim::population_resettable(i) {
            let mut u = sim.user(&name).unwrap();
            u.status = Status::ResetRequired;
            u.messages = 1;
            sim.put_user(&name, u);
        }
        seen.insert(name, ());
        text.push_str(&format!(
            "{{\"record\":\"intent\",\"username\":\"{row}\",\"line\":{},\"at\":\"2026-11-01T00:00:01.000Z\"}}\n{{\"record\":\"user\",\"username\":\"{row}\",\"outcome\":\"succeeded\",\"line\":{},\"attempts\":1,\"at\":\"2026-11-01T00:00:02.000Z\"}}\n",
            i + 2,
            i + 2
        ));
    }
    let ledger = t.write("old.jsonl", text);
    // The same command, now also naming four of the finished people by
    // another name than the earlier run used.
    let mut more = rows.clone();
    more.extend((0..20).step_by(5).map(|i| {
        if i % 2 == 0 {
            sim::population_name(i).to_uppercase()
        } else {
            sim::population_name(i)
        }
    }));
    let input = t.users_csv(more);
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger))
        .args(["--rate", "2000", "--list-rate", "2000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.contains("skipped, done before 24"), "{out:?}");
    assert_eq!(sim.stats().users_with_repeat_messages, 0);
    for i in 0..40 {
        if sim::population_resettable(i) {
            assert_eq!(
                sim.user(&sim::population_name(i)).unwrap().messages,
                1,
                "{i}"
            );
        }
    }
}

/// plan says which of the run's calls bill users as monthly active users: set-password and sign-out do, a reset does not, and the precheck (reading the pool's listing) bills no one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_states_billing() {
    let t = Scratch::new();
    let sim = sim_pool(12, PoolSettings::default(), unlimited()).await;
    let mut csv = String::from("username,password\n");
    for name in resettable(12) {
        csv.push_str(&format!("{name},Secret-Passw0rd!\n"));
    }
    let input = t.write("users.csv", csv);
    let ledger = t.path("l.jsonl");
    let cases: [(&[&str], &str); 3] = [
        (
            &["--action", "set-password"],
            "11 users become billed monthly active users (AdminSetUserPassword)",
        ),
        (
            &["--sign-out"],
            "11 users become billed monthly active users (AdminUserGlobalSignOut (--sign-out))",
        ),
        (
            &["--precheck"],
            "--precheck reads the pool's listing, not each user: it bills no one",
        ),
    ];
    for (flags, want) in cases {
        let mut args = run_args(&sim, &input, &ledger);
        args[0] = "plan".into();
        let mut cmd = t.bin();
        cmd.args(&args).args(flags);
        let out = finish(cmd).await;
        assert_eq!(out.code, 0, "{flags:?}: {out:?}");
        assert!(
            out.stdout.contains(want),
            "{flags:?}: expected '{want}' in {out:?}"
        );
    }
    assert_eq!(sim.stats().mau, 0, "planning bills no one");
}
