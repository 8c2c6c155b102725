//! `enable`: AdminEnableUser. "Activates sign-in for a user profile that
//! previously had sign-in access disabled" (API reference,
//! AdminEnableUser): the way back from `disable` once the incident is
//! over. The user's `Enabled` becomes true; no status to read back, safe
//! to repeat, no message. Counted as billing, as `disable` is.

use super::{no_status, Facts, QuotaCategory, Skip, SkipRules};
use crate::identity::UserFacts;
use crate::ledger::Detail;

pub(super) const FACTS: Facts = Facts {
    name: "enable",
    call: "AdminEnableUser",
    help: "AdminEnableUser: the user can sign in again (after disable)",
    category: QuotaCategory::UserUpdate,
    bills: true,
    sends_message: false,
    flags: &[],
    target_status: no_status,
    skip,
};

/// A user the pool's listing shows as enabled already.
fn skip(facts: UserFacts, _: SkipRules) -> Option<Skip> {
    facts.enabled().then_some(Skip {
        reason: "the user is enabled already (the pool's listing)",
        detail: Detail::AlreadyEnabled,
        already: true,
    })
}
