//! A small deterministic random number generator (SplitMix64): server order, reconnect
//! jitter and inbox names. Not for cryptography; seeded once per connection.

use crate::prelude::*;

use core::time::Duration;

#[cfg(feature = "std")]
fn os_seed() -> u64 {
    use core::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x6e61_7473);
    hasher.finish()
}

#[cfg(not(feature = "std"))]
fn os_seed() -> u64 {
    0x6e61_7473_2d72_7321
}

/// SplitMix64.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from a fixed seed, or when `None` from the process's hash seed (OS
    /// randomness, no clock read; `std` feature). Without `std` there is no randomness to
    /// draw on: `None` means a fixed seed, and callers should pass their own
    /// ([`Options::rng_seed`](crate::Options::rng_seed)).
    pub(crate) fn new(seed: Option<u64>) -> Self {
        Self(seed.unwrap_or_else(os_seed))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by rejection-free multiply-shift.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        // The high half of a 128-bit product of a u64 and n is below n.
        #[allow(clippy::cast_possible_truncation)]
        let r = ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64;
        r
    }

    /// A duration in `[0, max)`; zero when `max` is zero.
    pub(crate) fn duration_below(&mut self, max: Duration) -> Duration {
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.below(nanos))
        }
    }

    /// Fisher-Yates shuffle.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = usize::try_from(self.below(i as u64 + 1)).unwrap_or(0);
            items.swap(i, j);
        }
    }

    /// A 22-character base62 token (about 131 bits), like the official clients' NUIDs.
    pub(crate) fn token(&mut self) -> String {
        const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        (0..22).map(|_| char::from(ALPHABET[usize::try_from(self.below(62)).unwrap_or(0)])).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_bounded() {
        let mut a = Rng::new(Some(7));
        let mut b = Rng::new(Some(7));
        assert_eq!(a.next_u64(), b.next_u64());
        for _ in 0..1000 {
            assert!(a.below(10) < 10);
            assert!(a.duration_below(Duration::from_millis(5)) < Duration::from_millis(5));
        }
        assert_eq!(a.duration_below(Duration::ZERO), Duration::ZERO);
        assert_eq!(a.token().len(), 22);
        assert_ne!(Rng::new(None).token(), Rng::new(None).token());
        let mut items = [1, 2, 3, 4, 5];
        a.shuffle(&mut items);
        items.sort_unstable();
        assert_eq!(items, [1, 2, 3, 4, 5]);
    }
}
