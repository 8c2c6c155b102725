//! `--fleet`: many pools, accounts and regions as one job, against the
//! simulated Cognito serving several accounts (by access key, keys from its
//! STS AssumeRole belonging to the role's account) and regions (by SigV4
//! scope), with one quota bucket per account and region.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use cognito_sim::{self as sim, Behaviour, ExtraPool, SimConfig, SimHandle, DEFAULT_ACCOUNT};
use serde_json::Value;

use crate::support::*;

const ACCOUNTS: [&str; 3] = [DEFAULT_ACCOUNT, "222222222222", "333333333333"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// A pool of the grid: account `a`, region `r`, pool `k`. The simulation's
/// main pool is the first of the default account in us-east-1.
fn pool_id(a: usize, r: usize, k: usize) -> String {
    if (a, r, k) == (0, 0, 0) {
        "us-east-1_SimPool01".into()
    } else {
        format!("{}_A{a}P{k}", REGIONS[r])
    }
}

/// A simulation of `accounts` x 2 regions x `pools` pools of `users` users.
async fn grid(accounts: usize, pools: usize, users: usize, behaviour: Behaviour) -> SimHandle {
    let mut extra = Vec::new();
    for (a, account) in ACCOUNTS.iter().enumerate().take(accounts) {
        for r in 0..REGIONS.len() {
            for k in 0..pools {
                if (a, r, k) != (0, 0, 0) {
                    extra.push(ExtraPool {
                        account: account.to_string(),
                        pool_id: pool_id(a, r, k),
                        users,
                        name: Some(format!("tenant-A{a}P{k}")),
                    });
                }
            }
        }
    }
    sim::start_local(SimConfig {
        users,
        extra_pools: extra,
        behaviour,
        ..SimConfig::default()
    })
    .await
    .expect("the simulation starts")
}

/// A manifest: `top` (TOML lines), then a target per pool of the grid, the
/// default account's with the caller's own credentials, the others' through
/// a role in their account.
fn manifest(top: &str, accounts: usize, pools: usize) -> String {
    let mut m = String::from(top);
    for (a, account) in ACCOUNTS.iter().enumerate().take(accounts) {
        for r in 0..REGIONS.len() {
            for k in 0..pools {
                let _ = writeln!(m, "\n[[target]]\nuser-pool-id = \"{}\"", pool_id(a, r, k));
                if a > 0 {
                    let _ = writeln!(m, "role-arn = \"arn:aws:iam::{account}:role/bulk-reset\"");
                }
            }
        }
    }
    m
}

/// The binary, with STS at the simulation (AssumeRole, GetCallerIdentity).
fn fleet_cmd(t: &Scratch, sim: &SimHandle, args: &[&str]) -> std::process::Command {
    let mut cmd = t.bin();
    cmd.env("AWS_ENDPOINT_URL_STS", sim.endpoint_url())
        .args(args);
    cmd
}

/// Asserts that every pool messaged each of its resettable users once
/// (the generated population of `users`), and nobody twice; returns how
/// many that is per pool.
fn every_pool_done_once(sim: &SimHandle, users: usize) -> u64 {
    let resettable = (0..users)
        .filter(|&i| sim::population_resettable(i))
        .count() as u64;
    for (pool, p) in &sim.stats().pools {
        assert_eq!(
            p.messages, resettable,
            "{pool}: every resettable user messaged"
        );
        assert_eq!(
            p.users_with_repeat_messages, 0,
            "{pool}: nobody messaged twice"
        );
    }
    resettable
}

/// Runs the same fleet command again to its end (exit 1: every pool has
/// users a reset cannot work for), then [`every_pool_done_once`].
async fn rerun_to_the_end(t: &Scratch, sim: &SimHandle, fleet: &std::path::Path, users: usize) {
    let out = finish_within(
        fleet_cmd(t, sim, &["run", "--fleet", fleet.to_str().unwrap()]),
        120,
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    every_pool_done_once(sim, users);
}

fn summary(path: &PathBuf) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("the fleet's summary")).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_user_of_every_pool_once_and_no_bucket_over_its_quota() {
    // 3 accounts x 2 regions x 4 pools; each account and region's quota is
    // 30/s and the fleet's rate 25/s per account and region, so no call
    // should be throttled though four pools share each bucket.
    let (users, pools) = (40, 4);
    let sim = grid(
        3,
        pools,
        users,
        Behaviour {
            reset_attempts_per_hour: 0,
            ..Behaviour::default()
        },
    )
    .await;
    let t = Scratch::new();
    let top = format!(
        "from-pool = true\nrate = 25\nyes = true\nledger-dir = \"ledgers\"\nendpoint-url = \"{}\"\nsummary-json = \"summary.json\"\n",
        sim.endpoint_url()
    );
    let fleet = t.write("fleet.toml", manifest(&top, 3, pools));
    let out = finish_within(
        fleet_cmd(&t, &sim, &["run", "--fleet", fleet.to_str().unwrap()]),
        120,
    )
    .await;
    // Every pool has users a reset cannot work for: exit 1, some failed.
    assert_eq!(out.code, 1, "{out:?}");
    let stats = sim.stats();
    let resettable = every_pool_done_once(&sim, users);
    assert_eq!(stats.pools.len(), 24);
    assert_eq!(stats.buckets.len(), 6, "{:?}", stats.buckets.keys());
    for (bucket, b) in &stats.buckets {
        assert_eq!(b.throttled, 0, "{bucket}: {b:?}");
        assert!(
            b.recovery_requests >= resettable * pools as u64,
            "{bucket}: {b:?}"
        );
    }
    // CloudTrail ties each role's calls to the run: one session name.
    let s = summary(&t.path("summary.json"));
    let run_id = s["run_id"].as_str().unwrap();
    assert_eq!(
        stats.sessions.keys().collect::<Vec<_>>(),
        vec![&format!("cognito-bulk-reset-{run_id}")]
    );
    assert_eq!(s["targets"].as_array().unwrap().len(), 24);
    assert_eq!(s["exit_code"], 1);
    for row in s["targets"].as_array().unwrap() {
        assert_eq!(row["done"]["succeeded"].as_u64(), Some(resettable), "{row}");
    }
    // One ledger per target, keyed by account, region and pool.
    for (a, account) in ACCOUNTS.iter().enumerate() {
        for (r, region) in REGIONS.iter().enumerate() {
            for k in 0..pools {
                let ledger = t.path(&format!(
                    "ledgers/{account}/{region}/{}-reset.jsonl",
                    pool_id(a, r, k)
                ));
                assert!(ledger.is_file(), "{}", ledger.display());
            }
        }
    }
    // status and export cover every target.
    let f = fleet.to_str().unwrap();
    let status = finish_within(fleet_cmd(&t, &sim, &["status", "--fleet", f, "--json"]), 60).await;
    assert_eq!(status.code, 0, "{status:?}");
    let st: Value = serde_json::from_str(&status.stdout).expect("status JSON");
    let rows = st["targets"].as_array().unwrap();
    assert_eq!(rows.len(), 24);
    assert!(
        rows.iter()
            .all(|r| r["status"]["succeeded"].as_u64() == Some(resettable)),
        "{st}"
    );
    let export = finish_within(fleet_cmd(&t, &sim, &["export", "--fleet", f]), 60).await;
    assert_eq!(export.code, 0, "{export:?}");
    let mut lines = export.stdout.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("account,region,pool_id,username,"),
        "{}",
        export.stdout
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 24 * users);
    assert!(
        rows.iter()
            .any(|r| r.starts_with("333333333333,eu-west-1,eu-west-1_A2P3,user-000000,")),
        "{}",
        export.stdout
    );

    // The same command again: every target resumes, nothing is sent.
    let before = sim.stats().recovery_requests;
    let again = finish_within(
        fleet_cmd(&t, &sim, &["run", "--fleet", fleet.to_str().unwrap()]),
        60,
    )
    .await;
    assert_eq!(again.code, 1, "{again:?}");
    assert_eq!(
        sim.stats().recovery_requests,
        before,
        "a re-run sends nothing"
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_pool_and_a_denied_role_stop_only_their_targets() {
    let sim = grid(
        2,
        1,
        30,
        Behaviour {
            deny_roles: vec!["arn:aws:iam::333333333333:role/bulk-reset".into()],
            ..unlimited()
        },
    )
    .await;
    let t = Scratch::new();
    let m = format!(
        "from-pool = true\nyes = true\nledger-dir = \"ledgers\"\nendpoint-url = \"{url}\"\nsummary-json = \"summary.json\"\n\
         \n[[target]]\nuser-pool-id = \"us-east-1_SimPool01\"\
         \n\n[[target]]\nuser-pool-id = \"us-east-1_NoSuchPool\"\
         \n\n[[target]]\nuser-pool-id = \"eu-west-1_A1P0\"\nrole-arn = \"arn:aws:iam::333333333333:role/bulk-reset\"\
         \n\n[[target]]\nuser-pool-id = \"eu-west-1_A1P0\"\nrole-arn = \"arn:aws:iam::222222222222:role/bulk-reset\"\n",
        url = sim.endpoint_url()
    );
    let fleet = t.write("fleet.toml", m);
    let out = finish_within(
        fleet_cmd(&t, &sim, &["run", "--fleet", fleet.to_str().unwrap()]),
        60,
    )
    .await;
    // The worst of the targets: a pool that does not exist (2).
    assert_eq!(out.code, 2, "{out:?}");
    let stats = sim.stats();
    let resettable = (0..30).filter(|&i| sim::population_resettable(i)).count() as u64;
    assert_eq!(
        stats.pools[&format!("{DEFAULT_ACCOUNT}/us-east-1_SimPool01")].messages,
        resettable
    );
    assert_eq!(
        stats.pools["222222222222/eu-west-1_A1P0"].messages,
        resettable
    );
    let s = summary(&t.path("summary.json"));
    let rows = s["targets"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows[0]["done"].is_object(), "{}", rows[0]);
    let missing = rows[1]["failed"]["error"].as_str().unwrap();
    assert!(missing.contains("us-east-1_NoSuchPool"), "{missing}");
    let denied = rows[2]["failed"]["error"].as_str().unwrap();
    assert!(
        denied.contains("could not assume role arn:aws:iam::333333333333:role/bulk-reset"),
        "{denied}"
    );
    assert!(rows[3]["done"].is_object(), "{}", rows[3]);
    assert!(out.stdout.contains("FAILED"), "{}", out.stdout);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_manifest_exits_2_before_any_call() {
    let sim = grid(1, 1, 10, unlimited()).await;
    let t = Scratch::new();
    let top = format!(
        "from-pool = true\nyes = true\nendpoint-url = \"{}\"\n",
        sim.endpoint_url()
    );
    let cases = [
        ("[[target]]\nuser-pool-id = \"us-east-1_SimPool01\"\nrate = 5\n", "'rate' cannot be set per target"),
        ("[[target]]\nuser-pool-id = \"not a pool\"\n", "invalid user pool id"),
        ("[[target]]\nuser-pool-id = \"us-east-1_SimPool01\"\n[[target]]\nuser-pool-id = \"us-east-1_SimPool01\"\n", "are the same pool"),
        ("[[target]]\nuser-pool-id = \"us-east-1_SimPool01\"\nrole-arn = \"admin\"\n", "is not a role ARN"),
        ("[[target]]\nuser-pool-id = \"us-east-1_SimPool01\"\nfrom-pol = true\n", "unknown field `from-pol`"),
        ("[[target]]\nuser-pool-id = \"us-east-1_SimPool01\"\ninput = \"-\"\n", "reads standard input"),
        (
            "[[target]]\nuser-pool-id = \"us-east-1_SimPool01\"\naction = \"set-password\"\ngenerate-passwords = true\npasswords-out = \"p.csv\"\n\
             [[target]]\nuser-pool-id = \"eu-west-1_A0P0\"\naction = \"set-password\"\ngenerate-passwords = true\npasswords-out = \"./p.csv\"\n",
            "write their passwords to one file",
        ),
    ];
    for (targets, want) in cases {
        let fleet = t.write("fleet.toml", format!("{top}\n{targets}"));
        let before = sim.stats();
        let out = finish_within(
            fleet_cmd(
                &t,
                &sim,
                &[
                    "run",
                    "--fleet",
                    fleet.to_str().unwrap(),
                    "--summary-json",
                    "s.json",
                ],
            ),
            30,
        )
        .await;
        assert_eq!(out.code, 2, "{targets}: {out:?}");
        assert!(out.stderr.contains(want), "{targets}: {out:?}");
        // The summary says so (no earlier run's summary is left to misread).
        let s = summary(&t.path("s.json"));
        assert_eq!(s["exit_code"], 2, "{s}");
        std::fs::remove_file(t.path("s.json")).unwrap();
        let after = sim.stats();
        // Only STS may have been asked whose account a target is in.
        assert_eq!(after.applied, before.applied, "{targets}: no Cognito call");
        assert_eq!(after.recovery_requests, before.recovery_requests);
        assert!(after.pools.values().all(|p| p.messages == 0));
    }
    // A flag a target also sets.
    let fleet = t.write("fleet.toml", format!("{top}\n[[target]]\nuser-pool-id = \"us-east-1_SimPool01\"\nfilter = 'email ^= \"u\"'\n"));
    let out = finish_within(
        fleet_cmd(
            &t,
            &sim,
            &["plan", "--fleet", fleet.to_str().unwrap(), "--filter", "x"],
        ),
        30,
    )
    .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("--filter is given on the command line and [[target]] #1"),
        "{out:?}"
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_fleet_then_rerun_messages_nobody_twice() {
    // 2 accounts x 2 regions x 2 pools of 120 users at 30/s per bucket:
    // about 8 s of calls; SIGKILL after 3 s, then the same command again.
    let (users, pools) = (120, 2);
    let sim = grid(
        2,
        pools,
        users,
        Behaviour {
            reset_attempts_per_hour: 0,
            latency_ms: 20,
            drop_rate: 0.02,
            ..Behaviour::default()
        },
    )
    .await;
    let t = Scratch::new();
    let top = format!(
        "from-pool = true\nrate = 30\nyes = true\nledger-dir = \"ledgers\"\nendpoint-url = \"{}\"\nattempt-timeout = 2\n",
        sim.endpoint_url()
    );
    let fleet = t.write("fleet.toml", manifest(&top, 2, pools));
    kill_after(
        fleet_cmd(&t, &sim, &["run", "--fleet", fleet.to_str().unwrap()]),
        Duration::from_secs(3),
    )
    .await;
    assert!(
        sim.stats().messages > 0,
        "the first run reset some users before the kill"
    );
    rerun_to_the_end(&t, &sim, &fleet, users).await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_tables_find_pools_by_name() {
    // The default account: the main pool ("simulated") and three named
    // tenant-*; account 222222222222: four, of which one is asked for.
    let sim = grid(2, 2, 20, unlimited()).await;
    let t = Scratch::new();
    let m = format!(
        "from-pool = true\nyes = true\nledger-dir = \"ledgers\"\nendpoint-url = \"{}\"\n\
         \n[[discover]]\nregions = [\"us-east-1\", \"eu-west-1\"]\npool-name = \"tenant-*\"\n\
         \n[[discover]]\nrole-arns = [\"arn:aws:iam::222222222222:role/bulk-reset\"]\nregions = [\"eu-west-1\"]\npool-name = \"tenant-A1P?\"\n",
        sim.endpoint_url()
    );
    let fleet = t.write("fleet.toml", m);
    let plan = finish_within(
        fleet_cmd(&t, &sim, &["plan", "--fleet", fleet.to_str().unwrap()]),
        60,
    )
    .await;
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(
        plan.stdout.contains("5 targets in 3 accounts/regions"),
        "{plan:?}"
    );
    assert!(!plan.stdout.contains("us-east-1_SimPool01"), "{plan:?}");
    let out = finish_within(
        fleet_cmd(&t, &sim, &["run", "--fleet", fleet.to_str().unwrap()]),
        60,
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    let stats = sim.stats();
    let touched: Vec<&String> = stats
        .pools
        .iter()
        .filter(|(_, p)| p.messages > 0)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        touched,
        [
            "123456789012/eu-west-1_A0P0",
            "123456789012/eu-west-1_A0P1",
            "123456789012/us-east-1_A0P1",
            "222222222222/eu-west-1_A1P0",
            "222222222222/eu-west-1_A1P1",
        ]
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_manifest_plans() {
    // config/fleet.example.toml against a simulation holding its pools.
    let pool = |account: &str, id: &str, name: &str| ExtraPool {
        account: account.into(),
        pool_id: id.into(),
        users: 30,
        name: Some(name.into()),
    };
    let sim = sim::start_local(SimConfig {
        users: 30,
        extra_pools: vec![
            pool(DEFAULT_ACCOUNT, "us-east-1_Tenant0001", "tenant-0001"),
            pool(DEFAULT_ACCOUNT, "eu-west-1_Tenant0002", "tenant-0002"),
            pool("222222222222", "us-east-1_Tenant0003", "tenant-0003"),
            pool("333333333333", "us-east-1_Tenant0004", "tenant-0004"),
            pool("333333333333", "eu-west-1_Tenant0005", "tenant-0005"),
            pool("333333333333", "eu-west-1_Other0006", "other-0006"),
        ],
        behaviour: unlimited(),
        ..SimConfig::default()
    })
    .await
    .expect("the simulation starts");
    let t = Scratch::new();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config/fleet.example.toml");
    let url = sim.endpoint_url();
    let out = finish_within(
        fleet_cmd(
            &t,
            &sim,
            &["plan", "--fleet", example, "--endpoint-url", &url],
        ),
        60,
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    for id in [
        "us-east-1_Tenant0001",
        "eu-west-1_Tenant0002",
        "us-east-1_Tenant0003",
        "us-east-1_Tenant0004",
        "eu-west-1_Tenant0005",
    ] {
        assert!(out.stdout.contains(id), "{id}: {out:?}");
    }
    assert!(!out.stdout.contains("Other0006"), "{out:?}");
    assert!(
        out.stdout.contains("5 targets in 5 accounts/regions"),
        "{out:?}"
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_email_limit_pauses_only_its_account() {
    // The default sender's cap (50 a day) is the account's: two pools of
    // the default account hold 78 resettable users between them; the one
    // pool of account 222222222222 holds 19.
    let sim = sim::start_local(SimConfig {
        users: 40,
        pool: cognito_sim::PoolSettings {
            email_sending_account: cognito_sim::EmailSending::CognitoDefault,
            daily_email_cap: 50,
            ..cognito_sim::PoolSettings::default()
        },
        extra_pools: vec![
            ExtraPool {
                account: DEFAULT_ACCOUNT.into(),
                pool_id: "eu-west-1_Second".into(),
                users: 40,
                name: None,
            },
            ExtraPool {
                account: "222222222222".into(),
                pool_id: "us-east-1_Other".into(),
                users: 20,
                name: None,
            },
        ],
        behaviour: unlimited(),
        ..SimConfig::default()
    })
    .await
    .expect("the simulation starts");
    let t = Scratch::new();
    let m = format!(
        "from-pool = true\nyes = true\nrate = 40\nledger-dir = \"ledgers\"\nendpoint-url = \"{}\"\nsummary-json = \"summary.json\"\n\
         \n[[target]]\nuser-pool-id = \"us-east-1_SimPool01\"\
         \n\n[[target]]\nuser-pool-id = \"eu-west-1_Second\"\
         \n\n[[target]]\nuser-pool-id = \"us-east-1_Other\"\nrole-arn = \"arn:aws:iam::222222222222:role/bulk-reset\"\n",
        sim.endpoint_url()
    );
    let fleet = t.write("fleet.toml", m);
    let out = finish_within(
        fleet_cmd(&t, &sim, &["run", "--fleet", fleet.to_str().unwrap()]),
        60,
    )
    .await;
    assert_eq!(out.code, 75, "{out:?}");
    let stats = sim.stats();
    let first = &stats.pools[&format!("{DEFAULT_ACCOUNT}/us-east-1_SimPool01")];
    let second = &stats.pools[&format!("{DEFAULT_ACCOUNT}/eu-west-1_Second")];
    assert_eq!(first.messages + second.messages, 50, "the account's cap");
    assert_eq!(
        stats.pools["222222222222/us-east-1_Other"].messages, 19,
        "the other account finished"
    );
    let s = summary(&t.path("summary.json"));
    let rows = s["targets"].as_array().unwrap();
    let stops: Vec<String> = rows[..2]
        .iter()
        .map(|r| r["done"]["stopped"].to_string())
        .collect();
    // The first pool to meet the limit pauses the other; a call of the
    // other's already in flight may meet it too, and it then says so.
    assert!(
        stops.iter().any(|s| s.contains("daily_email_limit")),
        "{stops:?}"
    );
    assert!(
        stops
            .iter()
            .all(|s| s.contains("daily_email_limit") || s.contains("account_paused")),
        "{stops:?}"
    );
    assert!(rows[2]["done"]["stopped"].is_null(), "{}", rows[2]);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_keeps_its_ledgers_in_one_dynamodb_table() {
    // Cognito is the simulation, DynamoDB is moto's (AWS_ENDPOINT_URL_DYNAMODB):
    // each target a job under the prefix, in the table's one region.
    let sim = grid(2, 1, 30, unlimited()).await;
    let t = Scratch::new();
    let moto = crate::moto::Moto::start(&t);
    let with_env = |args: &[&str]| {
        let mut cmd = fleet_cmd(&t, &sim, args);
        cmd.env("AWS_ENDPOINT_URL_DYNAMODB", &moto.url)
            .env("AWS_REGION", "us-east-1");
        cmd
    };
    let created = finish_within(with_env(&["ledger", "create-table", "fleet-ledgers"]), 60).await;
    assert_eq!(created.code, 0, "{created:?}");
    let m = format!(
        "from-pool = true\nyes = true\nledger = \"dynamodb://fleet-ledgers/incident-7\"\nendpoint-url = \"{}\"\n",
        sim.endpoint_url()
    );
    let fleet = t.write("fleet.toml", manifest(&m, 2, 1));
    let f = fleet.to_str().unwrap();
    let out = finish_within(with_env(&["run", "--fleet", f]), 120).await;
    assert_eq!(out.code, 1, "{out:?}");
    let resettable = (0..30).filter(|&i| sim::population_resettable(i)).count() as u64;
    assert!(sim.stats().pools.values().all(|p| p.messages == resettable));
    // One job per target, by account, region and pool.
    let job = format!(
        "dynamodb://fleet-ledgers/incident-7/222222222222/eu-west-1/{}-reset",
        pool_id(1, 1, 0)
    );
    let one = finish_within(with_env(&["status", "--ledger", &job, "--json"]), 60).await;
    assert_eq!(one.code, 0, "{one:?}");
    let st: Value = serde_json::from_str(&one.stdout).unwrap();
    assert_eq!(st["succeeded"].as_u64(), Some(resettable));
    let all = finish_within(with_env(&["status", "--fleet", f]), 60).await;
    assert_eq!(all.code, 0, "{all:?}");
    assert!(
        all.stdout.contains("total: 4 of 4 targets started"),
        "{all:?}"
    );
    // Again: every target resumes from its job; nothing is sent.
    let before = sim.stats().recovery_requests;
    let again = finish_within(with_env(&["run", "--fleet", f]), 120).await;
    assert_eq!(again.code, 1, "{again:?}");
    assert_eq!(sim.stats().recovery_requests, before);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_the_fleet_is_confirmed_by_its_number_of_pools() {
    // The plan, then "type the number of pools": a wrong answer sends
    // nothing; the right one runs every target with a bar per account and
    // region.
    let sim = grid(2, 1, 20, unlimited()).await;
    let t = Scratch::new();
    let m = format!(
        "from-pool = true\nledger-dir = \"ledgers\"\nendpoint-url = \"{}\"\n",
        sim.endpoint_url()
    );
    let fleet = t.write("fleet.toml", manifest(&m, 2, 1));
    let command = vec![
        "/usr/bin/env".to_string(),
        format!("AWS_ENDPOINT_URL_STS={}", sim.endpoint_url()),
        bin_path(),
        "run".into(),
        "--fleet".into(),
        fleet.display().to_string(),
    ];
    let no = on_terminal(
        &t,
        command.clone(),
        "text:Type the number of pools",
        "type:3\r",
    )
    .await;
    assert_eq!(no.code, Some(2), "{no:?}");
    assert!(no.shown.contains("not the number of pools (4)"), "{no:?}");
    assert!(no.shown.contains("fleet plan"), "{no:?}");
    assert_eq!(sim.stats().recovery_requests, 0);
    let yes = on_terminal(&t, command, "text:Type the number of pools", "type:4\r").await;
    assert_eq!(yes.code, Some(1), "{yes:?}");
    assert!(yes.shown.contains("total: "), "{yes:?}");
    let resettable = (0..20).filter(|&i| sim::population_resettable(i)).count() as u64;
    assert!(sim.stats().pools.values().all(|p| p.messages == resettable));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_auto_is_a_share_of_each_account_and_regions_quota() {
    let sim = grid(
        2,
        1,
        10,
        Behaviour {
            quota_recovery: 40.0,
            ..unlimited()
        },
    )
    .await;
    let t = Scratch::new();
    let m = format!(
        "from-pool = true\nrate = \"auto\"\nquota-share = 0.5\nendpoint-url = \"{}\"\n",
        sim.endpoint_url()
    );
    let fleet = t.write("fleet.toml", manifest(&m, 2, 1));
    let out = finish_within(
        fleet_cmd(&t, &sim, &["plan", "--fleet", fleet.to_str().unwrap()]),
        60,
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    // GetProvisionedLimit answers 40/s in each bucket: 20/s each.
    assert_eq!(
        out.stdout.matches("users to do at 20/s").count(),
        4,
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains("--rate auto: UserAccountRecovery quota 40/s"),
        "{out:?}"
    );

    // With each account's usage readable, every bucket has a watch of
    // production, and the summary says what each saw.
    let mut cmd = fleet_cmd(
        &t,
        &sim,
        &[
            "run",
            "--fleet",
            fleet.to_str().unwrap(),
            "--yes",
            "--summary-json",
            "s.json",
        ],
    );
    cmd.env("AWS_ENDPOINT_URL_CLOUDWATCH", sim.endpoint_url());
    let out = finish_within(cmd, 120).await;
    // Exit 1: one user of each pool's ten cannot be reset.
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout.matches("    production: ").count(), 4, "{out:?}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.path("s.json")).unwrap()).unwrap();
    let buckets = summary["buckets"].as_object().unwrap();
    assert_eq!(buckets.len(), 4, "{summary}");
    for (bucket, b) in buckets {
        assert_eq!(
            b["production"]["production_throttled"], 0,
            "{bucket}: {summary}"
        );
    }
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_fleet_finishes_the_calls_in_flight_then_the_rerun_the_rest() {
    let (users, pools) = (150, 1);
    let sim = grid(
        2,
        pools,
        users,
        Behaviour {
            reset_attempts_per_hour: 0,
            latency_ms: 20,
            ..Behaviour::default()
        },
    )
    .await;
    let t = Scratch::new();
    let top = format!(
        "from-pool = true\nrate = 30\nyes = true\nledger-dir = \"ledgers\"\nendpoint-url = \"{}\"\nsummary-json = \"summary.json\"\n",
        sim.endpoint_url()
    );
    let fleet = t.write("fleet.toml", manifest(&top, 2, pools));
    let child = fleet_cmd(&t, &sim, &["run", "--fleet", fleet.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    send_signal(child.id(), "-TERM");
    let out = finish_child(child).await;
    assert_eq!(out.code, 143, "{out:?}");
    let s = summary(&t.path("summary.json"));
    assert_eq!(s["exit_code"], 143);
    assert!(
        s["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["done"]["interrupted"] == true),
        "{s}"
    );
    assert!(sim.stats().messages > 0);
    rerun_to_the_end(&t, &sim, &fleet, users).await;
    sim.stop().await;
}

/// A pool signed out as the action and a pool reset with --sign-out, in one
/// account and region, spend the one UserUpdate quota through one limiter
/// (at the lower of --rate and --sign-out-rate), not one each: with the
/// rate fixed and the quota between that limiter's rate and what two would
/// send, almost nothing is throttled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_outs_of_two_actions_share_one_limiter() {
    let users = 300;
    let sim = grid(
        1,
        2,
        users,
        Behaviour {
            reset_attempts_per_hour: 0,
            quota_recovery: 0.0,
            quota_update: 110.0,
            ..Behaviour::default()
        },
    )
    .await;
    let t = Scratch::new();
    let manifest = format!(
        "from-pool = true\nyes = true\nrate = 200\nsign-out-rate = 100\nadaptive = false\nledger-dir = \"ledgers\"\nendpoint-url = \"{}\"\n\n[[target]]\nuser-pool-id = \"{}\"\naction = \"sign-out\"\n\n[[target]]\nuser-pool-id = \"{}\"\nsign-out = true\n",
        sim.endpoint_url(),
        pool_id(0, 0, 0),
        pool_id(0, 0, 1)
    );
    let fleet = t.write("fleet.toml", manifest);
    let out = finish_within(
        fleet_cmd(&t, &sim, &["run", "--fleet", fleet.to_str().unwrap()]),
        120,
    )
    .await;
    assert!(out.code == 0 || out.code == 1, "{out:?}");
    let stats = sim.stats();
    let update_calls = stats.requests - stats.recovery_requests;
    assert!(update_calls > users as u64, "{stats:?}");
    // Two limiters (the sign-out action's, beside the resets', and the
    // sign-outs after them at 100/s) send about 200/s against 110/s: a
    // quarter or more throttled. One limiter at 100/s stays under.
    assert!(
        stats.throttled * 20 < update_calls,
        "{} of {update_calls} UserUpdate-ish calls throttled",
        stats.throttled
    );
}

/// `canary = 10` in a fleet manifest: a wave per target (10 users of each pool, no more), the fleet exits 4; the same command with --continue finishes every pool, nobody messaged twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_wave_per_target_then_continue() {
    let (users, pools) = (60, 1);
    let sim = grid(2, pools, users, unlimited()).await;
    let t = Scratch::new();
    let top = format!(
        "from-pool = true\nrate = 200\nyes = true\ncanary = \"10\"\nledger-dir = \"ledgers\"\nendpoint-url = \"{}\"\n",
        sim.endpoint_url()
    );
    let fleet = t.write("fleet.toml", manifest(&top, 2, pools));
    let out = finish_within(
        fleet_cmd(&t, &sim, &["run", "--fleet", fleet.to_str().unwrap()]),
        120,
    )
    .await;
    assert_eq!(out.code, 4, "{out:?}");
    let stats = sim.stats();
    assert_eq!(stats.pools.len(), 4);
    for (pool, p) in &stats.pools {
        assert!(
            p.messages <= 10 && p.messages >= 7,
            "{pool}: a wave of 10 (of which the ineligible get no message): {p:?}"
        );
    }
    assert_eq!(stats.applied["AdminResetUserPassword"], stats.messages);
    let out = finish_within(
        fleet_cmd(
            &t,
            &sim,
            &["run", "--fleet", fleet.to_str().unwrap(), "--continue"],
        ),
        120,
    )
    .await;
    assert_eq!(out.code, 1, "ineligible users fail: {out:?}");
    every_pool_done_once(&sim, users);
    sim.stop().await;
}
