//! Tests of resolution: which strategy costs less, and filters that escape their values.

use super::*;

fn facts(users: u64) -> PoolFacts {
    PoolFacts {
        rule: NameRule {
            case: Case::Insensitive,
            username_attributes: vec![],
            alias_attributes: vec![NameKind::Email],
        },
        recovery: vec![],
        email_sending_account: "DEVELOPER".into(),
        sms_configured: false,
        tier: None,
        password_history_size: 0,
        min_password_length: None,
        triggers: vec![],
        estimated_users: users,
        arn: None,
    }
}

/// Auto picks the faster strategy; unknown settings force the index; --from-pool and exact need none.
#[test]
fn choice_by_cost() {
    let f = facts(600_000);
    let pick = |rows| choose(ResolveMode::Auto, false, Some(&f), rows, 15.0, 20.0).unwrap();
    // 1,000 lookups at 15/s (67 s) beat 10,000 index pages (667 s).
    let c = pick(Some(1_000));
    assert_eq!((c.strategy, c.list_calls), (Strategy::Lookup, 1_000));
    // 100,000 rows: lookups take 6,667 s, the index 667 s + 5,000 s.
    let c = pick(Some(100_000));
    assert_eq!((c.strategy, c.list_calls), (Strategy::Index, 10_000));
    assert_eq!(
        pick(None).strategy,
        Strategy::Index,
        "stdin counts as large"
    );
    let c = choose(ResolveMode::Auto, false, None, Some(10), 15.0, 20.0).unwrap();
    assert_eq!(c.strategy, Strategy::Index);
    assert!(choose(ResolveMode::Lookup, false, None, Some(10), 15.0, 20.0).is_err());
    let c = choose(ResolveMode::Lookup, true, Some(&f), Some(10), 15.0, 20.0).unwrap();
    assert_eq!(c.strategy, Strategy::Listing);
    let c = choose(ResolveMode::Exact, false, Some(&f), Some(10), 15.0, 20.0).unwrap();
    assert_eq!(c.strategy, Strategy::Exact);
}

/// Filter values escape quotes and backslashes.
#[test]
fn filters_escape() {
    assert_eq!(filter(NameKind::Email, "a@b"), "email = \"a@b\"");
    assert_eq!(
        filter(NameKind::Username, "a\"b\\c"),
        "username = \"a\\\"b\\\\c\""
    );
}
