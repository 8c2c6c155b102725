//! `disable`: AdminDisableUser. "Deactivates a user profile and revokes
//! all access tokens for the user. A deactivated user can't sign in, but
//! still appears in the responses to ListUsers API requests" (API
//! reference, AdminDisableUser). The user's `Enabled` becomes false; their
//! status stays as it was, so there is no status to read back, and the
//! call is safe to repeat (a lost answer is retried). It sends no message.
//! The "Monthly active users" list does not name it; the tool counts it as
//! billing, so that a plan never under-counts.

use super::{no_status, Facts, QuotaCategory, Skip, SkipRules};
use crate::identity::UserFacts;
use crate::ledger::Detail;

pub(super) const FACTS: Facts = Facts {
    name: "disable",
    call: "AdminDisableUser",
    help: "AdminDisableUser: the user cannot sign in, and their access tokens are revoked",
    category: QuotaCategory::UserUpdate,
    bills: true,
    sends_message: false,
    flags: &[],
    target_status: no_status,
    skip,
};

/// A user the pool's listing shows as disabled already.
fn skip(facts: UserFacts, _: SkipRules) -> Option<Skip> {
    (!facts.enabled()).then_some(Skip {
        reason: "the user is disabled already (the pool's listing)",
        detail: Detail::AlreadyDisabled,
        already: true,
    })
}
