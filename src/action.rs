//! What each action is, in one place: its quota category (typed), whether
//! its calls bill users as monthly active users, and the rule that skips a
//! user it must not be called for. `plan` and the run both ask here, so the
//! two cannot disagree; every `match` is exhaustive, so an action added to
//! [`Action`] cannot compile until each of its facts is stated.
//!
//! Facts from AWS's documentation (docs/identity.md, "The facts, with
//! their sources"): the Amazon Cognito developer guide's "Quotas" page puts
//! AdminResetUserPassword and AdminSetUserPassword in the
//! UserAccountRecovery category and AdminUserGlobalSignOut in UserUpdate;
//! its "Monthly active users" section bills an admin password set and a
//! global sign-out, not a reset.

use crate::cognito::Operation;
use crate::identity::UserFacts;
use crate::ledger::{Action, Detail};

/// The UserUpdate category's default quota (AdminUserGlobalSignOut),
/// requests per second.
pub const DEFAULT_UPDATE_QUOTA: f64 = 25.0;
/// The UserAccountRecovery category's default quota, requests per second.
pub const DEFAULT_RECOVERY_QUOTA: f64 = 30.0;

/// A Cognito API quota category the tool's calls spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaCategory {
    /// AdminResetUserPassword, AdminSetUserPassword.
    UserAccountRecovery,
    /// AdminUserGlobalSignOut.
    UserUpdate,
}

impl QuotaCategory {
    /// The category's name, as GetProvisionedLimit and the usage metrics
    /// spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaCategory::UserAccountRecovery => "UserAccountRecovery",
            QuotaCategory::UserUpdate => "UserUpdate",
        }
    }

    /// Its documented default quota, requests per second.
    pub fn default_quota(self) -> f64 {
        match self {
            QuotaCategory::UserAccountRecovery => DEFAULT_RECOVERY_QUOTA,
            QuotaCategory::UserUpdate => DEFAULT_UPDATE_QUOTA,
        }
    }
}

/// The category an action's calls spend.
pub fn quota_category(action: Action) -> QuotaCategory {
    match action {
        Action::Reset | Action::SetPassword => QuotaCategory::UserAccountRecovery,
        Action::SignOut => QuotaCategory::UserUpdate,
    }
}

/// The calls of a run that bill each user they reach as a monthly active
/// user: `None` for an action that bills no one. With `sign_out` (a reset
/// followed by a global sign-out) the sign-out bills.
pub fn billed_by(action: Action, sign_out: bool) -> Option<&'static str> {
    match action {
        Action::SetPassword => Some("AdminSetUserPassword"),
        Action::SignOut => Some("AdminUserGlobalSignOut"),
        Action::Reset if sign_out => Some("AdminUserGlobalSignOut (--sign-out)"),
        Action::Reset => None,
    }
}

/// The run's rules for skipping users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkipRules {
    /// `--precheck`: skip a reset that cannot work.
    pub precheck: bool,
    /// `--include-federated`: set passwords for federated users anyway.
    pub include_federated: bool,
}

/// Why a user is skipped, not called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub reason: &'static str,
    pub detail: Detail,
}

/// Whether `op` must not be called for a user of whom ListUsers said
/// `facts`, and why: with `--precheck`, a reset that cannot work (disabled,
/// federated, no password yet, nothing verified to send a code to);
/// without `--include-federated`, a password for a federated user, which
/// would turn them into a password user (AdminSetUserPassword, API
/// reference). No reads: what the listing said is all it uses.
pub fn skip(op: &Operation, facts: UserFacts, rules: SkipRules) -> Option<Skip> {
    match op {
        Operation::Reset { .. } if rules.precheck => facts.reset_blocker().map(|reason| Skip {
            reason,
            detail: Detail::Precheck,
        }),
        Operation::SetPassword { .. } if !rules.include_federated && facts.federated() => {
            Some(Skip {
                reason: "the user signs in through an external identity provider (EXTERNAL_PROVIDER); a password would make them a password user; --include-federated sets one anyway",
                detail: Detail::Federated,
            })
        }
        Operation::Reset { .. } | Operation::SetPassword { .. } | Operation::SignOut => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ListedUser;

    fn facts(status: &str, enabled: bool, verified: bool) -> UserFacts {
        UserFacts::of(&ListedUser {
            username: "u".into(),
            status: status.into(),
            enabled,
            email: Some("u@x".into()),
            email_verified: verified,
            ..ListedUser::default()
        })
    }

    #[test]
    fn each_action_states_its_category_and_billing() {
        for action in [Action::Reset, Action::SetPassword, Action::SignOut] {
            let category = quota_category(action);
            assert!(category.default_quota() > 0.0, "{action:?}");
            assert!(!category.as_str().is_empty());
        }
        assert_eq!(billed_by(Action::Reset, false), None);
        assert!(billed_by(Action::Reset, true).is_some());
        assert_eq!(quota_category(Action::SignOut), QuotaCategory::UserUpdate);
    }

    #[test]
    fn the_skip_rule() {
        let reset = Operation::Reset {
            client_metadata: Default::default(),
        };
        let set = Operation::SetPassword { permanent: false };
        let on = SkipRules {
            precheck: true,
            include_federated: false,
        };
        let off = SkipRules {
            precheck: false,
            include_federated: true,
        };
        let disabled = facts("CONFIRMED", false, true);
        let fine = facts("CONFIRMED", true, true);
        let federated = facts("EXTERNAL_PROVIDER", true, true);
        assert_eq!(skip(&reset, disabled, on).unwrap().detail, Detail::Precheck);
        assert_eq!(skip(&reset, disabled, off), None);
        assert_eq!(skip(&reset, fine, on), None);
        assert_eq!(skip(&set, federated, on).unwrap().detail, Detail::Federated);
        assert_eq!(skip(&set, federated, off), None);
        assert_eq!(skip(&Operation::SignOut, disabled, on), None);
    }
}
