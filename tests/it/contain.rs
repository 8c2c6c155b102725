//! Containing an incident beyond a reset: `--action disable` (and `enable`,
//! the way back) against the simulated pool, with its quota, faults and
//! lost answers; the flags that do not apply to an action refused before
//! any call.

use cognito_sim::{self as sim, Behaviour, LoginAttribute, PoolSettings};

use crate::support::*;

/// `run` arguments as `plan`'s (no `--yes`: plan asks nothing).
fn as_plan(args: &[String]) -> Vec<String> {
    let mut plan: Vec<String> = args.iter().filter(|a| *a != "--yes").cloned().collect();
    plan[0] = "plan".into();
    plan
}

/// Users the generated population holds disabled already (i % 50 == 23).
fn disabled_at_start(i: usize) -> bool {
    i % 50 == 23
}

/// --action disable over 300 users with a UserUpdate quota below --rate, 5xx and lost answers: every user ends disabled with exactly one outcome, no message sent and no status changed; users the listing showed disabled already are recorded succeeded with a detail, never called; a re-run calls no one; --action enable brings every user back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_then_enable() {
    const USERS: usize = 300;
    let t = Scratch::new();
    let sim = sim(
        USERS,
        Behaviour {
            quota_update: 150.0,
            fail_rate: 0.03,
            drop_rate: 0.03,
            ..unlimited()
        },
    )
    .await;
    let statuses: Vec<_> = (0..USERS)
        .map(|i| sim.user(&sim::population_name(i)).unwrap().status)
        .collect();
    let input = t.users_csv((0..USERS).map(sim::population_name));
    let ledger = t.path("disable.jsonl");
    let args = with(run_args(&sim, &input, &ledger), "--action", "disable");
    // The plan says who will not be called, and why, from the same rule.
    let plan = as_plan(&args);
    let mut cmd = t.bin();
    cmd.args(&plan);
    let planned = finish(cmd).await;
    assert_eq!(planned.code, 0, "{planned:?}");
    assert!(
        planned.stdout.contains(&format!(
            "users to do          {USERS} (6 of them not called)\n    not called         6: the user is disabled already (the pool's listing)"
        )),
        "{planned:?}"
    );
    assert_eq!(sim.stats().applied.get("AdminDisableUser"), None);
    let mut cmd = t.bin();
    cmd.args(&args).args(["--rate", "400"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "already disabled is not a failure: {out:?}");
    let o = outcomes(&ledger);
    assert_eq!(o.len(), USERS, "one outcome each");
    let mut skipped = 0;
    for (i, before) in statuses.iter().enumerate() {
        let name = sim::population_name(i);
        let u = sim.user(&name).unwrap();
        assert!(!u.enabled, "{name} is disabled");
        assert_eq!(u.messages, 0, "{name}: disabling sends no message");
        assert_eq!(&u.status, before, "{name}: the status is left as it was");
        if disabled_at_start(i) {
            skipped += 1;
            assert_eq!(o[&name]["outcome"], "succeeded", "{name}");
            assert_eq!(o[&name]["detail"], "already_disabled", "{name}");
            assert_eq!(o[&name]["attempts"], 0, "{name}");
            assert_eq!(u.calls, 0, "{name} was not called");
        } else {
            assert_eq!(o[&name]["outcome"], "succeeded", "{name}: {}", o[&name]);
            assert_eq!(u.access_revocations, 1, "{name}");
        }
    }
    let stats = sim.stats();
    assert!(stats.throttled > 0 && stats.faults > 0, "{stats:?}");
    assert!(
        out.stdout.contains(&format!(
            "succeeded            {USERS} ({skipped} already so in the pool's listing, not called)"
        )),
        "{out:?}"
    );
    assert_eq!(ledger_header(&ledger)["action"], "disable");

    // Again: the ledger finished everyone.
    let applied = sim.stats().applied.get("AdminDisableUser").copied();
    let mut cmd = t.bin();
    cmd.args(&args).args(["--rate", "400"]);
    let again = finish(cmd).await;
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(
        sim.stats().applied.get("AdminDisableUser").copied(),
        applied
    );

    // The way back, every user (all disabled now) enabled.
    let back = t.path("enable.jsonl");
    let mut cmd = t.bin();
    cmd.args(with(run_args(&sim, &input, &back), "--action", "enable"))
        .args(["--rate", "400"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    for i in 0..USERS {
        let name = sim::population_name(i);
        assert!(sim.user(&name).unwrap().enabled, "{name} is enabled again");
    }
    assert_eq!(
        outcomes(&back)
            .values()
            .filter(|r| r["outcome"] == "succeeded")
            .count(),
        USERS
    );
}

/// A flag of one action given with another stops the run before any call, naming the actions it applies to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_of_other_actions_are_refused() {
    let t = Scratch::new();
    let sim = sim(10, unlimited()).await;
    let input = t.users_csv((0..10).map(sim::population_name));
    let ledger = t.path("l.jsonl");
    for (action, flags, says) in [
        (
            "disable",
            vec!["--sign-out"],
            "--sign-out: it applies to --action reset only, not to --action disable",
        ),
        (
            "enable",
            vec!["--precheck"],
            "--precheck: it applies to --action reset only",
        ),
        (
            "disable",
            vec!["--permanent"],
            "--permanent: it applies to --action set-password only",
        ),
        (
            "sign-out",
            vec!["--sign-out"],
            "--action sign-out signs users out already",
        ),
        (
            "reset",
            vec!["--include-federated"],
            "--include-federated: it applies to --action set-password only",
        ),
        (
            "set-password",
            vec!["--client-metadata", "a=b"],
            "--client-metadata: it applies to --action reset only",
        ),
    ] {
        let mut cmd = t.bin();
        cmd.args(with(run_args(&sim, &input, &ledger), "--action", action))
            .args(&flags);
        let out = finish(cmd).await;
        assert_eq!(out.code, 2, "{action} {flags:?}: {out:?}");
        assert!(
            out.stderr.contains(says),
            "{action} {flags:?}: {}",
            out.stderr
        );
    }
    assert_eq!(sim.stats().requests, 0, "nothing was called");
    assert!(!ledger.exists());
}

/// --exclude: people on the lists are never called, however the input names them (another case, the email alias, the sub), and however the list names them (a plain list with a comment, a CSV); plan counts them; each is recorded `excluded` with the file and line once, not again on a re-run; a person taken off the lists is done by the next run; a list entry that cannot be read, or a CSV list whose header does not name the username column, stops the run before any call, as does a list that is the input itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_people_are_never_touched() {
    let t = Scratch::new();
    let sim = sim_pool(
        120,
        PoolSettings {
            case_insensitive: true,
            alias_attributes: vec![LoginAttribute::Email],
            ..PoolSettings::default()
        },
        unlimited(),
    )
    .await;
    let names = resettable(120);
    // The input names user 2 by its email; the lists name the others
    // another way.
    let mut rows = names.clone();
    rows[2] = sim::population_email(2);
    let input = t.users_csv(rows);
    let sub = sim.user(&sim::population_name(1)).unwrap().sub;
    let glass = t.write(
        "break-glass.txt",
        format!("# break-glass accounts\nUSER-000000\n{sub}\n\nUser-000002@Example.com\nnobody-at-all\n"),
    );
    // A spreadsheet's CSV, with its byte-order mark.
    let admins = t.write("admins.csv", "\u{feff}username,team\nuser-000003,ops\n");
    let ledger = t.path("l.jsonl");
    let args = run_args(&sim, &input, &ledger);
    let excluding = |lists: &[&std::path::Path]| {
        let mut a = args.clone();
        for l in lists {
            a.push("--exclude".into());
            a.push(l.display().to_string());
        }
        a
    };
    let spared = |sim: &cognito_sim::SimHandle, n: usize| {
        (0..n).all(|i| sim.user(&sim::population_name(i)).unwrap().calls == 0)
    };

    let plan = as_plan(&excluding(&[&glass, &admins]));
    let mut cmd = t.bin();
    cmd.args(&plan);
    let planned = finish(cmd).await;
    assert_eq!(planned.code, 0, "{planned:?}");
    assert!(
        planned.stdout.contains(
            "excluded             4 of the input's rows (--exclude: never called; the lists name 4 people; 1 of their names match no one in the pool)"
        ),
        "{planned:?}"
    );

    let mut cmd = t.bin();
    cmd.args(excluding(&[&glass, &admins]));
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "an exclusion is no failure: {out:?}");
    assert!(spared(&sim, 4), "no excluded person was called");
    assert!(out.stdout.contains("excluded             4"), "{out:?}");
    let excluded = |ledger: &std::path::Path| {
        user_records(ledger)
            .into_iter()
            .filter(|r| r["outcome"] == "excluded")
            .collect::<Vec<_>>()
    };
    let recorded = excluded(&ledger);
    assert_eq!(recorded.len(), 4, "{recorded:?}");
    let by_user: std::collections::HashMap<String, String> = recorded
        .iter()
        .map(|r| {
            (
                r["user"]
                    .as_str()
                    .or(r["username"].as_str())
                    .unwrap()
                    .to_string(),
                r["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        by_user["user-000000"].ends_with("break-glass.txt:2"),
        "{by_user:?}"
    );
    assert!(
        by_user["user-000001"].ends_with("break-glass.txt:3"),
        "{by_user:?}"
    );
    assert!(
        by_user["user-000002"].ends_with("break-glass.txt:5"),
        "{by_user:?}"
    );
    assert!(
        by_user["user-000003"].ends_with("admins.csv:2"),
        "{by_user:?}"
    );
    for name in &names[4..] {
        assert_eq!(sim.user(name).unwrap().messages, 1, "{name}");
    }

    // Again: nothing to do, no second record.
    let mut cmd = t.bin();
    cmd.args(excluding(&[&glass, &admins]));
    let again = finish(cmd).await;
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(excluded(&ledger).len(), 4);
    assert!(spared(&sim, 4));

    // user-000003 taken off the lists: the next run does them.
    let mut cmd = t.bin();
    cmd.args(excluding(&[&glass]));
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(sim.user("user-000003").unwrap().messages, 1);
    assert!(spared(&sim, 3));
    assert_eq!(
        outcomes_last(&ledger)["user-000003"]["outcome"],
        "succeeded"
    );
    let mut status = t.bin();
    status.args(["status", "--ledger"]).arg(&ledger);
    let shown = finish(status).await;
    assert!(
        shown
            .stdout
            .contains("excluded   3 (--exclude: never called)"),
        "{shown:?}"
    );

    // An entry that cannot be read, or the input named as a list: stopped
    // before any call.
    let requests = sim.stats().requests;
    let bad = t.write("bad.txt", "user-000005\n   \n");
    let headless = t.write("team.csv", "login,team\nuser-000005,ops\n");
    for (lists, says) in [
        (vec![bad.as_path()], "bad.txt: line 2"),
        (
            vec![headless.as_path()],
            "team.csv: line 1: 'login,team' holds ',', so this looks like a CSV",
        ),
        (vec![input.as_path()], "--exclude"),
    ] {
        let mut cmd = t.bin();
        cmd.args(excluding(&lists));
        let out = finish(cmd).await;
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains(says), "{}", out.stderr);
    }
    assert!(sim.user("user-000005").unwrap().messages == 1);
    assert!(
        sim.stats().requests - requests <= 4,
        "at most the pool's reads before the lists were read"
    );
}

/// `run` arguments with the users from a group, not an input file.
fn group_args(sim: &cognito_sim::SimHandle, group: &str, ledger: &std::path::Path) -> Vec<String> {
    let mut args = run_args(sim, std::path::Path::new("unused.csv"), ledger);
    let at = args.iter().position(|a| a == "--input").unwrap();
    args.drain(at..at + 2);
    args.extend(["--from-group".into(), group.into()]);
    args
}

/// --from-group takes the users from ListUsersInGroup (paged, 60 at a time) and --exclude-group spares a group's members: members of both are recorded `excluded` and never called, users outside the group are never called, the rest are reset once; a group the pool does not have, or --filter with --from-group, stops the run before any call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_as_input_and_as_exclusions() {
    let t = Scratch::new();
    let sim = sim(300, unlimited()).await;
    let members: Vec<String> = (0..150).map(sim::population_name).collect();
    let admins = vec![sim::population_name(5), sim::population_name(120)];
    sim.add_group("compromised", &members);
    sim.add_group("admins", &admins);
    let ledger = t.path("group.jsonl");
    let args = group_args(&sim, "compromised", &ledger);

    let mut plan = as_plan(&args);
    plan.extend(["--exclude-group".into(), "admins".into()]);
    let mut cmd = t.bin();
    cmd.args(&plan);
    let planned = finish(cmd).await;
    assert_eq!(planned.code, 0, "{planned:?}");
    assert!(
        planned
            .stdout
            .contains("users to do          148")
            && planned.stdout.contains("excluded             2 of the input's rows (--exclude: never called; the lists name 2 people)"),
        "{planned:?}"
    );

    let mut cmd = t.bin();
    cmd.args(&args)
        .args(["--exclude-group", "admins", "--rate", "500"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "members that cannot be reset fail: {out:?}");
    let o = outcomes(&ledger);
    assert_eq!(o.len(), 150, "every member has one outcome");
    for i in 0..300 {
        let name = sim::population_name(i);
        let u = sim.user(&name).unwrap();
        if admins.contains(&name) {
            assert_eq!(o[&name]["outcome"], "excluded", "{name}");
            assert_eq!(o[&name]["message"], "excluded by --exclude-group admins");
            assert_eq!(u.calls, 0, "{name}");
        } else if i < 150 {
            assert_eq!(u.calls, 1, "{name}");
            assert_eq!(
                u.messages,
                u32::from(sim::population_resettable(i)),
                "{name}"
            );
        } else {
            assert_eq!(u.calls, 0, "{name} is no member");
        }
    }
    assert!(
        sim.stats().applied["ListUsersInGroup"] >= 4,
        "{:?}",
        sim.stats()
    );
    assert_eq!(
        ledger_header(&ledger)["input"],
        "the group compromised (ListUsersInGroup)"
    );

    let resets = sim.stats().applied["AdminResetUserPassword"];
    let other = t.path("other.jsonl");
    for (extra, says) in [
        (
            vec!["--from-group", "nosuch"],
            "--from-group: the pool has no group 'nosuch'",
        ),
        (
            vec!["--from-group", "compromised", "--exclude-group", "nosuch"],
            "--exclude-group: the pool has no group 'nosuch'",
        ),
        (
            vec!["--from-group", "compromised", "--filter", "email ^= \"a\""],
            "ListUsersInGroup takes no filter",
        ),
    ] {
        let mut a = group_args(&sim, "x", &other);
        a.truncate(a.len() - 2);
        let mut cmd = t.bin();
        cmd.args(&a).args(&extra);
        let out = finish(cmd).await;
        assert_eq!(out.code, 2, "{extra:?}: {out:?}");
        assert!(out.stderr.contains(says), "{extra:?}: {}", out.stderr);
    }
    assert_eq!(
        sim.stats().applied["AdminResetUserPassword"],
        resets,
        "no reset after the refusals"
    );
    assert_eq!(
        sim.counters()
            .mutating_requests
            .load(std::sync::atomic::Ordering::Relaxed),
        150 - 2
    );
}

/// --canary 50: the run does the job's first 50 people and stops with exit 4 and a report of what the wave found; the same command again calls no one and says the wave is done; with --continue it finishes the job from the ledger, no user called twice; --canary 10% is a share of the input's rows; a bad size, or a share of an input that cannot be counted, stops before any call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_wave_then_continue() {
    const USERS: usize = 500;
    let t = Scratch::new();
    let sim = sim(USERS, unlimited()).await;
    let input = t.users_csv((0..USERS).map(sim::population_name));
    let ledger = t.path("l.jsonl");
    let args = run_args(&sim, &input, &ledger);
    let resets = |sim: &cognito_sim::SimHandle| {
        sim.counters()
            .mutating_requests
            .load(std::sync::atomic::Ordering::Relaxed)
    };

    let plan = as_plan(&args);
    let mut cmd = t.bin();
    cmd.args(&plan).args(["--canary", "10%"]);
    let planned = finish(cmd).await;
    assert_eq!(planned.code, 0, "{planned:?}");
    assert!(
        planned
            .stdout
            .contains("canary wave          50 people, then the run stops (exit 4)"),
        "{planned:?}"
    );

    let mut cmd = t.bin();
    cmd.args(&args).args(["--canary", "50", "--rate", "1000"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 4, "{out:?}");
    assert_eq!(outcomes(&ledger).len(), 50, "the wave's 50 people");
    assert_eq!(resets(&sim), 50);
    for needle in [
        "CANARY WAVE DONE",
        "canary wave done: 50 people (0 of them by earlier runs)",
        "run the same command with --continue",
        "failed               3",
    ] {
        assert!(out.stdout.contains(needle), "{needle}: {out:?}");
    }

    let mut cmd = t.bin();
    cmd.args(&args).args(["--canary", "50", "--rate", "1000"]);
    let again = finish(cmd).await;
    assert_eq!(again.code, 4, "{again:?}");
    assert_eq!(resets(&sim), 50, "the wave is done: nobody more is called");
    assert!(
        again
            .stdout
            .contains("canary wave done: 50 people (50 of them by earlier runs)"),
        "{again:?}"
    );

    let mut cmd = t.bin();
    cmd.args(&args)
        .args(["--canary", "50", "--continue", "--rate", "1000"]);
    let rest = finish(cmd).await;
    assert_eq!(rest.code, 1, "ineligible users fail: {rest:?}");
    let o = outcomes(&ledger); // panics on a second outcome
    assert_eq!(o.len(), USERS);
    for i in 0..USERS {
        let u = sim.user(&sim::population_name(i)).unwrap();
        assert_eq!(u.calls, 1, "user {i} was called once");
    }

    let other = t.path("other.jsonl");
    for (size, says) in [
        ("0", "--canary: '0' is neither a number of people"),
        ("many", "--canary: 'many' is neither"),
    ] {
        let mut cmd = t.bin();
        cmd.args(run_args(&sim, &input, &other))
            .args(["--canary", size]);
        let out = finish(cmd).await;
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains(says), "{}", out.stderr);
    }
    let mut cmd = t.bin();
    cmd.args(with(run_args(&sim, &input, &other), "--input", "-"))
        .args(["--canary", "5%"])
        .stdin(std::fs::File::open(&input).unwrap());
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("a share needs an input file"),
        "{}",
        out.stderr
    );
    assert_eq!(resets(&sim), USERS as u64, "the refusals called no one");
}

/// plan reads the pool's app clients (ListUserPoolClients, DescribeUserPoolClient, paged) and says how long sessions outlive the job, for the action run: the longest access, ID and refresh token lifetimes (units and Cognito's defaults applied) and what a reset, a sign-out or a disable leaves; clients it may not read are said, not fatal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_how_long_sessions_outlive_the_job() {
    let t = Scratch::new();
    let mut clients: Vec<cognito_sim::AppClient> = (0..25)
        .map(|i| cognito_sim::AppClient {
            client_id: format!("client{i:03}"),
            client_name: format!("app-{i}"),
            ..cognito_sim::AppClient::default()
        })
        .collect();
    clients[10] = cognito_sim::AppClient {
        client_id: "client010".into(),
        client_name: "mobile".into(),
        access_token_validity: Some(120),
        id_token_validity: Some(90),
        refresh_token_validity: Some(3650),
        units: Some(["minutes", "minutes", "days"]),
        enable_token_revocation: true,
    };
    let sim = sim_pool(
        10,
        PoolSettings {
            app_clients: clients,
            ..PoolSettings::default()
        },
        unlimited(),
    )
    .await;
    let input = t.users_csv((0..10).map(sim::population_name));
    let ledger = t.path("l.jsonl");
    let plan = |extra: &[&str]| {
        let mut a = as_plan(&run_args(&sim, &input, &ledger));
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let shown = |args: Vec<String>| {
        let mut cmd = t.bin();
        cmd.args(args);
        cmd
    };
    let out = finish(shown(plan(&[]))).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("sessions             20 app client(s): access tokens live up to 2h, ID tokens up to 90m, refresh tokens up to 3650d; token revocation on for 1 of them (the first 20 read; the pool has more)"),
        "{out:?}"
    );
    assert!(out.stdout.contains("a reset ends no session"), "{out:?}");
    let out = finish(shown(plan(&["--sign-out"]))).await;
    assert!(
        out.stdout
            .contains("after the sign-out, access and ID tokens already issued stay valid up to"),
        "{out:?}"
    );
    let out = finish(shown(plan(&["--action", "disable"]))).await;
    assert!(out.stdout.contains("access tokens are revoked"), "{out:?}");
    assert!(
        sim.stats().applied["DescribeUserPoolClient"] == 60,
        "{:?}",
        sim.stats()
    );

    sim.set_behaviour(Behaviour {
        deny: vec!["ListUserPoolClients".into()],
        ..unlimited()
    });
    let out = finish(shown(plan(&[]))).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("sessions             unknown: the app clients could not be read (ListUserPoolClients: AccessDeniedException"),
        "{out:?}"
    );
}

/// --disable beside a reset: each user is reset, signed out (--sign-out), then disabled, each step a record of its own on the UserUpdate limiter; users whose reset failed are neither signed out nor disabled; a job whose first run only reset and signed out is finished by a run with --disable that only disables those users; status and export show the step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_sign_out_then_disable() {
    const USERS: usize = 200;
    let t = Scratch::new();
    let sim = sim(
        USERS,
        Behaviour {
            drop_rate: 0.02,
            ..unlimited()
        },
    )
    .await;
    let names: Vec<String> = (0..USERS).map(sim::population_name).collect();
    let first = t.users_csv(names[..100].to_vec());
    let ledger = t.path("l.jsonl");
    let fast = ["--rate", "500", "--sign-out-rate", "500"];
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &first, &ledger))
        .arg("--sign-out")
        .args(fast);
    assert_eq!(finish(cmd).await.code, 1, "ineligible users fail");

    let all = t.users_csv(names.clone());
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &all, &ledger))
        .args(["--sign-out", "--disable"])
        .args(fast);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    let resettable = (0..USERS)
        .filter(|i| sim::population_resettable(*i))
        .count();
    assert!(
        out.stdout.contains(&format!(
            "disabled             {resettable} (0 disables failed)"
        )),
        "{out:?}"
    );
    let records = user_records(&ledger);
    for (i, name) in names.iter().enumerate() {
        let u = sim.user(name).unwrap();
        let steps: Vec<String> = records
            .iter()
            .filter(|r| r["username"] == name.as_str() && r["outcome"] == "succeeded")
            .map(|r| r["step"].as_str().unwrap_or("action").to_string())
            .collect();
        if sim::population_resettable(i) {
            assert_eq!(u.messages, 1, "{name}");
            // A sign-out whose answer was lost is sent again (it is safe
            // to repeat), so the pool may count two.
            assert!(u.sign_outs >= 1, "{name}: signed out");
            assert!(
                !u.enabled && u.access_revocations == 1,
                "{name} is disabled"
            );
            assert_eq!(steps, ["action", "sign-out", "disable"], "{name}");
        } else {
            assert_eq!((u.sign_outs, u.access_revocations), (0, 0), "{name}");
        }
    }
    assert!(
        out.stdout
            .contains("of the users had their action done by an earlier run"),
        "{out:?}"
    );

    let mut status = t.bin();
    status.args(["status", "--ledger"]).arg(&ledger);
    let shown = finish(status).await;
    assert!(
        shown
            .stdout
            .contains(&format!("disabled   {resettable} (--disable)")),
        "{shown:?}"
    );
    let mut export = t.bin();
    export
        .args(["export", "--format", "jsonl", "--ledger"])
        .arg(&ledger);
    let exported = finish(export).await;
    let row: serde_json::Value = exported
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["username"] == "user-000000")
        .unwrap();
    assert_eq!(
        (&row["outcome"], &row["sign_out"], &row["disable"]),
        (
            &serde_json::json!("succeeded"),
            &serde_json::json!("succeeded"),
            &serde_json::json!("succeeded")
        ),
        "{row}"
    );

    // --disable belongs to a reset.
    let mut cmd = t.bin();
    cmd.args(with(
        run_args(&sim, &all, &t.path("x.jsonl")),
        "--action",
        "sign-out",
    ))
    .arg("--disable");
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("--disable: it applies to --action reset only"),
        "{}",
        out.stderr
    );
}
