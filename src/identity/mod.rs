//! Who is a user: an input row names a *person*, and the tool keys every
//! person by the username Cognito itself would resolve the row's value to.
//!
//! Cognito's admin operations accept as `Username` the username, an alias
//! (email, phone_number, preferred_username, when the pool makes them
//! sign-in attributes) or the `sub`; in a case-insensitive pool, username,
//! email and preferred_username match in any case (docs/identity.md has the
//! rules and their sources). So `alice`, `ALICE` and `alice@example.com` can
//! be one person, and in another pool `Bob` and `bob` can be two. Three
//! rows naming one person must make one call, and the ledger must remember
//! the person, not the string.
//!
//! This module is the model: [`facts`] holds the pool's settings from
//! DescribeUserPool ([`PoolFacts`]): the case rule and sign-in attributes
//! ([`NameRule`]), and what else a run depends on (account recovery, email
//! sender, feature plan, Lambda triggers); this file holds what ListUsers
//! says of a user ([`ListedUser`], [`UserFacts`]) and what a row names
//! ([`Identity`]). The machinery that resolves rows through ListUsers is
//! [`crate::resolve`].
//!
//! What resolution yields for a row is an [`Identity`]: a [`Person`] (with
//! the canonical username and the facts a precheck needs), nobody (the
//! value names no one; the call is still made, and Cognito answers
//! UserNotFoundException), or ambiguous (the pool's rules could not be read
//! and the value might name someone else: the row is deferred with the
//! reason rather than risk a second message or a wrong user).

pub mod facts;

pub use facts::{Case, NameRule, PoolFacts};

use crate::ledger::fingerprint;

/// The attributes a value can name a user by, in the order Cognito tries
/// them: the username first, then the aliases, then the sub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameKind {
    Username,
    Email,
    PhoneNumber,
    PreferredUsername,
    Sub,
}

impl NameKind {
    pub const ALL: [NameKind; 5] = [
        NameKind::Username,
        NameKind::Email,
        NameKind::PhoneNumber,
        NameKind::PreferredUsername,
        NameKind::Sub,
    ];

    /// The attribute's name in a ListUsers filter.
    pub fn attribute(self) -> &'static str {
        match self {
            NameKind::Username => "username",
            NameKind::Email => "email",
            NameKind::PhoneNumber => "phone_number",
            NameKind::PreferredUsername => "preferred_username",
            NameKind::Sub => "sub",
        }
    }

    /// Whether the pool's case rule applies to it (phone numbers and subs
    /// have no case to fold).
    pub fn has_case(self) -> bool {
        matches!(
            self,
            NameKind::Username | NameKind::Email | NameKind::PreferredUsername
        )
    }
}

/// One user as ListUsers describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListedUser {
    /// The canonical username.
    pub username: String,
    pub sub: Option<String>,
    /// `CONFIRMED`, `RESET_REQUIRED`, `EXTERNAL_PROVIDER`, ...
    pub status: String,
    pub enabled: bool,
    pub email: Option<String>,
    pub email_verified: bool,
    pub phone_number: Option<String>,
    pub phone_number_verified: bool,
    pub preferred_username: Option<String>,
}

impl ListedUser {
    /// The value of `kind` for this user.
    pub fn name(&self, kind: NameKind) -> Option<&str> {
        match kind {
            NameKind::Username => Some(&self.username),
            NameKind::Email => self.email.as_deref(),
            NameKind::PhoneNumber => self.phone_number.as_deref(),
            NameKind::PreferredUsername => self.preferred_username.as_deref(),
            NameKind::Sub => self.sub.as_deref(),
        }
    }

    /// Whether `kind` is verified (only email and phone can be).
    pub fn verified(&self, kind: NameKind) -> bool {
        match kind {
            NameKind::Email => self.email_verified,
            NameKind::PhoneNumber => self.phone_number_verified,
            _ => true,
        }
    }
}

/// What a precheck needs to know about a user, in one byte: the status
/// (3 bits), enabled, and a verified email or phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserFacts(u8);

const STATUSES: [&str; 8] = [
    "CONFIRMED",
    "RESET_REQUIRED",
    "FORCE_CHANGE_PASSWORD",
    "EXTERNAL_PROVIDER",
    "UNCONFIRMED",
    "ARCHIVED",
    "COMPROMISED",
    "UNKNOWN",
];
const ENABLED: u8 = 1 << 3;
const VERIFIED_EMAIL: u8 = 1 << 4;
const VERIFIED_PHONE: u8 = 1 << 5;

impl UserFacts {
    pub fn of(user: &ListedUser) -> UserFacts {
        let status = STATUSES
            .iter()
            .position(|s| *s == user.status)
            .unwrap_or(STATUSES.len() - 1) as u8;
        let mut bits = status;
        if user.enabled {
            bits |= ENABLED;
        }
        if user.email_verified && user.email.is_some() {
            bits |= VERIFIED_EMAIL;
        }
        if user.phone_number_verified && user.phone_number.is_some() {
            bits |= VERIFIED_PHONE;
        }
        UserFacts(bits)
    }

    pub fn from_bits(bits: u8) -> UserFacts {
        UserFacts(bits)
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn status(self) -> &'static str {
        STATUSES[usize::from(self.0 & 0b111)]
    }

    pub fn enabled(self) -> bool {
        self.0 & ENABLED != 0
    }

    /// Signs in through an external identity provider.
    pub fn federated(self) -> bool {
        self.status() == "EXTERNAL_PROVIDER"
    }

    /// A verified email or phone number a code can be sent to.
    pub fn verified_contact(self) -> bool {
        self.0 & (VERIFIED_EMAIL | VERIFIED_PHONE) != 0
    }

    /// Why AdminResetUserPassword cannot work for this user, if it cannot.
    pub fn reset_blocker(self) -> Option<&'static str> {
        if !self.enabled() {
            Some("the user is disabled")
        } else if self.federated() {
            Some("the user signs in through an external identity provider (EXTERNAL_PROVIDER)")
        } else if self.status() == "FORCE_CHANGE_PASSWORD" {
            Some("the user has not chosen a password yet (FORCE_CHANGE_PASSWORD); use set-password")
        } else if !self.verified_contact() {
            Some("the user has no verified email or phone number to send a code to")
        } else {
            None
        }
    }
}

/// The person a row names.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// [`fingerprint`] of the canonical username: the key of the ledger's
    /// records and of de-duplication.
    pub key: u128,
    /// The canonical username (what Cognito's ListUsers returns).
    pub username: String,
    /// From the listing; `None` when not read.
    pub facts: Option<UserFacts>,
    /// What the row's value matched.
    pub via: NameKind,
}

impl Person {
    pub fn new(username: String, facts: Option<UserFacts>, via: NameKind) -> Person {
        Person {
            key: fingerprint(&username),
            username,
            facts,
            via,
        }
    }

    /// The person a ListUsers record describes (named by its username).
    pub fn listed(user: &ListedUser) -> Person {
        Person::new(
            user.username.clone(),
            Some(UserFacts::of(user)),
            NameKind::Username,
        )
    }
}

/// What a row's value names.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Identity {
    /// Not resolved: the row is keyed by its exact text (`--resolve
    /// exact`).
    #[default]
    Unresolved,
    /// No one in the pool is named by the value (as far as the pool's
    /// listing shows).
    Nobody,
    Person(Person),
    /// The value might name someone, but the pool's rules could not be
    /// read to tell (the reason).
    Ambiguous(String),
    /// The ledger already finished this very value; it needs no resolving
    /// (a resume skips it).
    Recorded,
}

impl Identity {
    /// The canonical username, when known.
    pub fn username(&self) -> Option<&str> {
        match self {
            Identity::Person(p) => Some(&p.username),
            _ => None,
        }
    }

    /// What the user knows about the person, when read.
    pub fn facts(&self) -> Option<UserFacts> {
        match self {
            Identity::Person(p) => p.facts,
            _ => None,
        }
    }
}

/// Whether `value` looks like an email address (has an `@` with text on
/// both sides).
pub fn looks_like_email(value: &str) -> bool {
    matches!(value.split_once('@'), Some((a, b)) if !a.is_empty() && !b.is_empty())
}

/// Whether `value` looks like a phone number in E.164 form (`+` and digits).
pub fn looks_like_phone(value: &str) -> bool {
    value.len() > 1 && value.starts_with('+') && value[1..].bytes().all(|b| b.is_ascii_digit())
}

/// Parses a UUID (`8-4-4-4-12` hex digits, any case) into its 128 bits.
pub fn parse_uuid(value: &str) -> Option<u128> {
    let b = value.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let mut n: u128 = 0;
    for (i, c) in value.chars().enumerate() {
        if [8, 13, 18, 23].contains(&i) {
            continue;
        }
        n = (n << 4) | u128::from(c.to_digit(16)?);
    }
    Some(n)
}

/// A UUID's canonical text: lower-case hex, `8-4-4-4-12`.
pub fn format_uuid(n: u128) -> String {
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_round_trip() {
        let s = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
        assert_eq!(format_uuid(parse_uuid(s).unwrap()), s);
        assert_eq!(
            parse_uuid("3F2504E0-4F89-41D3-9A0C-0305E82C3301"),
            parse_uuid(s)
        );
        assert_eq!(parse_uuid("not-a-uuid"), None);
        assert_eq!(parse_uuid("3f2504e0x4f89-41d3-9a0c-0305e82c3301"), None);
        assert_eq!(parse_uuid("3f2504e0-4f89-41d3-9a0c-0305e82c330g"), None);
    }

    #[test]
    fn value_shapes() {
        assert!(looks_like_email("a@b"));
        assert!(!looks_like_email("@b") || !looks_like_email("a@"));
        assert!(!looks_like_email("alice"));
        assert!(looks_like_phone("+15550001"));
        assert!(!looks_like_phone("+1555x"));
        assert!(!looks_like_phone("15550001"));
    }

    /// The packed facts keep every field, and the precheck reasons follow them.
    #[test]
    fn facts_pack() {
        let mut u = ListedUser {
            username: "a".into(),
            status: "CONFIRMED".into(),
            enabled: true,
            email: Some("a@x".into()),
            email_verified: true,
            ..ListedUser::default()
        };
        let f = UserFacts::of(&u);
        assert_eq!(
            (f.status(), f.enabled(), f.verified_contact()),
            ("CONFIRMED", true, true)
        );
        assert_eq!(f.reset_blocker(), None);
        assert_eq!(UserFacts::from_bits(f.bits()), f);
        u.status = "EXTERNAL_PROVIDER".into();
        assert!(UserFacts::of(&u).federated());
        u.status = "SOMETHING_NEW".into();
        assert_eq!(UserFacts::of(&u).status(), "UNKNOWN");
        u.status = "CONFIRMED".into();
        u.email_verified = false;
        assert!(UserFacts::of(&u)
            .reset_blocker()
            .unwrap()
            .contains("no verified"));
        u.enabled = false;
        assert!(UserFacts::of(&u)
            .reset_blocker()
            .unwrap()
            .contains("disabled"));
    }
}
