//! Service instance ids: 22 base-62 characters, the shape of a NUID (what nats.go and
//! nats-py use), from a seeded generator (sans-IO: the caller supplies the seed).

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The length of an id.
pub const ID_LEN: usize = 22;

/// A generator of service ids (SplitMix64 over the seed). Not cryptographic: ids only
/// need to tell instances apart.
#[derive(Debug, Clone)]
pub struct IdGenerator {
    state: u64,
}

impl IdGenerator {
    /// A generator from a seed; equal seeds give equal sequences.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator seeded from the operating system's randomness (through std's
    /// `RandomState`, which draws its keys from it).
    pub fn from_entropy() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x6e61_7473_2d73_7663);
        Self::new(hasher.finish())
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The next id.
    pub fn next_id(&mut self) -> String {
        let mut id = String::with_capacity(ID_LEN);
        // Five 6-bit-ish draws per u64 would bias less than a modulo of small values; a
        // plain modulo of a full u64 by 62 is within 1e-17 of uniform.
        for _ in 0..ID_LEN {
            let index = usize::try_from(self.next_u64() % 62).unwrap_or(0);
            id.push(char::from(ALPHABET[index]));
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_are_nuid_shaped_and_distinct() {
        let mut generator = IdGenerator::new(7);
        let ids: Vec<String> = (0..10_000).map(|_| generator.next_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), ID_LEN);
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
            assert!(crate::config::validate_name(id).is_ok(), "an id is a valid subject token: {id}");
        }
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    }

    #[test]
    fn seeds_decide_the_sequence() {
        assert_eq!(IdGenerator::new(1).next_id(), IdGenerator::new(1).next_id());
        assert_ne!(IdGenerator::new(1).next_id(), IdGenerator::new(2).next_id());
        assert_ne!(IdGenerator::from_entropy().next_id(), IdGenerator::from_entropy().next_id());
    }
}
