//! `sign-out`: AdminUserGlobalSignOut only. It revokes the user's refresh
//! tokens; Cognito stops accepting their access tokens for its own user
//! operations, while a resource server that verifies access tokens itself
//! accepts them until they expire (API reference,
//! AdminUserGlobalSignOut). Safe to repeat, it leaves no status to read
//! back; it bills the user (developer guide, Quotas, "Monthly active
//! users"). Also the step `--sign-out` adds after a reset.

use super::{never, no_status, Facts, QuotaCategory};

pub(super) const FACTS: Facts = Facts {
    name: "sign-out",
    call: "AdminUserGlobalSignOut",
    help: "AdminUserGlobalSignOut only: ends the users' sessions (revokes refresh tokens)",
    category: QuotaCategory::UserUpdate,
    bills: true,
    sends_message: false,
    flags: &[],
    target_status: no_status,
    skip: never,
};
