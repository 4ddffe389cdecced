//! The planner's hasher: the multiply-rotate hash of Firefox and rustc ("Fx"), written out here
//! because the domain takes no dependency beyond chrono, serde, thiserror and arcstr.
//!
//! Why not the standard library's SipHash: a large plan hashes millions of ids and member names,
//! and SipHash's protection against chosen collisions cost about 8% of a no-change full sync.
//! The keys are the tenant's own directory entries, read by a process the tenant configured: a
//! directory crafted to collide would only slow its own sync, so speed is the better trade.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Fx's multiplier: a 64-bit odd constant with well-spread bits.
const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// A word-at-a-time, non-cryptographic [`Hasher`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut buf = [0; 8];
            buf.copy_from_slice(word);
            self.add(u64::from_le_bytes(buf));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut buf = [0; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        // usize is at most 64 bits on every supported target.
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply leaves the best-mixed bits at the top; hash tables index buckets with
        // the low bits, so move the top ones down (as rustc-hash 2 does).
        self.hash.rotate_left(26)
    }
}

/// A [`HashMap`] hashed with [`FxHasher`].
pub(crate) type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A [`HashSet`] hashed with [`FxHasher`].
pub(crate) type FxHashSet<T> = HashSet<T, BuildHasherDefault<FxHasher>>;

/// An empty [`FxHashMap`] with room for `capacity` entries.
pub(crate) fn map<K, V>(capacity: usize) -> FxHashMap<K, V> {
    FxHashMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default())
}

/// An empty [`FxHashSet`] with room for `capacity` entries.
pub(crate) fn set<T>(capacity: usize) -> FxHashSet<T> {
    FxHashSet::with_capacity_and_hasher(capacity, BuildHasherDefault::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn hash(value: impl Hash) -> u64 {
        let mut h = FxHasher::default();
        value.hash(&mut h);
        h.finish()
    }

    #[test]
    fn equal_values_hash_equal_and_different_ones_apart() {
        assert_eq!(hash("uid=jlennon"), hash(String::from("uid=jlennon")));
        assert_ne!(hash("uid=jlennon"), hash("uid=jlennoN"));
        // Trailing bytes beyond the last full word count.
        assert_ne!(hash("abcdefgh1"), hash("abcdefgh2"));
        // str's terminator keeps ("ab", "c") apart from ("a", "bc").
        assert_ne!(hash(("ab", "c")), hash(("a", "bc")));
    }

    #[test]
    fn maps_work_with_it() {
        let mut m = map(2);
        m.insert("a", 1);
        m.insert("b", 2);
        assert_eq!(m.get("a"), Some(&1));
        assert_eq!(m.get("c"), None);
        let s: FxHashSet<u32> = (0..1000).collect();
        assert_eq!(s.len(), 1000);
        assert!(s.contains(&999));
    }
}
