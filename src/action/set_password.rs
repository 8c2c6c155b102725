//! `set-password`: AdminSetUserPassword with the row's (or a generated)
//! password. `Permanent` makes the user CONFIRMED, else
//! FORCE_CHANGE_PASSWORD (API reference, AdminSetUserPassword). It sends
//! no message, so a lost answer is retried; it bills the user (developer
//! guide, Quotas, "Monthly active users").

use super::{Facts, QuotaCategory, Skip, SkipRules};
use crate::cognito::Operation;
use crate::identity::UserFacts;
use crate::ledger::Detail;

pub(super) const FACTS: Facts = Facts {
    name: "set-password",
    call: "AdminSetUserPassword",
    help: "AdminSetUserPassword with the password from the input",
    category: QuotaCategory::UserAccountRecovery,
    bills: true,
    sends_message: false,
    flags: &["--permanent", "--include-federated", "--generate-passwords"],
    target_status,
    skip,
};

fn target_status(op: &Operation) -> Option<&'static str> {
    match op {
        Operation::SetPassword { permanent: true } => Some("CONFIRMED"),
        _ => Some("FORCE_CHANGE_PASSWORD"),
    }
}

/// Without `--include-federated`: a federated user, whom a password would
/// turn into a password user (API reference, AdminSetUserPassword).
fn skip(facts: UserFacts, rules: SkipRules) -> Option<Skip> {
    (!rules.include_federated && facts.federated()).then_some(Skip {
        reason: "the user signs in through an external identity provider (EXTERNAL_PROVIDER); a password would make them a password user; --include-federated sets one anyway",
        detail: Detail::Federated,
        already: false,
    })
}
