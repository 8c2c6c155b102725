//! The whole pool, paged through ListUsers once, as a compact index of
//! fingerprints: every name a user can be called by (tagged with its kind
//! and folded by the pool's case rule) points at the user's slot, and the
//! slot holds the fingerprint of the canonical username, the sub as its
//! 128 bits, and the user's facts in a byte. No strings are kept: about 34
//! bytes a user plus 23 bytes a name (BENCHMARKS.md has the measured
//! figure for a pool of a million users).
//!
//! Lookups follow Cognito's order: the username, then the pool's aliases,
//! then the sub. When the pool's rules could not be read, only an exact
//! username or sub resolves; a value that matches anything else (an
//! attribute that may or may not be an alias, or a name in another case)
//! is ambiguous, never guessed.
//!
//! The canonical username itself comes from the row's own text when the row
//! is the username, from the sub when usernames are UUIDs, and otherwise
//! from one ListUsers by sub ([`super`]): rare, and billing no one.

use std::collections::HashMap;

use crate::fptable::FpTable;
use crate::identity::{format_uuid, parse_uuid, ListedUser, NameKind, NameRule, UserFacts};
use crate::ledger::fingerprint;

/// The slot marks a name two users share (an unknown rule, or data the
/// pool's own uniqueness rules should have prevented).
const SHARED: u32 = u32::MAX;
/// Tags above this mark a name folded to lower case, kept only when the
/// case rule is unknown.
const FOLDED: u64 = 8;
/// The user's username is its sub (pools with username attributes).
const USERNAME_IS_SUB: u8 = 1;

/// What a value names in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// The user in slot `slot`, matched as `via`.
    User {
        slot: u32,
        via: NameKind,
    },
    Nobody,
    /// The value matches a name whose meaning the pool's rules would decide
    /// (unknown rules), or a name two users share.
    Ambiguous {
        via: NameKind,
        folded: bool,
    },
}

/// See the module documentation.
#[derive(Debug)]
pub struct PoolIndex {
    rule: NameRule,
    /// Tagged name -> slot + 1 of the user it names, or [`SHARED`].
    names: FpTable<u32>,
    user_key: Vec<u128>,
    user_sub: Vec<u128>,
    user_facts: Vec<u8>,
    user_flags: Vec<u8>,
    /// Usernames that neither the row nor the sub can give back (a sub that
    /// is not a UUID): none in a pool whose subs are UUIDs, as Cognito's are.
    odd: HashMap<u32, String>,
}

fn tagged(tag: u64, value: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128_with_seed(value.as_bytes(), tag + 1)
}

fn tag(kind: NameKind) -> u64 {
    kind as u64
}

impl PoolIndex {
    /// An empty index for a pool of about `users` users.
    pub fn new(rule: NameRule, users: usize) -> PoolIndex {
        // Every kind the rule allows, less the sub where usernames are subs
        // (the username's entry finds it).
        let names_per_user = match (rule.known(), rule.username_attributes.is_empty()) {
            (false, _) => 8,
            (true, true) => rule.kinds().len(),
            (true, false) => rule.kinds().len() - 1,
        };
        PoolIndex {
            rule,
            names: FpTable::with_capacity(users.saturating_mul(names_per_user)),
            user_key: Vec::with_capacity(users),
            user_sub: Vec::with_capacity(users),
            user_facts: Vec::with_capacity(users),
            user_flags: Vec::with_capacity(users),
            odd: HashMap::new(),
        }
    }

    pub fn rule(&self) -> &NameRule {
        &self.rule
    }

    /// Users indexed.
    pub fn users(&self) -> usize {
        self.user_key.len()
    }

    /// Adds one listed user and every name the pool resolves to them.
    pub fn add(&mut self, user: &ListedUser) {
        let slot = self.user_key.len() as u32;
        let sub = user.sub.as_deref().and_then(parse_uuid);
        let mut flags = 0;
        match (sub, user.sub.as_deref()) {
            (Some(n), Some(text)) if text == user.username && format_uuid(n) == user.username => {
                flags |= USERNAME_IS_SUB;
            }
            (Some(_), _) => {}
            (None, _) => {
                self.odd.insert(slot, user.username.clone());
            }
        }
        self.user_key.push(fingerprint(&user.username));
        self.user_sub.push(sub.unwrap_or(0));
        self.user_facts.push(UserFacts::of(user).bits());
        self.user_flags.push(flags);
        for kind in NameKind::ALL {
            let Some(value) = user.name(kind) else {
                continue;
            };
            if kind == NameKind::Sub && flags & USERNAME_IS_SUB != 0 {
                continue; // the username's own entry finds it
            }
            match self.rule.names(kind, user) {
                Some(true) => {
                    let folded = self.rule.fold(kind, value).into_owned();
                    self.insert(tagged(tag(kind), &folded), slot);
                }
                Some(false) => {}
                None => {
                    // Unknown rule: remember the name exactly and folded, to
                    // recognise (and refuse to guess about) a row naming it.
                    self.insert(tagged(tag(kind), value), slot);
                }
            }
            if !self.rule.known() && kind.has_case() {
                self.insert(tagged(FOLDED + tag(kind), &value.to_lowercase()), slot);
            }
        }
    }

    /// Whom `name`, as `kind` and exactly as indexed, names: one user, or
    /// several (ambiguous).
    #[inline]
    fn hit(&self, kind: NameKind, name: &str) -> Option<Hit> {
        self.get(tagged(tag(kind), name)).map(|slot| match slot {
            SHARED => Hit::Ambiguous {
                via: kind,
                folded: false,
            },
            slot => Hit::User { slot, via: kind },
        })
    }

    /// What `value` names.
    pub fn lookup(&self, value: &str) -> Hit {
        if self.rule.known() {
            // Folded once: the same fold serves every kind that has case.
            let folded = self.rule.fold(NameKind::Username, value);
            for kind in self.rule.kinds() {
                let name = if kind.has_case() { &*folded } else { value };
                if let Some(hit) = self.hit(kind, name) {
                    return hit;
                }
            }
            return Hit::Nobody;
        }
        // Unknown rule: the username and the sub always resolve, exactly.
        for kind in [NameKind::Username, NameKind::Sub] {
            if let Some(hit) = self.hit(kind, value) {
                return hit;
            }
        }
        for kind in [
            NameKind::Email,
            NameKind::PhoneNumber,
            NameKind::PreferredUsername,
        ] {
            if self.get(tagged(tag(kind), value)).is_some() {
                return Hit::Ambiguous {
                    via: kind,
                    folded: false,
                };
            }
        }
        let lower = value.to_lowercase();
        for kind in NameKind::ALL.into_iter().filter(|k| k.has_case()) {
            if self.get(tagged(FOLDED + tag(kind), &lower)).is_some() {
                return Hit::Ambiguous {
                    via: kind,
                    folded: true,
                };
            }
        }
        Hit::Nobody
    }

    /// The fingerprint of the canonical username of the user in `slot`.
    pub fn key(&self, slot: u32) -> u128 {
        self.user_key[slot as usize]
    }

    pub fn facts(&self, slot: u32) -> UserFacts {
        UserFacts::from_bits(self.user_facts[slot as usize])
    }

    /// The user's sub, when it is a UUID.
    pub fn sub(&self, slot: u32) -> Option<String> {
        match self.user_sub[slot as usize] {
            0 => None,
            n => Some(format_uuid(n)),
        }
    }

    /// The canonical username of the user in `slot`, when it can be told
    /// without asking the pool: `value` (the row's text) is it exactly or
    /// in lower case, or the username is the sub.
    pub fn username(&self, slot: u32, value: &str) -> Option<String> {
        let key = self.key(slot);
        if fingerprint(value) == key {
            return Some(value.to_string());
        }
        let lower = value.to_lowercase();
        if fingerprint(&lower) == key {
            return Some(lower);
        }
        if self.user_flags[slot as usize] & USERNAME_IS_SUB != 0 {
            return self.sub(slot);
        }
        self.odd.get(&slot).cloned()
    }

    /// Bytes held, for the benchmarks.
    pub fn bytes(&self) -> usize {
        self.names.bytes()
            + self.user_key.capacity() * 16
            + self.user_sub.capacity() * 16
            + self.user_facts.capacity()
            + self.user_flags.capacity()
            + self.odd.values().map(|s| s.len() + 48).sum::<usize>()
    }

    fn get(&self, key: u128) -> Option<u32> {
        self.names
            .get(key)
            .map(|s| if s == SHARED { SHARED } else { s - 1 })
    }

    fn insert(&mut self, key: u128, slot: u32) {
        let held = self.names.entry(key);
        *held = match *held {
            0 => slot + 1,
            s if s == slot + 1 => s,
            _ => SHARED,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Case;

    fn user(name: &str, sub: &str, email: &str, verified: bool) -> ListedUser {
        ListedUser {
            username: name.into(),
            sub: Some(sub.into()),
            status: "CONFIRMED".into(),
            enabled: true,
            email: Some(email.into()),
            email_verified: verified,
            ..ListedUser::default()
        }
    }

    const SUB_A: &str = "11111111-1111-4111-8111-111111111111";
    const SUB_B: &str = "22222222-2222-4222-8222-222222222222";

    fn index(rule: NameRule) -> PoolIndex {
        let mut i = PoolIndex::new(rule, 2);
        i.add(&user("alice", SUB_A, "Alice@Example.com", true));
        i.add(&user("Bob", SUB_B, "bob@example.com", false));
        i
    }

    fn rule(case: Case, aliases: Vec<NameKind>) -> NameRule {
        NameRule {
            case,
            username_attributes: vec![],
            alias_attributes: aliases,
        }
    }

    /// A case-insensitive alias pool resolves every form of a person to one slot; unverified emails are no alias.
    #[test]
    fn case_insensitive_aliases() {
        let i = index(rule(Case::Insensitive, vec![NameKind::Email]));
        for v in [
            "alice",
            "ALICE",
            "alice@example.com",
            "ALICE@EXAMPLE.COM",
            SUB_A,
        ] {
            assert!(matches!(i.lookup(v), Hit::User { slot: 0, .. }), "{v}");
        }
        assert!(matches!(i.lookup("bob"), Hit::User { slot: 1, .. }));
        assert_eq!(i.lookup("bob@example.com"), Hit::Nobody);
        assert_eq!(i.username(1, "BOB"), None, "needs the pool to say 'Bob'");
        assert_eq!(i.username(0, "ALICE").as_deref(), Some("alice"));
        assert_eq!(i.sub(0).as_deref(), Some(SUB_A));
    }

    /// A case-sensitive pool tells Bob from bob.
    #[test]
    fn case_sensitive() {
        let mut i = index(rule(Case::Sensitive, vec![]));
        i.add(&user(
            "bob",
            "33333333-3333-4333-8333-333333333333",
            "b2@x",
            true,
        ));
        assert!(matches!(i.lookup("Bob"), Hit::User { slot: 1, .. }));
        assert!(matches!(i.lookup("bob"), Hit::User { slot: 2, .. }));
        assert_eq!(i.lookup("BOB"), Hit::Nobody);
        assert_eq!(i.lookup("Alice@Example.com"), Hit::Nobody, "no email alias");
    }

    /// With the rules unknown, only exact usernames and subs resolve; anything else that matches is ambiguous.
    #[test]
    fn unknown_rules_never_guess() {
        let i = index(NameRule::unknown());
        assert!(matches!(i.lookup("alice"), Hit::User { slot: 0, .. }));
        assert!(matches!(i.lookup(SUB_B), Hit::User { slot: 1, .. }));
        assert!(matches!(
            i.lookup("ALICE"),
            Hit::Ambiguous { folded: true, .. }
        ));
        assert!(matches!(
            i.lookup("bob@example.com"),
            Hit::Ambiguous {
                via: NameKind::Email,
                ..
            }
        ));
        assert_eq!(i.lookup("carol"), Hit::Nobody);
    }

    /// In an email-as-username pool the username is the sub, so the canonical name needs no lookup.
    #[test]
    fn uuid_usernames() {
        let r = NameRule {
            case: Case::Sensitive,
            username_attributes: vec![NameKind::Email],
            alias_attributes: vec![],
        };
        let mut i = PoolIndex::new(r, 1);
        i.add(&user(SUB_A, SUB_A, "a@x", false));
        assert!(matches!(
            i.lookup("a@x"),
            Hit::User {
                slot: 0,
                via: NameKind::Email
            }
        ));
        assert_eq!(i.username(0, "a@x").as_deref(), Some(SUB_A));
    }

    /// A name two users share is ambiguous, never one of them.
    #[test]
    fn shared_names() {
        let mut i = PoolIndex::new(rule(Case::Sensitive, vec![NameKind::Email]), 2);
        i.add(&user("a", SUB_A, "same@x", true));
        i.add(&user("b", SUB_B, "same@x", true));
        assert!(matches!(i.lookup("same@x"), Hit::Ambiguous { .. }));
    }

    /// The index agrees with a map through growth.
    #[test]
    fn many_users() {
        let mut i = PoolIndex::new(rule(Case::Insensitive, vec![NameKind::Email]), 10);
        for n in 0..5000 {
            let sub = format_uuid(n as u128 + 1);
            i.add(&user(&format!("u{n}"), &sub, &format!("u{n}@x"), true));
        }
        for n in (0..5000).step_by(7) {
            assert_eq!(
                i.lookup(&format!("U{n}@X")),
                Hit::User {
                    slot: n,
                    via: NameKind::Email
                }
            );
        }
        assert_eq!(i.users(), 5000);
    }
}
