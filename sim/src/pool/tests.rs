//! Tests of the simulated pool's behaviours, each against the AWS page it models.

use super::*;

fn pool(settings: PoolSettings) -> Pool {
    let p = Pool::new("us-east-1_T".into(), settings);
    let mut alice = SimUser::new(Status::Confirmed, true, true);
    alice.email = Some("Alice@Example.com".into());
    alice.phone_number = Some("+15550001".into());
    alice.phone_number_verified = true;
    alice.preferred_username = Some("Ally".into());
    p.put("alice", alice);
    let mut bob = SimUser::new(Status::Confirmed, true, false);
    bob.email = Some("bob@example.com".into());
    p.put("Bob", bob);
    p
}

fn resolve(p: &Pool, v: &str) -> Option<String> {
    let users = p.users.lock().unwrap();
    p.resolve(&users, v)
}

/// Case-insensitive pools match username, email and preferred_username in any case; case-sensitive pools match exactly.
#[test]
fn case_rules() {
    let ci = pool(PoolSettings {
        case_insensitive: true,
        alias_attributes: vec![LoginAttribute::Email, LoginAttribute::PreferredUsername],
        ..PoolSettings::default()
    });
    assert_eq!(resolve(&ci, "ALICE").as_deref(), Some("alice"));
    assert_eq!(resolve(&ci, "alice@example.COM").as_deref(), Some("alice"));
    assert_eq!(resolve(&ci, "ally").as_deref(), Some("alice"));
    assert_eq!(resolve(&ci, "bob").as_deref(), Some("Bob"));
    let cs = pool(PoolSettings {
        alias_attributes: vec![LoginAttribute::Email],
        ..PoolSettings::default()
    });
    assert_eq!(resolve(&cs, "ALICE"), None);
    assert_eq!(resolve(&cs, "alice@example.com"), None);
    assert_eq!(resolve(&cs, "Alice@Example.com").as_deref(), Some("alice"));
    assert_eq!(resolve(&cs, "bob"), None);
}

/// Aliases resolve only when they are sign-in attributes, and email or phone aliases only when verified; the sub always resolves.
#[test]
fn aliases_and_sub() {
    let plain = pool(PoolSettings::default());
    assert_eq!(resolve(&plain, "Alice@Example.com"), None);
    assert_eq!(resolve(&plain, "Ally"), None);
    let sub = uuid_for("alice");
    assert_eq!(resolve(&plain, &sub).as_deref(), Some("alice"));
    let aliases = pool(PoolSettings {
        alias_attributes: vec![LoginAttribute::Email, LoginAttribute::PhoneNumber],
        ..PoolSettings::default()
    });
    assert_eq!(resolve(&aliases, "+15550001").as_deref(), Some("alice"));
    // Bob's email is not verified: not an alias.
    assert_eq!(resolve(&aliases, "bob@example.com"), None);
    let by_email = pool(PoolSettings {
        username_attributes: vec![LoginAttribute::Email],
        ..PoolSettings::default()
    });
    // With email as a username attribute, verification is not needed.
    assert_eq!(
        resolve(&by_email, "bob@example.com").as_deref(),
        Some("Bob")
    );
}

/// AdminCreateUser in an email-as-username pool gives a UUID username equal to the sub.
#[test]
fn email_as_username_gets_a_uuid() {
    let p = Pool::new(
        "us-east-1_T".into(),
        PoolSettings {
            username_attributes: vec![LoginAttribute::Email],
            ..PoolSettings::default()
        },
    );
    let out = p
        .admin_create_user(&json!({"UserPoolId": "us-east-1_T", "Username": "carol@example.com"}))
        .unwrap();
    let name = out["User"]["Username"].as_str().unwrap().to_string();
    assert_eq!(name.len(), 36, "{name}");
    assert_eq!(resolve(&p, "carol@example.com"), Some(name.clone()));
    let users = p.users.lock().unwrap();
    assert_eq!(users.by_name[&name].sub, name);
}

/// Filters follow the pool's case rule on names and accept escaped quotes.
#[test]
fn filters() {
    let ci = pool(PoolSettings {
        case_insensitive: true,
        ..PoolSettings::default()
    });
    let names = |f: &str| -> Vec<String> {
        ci.list_users(&json!({"UserPoolId": "us-east-1_T", "Filter": f}))
            .unwrap()["Users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["Username"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("username = \"BOB\""), ["Bob"]);
    assert_eq!(names("email = \"alice@example.com\""), ["alice"]);
    assert_eq!(names("email ^= \"ALICE\""), ["alice"]);
    assert_eq!(names("phone_number = \"+15550001\""), ["alice"]);
    assert!(names("username = \"a\\\"b\"").is_empty());
}
