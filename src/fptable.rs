//! A map from 128-bit fingerprints to small values, at a few bytes over
//! the key and the value: the ledger's per-user table and the pool index
//! are both one of these.
//!
//! Open addressing with linear probing in two parallel arrays (keys,
//! values), filled at most 7/8. Fingerprints are uniformly distributed
//! (xxh3), so a key's first slot is taken straight from its high bits,
//! scaled to the table's size (no power-of-two size needed). A key of 0
//! marks a free slot, so a fingerprint of 0 is stored as 1 (two keys that
//! are exactly 0 and 1: odds of 2^-127). Growing doubles the table and
//! holds the old and the new one at once, so callers size it up front when
//! they can.

/// See the module documentation.
#[derive(Debug, Default)]
pub struct FpTable<V> {
    keys: Vec<u128>,
    values: Vec<V>,
    len: usize,
}

/// Slots for `n` keys, filled at most 7/8.
fn slots_for(n: usize) -> usize {
    (n.saturating_mul(8) / 7 + 1).max(16)
}

fn stored(key: u128) -> u128 {
    key.max(1)
}

impl<V: Copy + Default> FpTable<V> {
    /// A table that holds `n` keys without growing.
    pub fn with_capacity(n: usize) -> FpTable<V> {
        let slots = slots_for(n);
        FpTable {
            keys: vec![0; slots],
            values: vec![V::default(); slots],
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots allocated (for sizing checks and memory accounting).
    pub fn slots(&self) -> usize {
        self.keys.len()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.keys.capacity() * std::mem::size_of::<u128>()
            + self.values.capacity() * std::mem::size_of::<V>()
    }

    /// Makes room for `more` keys beyond those held, growing at most once.
    pub fn reserve(&mut self, more: usize) {
        let want = slots_for(self.len.saturating_add(more));
        if want > self.keys.len() {
            self.rehash(want);
        }
    }

    /// The value of `key`, if held.
    pub fn get(&self, key: u128) -> Option<V> {
        if self.keys.is_empty() {
            return None;
        }
        let key = stored(key);
        let mut i = self.home(key);
        loop {
            match self.keys[i] {
                0 => return None,
                k if k == key => return Some(self.values[i]),
                _ => i = self.next(i),
            }
        }
    }

    /// The value of `key`, added (as `V::default()`) if not held.
    pub fn entry(&mut self, key: u128) -> &mut V {
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
                    return &mut self.values[i];
                }
                k if k == key => return &mut self.values[i],
                _ => i = self.next(i),
            }
        }
    }

    /// Every held key (as stored) with its value.
    pub fn iter(&self) -> impl Iterator<Item = (u128, V)> + '_ {
        self.keys
            .iter()
            .zip(&self.values)
            .filter(|(k, _)| **k != 0)
            .map(|(k, v)| (*k, *v))
    }

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
        let keys = std::mem::replace(&mut self.keys, vec![0; slots]);
        let values = std::mem::replace(&mut self.values, vec![V::default(); slots]);
        for (k, v) in keys.into_iter().zip(values) {
            if k != 0 {
                let mut i = self.home(k);
                while self.keys[i] != 0 {
                    i = self.next(i);
                }
                self.keys[i] = k;
                self.values[i] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The table agrees with a HashMap through growth, with keys of 0 and of real fingerprints, and sized up front.
    #[test]
    fn agrees_with_a_hash_map() {
        for mut table in [FpTable::<u32>::default(), FpTable::with_capacity(5_000)] {
            let mut model: HashMap<u128, u32> = HashMap::new();
            let keys: Vec<u128> = (0..5_000u32)
                .map(|i| xxhash_rust::xxh3::xxh3_128(&i.to_le_bytes()))
                .chain([0, u128::MAX, 1 << 64])
                .collect();
            for (n, k) in keys.iter().enumerate() {
                *table.entry(*k) = n as u32;
                model.insert(*k, n as u32);
                if n % 3 == 0 {
                    // Writing again keeps one entry.
                    *table.entry(*k) += 0;
                }
            }
            assert_eq!(table.len(), model.len());
            for (k, v) in &model {
                assert_eq!(table.get(*k), Some(*v));
            }
            assert_eq!(table.get(12345), None);
            assert_eq!(table.iter().count(), model.len());
        }
    }

    #[test]
    fn reserve_keeps_what_is_held() {
        let mut t = FpTable::<u32>::default();
        *t.entry(7) = 3;
        t.reserve(100_000);
        assert_eq!(t.get(7), Some(3));
        assert_eq!(t.len(), 1);
        assert!(t.slots() >= 100_001 * 8 / 7);
    }
}
