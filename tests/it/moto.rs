//! End-to-end against moto (`moto[server]`, pinned in
//! tests/moto/requirements.txt): a third-party Cognito emulator, installed
//! into the project-local .venv by tests/moto/setup.sh and started on a free
//! loopback port. The tests seed pools through the AWS SDK, run the binary,
//! and read each user's status back with AdminGetUser. No test skips when
//! moto is missing: setup installs it, or the test fails saying why.
//!
//! Where moto differs from Cognito (moto 5.2.5, as pinned):
//! - It matches names in their exact case only, even in a pool made with
//!   `UsernameConfiguration.CaseSensitive = false`; Cognito matches
//!   username, email and preferred_username in any case there. The tool
//!   resolves the case itself (by the pool's rule, from DescribeUserPool)
//!   and sends moto the canonical username, so the tests below pass on
//!   moto for the reason they would on Cognito.
//! - It resolves an email to its user only in pools whose
//!   UsernameAttributes include email (where it gives users UUID usernames,
//!   as Cognito does); it does not resolve alias attributes
//!   (AliasAttributes) in the admin operations at all. Again the tool
//!   sends the canonical username.
//! - Its pools report EmailSendingAccount COGNITO_DEFAULT but send nothing,
//!   so the daily email cap and message counts are the simulated pool's to
//!   test; moto never throttles and injects no faults either.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_cognitoidentityprovider::config::Region;
use aws_sdk_cognitoidentityprovider::types::{
    AliasAttributeType, AttributeType, AuthFlowType, ExplicitAuthFlowsType, MessageActionType,
    UsernameAttributeType, UsernameConfigurationType,
};
use aws_sdk_cognitoidentityprovider::Client;

use crate::support::*;

/// The moto_server executable, installed on first use.
fn moto_server() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let root = env!("CARGO_MANIFEST_DIR");
        let out = Command::new("bash")
            .arg(format!("{root}/tests/moto/setup.sh"))
            .output()
            .expect("bash runs tests/moto/setup.sh");
        assert!(
            out.status.success(),
            "could not install moto into .venv (needs python3 with venv and access to PyPI):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

/// A moto server on a free loopback port, killed on drop.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    pub fn start(t: &Scratch) -> Moto {
        let server = moto_server();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(t.path("moto.log")).unwrap();
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", server.display()));
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn client(&self) -> Client {
        Client::new(&self.sdk_config().await)
    }

    /// The AWS SDK's configuration for any service of this moto, in
    /// us-east-1, with placeholder credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .test_credentials()
            .load()
            .await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn attr(name: &str, value: &str) -> AttributeType {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .unwrap()
}

/// How a seeded user starts.
#[derive(Clone, Copy)]
enum Seed {
    Confirmed,
    ForceChange,
    Disabled,
    NoEmail,
}

async fn seed(c: &Client, pool: &str, name: &str, how: Seed) {
    let mut req = c
        .admin_create_user()
        .user_pool_id(pool)
        .username(name)
        .message_action(MessageActionType::Suppress)
        .temporary_password("Temp-Passw0rd!");
    if !matches!(how, Seed::NoEmail) {
        req = req
            .user_attributes(attr("email", &format!("{name}@example.com")))
            .user_attributes(attr("email_verified", "true"));
    }
    req.send().await.expect("AdminCreateUser");
    if !matches!(how, Seed::ForceChange) {
        c.admin_set_user_password()
            .user_pool_id(pool)
            .username(name)
            .password("Seed-Passw0rd!")
            .permanent(true)
            .send()
            .await
            .expect("AdminSetUserPassword");
    }
    if matches!(how, Seed::Disabled) {
        c.admin_disable_user()
            .user_pool_id(pool)
            .username(name)
            .send()
            .await
            .expect("AdminDisableUser");
    }
}

/// moto started for this test, its client, and a new pool in it.
async fn moto_pool(t: &Scratch) -> (Moto, Client, String) {
    let moto = Moto::start(t);
    let c = moto.client().await;
    let pool = new_pool(&c).await;
    (moto, c, pool)
}

/// Creates each user as `Seed` says.
async fn seed_all(c: &Client, pool: &str, users: &[(&str, Seed)]) {
    for (name, how) in users {
        seed(c, pool, name, *how).await;
    }
}

async fn new_pool(c: &Client) -> String {
    let out = c
        .create_user_pool()
        .pool_name("bulk-reset-e2e")
        .send()
        .await
        .expect("CreateUserPool");
    out.user_pool()
        .and_then(|p| p.id())
        .expect("pool id")
        .to_string()
}

async fn status(c: &Client, pool: &str, name: &str) -> String {
    let out = c
        .admin_get_user()
        .user_pool_id(pool)
        .username(name)
        .send()
        .await
        .expect("AdminGetUser");
    out.user_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

fn moto_args(
    m: &Moto,
    pool: &str,
    input: &std::path::Path,
    ledger: &std::path::Path,
) -> Vec<String> {
    vec![
        "run".into(),
        "--yes".into(),
        "--user-pool-id".into(),
        pool.into(),
        "--endpoint-url".into(),
        m.url.clone(),
        "--input".into(),
        input.display().to_string(),
        "--ledger".into(),
        ledger.display().to_string(),
        "--rate".into(),
        "50".into(),
    ]
}

/// reset against moto: CONFIRMED users end RESET_REQUIRED; the ineligible are recorded failed with moto's codes and left as they were; a re-run touches nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_reset() {
    let t = Scratch::new();
    let (moto, c, pool) = moto_pool(&t).await;
    let users = [
        ("alice", Seed::Confirmed),
        ("bob@example.com", Seed::Confirmed),
        ("carol", Seed::ForceChange),
        ("dave", Seed::Disabled),
        ("erin", Seed::NoEmail),
    ];
    seed_all(&c, &pool, &users).await;
    let input = t.users_csv(
        users
            .iter()
            .map(|(n, _)| n.to_string())
            .chain(["ghost".to_string()]),
    );
    let ledger = t.path("reset.jsonl");
    let mut cmd = t.bin();
    cmd.args(moto_args(&moto, &pool, &input, &ledger));
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");

    assert_eq!(status(&c, &pool, "alice").await, "RESET_REQUIRED");
    assert_eq!(status(&c, &pool, "bob@example.com").await, "RESET_REQUIRED");
    assert_eq!(status(&c, &pool, "carol").await, "FORCE_CHANGE_PASSWORD");
    let o = outcomes(&ledger);
    assert_eq!(o["alice"]["outcome"], "succeeded");
    assert_eq!(
        o["carol"]["code"], "NotAuthorizedException",
        "{}",
        o["carol"]
    );
    assert_eq!(o["dave"]["code"], "NotAuthorizedException", "{}", o["dave"]);
    assert_eq!(
        o["erin"]["code"], "InvalidParameterException",
        "{}",
        o["erin"]
    );
    assert_eq!(
        o["ghost"]["code"], "UserNotFoundException",
        "{}",
        o["ghost"]
    );

    let mut again = t.bin();
    again.args(moto_args(&moto, &pool, &input, &ledger));
    let out = finish(again).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout.contains("skipped, done before 6")
            && out.stdout.contains("calls                0"),
        "{out:?}"
    );
}

/// set-password against moto: temporary leaves FORCE_CHANGE_PASSWORD, --permanent leaves CONFIRMED, a password against the policy fails with InvalidPasswordException.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_set_password() {
    let t = Scratch::new();
    let (moto, c, pool) = moto_pool(&t).await;
    for (name, how) in [
        ("frank", Seed::Confirmed),
        ("grace", Seed::ForceChange),
        ("heidi", Seed::Confirmed),
    ] {
        seed(&c, &pool, name, how).await;
    }
    let input = t.write(
        "pw.csv",
        "username,password\nfrank,New-Passw0rd!1\ngrace,New-Passw0rd!2\nheidi,abc\n",
    );

    let ledger = t.path("temp.jsonl");
    let mut cmd = t.bin();
    cmd.args(moto_args(&moto, &pool, &input, &ledger))
        .args(["--action", "set-password"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(status(&c, &pool, "frank").await, "FORCE_CHANGE_PASSWORD");
    assert_eq!(status(&c, &pool, "grace").await, "FORCE_CHANGE_PASSWORD");
    let o = outcomes(&ledger);
    assert_eq!(
        o["heidi"]["code"], "InvalidPasswordException",
        "{}",
        o["heidi"]
    );
    assert_eq!(
        status(&c, &pool, "heidi").await,
        "CONFIRMED",
        "a refused password changes nothing"
    );

    let ledger = t.path("perm.jsonl");
    let mut cmd = t.bin();
    cmd.args(moto_args(&moto, &pool, &input, &ledger)).args([
        "--action",
        "set-password",
        "--permanent",
    ]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(status(&c, &pool, "frank").await, "CONFIRMED");
    assert_eq!(status(&c, &pool, "grace").await, "CONFIRMED");
    let text = std::fs::read_to_string(&ledger).unwrap() + &out.stdout + &out.stderr;
    assert!(
        !text.contains("New-Passw0rd"),
        "no password in ledger or output"
    );
}

/// A pool moto does not have is refused before any call (exit 2), naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_missing_pool_stops() {
    let t = Scratch::new();
    let moto = Moto::start(&t);
    let input = t.users_csv(["alice".to_string(), "bob".to_string()]);
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(moto_args(&moto, "us-east-1_Missing1", &input, &ledger));
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("us-east-1_Missing1 does not exist"),
        "{out:?}"
    );
}

/// --from-pool with a filter against moto: the CONFIRMED users are listed and reset; users in other states are never touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_from_pool_with_filter() {
    let t = Scratch::new();
    let (moto, c, pool) = moto_pool(&t).await;
    for i in 0..70 {
        seed(&c, &pool, &format!("member-{i:03}"), Seed::Confirmed).await;
    }
    seed(&c, &pool, "newcomer", Seed::ForceChange).await;
    let ledger = t.path("pool.jsonl");
    let mut args = moto_args(&moto, &pool, std::path::Path::new("-"), &ledger);
    let i = args.iter().position(|a| a == "--input").unwrap();
    args.drain(i..i + 2);
    let mut cmd = t.bin();
    cmd.args(&args).args([
        "--from-pool",
        "--filter",
        "cognito:user_status = \"CONFIRMED\"",
    ]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let o = outcomes(&ledger);
    assert_eq!(o.len(), 70, "two pages of CONFIRMED users");
    assert!(!o.contains_key("newcomer"));
    for i in [0, 59, 60, 69] {
        assert_eq!(
            status(&c, &pool, &format!("member-{i:03}")).await,
            "RESET_REQUIRED"
        );
    }
    assert_eq!(status(&c, &pool, "newcomer").await, "FORCE_CHANGE_PASSWORD");
}

/// An app client allowing password sign-in and refresh; returns its id.
async fn password_app(c: &Client, pool: &str) -> String {
    let app = c
        .create_user_pool_client()
        .user_pool_id(pool)
        .client_name("app")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .expect("CreateUserPoolClient");
    app.user_pool_client()
        .and_then(|p| p.client_id())
        .expect("a client id")
        .to_string()
}

/// Signs `name` in with its password (ADMIN_USER_PASSWORD_AUTH) and returns the refresh token.
async fn sign_in(c: &Client, pool: &str, client_id: &str, name: &str, password: &str) -> String {
    let out = c
        .admin_initiate_auth()
        .user_pool_id(pool)
        .client_id(client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", name)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .expect("AdminInitiateAuth with the password");
    out.authentication_result()
        .and_then(|r| r.refresh_token())
        .expect("a refresh token")
        .to_string()
}

/// Whether a refresh token still gets new tokens.
async fn refresh_works(c: &Client, pool: &str, client_id: &str, token: &str) -> bool {
    c.admin_initiate_auth()
        .user_pool_id(pool)
        .client_id(client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", token)
        .send()
        .await
        .is_ok()
}

/// Incident response against moto: reset with --sign-out ends existing sessions: a refresh token issued before no longer works, while one of a user not in the list still does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_sign_out_revokes_refresh_tokens() {
    let t = Scratch::new();
    let (moto, c, pool) = moto_pool(&t).await;
    let client_id = password_app(&c, &pool).await;
    for name in ["ivan", "judy", "bystander"] {
        seed(&c, &pool, name, Seed::Confirmed).await;
    }
    let ivan = sign_in(&c, &pool, &client_id, "ivan", "Seed-Passw0rd!").await;
    let bystander = sign_in(&c, &pool, &client_id, "bystander", "Seed-Passw0rd!").await;
    assert!(
        refresh_works(&c, &pool, &client_id, &ivan).await,
        "the session works before"
    );

    let input = t.users_csv(["ivan".to_string(), "judy".to_string()]);
    let ledger = t.path("incident.jsonl");
    let mut cmd = t.bin();
    cmd.args(moto_args(&moto, &pool, &input, &ledger))
        .arg("--sign-out");
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("signed out           2"), "{out:?}");
    assert_eq!(status(&c, &pool, "ivan").await, "RESET_REQUIRED");
    assert!(
        !refresh_works(&c, &pool, &client_id, &ivan).await,
        "the refresh token was revoked"
    );
    assert!(
        refresh_works(&c, &pool, &client_id, &bystander).await,
        "other users keep their sessions"
    );
}

/// Whether the user may sign in (AdminGetUser's Enabled).
async fn enabled(c: &Client, pool: &str, name: &str) -> bool {
    c.admin_get_user()
        .user_pool_id(pool)
        .username(name)
        .send()
        .await
        .expect("AdminGetUser")
        .enabled()
}

/// Containment against moto: plan shows the app client's token lifetimes; --action disable leaves the listed users unable to sign in (AdminInitiateAuth refused) with their status as it was; a user disabled already is recorded succeeded without a call; --action enable lets them sign in again. Where moto differs: the simulated pool models AdminDisableUser's revocation of access tokens; moto's only observable effect is Enabled and the refused sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_disable_then_enable() {
    let t = Scratch::new();
    let (moto, c, pool) = moto_pool(&t).await;
    let client_id = password_app(&c, &pool).await;
    let users = [
        ("olga", Seed::Confirmed),
        ("pete", Seed::Confirmed),
        ("quin", Seed::Disabled),
        ("bystander", Seed::Confirmed),
    ];
    seed_all(&c, &pool, &users).await;
    let input = t.users_csv(["olga", "pete", "quin"].map(String::from));
    let ledger = t.path("disable.jsonl");
    // The plan reads the app client (moto serves ListUserPoolClients and
    // DescribeUserPoolClient) and says what a disable leaves.
    let mut plan = moto_args(&moto, &pool, &input, &ledger);
    plan[0] = "plan".into();
    plan.retain(|a| a != "--yes");
    let mut cmd = t.bin();
    cmd.args(&plan).args(["--action", "disable"]);
    let planned = finish(cmd).await;
    assert_eq!(planned.code, 0, "{planned:?}");
    assert!(
        planned
            .stdout
            .contains("sessions             1 app client(s): access tokens live up to")
            && planned.stdout.contains("access tokens are revoked"),
        "{planned:?}"
    );
    let mut cmd = t.bin();
    cmd.args(moto_args(&moto, &pool, &input, &ledger))
        .args(["--action", "disable"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let o = outcomes(&ledger);
    for name in ["olga", "pete", "quin"] {
        assert_eq!(o[name]["outcome"], "succeeded", "{name}: {}", o[name]);
        assert!(!enabled(&c, &pool, name).await, "{name} is disabled");
        assert_eq!(status(&c, &pool, name).await, "CONFIRMED", "{name}");
    }
    assert_eq!(o["quin"]["detail"], "already_disabled");
    assert_eq!(o["quin"]["attempts"], 0);
    let refused = c
        .admin_initiate_auth()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "olga")
        .auth_parameters("PASSWORD", "Seed-Passw0rd!")
        .send()
        .await;
    assert!(refused.is_err(), "a disabled user cannot sign in");
    assert!(enabled(&c, &pool, "bystander").await);
    sign_in(&c, &pool, &client_id, "bystander", "Seed-Passw0rd!").await;

    let back = t.path("enable.jsonl");
    let mut cmd = t.bin();
    cmd.args(moto_args(&moto, &pool, &input, &back))
        .args(["--action", "enable"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    for name in ["olga", "pete", "quin"] {
        assert!(enabled(&c, &pool, name).await, "{name} is enabled again");
    }
    sign_in(&c, &pool, &client_id, "olga", "Seed-Passw0rd!").await;
}

/// Groups against moto: --from-group resets a group's members (ListUsersInGroup) and --exclude-group spares the members of another group, recorded `excluded` and left CONFIRMED; users outside the group are untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_groups_as_input_and_exclusions() {
    let t = Scratch::new();
    let (moto, c, pool) = moto_pool(&t).await;
    let users = ["rita", "sam", "tess", "admin-uma", "outsider"];
    for name in users {
        seed(&c, &pool, name, Seed::Confirmed).await;
    }
    for (group, members) in [
        ("compromised", &["rita", "sam", "tess", "admin-uma"][..]),
        ("admins", &["admin-uma"][..]),
    ] {
        c.create_group()
            .user_pool_id(&pool)
            .group_name(group)
            .send()
            .await
            .expect("CreateGroup");
        for m in members {
            c.admin_add_user_to_group()
                .user_pool_id(&pool)
                .username(*m)
                .group_name(group)
                .send()
                .await
                .expect("AdminAddUserToGroup");
        }
    }
    let ledger = t.path("group.jsonl");
    let mut args = moto_args(&moto, &pool, std::path::Path::new("unused.csv"), &ledger);
    let at = args.iter().position(|a| a == "--input").unwrap();
    args.drain(at..at + 2);
    let mut cmd = t.bin();
    cmd.args(&args)
        .args(["--from-group", "compromised", "--exclude-group", "admins"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let o = outcomes(&ledger);
    for name in ["rita", "sam", "tess"] {
        assert_eq!(o[name]["outcome"], "succeeded", "{name}");
        assert_eq!(status(&c, &pool, name).await, "RESET_REQUIRED", "{name}");
    }
    assert_eq!(o["admin-uma"]["outcome"], "excluded");
    assert_eq!(status(&c, &pool, "admin-uma").await, "CONFIRMED");
    assert_eq!(status(&c, &pool, "outsider").await, "CONFIRMED");
    assert!(!o.contains_key("outsider"));
}

/// --precheck against moto: disabled, unverified and FORCE_CHANGE_PASSWORD users are skipped with a reason and left untouched; the others are reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_precheck_skips() {
    let t = Scratch::new();
    let (moto, c, pool) = moto_pool(&t).await;
    let users = [
        ("kate", Seed::Confirmed),
        ("liam", Seed::ForceChange),
        ("mona", Seed::Disabled),
        ("nick", Seed::NoEmail),
    ];
    seed_all(&c, &pool, &users).await;
    let input = t.users_csv(users.iter().map(|(n, _)| n.to_string()));
    let ledger = t.path("pre.jsonl");
    let mut cmd = t.bin();
    cmd.args(moto_args(&moto, &pool, &input, &ledger))
        .arg("--precheck");
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    let o = outcomes(&ledger);
    assert_eq!(o["kate"]["outcome"], "succeeded");
    for name in ["liam", "mona", "nick"] {
        assert_eq!(o[name]["outcome"], "skipped", "{name}: {}", o[name]);
    }
    assert_eq!(status(&c, &pool, "kate").await, "RESET_REQUIRED");
    assert_eq!(
        status(&c, &pool, "nick").await,
        "CONFIRMED",
        "skipped users are untouched"
    );
}

/// --rate auto against moto, which has no GetProvisionedLimit: the run falls back to the documented default quota (30/s) and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_rate_auto_falls_back() {
    let t = Scratch::new();
    let (moto, c, pool) = moto_pool(&t).await;
    seed(&c, &pool, "olga", Seed::Confirmed).await;
    let input = t.users_csv(["olga".to_string()]);
    let ledger = t.path("auto.jsonl");
    let mut args = moto_args(&moto, &pool, &input, &ledger);
    let i = args.iter().position(|a| a == "--rate").unwrap();
    args[i + 1] = "auto".into();
    let mut cmd = t.bin();
    cmd.args(&args);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("quota 30/s (the documented default; GetProvisionedLimit answered"),
        "{out:?}"
    );
    assert!(out.stderr.contains("= 21.0/s"), "{out:?}");
    assert_eq!(status(&c, &pool, "olga").await, "RESET_REQUIRED");
}

/// Migration against moto: --generate-passwords sets passwords that meet the pool's policy and sign in (ADMIN_USER_PASSWORD_AUTH); the file is 0600.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_generated_passwords_sign_in() {
    use std::os::unix::fs::PermissionsExt;
    let t = Scratch::new();
    let (moto, c, pool) = moto_pool(&t).await;
    let client_id = password_app(&c, &pool).await;
    let names = ["pat", "quinn", "rosa"];
    for name in names {
        seed(&c, &pool, name, Seed::ForceChange).await;
    }
    let input = t.users_csv(names.iter().map(|n| n.to_string()));
    let ledger = t.path("mig.jsonl");
    let out_file = t.path("passwords.csv");
    let mut cmd = t.bin();
    cmd.args(moto_args(&moto, &pool, &input, &ledger))
        .args([
            "--action",
            "set-password",
            "--permanent",
            "--generate-passwords",
            "--passwords-out",
        ])
        .arg(&out_file);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        std::fs::metadata(&out_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let mut r = csv::Reader::from_path(&out_file).unwrap();
    let rows: Vec<(String, String)> = r
        .records()
        .map(|x| x.unwrap())
        .filter(|x| &x[2] == "applied")
        .map(|x| (x[0].to_string(), x[1].to_string()))
        .collect();
    assert_eq!(rows.len(), 3);
    for (name, password) in rows {
        assert_eq!(status(&c, &pool, &name).await, "CONFIRMED");
        sign_in(&c, &pool, &client_id, &name, &password).await;
    }
}

/// The operator's look-before-you-act path against moto: plan sends no mutating call; run without --yes off a terminal is refused; the run with --yes and --log-format json logs JSON lines; export rows match the ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_plan_confirm_export() {
    let t = Scratch::new();
    let (moto, c, pool) = moto_pool(&t).await;
    for name in ["sam", "tara", "uma"] {
        seed(&c, &pool, name, Seed::Confirmed).await;
    }
    let input = t.users_csv(["sam", "tara", "uma", "sam"].iter().map(|s| s.to_string()));
    let ledger = t.path("ops.jsonl");
    let args = moto_args(&moto, &pool, &input, &ledger);

    let mut plan = args.clone();
    plan[0] = "plan".into();
    let mut cmd = t.bin();
    cmd.args(&plan);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("users to do          3")
            && out.stdout.contains("duplicate rows       1"),
        "{out:?}"
    );
    assert_eq!(
        status(&c, &pool, "sam").await,
        "CONFIRMED",
        "plan changed nothing"
    );

    let mut no_yes = args.clone();
    no_yes.retain(|a| a != "--yes");
    let mut cmd = t.bin();
    cmd.args(&no_yes);
    let out = finish(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(
        status(&c, &pool, "sam").await,
        "CONFIRMED",
        "refused: nothing sent"
    );

    let mut cmd = t.bin();
    cmd.args(&args).args(["--log-format", "json"]);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let json_lines = out.stderr.lines().filter(|l| l.starts_with('{')).count();
    assert!(json_lines > 0, "{out:?}");
    for line in out.stderr.lines().filter(|l| l.starts_with('{')) {
        serde_json::from_str::<serde_json::Value>(line).expect("each log line is JSON");
    }

    let mut cmd = t.bin();
    cmd.args(["export", "--format", "jsonl", "--ledger"])
        .arg(&ledger);
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let o = outcomes(&ledger);
    let rows: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let name = row["username"].as_str().unwrap();
        assert_eq!(row["outcome"], "succeeded");
        assert_eq!(row["request_ids"], o[name]["request_id"]);
        assert_eq!(status(&c, &pool, name).await, "RESET_REQUIRED");
    }
}

async fn new_pool_with(
    c: &Client,
    username_attributes: &[UsernameAttributeType],
    aliases: &[AliasAttributeType],
    case_sensitive: bool,
) -> String {
    let out = c
        .create_user_pool()
        .pool_name("bulk-reset-identity")
        .set_username_attributes(
            (!username_attributes.is_empty()).then(|| username_attributes.to_vec()),
        )
        .set_alias_attributes((!aliases.is_empty()).then(|| aliases.to_vec()))
        .username_configuration(
            UsernameConfigurationType::builder()
                .case_sensitive(case_sensitive)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("CreateUserPool");
    out.user_pool()
        .and_then(|p| p.id())
        .expect("pool id")
        .to_string()
}

/// A user with a verified email (and preferred_username), CONFIRMED; returns the username moto gave it (a UUID in an email-as-username pool).
async fn seed_person(
    c: &Client,
    pool: &str,
    username: &str,
    email: &str,
    nick: Option<&str>,
) -> String {
    let mut req = c
        .admin_create_user()
        .user_pool_id(pool)
        .username(username)
        .message_action(MessageActionType::Suppress)
        .temporary_password("Temp-Passw0rd!")
        .user_attributes(attr("email", email))
        .user_attributes(attr("email_verified", "true"));
    if let Some(n) = nick {
        req = req.user_attributes(attr("preferred_username", n));
    }
    let out = req.send().await.expect("AdminCreateUser");
    let name = out
        .user()
        .and_then(|u| u.username())
        .expect("username")
        .to_string();
    c.admin_set_user_password()
        .user_pool_id(pool)
        .username(&name)
        .password("Seed-Passw0rd!")
        .permanent(true)
        .send()
        .await
        .expect("AdminSetUserPassword");
    name
}

/// Against moto, rows naming one person several ways (the email in its own case and in another, the UUID username; in an alias pool the username, the verified email, the preferred_username) make one call per person: each ends RESET_REQUIRED with one outcome in the ledger under its canonical username, and the summary counts the other rows as the same person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_people_named_several_ways() {
    let t = Scratch::new();
    let moto = Moto::start(&t);
    let c = moto.client().await;

    // Email as username, case-insensitive: usernames are UUIDs.
    let pool = new_pool_with(&c, &[UsernameAttributeType::Email], &[], false).await;
    let alice = seed_person(&c, &pool, "Alice@Example.com", "Alice@Example.com", None).await;
    let bob = seed_person(&c, &pool, "bob@example.com", "bob@example.com", None).await;
    assert_eq!(alice.len(), 36, "moto gives a UUID username: {alice}");
    let input = t.users_csv(
        [
            "Alice@Example.com",
            "alice@example.com",
            alice.as_str(),
            "BOB@EXAMPLE.COM",
            bob.as_str(),
            "nobody@example.com",
        ]
        .map(String::from),
    );
    let ledger = t.path("by-email.jsonl");
    let mut cmd = t.bin();
    cmd.args(moto_args(&moto, &pool, &input, &ledger));
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "nobody@ is not found: {out:?}");
    assert!(out.stdout.contains("duplicate rows       3"), "{out:?}");
    assert_eq!(status(&c, &pool, &alice).await, "RESET_REQUIRED");
    assert_eq!(status(&c, &pool, &bob).await, "RESET_REQUIRED");
    let o = outcomes_by_person(&ledger);
    assert_eq!(o[&alice]["outcome"], "succeeded", "{o:?}");
    assert_eq!(o[&alice]["username"], "Alice@Example.com");
    assert_eq!(
        o[&bob]["username"], "BOB@EXAMPLE.COM",
        "the first row naming bob"
    );
    assert_eq!(o["nobody@example.com"]["code"], "UserNotFoundException");
    assert_eq!(o.len(), 3);

    // Username with email and preferred_username aliases.
    let pool = new_pool_with(
        &c,
        &[],
        &[
            AliasAttributeType::Email,
            AliasAttributeType::PreferredUsername,
        ],
        true,
    )
    .await;
    seed_person(&c, &pool, "carol", "carol@example.com", Some("caz")).await;
    seed_person(&c, &pool, "dave", "dave@example.com", None).await;
    let input = t.users_csv(
        [
            "caz",
            "carol",
            "carol@example.com",
            "dave@example.com",
            "dave",
            "Dave",
        ]
        .map(String::from),
    );
    let ledger = t.path("aliases.jsonl");
    let mut cmd = t.bin();
    cmd.args(moto_args(&moto, &pool, &input, &ledger))
        .args(["--resolve", "lookup"]);
    let out = finish(cmd).await;
    assert_eq!(
        out.code, 1,
        "Dave is nobody in a case-sensitive pool: {out:?}"
    );
    assert!(out.stdout.contains("duplicate rows       3"), "{out:?}");
    assert_eq!(status(&c, &pool, "carol").await, "RESET_REQUIRED");
    assert_eq!(status(&c, &pool, "dave").await, "RESET_REQUIRED");
    let o = outcomes_by_person(&ledger);
    assert_eq!(o["carol"]["username"], "caz", "{o:?}");
    assert_eq!(o["Dave"]["code"], "UserNotFoundException");
}

/// A client of moto's Cognito in `region`, as the default account, or as
/// `role` (moto maps AssumeRole's credentials to the role's account).
async fn account_client(m: &Moto, region: &str, role: Option<&str>) -> Client {
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(&m.url)
        .test_credentials()
        .load()
        .await;
    let Some(role) = role else {
        return Client::new(&base);
    };
    let provider = aws_config::sts::AssumeRoleProvider::builder(role)
        .session_name("seed")
        .configure(&base)
        .build()
        .await;
    let conf = base
        .into_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build();
    Client::new(&conf)
}

/// A fleet against moto: pools in two accounts (the second reached through
/// STS AssumeRole, which moto maps to the role's account) and two regions.
/// Every confirmed user ends RESET_REQUIRED, the FORCE_CHANGE_PASSWORD one
/// fails as moto says, each account's pools stay its own; a re-run sends
/// nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_fleet_across_accounts_and_regions() {
    let t = Scratch::new();
    let moto = Moto::start(&t);
    let role = "arn:aws:iam::222222222222:role/bulk-reset";
    let mut targets = Vec::new();
    for account_role in [None, Some(role)] {
        for region in ["us-east-1", "eu-west-1"] {
            let c = account_client(&moto, region, account_role).await;
            let pool = new_pool(&c).await;
            assert!(pool.starts_with(region), "{pool}");
            seed_all(
                &c,
                &pool,
                &[
                    ("ann", Seed::Confirmed),
                    ("bob", Seed::Confirmed),
                    ("cat", Seed::ForceChange),
                ],
            )
            .await;
            targets.push((c, pool, account_role));
        }
    }
    // moto keeps each account's pools apart: the default account cannot
    // see the role account's pool.
    let own = account_client(&moto, "eu-west-1", None).await;
    assert!(own
        .describe_user_pool()
        .user_pool_id(&targets[3].1)
        .send()
        .await
        .is_err());

    let mut manifest = format!(
        "from-pool = true\nyes = true\nrate = 50\nendpoint-url = \"{}\"\nledger-dir = \"ledgers\"\nsummary-json = \"summary.json\"\n",
        moto.url
    );
    for (_, pool, account_role) in &targets {
        manifest.push_str(&format!("\n[[target]]\nuser-pool-id = \"{pool}\"\n"));
        if let Some(r) = account_role {
            manifest.push_str(&format!("role-arn = \"{r}\"\n"));
        }
    }
    let fleet = t.write("fleet.toml", manifest);
    let run = || {
        let mut cmd = t.bin();
        cmd.env("AWS_ENDPOINT_URL_STS", &moto.url)
            .args(["run", "--fleet"])
            .arg(&fleet);
        cmd
    };
    let out = finish(run()).await;
    assert_eq!(out.code, 1, "cat cannot be reset: {out:?}");
    for (c, pool, _) in &targets {
        assert_eq!(status(c, pool, "ann").await, "RESET_REQUIRED", "{pool}");
        assert_eq!(status(c, pool, "bob").await, "RESET_REQUIRED", "{pool}");
        assert_eq!(
            status(c, pool, "cat").await,
            "FORCE_CHANGE_PASSWORD",
            "{pool}"
        );
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.path("summary.json")).unwrap()).unwrap();
    let accounts: Vec<&str> = summary["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["account"].as_str().unwrap())
        .collect();
    assert_eq!(
        accounts,
        [
            "123456789012",
            "123456789012",
            "222222222222",
            "222222222222"
        ]
    );
    for r in summary["targets"].as_array().unwrap() {
        assert_eq!(r["done"]["succeeded"], 2, "{r}");
        assert_eq!(r["done"]["failed"], 1, "{r}");
    }
    assert!(t
        .path("ledgers/222222222222/eu-west-1")
        .join(format!("{}-reset.jsonl", targets[3].1))
        .is_file());
    // Again: nothing left to do in any target.
    let again = finish(run()).await;
    assert_eq!(again.code, 1, "{again:?}");
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.path("summary.json")).unwrap()).unwrap();
    for r in s["targets"].as_array().unwrap() {
        assert_eq!(r["done"]["calls"], 0, "{r}");
    }
}
