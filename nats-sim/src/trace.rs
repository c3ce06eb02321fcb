//! The run's trace: every scheduling choice, network delivery and fault folded into one
//! hash (FNV-1a over 64-bit words, no keyed hasher), so that two runs of a seed can be
//! compared in one number; optionally the last entries as text, for a failing seed's
//! replay to print.

use std::collections::VecDeque;
use std::time::Duration;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// A trace hash and, when asked, its last entries as text.
#[derive(Debug)]
pub(crate) struct Trace {
    hash: u64,
    keep: usize,
    text: VecDeque<String>,
}

impl Trace {
    pub(crate) fn new(seed: u64) -> Self {
        let mut trace = Self { hash: FNV_OFFSET, keep: 0, text: VecDeque::new() };
        trace.fold(seed);
        trace
    }

    fn fold(&mut self, word: u64) {
        for byte in word.to_le_bytes() {
            self.hash ^= u64::from(byte);
            self.hash = self.hash.wrapping_mul(FNV_PRIME);
        }
    }

    /// Folds an entry at virtual time `now`.
    pub(crate) fn record(&mut self, now: Duration, words: &[u64], text: impl FnOnce() -> String) {
        self.fold(u64::try_from(now.as_nanos()).unwrap_or(u64::MAX));
        words.iter().for_each(|&word| self.fold(word));
        if self.keep > 0 {
            if self.text.len() == self.keep {
                self.text.pop_front();
            }
            self.text.push_back(format!("{:>12.6}s {}", now.as_secs_f64(), text()));
        }
    }

    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    pub(crate) fn keep_text(&mut self, lines: usize) {
        self.keep = lines;
    }

    pub(crate) fn text(&self) -> Vec<String> {
        self.text.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Trace;

    #[test]
    fn the_hash_depends_on_every_word_and_time_and_text_is_bounded() {
        let run = |words: &[u64], at: u64| {
            let mut trace = Trace::new(1);
            trace.keep_text(2);
            for &w in words {
                trace.record(Duration::from_millis(at), &[w], || format!("w{w}"));
            }
            (trace.hash(), trace.text())
        };
        assert_eq!(run(&[1, 2, 3], 5), run(&[1, 2, 3], 5));
        assert_ne!(run(&[1, 2, 3], 5).0, run(&[1, 3, 2], 5).0);
        assert_ne!(run(&[1, 2, 3], 5).0, run(&[1, 2, 3], 6).0);
        assert_eq!(run(&[1, 2, 3], 5).1.len(), 2);
        assert!(run(&[1, 2, 3], 5).1[1].ends_with("w3"));
    }
}
