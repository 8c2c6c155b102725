//! The pool's users, and the index of every value a user can be named by
//! (username, email, phone number, preferred_username, sub), folded as the
//! pool folds case.

use std::collections::{BTreeMap, HashMap};

use super::{uuid_for, SimUser};

/// The users of the simulated pool, in name order (ListUsers pages by
/// name), and the index of every value a user can be named by.
#[derive(Debug, Default)]
pub struct Users {
    pub by_name: BTreeMap<String, SimUser>,
    /// `(attribute tag, folded value)` -> username; see [`Pool::resolve`].
    pub(super) names: HashMap<(u8, String), String>,
}

pub(super) const TAG_USERNAME: u8 = 0;
pub(super) const TAG_EMAIL: u8 = 1;
pub(super) const TAG_PHONE: u8 = 2;
pub(super) const TAG_PREFERRED: u8 = 3;
pub(super) const TAG_SUB: u8 = 4;

impl Users {
    /// Adds or replaces `name`, filling in its sub and email if missing.
    pub(super) fn insert(
        &mut self,
        fold: impl Fn(&str) -> String,
        name: String,
        mut user: SimUser,
    ) {
        if user.sub.is_empty() {
            user.sub = uuid_for(&name);
        }
        if user.email.is_none() {
            user.email = Some(format!("{name}@example.com"));
        }
        if let Some(old) = self.by_name.remove(&name) {
            self.unindex(&fold, &name, &old);
        }
        self.names.insert((TAG_USERNAME, fold(&name)), name.clone());
        self.names.insert((TAG_SUB, user.sub.clone()), name.clone());
        if let Some(e) = &user.email {
            self.names.insert((TAG_EMAIL, fold(e)), name.clone());
        }
        if let Some(p) = &user.phone_number {
            self.names.insert((TAG_PHONE, p.clone()), name.clone());
        }
        if let Some(p) = &user.preferred_username {
            self.names.insert((TAG_PREFERRED, fold(p)), name.clone());
        }
        self.by_name.insert(name, user);
    }

    pub(super) fn unindex(&mut self, fold: impl Fn(&str) -> String, name: &str, user: &SimUser) {
        let mut drop = |key: (u8, String)| {
            if self.names.get(&key).map(String::as_str) == Some(name) {
                self.names.remove(&key);
            }
        };
        drop((TAG_USERNAME, fold(name)));
        drop((TAG_SUB, user.sub.clone()));
        if let Some(e) = &user.email {
            drop((TAG_EMAIL, fold(e)));
        }
        if let Some(p) = &user.phone_number {
            drop((TAG_PHONE, p.clone()));
        }
        if let Some(p) = &user.preferred_username {
            drop((TAG_PREFERRED, fold(p)));
        }
    }

    pub(super) fn lookup(&self, tag: u8, folded: &str) -> Option<&String> {
        self.names.get(&(tag, folded.to_string()))
    }
}
