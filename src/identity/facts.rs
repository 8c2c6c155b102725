//! What DescribeUserPool says about the pool, reduced to what a run
//! depends on (docs/identity.md gives each fact's source):
//!
//! - the name rule: case sensitivity (`UsernameConfiguration`), username
//!   attributes (email or phone instead of a username: usernames are UUIDs)
//!   and alias attributes (email, phone_number, preferred_username);
//! - account recovery: with `admin_only`, AdminResetUserPassword cannot be
//!   used at all;
//! - the email sender: Cognito's default (`COGNITO_DEFAULT`) sends about 50
//!   messages a day for the whole account;
//! - the SMS configuration, the feature plan and password history, and the
//!   Lambda triggers that shape or send the messages.

use std::borrow::Cow;

use serde::Serialize;

use super::{ListedUser, NameKind};

/// Emails a day Cognito's default sender sends for the account (quotas
/// page, "Email messages sent daily per AWS account": 50).
pub const DEFAULT_EMAIL_DAILY_CAP: u64 = 50;

/// A pool's case rule for names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Case {
    /// `Bob` and `bob` are two users (API-made pools' default).
    Sensitive,
    /// Username, email and preferred_username match in any case.
    Insensitive,
    /// The pool's settings could not be read.
    Unknown,
}

/// How the pool resolves a name to a user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NameRule {
    pub case: Case,
    /// Email or phone instead of a username (UsernameAttributes).
    pub username_attributes: Vec<NameKind>,
    /// Also sign in with these (AliasAttributes).
    pub alias_attributes: Vec<NameKind>,
}

impl NameRule {
    /// The rule of a pool whose settings could not be read.
    pub fn unknown() -> NameRule {
        NameRule {
            case: Case::Unknown,
            username_attributes: Vec::new(),
            alias_attributes: Vec::new(),
        }
    }

    pub fn known(&self) -> bool {
        self.case != Case::Unknown
    }

    /// `value` as the pool compares it when it names a `kind`: lower-cased
    /// in a case-insensitive pool for username, email and
    /// preferred_username; as it is otherwise.
    pub fn fold<'a>(&self, kind: NameKind, value: &'a str) -> Cow<'a, str> {
        if self.case == Case::Insensitive && kind.has_case() {
            Cow::Owned(value.to_lowercase())
        } else {
            Cow::Borrowed(value)
        }
    }

    /// Whether the pool resolves `user`'s `kind` to them: the username and
    /// the sub always; an email or phone number when it is a username
    /// attribute, or an alias attribute and verified; a preferred_username
    /// when it is an alias attribute. `None` when the rule is unknown.
    pub fn names(&self, kind: NameKind, user: &ListedUser) -> Option<bool> {
        match kind {
            NameKind::Username | NameKind::Sub => Some(true),
            _ if !self.known() => None,
            NameKind::Email | NameKind::PhoneNumber => Some(
                self.username_attributes.contains(&kind)
                    || (self.alias_attributes.contains(&kind) && user.verified(kind)),
            ),
            NameKind::PreferredUsername => Some(self.alias_attributes.contains(&kind)),
        }
    }

    /// The fingerprint of a username folded by the case rule (two names
    /// the pool treats as one have the same key).
    pub fn folded_key(&self, name: &str) -> u128 {
        xxhash_rust::xxh3::xxh3_128_with_seed(
            self.fold(NameKind::Username, name).as_bytes(),
            0x666f6c64,
        )
    }

    /// The kinds a value may name a user by in this pool, in Cognito's
    /// order (all of them when the rule is unknown).
    pub fn kinds(&self) -> Vec<NameKind> {
        NameKind::ALL
            .into_iter()
            .filter(|k| match k {
                NameKind::Username | NameKind::Sub => true,
                _ if !self.known() => true,
                k => self.username_attributes.contains(k) || self.alias_attributes.contains(k),
            })
            .collect()
    }

    /// A line for the plan.
    pub fn describe(&self) -> String {
        let case = match self.case {
            Case::Sensitive => "case-sensitive",
            Case::Insensitive => "case-insensitive",
            Case::Unknown => return "unknown (DescribeUserPool could not be read)".into(),
        };
        let list = |kinds: &[NameKind]| {
            kinds
                .iter()
                .map(|k| k.attribute())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.username_attributes.is_empty() {
            format!(
                "{case}; users sign in with {} (usernames are UUIDs), or the sub",
                list(&self.username_attributes)
            )
        } else if !self.alias_attributes.is_empty() {
            format!(
                "{case}; users sign in with the username, or the aliases {} (email and phone once verified), or the sub",
                list(&self.alias_attributes)
            )
        } else {
            format!("{case}; users sign in with the username, or the sub")
        }
    }
}

/// The pool's settings a run depends on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolFacts {
    pub rule: NameRule,
    /// Account recovery mechanisms in priority order (`verified_email`,
    /// `verified_phone_number`, `admin_only`); empty when not set (Cognito
    /// then uses a verified phone first, then a verified email).
    pub recovery: Vec<String>,
    /// `COGNITO_DEFAULT` (also when the pool sets no email configuration)
    /// or `DEVELOPER` (the account's own SES identity).
    pub email_sending_account: String,
    /// An SMS configuration (an SNS role) is set.
    pub sms_configured: bool,
    /// Feature plan: LITE, ESSENTIALS or PLUS.
    pub tier: Option<String>,
    /// Previous passwords a user may not reuse (set-password).
    pub password_history_size: u32,
    pub min_password_length: Option<usize>,
    /// Lambda triggers that shape or send the messages.
    pub triggers: Vec<String>,
    /// Cognito's estimate of the users in the pool.
    pub estimated_users: u64,
    /// The pool's ARN, `arn:aws:cognito-idp:REGION:ACCOUNT:userpool/ID`.
    pub arn: Option<String>,
}

impl PoolFacts {
    /// The pool's account, from its ARN.
    pub fn account(&self) -> Option<String> {
        let account = self.arn.as_deref()?.split(':').nth(4)?;
        (!account.is_empty()).then(|| account.to_string())
    }

    /// Account recovery is admin-only: AdminResetUserPassword cannot be used.
    pub fn admin_only_recovery(&self) -> bool {
        self.recovery.iter().any(|r| r == "admin_only")
    }

    /// Email goes through Cognito's default sender, capped at about
    /// [`DEFAULT_EMAIL_DAILY_CAP`] a day for the account.
    pub fn default_email_sender(&self) -> bool {
        self.email_sending_account == "COGNITO_DEFAULT"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(verified: bool) -> ListedUser {
        ListedUser {
            username: "alice".into(),
            email: Some("a@x".into()),
            email_verified: verified,
            ..ListedUser::default()
        }
    }

    /// An email names its user only as a username attribute, or as a verified alias; an unknown rule says so.
    #[test]
    fn which_names_resolve() {
        let alias = NameRule {
            case: Case::Insensitive,
            username_attributes: vec![],
            alias_attributes: vec![NameKind::Email],
        };
        assert_eq!(alias.names(NameKind::Email, &user(true)), Some(true));
        assert_eq!(alias.names(NameKind::Email, &user(false)), Some(false));
        assert_eq!(
            alias.names(NameKind::PreferredUsername, &user(true)),
            Some(false)
        );
        let by_email = NameRule {
            case: Case::Sensitive,
            username_attributes: vec![NameKind::Email],
            alias_attributes: vec![],
        };
        assert_eq!(by_email.names(NameKind::Email, &user(false)), Some(true));
        let unknown = NameRule::unknown();
        assert_eq!(unknown.names(NameKind::Email, &user(true)), None);
        assert_eq!(unknown.names(NameKind::Sub, &user(true)), Some(true));
        assert_eq!(unknown.kinds().len(), 5);
        assert_eq!(
            alias.kinds(),
            [NameKind::Username, NameKind::Email, NameKind::Sub]
        );
    }

    /// Folding follows the case rule and never touches phone numbers or subs.
    #[test]
    fn folding() {
        let ci = NameRule {
            case: Case::Insensitive,
            username_attributes: vec![],
            alias_attributes: vec![],
        };
        assert_eq!(ci.fold(NameKind::Username, "ALICE"), "alice");
        assert_eq!(ci.fold(NameKind::Sub, "ABC"), "ABC");
        let cs = NameRule {
            case: Case::Sensitive,
            ..ci.clone()
        };
        assert_eq!(cs.fold(NameKind::Email, "A@X"), "A@X");
    }
}
