//! `reset`: AdminResetUserPassword. The user must choose a new password;
//! Cognito sends them a code (API reference, AdminResetUserPassword), so a
//! repeat sends a second one, and a lost answer is read back first. The
//! user's status becomes RESET_REQUIRED. It does not bill the user
//! (developer guide, Quotas, "Monthly active users").

use super::{Facts, QuotaCategory, Skip, SkipRules};
use crate::cognito::Operation;
use crate::identity::UserFacts;
use crate::ledger::Detail;

pub(super) const FACTS: Facts = Facts {
    name: "reset",
    call: "AdminResetUserPassword",
    help: "AdminResetUserPassword: the user must choose a new password; Cognito sends them a code",
    category: QuotaCategory::UserAccountRecovery,
    bills: false,
    sends_message: true,
    flags: &["--client-metadata", "--sign-out", "--disable", "--precheck"],
    target_status,
    skip,
};

fn target_status(_: &Operation) -> Option<&'static str> {
    Some("RESET_REQUIRED")
}

/// With `--precheck`: a reset that cannot work (disabled, federated, no
/// password yet, nothing verified to send a code to).
fn skip(facts: UserFacts, rules: SkipRules) -> Option<Skip> {
    if !rules.precheck {
        return None;
    }
    facts.reset_blocker().map(|reason| Skip {
        reason,
        detail: Detail::Precheck,
        already: false,
    })
}
