//! The timer table: every deadline of the connection in one place. `poll_timeout` is its
//! earliest entry; `handle_timeout` takes the entries that are due and fires each.
//!
//! Four timers exist at most once (the reconnect wait, the connection attempt, the next
//! keepalive PING, the drain); requests and flushes have one timer each, keyed by id.

use crate::prelude::*;

use crate::time::Instant;
use alloc::collections::BTreeSet;
use hashbrown::HashMap;

/// A deadline the connection acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// Start the next connection attempt.
    ReconnectWait,
    /// The current attempt (transport, TLS, handshake) times out.
    Attempt,
    /// Send the next keepalive PING (or declare the connection stale).
    Ping,
    /// The drain times out.
    Drain,
    /// A request times out.
    Request(u64),
    /// A flush times out.
    Flush(u64),
}

impl Timer {
    /// The slot of a timer that exists at most once.
    fn slot(self) -> Option<usize> {
        match self {
            Self::ReconnectWait => Some(0),
            Self::Attempt => Some(1),
            Self::Ping => Some(2),
            Self::Drain => Some(3),
            Self::Request(_) | Self::Flush(_) => None,
        }
    }
}

const SINGLE: [Timer; 4] = [Timer::ReconnectWait, Timer::Attempt, Timer::Ping, Timer::Drain];

/// Every armed timer and its deadline.
#[derive(Debug)]
pub(crate) struct Timers<I> {
    single: [Option<I>; 4],
    /// Keyed timers ordered by deadline...
    keyed: BTreeSet<(I, Timer)>,
    /// ...and their deadlines by key, to stop one.
    keyed_at: HashMap<Timer, I>,
}

impl<I> Default for Timers<I> {
    fn default() -> Self {
        Self { single: [None, None, None, None], keyed: BTreeSet::new(), keyed_at: HashMap::new() }
    }
}

impl<I: Instant> Timers<I> {
    /// Arms `timer` for `at`, replacing its previous deadline.
    pub(crate) fn set(&mut self, timer: Timer, at: I) {
        match timer.slot() {
            Some(slot) => self.single[slot] = Some(at),
            None => {
                if let Some(old) = self.keyed_at.insert(timer, at) {
                    self.keyed.remove(&(old, timer));
                }
                self.keyed.insert((at, timer));
            }
        }
    }

    /// Disarms `timer`.
    pub(crate) fn stop(&mut self, timer: Timer) {
        match timer.slot() {
            Some(slot) => self.single[slot] = None,
            None => {
                if let Some(at) = self.keyed_at.remove(&timer) {
                    self.keyed.remove(&(at, timer));
                }
            }
        }
    }

    /// Disarms every timer.
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    /// The deadline of `timer`, if armed.
    pub(crate) fn get(&self, timer: Timer) -> Option<I> {
        match timer.slot() {
            Some(slot) => self.single[slot],
            None => self.keyed_at.get(&timer).copied(),
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<I> {
        let single = self.single.iter().flatten().min().copied();
        let keyed = self.keyed.first().map(|&(at, _)| at);
        single.into_iter().chain(keyed).min()
    }

    /// Disarms and returns every timer due at `now`, earliest first.
    pub(crate) fn take_due(&mut self, now: I) -> Vec<Timer> {
        let mut due: Vec<(I, Timer)> = Vec::new();
        for (slot, timer) in SINGLE.into_iter().enumerate() {
            if let Some(at) = self.single[slot].filter(|&at| at <= now) {
                self.single[slot] = None;
                due.push((at, timer));
            }
        }
        while let Some(&(at, timer)) = self.keyed.first() {
            if at > now {
                break;
            }
            self.keyed.pop_first();
            self.keyed_at.remove(&timer);
            due.push((at, timer));
        }
        due.sort_unstable();
        due.into_iter().map(|(_, timer)| timer).collect()
    }

    /// How many timers are armed.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.single.iter().flatten().count() + self.keyed.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;
    use std::time::Instant;

    #[test]
    fn the_earliest_entry_is_the_next_deadline() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut timers = Timers::default();
        assert_eq!(timers.next(), None);
        timers.set(Timer::Ping, t0 + s(5));
        timers.set(Timer::Request(1), t0 + s(3));
        timers.set(Timer::Flush(1), t0 + s(4));
        assert_eq!(timers.next(), Some(t0 + s(3)));
        timers.stop(Timer::Request(1));
        assert_eq!(timers.next(), Some(t0 + s(4)));
        timers.set(Timer::Flush(1), t0 + s(9));
        assert_eq!(timers.next(), Some(t0 + s(5)), "re-arming replaces the old deadline");
        assert_eq!(timers.get(Timer::Flush(1)), Some(t0 + s(9)));
        assert_eq!(timers.len(), 2);
    }

    #[test]
    fn due_timers_fire_once_in_deadline_order() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut timers = Timers::default();
        timers.set(Timer::Drain, t0 + s(2));
        timers.set(Timer::Request(7), t0 + s(1));
        timers.set(Timer::Attempt, t0 + s(3));
        timers.set(Timer::Flush(2), t0 + s(10));
        assert_eq!(timers.take_due(t0), []);
        assert_eq!(timers.take_due(t0 + s(3)), [Timer::Request(7), Timer::Drain, Timer::Attempt]);
        assert_eq!(timers.take_due(t0 + s(3)), [], "a fired timer is disarmed");
        assert_eq!(timers.next(), Some(t0 + s(10)));
        timers.clear();
        assert_eq!((timers.next(), timers.len()), (None, 0));
    }
}
