//! The simulation's one source of randomness: SplitMix64 from the run's seed. Everything
//! chosen at random (which ready task runs, where a read splits, which fault comes next)
//! draws from it in the order the run asks, so a seed fixes the whole run.

/// SplitMix64.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// An index in `0..len` (`0` when `len` is 0).
    pub fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap_or(0)
    }

    /// `true` with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// Fills `bytes` with random bytes, eight from each draw (little-endian).
    pub fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes()[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn a_seed_fixes_the_sequence_and_ranges_hold() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
        for _ in 0..1000 {
            assert!(a.below(5) < 5);
            assert!((3..=9).contains(&a.between(3, 9)));
        }
        assert_eq!(a.below(0), 0);
    }

    #[test]
    fn fill_takes_eight_bytes_per_draw_and_part_of_the_last() {
        let mut draws = Rng::new(7);
        let expected: Vec<u8> =
            [draws.next_u64(), draws.next_u64()].iter().flat_map(|d| d.to_le_bytes()).take(11).collect();
        let mut bytes = [0u8; 11];
        let mut rng = Rng::new(7);
        rng.fill(&mut bytes);
        assert_eq!(bytes.as_slice(), expected.as_slice());
        assert_eq!(rng.next_u64(), draws.next_u64(), "two draws used");
    }
}
