//! What the tool remembers about each user of a job, in 24 bytes a user.
//!
//! A resume over a million users needs, for each one, its last outcome in
//! the ledger, its sign-out step, and whether this run's input already named
//! it, and on which line (de-duplication: "same person as line N"). A
//! `HashMap<u128, _>` per question costs 32 to 50 bytes a user each, and
//! twice that while it grows; this table keeps one slot per user: the
//! 128-bit [`fingerprint`](super::fingerprint), a packed `u32`
//! ([`UserState`]) and the first input line naming the user in this run (a
//! `u32`), in an open-addressed [`FpTable`] filled at most 7/8. Fingerprints are uniformly distributed (xxh3), so the slot is taken
//! straight from the fingerprint's bits and collisions are resolved by
//! linear probing.

use super::{Outcome, Step};
use crate::fptable::FpTable;

/// A user's state, packed: last outcome (3 bits), sign-out step outcome (3
/// bits), seen in this run's input (1 bit), an alias entry (1 bit: the
/// state kept under an input value that named the user by another name),
/// disable step outcome (3 bits), failure code index (16 bits).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserState(u32);

// Three bits hold one of these, or none: room for seven.
const OUTCOMES: [Outcome; 6] = [
    Outcome::Succeeded,
    Outcome::Failed,
    Outcome::Invalid,
    Outcome::Skipped,
    Outcome::Deferred,
    Outcome::Excluded,
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

/// Where a step's outcome sits: bits 3-5 for the sign-out, 8-10 for the
/// disable (the action's outcome is bits 0-2, its failure code 16-31).
fn step_shift(step: Step) -> u32 {
    match step {
        Step::SignOut => 3,
        Step::Disable => 8,
    }
}

impl UserState {
    /// The last outcome the ledger records for the action.
    pub fn last(self) -> Option<Outcome> {
        decode(self.0 & 0b111)
    }

    /// The index of the last failure's code among the codes the replay
    /// interned (`Replay::counts` reads it back).
    pub fn code(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The last outcome of a step after the action.
    pub fn step(self, step: Step) -> Option<Outcome> {
        decode((self.0 >> step_shift(step)) & 0b111)
    }

    /// Whether this run's input named the user already.
    pub fn seen(self) -> bool {
        self.0 & SEEN != 0
    }

    pub fn set_last(&mut self, outcome: Outcome, code: u16) {
        self.0 = (self.0 & 0x0000_FFF8) | encode(Some(outcome)) | (u32::from(code) << 16);
    }

    pub fn set_step(&mut self, step: Step, outcome: Outcome) {
        let shift = step_shift(step);
        self.0 = (self.0 & !(0b111 << shift)) | (encode(Some(outcome)) << shift);
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

/// One user's slot: its state and the first input line of this run naming
/// it (0: none yet; lines past `u32::MAX` are kept as `u32::MAX`).
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    state: UserState,
    line: u32,
}

/// Fingerprint → [`UserState`] (see the module documentation).
#[derive(Debug, Default)]
pub struct UserTable {
    table: FpTable<Slot>,
}

impl UserTable {
    /// A table that holds `users` without growing.
    pub fn with_capacity(users: usize) -> UserTable {
        UserTable {
            table: FpTable::with_capacity(users),
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Makes room for `more` users beyond those held, growing at most once.
    pub fn reserve(&mut self, more: usize) {
        self.table.reserve(more);
    }

    /// The state of the user with fingerprint `key`, if held.
    pub fn get(&self, key: u128) -> Option<UserState> {
        self.table.get(key).map(|s| s.state)
    }

    /// The state of the user with fingerprint `key`, added (empty) if not
    /// held.
    pub fn entry(&mut self, key: u128) -> &mut UserState {
        &mut self.table.entry(key).state
    }

    /// Marks the user with fingerprint `key` as named by input line `line`
    /// in this run. Returns the line that named it first, if an earlier one
    /// did (the user is then a duplicate).
    pub fn see(&mut self, key: u128, line: u64) -> Option<u64> {
        let slot = self.table.entry(key);
        if slot.state.seen() {
            return Some(u64::from(slot.line));
        }
        slot.state.set_seen();
        slot.line = u32::try_from(line).unwrap_or(u32::MAX);
        None
    }

    /// Every held state.
    pub fn states(&self) -> impl Iterator<Item = UserState> + '_ {
        self.table.iter().map(|(_, s)| s.state)
    }

    /// Every held fingerprint (as stored) with its state.
    pub fn iter(&self) -> impl Iterator<Item = (u128, UserState)> + '_ {
        self.table.iter().map(|(k, s)| (k, s.state))
    }

    /// Slots allocated.
    pub fn slots(&self) -> usize {
        self.table.slots()
    }
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
            (s.last(), s.step(Step::SignOut), s.seen(), s.code()),
            (None, None, false, 0)
        );
        s.set_seen();
        s.set_step(Step::SignOut, Outcome::Failed);
        s.set_last(Outcome::Failed, 513);
        assert_eq!(
            (s.last(), s.step(Step::SignOut), s.seen(), s.code()),
            (Some(Outcome::Failed), Some(Outcome::Failed), true, 513)
        );
        s.set_last(Outcome::Succeeded, 0);
        s.set_step(Step::SignOut, Outcome::Succeeded);
        assert_eq!(
            (s.last(), s.step(Step::SignOut), s.seen(), s.code()),
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
        assert!(t.slots() >= 100_001 * 8 / 7);
    }
}
