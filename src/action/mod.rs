//! What each action is, in one place: a module per action holds its
//! [`Facts`] (its name and help, the Cognito call, the quota category it
//! spends, whether the call bills the user, whether it sends a message,
//! the state to read back after a lost answer, the flags that apply to it
//! and its skip rule). `plan`, the checks of the flags and the run all ask
//! here, so they cannot disagree; [`Action::facts`] is one exhaustive
//! `match` and [`Facts`] has no defaults, so an action added to [`Action`]
//! does not compile until each of its facts is stated, and [`ALL`] is
//! checked against the ledger's own list of names (see the tests).
//!
//! Facts from AWS's documentation (docs/identity.md, "The facts, with
//! their sources"): the Amazon Cognito developer guide's "Quotas" page puts
//! AdminResetUserPassword and AdminSetUserPassword in the
//! UserAccountRecovery category, and AdminUserGlobalSignOut,
//! AdminDisableUser and AdminEnableUser in UserUpdate; its "Monthly active
//! users" section bills an admin password set and a global sign-out, not a
//! reset.

use crate::cognito::Operation;
use crate::identity::UserFacts;
use crate::ledger::{Action, Detail, Step};

mod disable;
mod enable;
mod reset;
mod set_password;
mod sign_out;

/// The UserUpdate category's default quota (AdminUserGlobalSignOut,
/// AdminDisableUser, AdminEnableUser), requests per second.
pub const DEFAULT_UPDATE_QUOTA: f64 = 25.0;
/// The UserAccountRecovery category's default quota, requests per second.
pub const DEFAULT_RECOVERY_QUOTA: f64 = 30.0;

/// Every action, in `--action`'s order.
pub const ALL: [Action; 5] = [
    Action::Reset,
    Action::SetPassword,
    Action::SignOut,
    Action::Disable,
    Action::Enable,
];

/// A Cognito API quota category the tool's calls spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaCategory {
    /// AdminResetUserPassword, AdminSetUserPassword.
    UserAccountRecovery,
    /// AdminUserGlobalSignOut, AdminDisableUser, AdminEnableUser.
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

/// What one action is. Every field is stated by the action's module.
pub struct Facts {
    /// As `--action`, the ledger's header and file names spell it.
    pub name: &'static str,
    /// The Cognito operation it calls.
    pub call: &'static str,
    /// `--action`'s help for it.
    pub help: &'static str,
    pub category: QuotaCategory,
    /// Whether its call makes each user it reaches a billed monthly active
    /// user.
    pub bills: bool,
    /// Whether carrying it out sends the user a message, so that a repeat
    /// would send a second one: a lost answer is read back before any
    /// repeat. An action that sends none is safe to repeat, and its lost
    /// answers are retried.
    pub sends_message: bool,
    /// The flags that apply to this action and not to every action.
    pub flags: &'static [&'static str],
    /// The user's status once the call was carried out, when the call
    /// leaves one to read back (`None`: no trace, or none needed).
    target_status: fn(&Operation) -> Option<&'static str>,
    /// Whether the call must not be made for a user of whom ListUsers said
    /// this, and why.
    skip: fn(UserFacts, SkipRules) -> Option<Skip>,
}

impl Action {
    /// The action's facts.
    pub fn facts(self) -> &'static Facts {
        match self {
            Action::Reset => &reset::FACTS,
            Action::SetPassword => &set_password::FACTS,
            Action::SignOut => &sign_out::FACTS,
            Action::Disable => &disable::FACTS,
            Action::Enable => &enable::FACTS,
        }
    }

    /// As `--action` spells it.
    pub fn as_str(self) -> &'static str {
        self.facts().name
    }

    /// The category its calls spend.
    pub fn category(self) -> QuotaCategory {
        self.facts().category
    }
}

impl Operation {
    /// The action this call carries out.
    pub fn action(&self) -> Action {
        match self {
            Operation::Reset { .. } => Action::Reset,
            Operation::SetPassword { .. } => Action::SetPassword,
            Operation::SignOut => Action::SignOut,
            Operation::Disable => Action::Disable,
            Operation::Enable => Action::Enable,
        }
    }

    /// The status a user has once this call was carried out, to read back
    /// after a lost answer; `None` for a call that leaves no status of its
    /// own to read (sign-out, disable and enable, all safe to repeat).
    pub fn target_status(&self) -> Option<&'static str> {
        (self.action().facts().target_status)(self)
    }

    /// Whether carrying it out sends the user a message (so a repeat would
    /// send a second one).
    pub fn sends_message(&self) -> bool {
        self.action().facts().sends_message
    }
}

/// The calls of a run that bill each user they reach as a monthly active
/// user: `None` for a run that bills no one. With steps after the action
/// (a global sign-out, a disable), the first of them that bills.
pub fn billed_by(action: Action, steps: &[Step]) -> Option<String> {
    let facts = action.facts();
    if facts.bills {
        return Some(facts.call.to_string());
    }
    steps.iter().find_map(|step| {
        let facts = step.operation().action().facts();
        facts
            .bills
            .then(|| format!("{} (--{})", facts.call, step.as_str()))
    })
}

impl Step {
    /// The call a step makes: a step is an action taken after the run's
    /// own (its flag is `--` and its name).
    pub fn operation(self) -> Operation {
        match self {
            Step::SignOut => Operation::SignOut,
            Step::Disable => Operation::Disable,
        }
    }
}

/// The actions a flag applies to, for its message: "--action reset" or
/// "--action set-password".
pub fn taking(flag: &str) -> String {
    let names: Vec<String> = ALL
        .iter()
        .filter(|a| a.facts().flags.contains(&flag))
        .map(|a| format!("--action {}", a.as_str()))
        .collect();
    names.join(" or ")
}

/// The run's rules for skipping users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkipRules {
    /// `--precheck`: skip a reset that cannot work.
    pub precheck: bool,
    /// `--include-federated`: set passwords for federated users anyway.
    pub include_federated: bool,
}

/// Why a user is not called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub reason: &'static str,
    pub detail: Detail,
    /// The user is in the action's state already: recorded `succeeded`
    /// (with the detail), not `skipped`, since what the action is for holds.
    pub already: bool,
}

/// Whether `op` must not be called for a user of whom ListUsers said
/// `facts`, and why: each action's own rule (see its module). No reads:
/// what the listing said is all it uses.
pub fn skip(op: &Operation, facts: UserFacts, rules: SkipRules) -> Option<Skip> {
    (op.action().facts().skip)(facts, rules)
}

/// The rule of an action that skips no one.
fn never(_: UserFacts, _: SkipRules) -> Option<Skip> {
    None
}

/// For an action that leaves no status to read back.
fn no_status(_: &Operation) -> Option<&'static str> {
    None
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

    /// `ALL` names every action the ledger knows: serde's list of the
    /// enum's names (in its error for an unknown one) is the compiler's,
    /// so an action added to the enum and not here fails this test.
    #[test]
    fn all_lists_every_action_and_its_names_agree() {
        let err = serde_json::from_str::<Action>("\"no-such-action\"")
            .unwrap_err()
            .to_string();
        let listed = err
            .split_once("expected one of ")
            .map(|(_, l)| l)
            .unwrap_or_default();
        let listed: Vec<&str> = listed
            .split(", ")
            .map(|n| n.trim_matches(|c: char| c == '`' || c.is_whitespace()))
            .map(|n| n.split('`').next().unwrap_or(n))
            .collect();
        let ours: Vec<&str> = ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(listed, ours, "from: {err}");
        for action in ALL {
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
            let op = match action {
                Action::Reset => Operation::Reset {
                    client_metadata: Default::default(),
                },
                Action::SetPassword => Operation::SetPassword { permanent: true },
                Action::SignOut => Operation::SignOut,
                Action::Disable => Operation::Disable,
                Action::Enable => Operation::Enable,
            };
            assert_eq!(op.action(), action);
            let f = action.facts();
            assert!(f.category.default_quota() > 0.0, "{action:?}");
            assert!(f.call.starts_with("Admin"), "{action:?}");
            assert!(!f.help.is_empty());
            // A call that sends a message must leave a status to read
            // back, or a lost answer could not be settled without a repeat.
            assert!(
                !f.sends_message || op.target_status().is_some(),
                "{action:?}"
            );
        }
    }

    #[test]
    fn each_action_states_its_category_and_billing() {
        assert_eq!(billed_by(Action::Reset, &[]), None);
        assert!(billed_by(Action::Reset, &[Step::SignOut])
            .unwrap()
            .contains("--sign-out"));
        assert!(billed_by(Action::Reset, &[Step::Disable])
            .unwrap()
            .contains("AdminDisableUser (--disable)"));
        assert_eq!(
            billed_by(Action::SetPassword, &[]).as_deref(),
            Some("AdminSetUserPassword")
        );
        assert_eq!(Action::SignOut.category(), QuotaCategory::UserUpdate);
        assert_eq!(Action::Disable.category(), QuotaCategory::UserUpdate);
        assert_eq!(Action::Enable.category(), QuotaCategory::UserUpdate);
        assert_eq!(Action::Reset.category(), QuotaCategory::UserAccountRecovery);
        assert_eq!(taking("--permanent"), "--action set-password");
        assert_eq!(taking("--sign-out"), "--action reset");
    }

    #[test]
    fn the_skip_rules() {
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
        assert_eq!(
            skip(&Operation::Disable, disabled, off).unwrap().detail,
            Detail::AlreadyDisabled
        );
        assert_eq!(skip(&Operation::Disable, fine, off), None);
        assert_eq!(
            skip(&Operation::Enable, fine, off).unwrap().detail,
            Detail::AlreadyEnabled
        );
        assert_eq!(skip(&Operation::Enable, disabled, off), None);
    }
}
