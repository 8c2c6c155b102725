//! What the tool remembers about each user of a job, in 24 bytes a user.
//!
//! A resume over a million users needs, for each one, its last outcome in
//! the ledger, its sign-out step, and whether this run's input already named
//! it, and on which line (de-duplication: "same person as line N"). A
//! `HashMap<u128, _>` per question costs 32 to 50 bytes a user each, and
//! twice that while it grows; this table keeps one slot per user: the
//! 128-bit [`fingerprint`](super::fingerprint), a packed `u32`
//! ([`UserState`]) and the first input line naming the user in this run (a
//! `u32`), in an open-addressed array filled at most 7/8. Fingerprints are uniformly distributed (xxh3), so the slot is taken
//! straight from the fingerprint's bits and collisions are resolved by
//! linear probing.

use super::Outcome;

/// A user's state, packed: last outcome (3 bits), sign-out step outcome (3
/// bits), seen in this run's input (1 bit), an alias entry (1 bit: the
/// state kept under an input value that named the user by another name),
/// failure code index (16 bits).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserState(u32);

const OUTCOMES: [Outcome; 5] = [
    Outcome::Succeeded,
    Outcome::Failed,
    Outcome::Invalid,
    Outcome::Skipped,
    Outcome::Deferred,
];

fn encode(o: Option<Outcome>) -> u32 {
    o.and_then(|o| OUTCOMES.iter().position(|x| *x == o))
        .map_or(0, |i| i as u32 + 1)
}

fn decode(bits: u32) -> Option<Outcome> {
    OUTCOMES.get((bits as usize).checked_sub(1)?).copied()
}

const SEEN: u32 = 1 << 6;
const ALIAS: u32 = 1 << 7;

impl UserState {
    /// The last outcome the ledger records for the action.
    pub fn last(self) -> Option<Outcome> {
        decode(self.0 & 0b111)
    }

    /// The index of the last failure's code (see `Replay::code`).
    pub fn code(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The last outcome of the sign-out step (`--sign-out`).
    pub fn signed_out(self) -> Option<Outcome> {
        decode((self.0 >> 3) & 0b111)
    }

    /// Whether this run's input named the user already.
    pub fn seen(self) -> bool {
        self.0 & SEEN != 0
    }

    pub fn set_last(&mut self, outcome: Outcome, code: u16) {
        self.0 = (self.0 & 0x0000_FFF8) | encode(Some(outcome)) | (u32::from(code) << 16);
    }

    pub fn set_signed_out(&mut self, outcome: Outcome) {
        self.0 = (self.0 & !0b111_000) | (encode(Some(outcome)) << 3);
    }

    pub fn set_seen(&mut self) {
        self.0 |= SEEN;
    }

    /// Whether this entry is an input value's copy of its user's state.
    pub fn alias(self) -> bool {
        self.0 & ALIAS != 0
    }

    pub fn set_alias(&mut self) {
        self.0 |= ALIAS;
    }
}

/// Fingerprint → [`UserState`], open addressing with linear probing.
#[derive(Debug, Default)]
pub struct UserTable {
    /// 0 marks a free slot; a fingerprint of 0 is stored as 1 (two users
    /// whose fingerprints are exactly 0 and 1: odds of 2^-127).
    keys: Vec<u128>,
    states: Vec<UserState>,
    /// The first input line of this run naming the user (0: none yet;
    /// lines past `u32::MAX` are kept as `u32::MAX`).
    lines: Vec<u32>,
    len: usize,
}

/// Slots filled at most 7/8.
fn slots_for(users: usize) -> usize {
    (users.saturating_mul(8) / 7 + 1).max(16)
}

impl UserTable {
    /// A table that holds `users` without growing.
    pub fn with_capacity(users: usize) -> UserTable {
        let slots = slots_for(users);
        UserTable {
            keys: vec![0; slots],
            states: vec![UserState::default(); slots],
            lines: vec![0; slots],
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes room for `more` users beyond those held, growing at most once.
    pub fn reserve(&mut self, more: usize) {
        let want = slots_for(self.len.saturating_add(more));
        if want > self.keys.len() {
            self.rehash(want);
        }
    }

    /// The state of the user with fingerprint `key`, if held.
    pub fn get(&self, key: u128) -> Option<UserState> {
        if self.keys.is_empty() {
            return None;
        }
        let key = stored(key);
        let mut i = self.home(key);
        loop {
            match self.keys[i] {
                0 => return None,
                k if k == key => return Some(self.states[i]),
                _ => i = self.next(i),
            }
        }
    }

    /// The state of the user with fingerprint `key`, added (empty) if not
    /// held.
    pub fn entry(&mut self, key: u128) -> &mut UserState {
        let i = self.slot(key);
        &mut self.states[i]
    }

    /// Marks the user with fingerprint `key` as named by input line `line`
    /// in this run. Returns the line that named it first, if an earlier one
    /// did (the user is then a duplicate).
    pub fn see(&mut self, key: u128, line: u64) -> Option<u64> {
        let i = self.slot(key);
        if self.states[i].seen() {
            return Some(u64::from(self.lines[i]));
        }
        self.states[i].set_seen();
        self.lines[i] = u32::try_from(line).unwrap_or(u32::MAX);
        None
    }

    /// The slot of `key`, added (empty) if not held.
    fn slot(&mut self, key: u128) -> usize {
        if (self.len + 1) * 8 > self.keys.len() * 7 {
            self.rehash(slots_for(self.len.max(8) * 2));
        }
        let key = stored(key);
        let mut i = self.home(key);
        loop {
            match self.keys[i] {
                0 => {
                    self.keys[i] = key;
                    self.len += 1;
                    return i;
                }
                k if k == key => return i,
                _ => i = self.next(i),
            }
        }
    }

    /// Every held state.
    pub fn states(&self) -> impl Iterator<Item = UserState> + '_ {
        self.keys
            .iter()
            .zip(&self.states)
            .filter(|(k, _)| **k != 0)
            .map(|(_, s)| *s)
    }

    /// Every held fingerprint (as stored) with its state.
    pub fn iter(&self) -> impl Iterator<Item = (u128, UserState)> + '_ {
        self.keys
            .iter()
            .zip(&self.states)
            .filter(|(k, _)| **k != 0)
            .map(|(k, s)| (*k, *s))
    }

    /// The first slot to look at: the fingerprint's high bits scaled to the
    /// table's size (no power-of-two size needed).
    fn home(&self, key: u128) -> usize {
        (((key >> 64) as u64 as u128 * self.keys.len() as u128) >> 64) as usize
    }

    fn next(&self, i: usize) -> usize {
        if i + 1 == self.keys.len() {
            0
        } else {
            i + 1
        }
    }

    fn rehash(&mut self, slots: usize) {
        let old_keys = std::mem::take(&mut self.keys);
        let old_states = std::mem::take(&mut self.states);
        let old_lines = std::mem::take(&mut self.lines);
        self.keys = vec![0; slots];
        self.states = vec![UserState::default(); slots];
        self.lines = vec![0; slots];
        for ((k, s), l) in old_keys.into_iter().zip(old_states).zip(old_lines) {
            if k != 0 {
                let mut i = self.home(k);
                while self.keys[i] != 0 {
                    i = self.next(i);
                }
                self.keys[i] = k;
                self.states[i] = s;
                self.lines[i] = l;
            }
        }
    }
}

fn stored(key: u128) -> u128 {
    key.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::fingerprint;
    use std::collections::HashMap;

    #[test]
    fn state_fields_are_independent() {
        let mut s = UserState::default();
        assert_eq!(
            (s.last(), s.signed_out(), s.seen(), s.code()),
            (None, None, false, 0)
        );
        s.set_seen();
        s.set_signed_out(Outcome::Failed);
        s.set_last(Outcome::Failed, 513);
        assert_eq!(
            (s.last(), s.signed_out(), s.seen(), s.code()),
            (Some(Outcome::Failed), Some(Outcome::Failed), true, 513)
        );
        s.set_last(Outcome::Succeeded, 0);
        s.set_signed_out(Outcome::Succeeded);
        assert_eq!(
            (s.last(), s.signed_out(), s.seen(), s.code()),
            (Some(Outcome::Succeeded), Some(Outcome::Succeeded), true, 0)
        );
        for o in OUTCOMES {
            let mut s = UserState::default();
            s.set_last(o, u16::MAX);
            assert_eq!((s.last(), s.code()), (Some(o), u16::MAX));
        }
    }

    /// The table agrees with a HashMap through growth, with fingerprints of
    /// 0 and of real names, and sized up front.
    #[test]
    fn agrees_with_a_hash_map() {
        for mut table in [UserTable::default(), UserTable::with_capacity(5_000)] {
            let mut model: HashMap<u128, u16> = HashMap::new();
            let keys: Vec<u128> = (0..5_000)
                .map(|i| fingerprint(&format!("user-{i}")))
                .chain([0, u128::MAX, 1 << 64])
                .collect();
            for (n, k) in keys.iter().enumerate() {
                let code = (n % 1000) as u16;
                table.entry(*k).set_last(Outcome::Failed, code);
                model.insert(*k, code);
                if n % 3 == 0 {
                    // Writing again keeps one entry.
                    table.entry(*k).set_seen();
                }
            }
            assert_eq!(table.len(), model.len());
            for (k, code) in &model {
                let s = table.get(*k).expect("held");
                assert_eq!((s.last(), s.code()), (Some(Outcome::Failed), *code));
            }
            assert_eq!(table.get(fingerprint("nobody")), None);
            assert_eq!(table.states().count(), model.len());
        }
    }

    /// The first line naming a user is remembered, through growth.
    #[test]
    fn first_line_is_kept() {
        let mut t = UserTable::default();
        assert_eq!(t.see(42, 7), None);
        for k in 100..2000 {
            t.see(k, k as u64);
        }
        assert_eq!(t.see(42, 9), Some(7));
        assert_eq!(t.see(1500, 1), Some(1500));
    }

    #[test]
    fn reserve_keeps_what_is_held() {
        let mut t = UserTable::default();
        t.entry(7).set_seen();
        t.reserve(100_000);
        assert!(t.get(7).expect("kept").seen());
        assert_eq!(t.len(), 1);
        assert!(t.keys.len() >= 100_001 * 8 / 7);
    }
}
