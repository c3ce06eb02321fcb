//! Keepalive and flush: the PINGs in flight and what each PONG answers (PONGs answer PINGs
//! in order), the unanswered keepalive count, and the flush waiters. Deadlines live in the
//! timer table.

use crate::prelude::*;

use alloc::collections::{BTreeSet, VecDeque};

use crate::Sid;

/// What a PONG answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PongWaiter {
    Handshake,
    Keepalive,
    /// A mark of publish pacing ([`super::pacing`]).
    Pace,
    Flush(u64),
    DrainSubscriptions,
    DrainPublishes,
    /// One subscription's drain ([`Connection::drain_subscription`](super::Connection::drain_subscription)).
    DrainSubscription(Sid),
}

#[derive(Debug, Default)]
pub(crate) struct Keepalive {
    pongs: VecDeque<PongWaiter>,
    /// Flushes still waiting for their PONG.
    flushes: BTreeSet<u64>,
    next_flush: u64,
    /// Keepalive PINGs sent since the server last sent anything.
    outstanding: u32,
}

/// The server left `max_pings_outstanding` keepalive PINGs unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stale;

impl Keepalive {
    /// A new transport: nothing is in flight.
    pub(crate) fn reset(&mut self) {
        self.pongs.clear();
        self.outstanding = 0;
    }

    /// The server sent something: it is alive.
    pub(crate) fn traffic(&mut self) {
        self.outstanding = 0;
    }

    /// A PING was sent; its PONG will answer `waiter` (a flush's is waited for until
    /// its PONG or [`flush_timed_out`](Self::flush_timed_out)).
    pub(crate) fn ping_sent(&mut self, waiter: PongWaiter) {
        if let PongWaiter::Flush(id) = waiter {
            self.flushes.insert(id);
        }
        self.pongs.push_back(waiter);
    }

    /// Time for a keepalive PING: `Ok` when one must be sent (it is counted; send it with
    /// [`PongWaiter::Keepalive`]), `Err` when the connection is stale.
    pub(crate) fn keepalive_due(&mut self, max_outstanding: u32) -> Result<(), Stale> {
        if self.outstanding >= max_outstanding {
            return Err(Stale);
        }
        self.outstanding += 1;
        Ok(())
    }

    /// A PONG arrived: what it answers. A flush that already ended (timed out) answers
    /// `Keepalive`, which needs nothing.
    pub(crate) fn pong(&mut self) -> Option<PongWaiter> {
        let waiter = self.pongs.pop_front()?;
        match waiter {
            PongWaiter::Flush(id) if !self.flushes.remove(&id) => Some(PongWaiter::Keepalive),
            other => Some(other),
        }
    }

    /// The waiters of the PINGs in flight, oldest first.
    pub(crate) fn waiters(&self) -> impl Iterator<Item = PongWaiter> + '_ {
        self.pongs.iter().copied()
    }

    /// Keepalive PINGs unanswered.
    pub(crate) fn outstanding(&self) -> u32 {
        self.outstanding
    }

    /// The flushes still waiting for their PONG.
    pub(crate) fn pending_flushes(&self) -> impl Iterator<Item = u64> + '_ {
        self.flushes.iter().copied()
    }

    /// A new flush id.
    pub(crate) fn next_flush_id(&mut self) -> u64 {
        self.next_flush += 1;
        self.next_flush
    }

    /// A flush timed out; whether it was still waiting.
    pub(crate) fn flush_timed_out(&mut self, id: u64) -> bool {
        self.flushes.remove(&id)
    }

    /// The transport is gone: every PONG waiter is dropped; returns the flushes that were
    /// waiting, in order.
    pub(crate) fn fail_all(&mut self) -> Vec<u64> {
        self.reset();
        core::mem::take(&mut self.flushes).into_iter().collect()
    }
}

impl<I: crate::time::Instant> super::Connection<I> {
    /// The one way a PING is written: with the waiter its PONG will answer, so that PINGs
    /// and waiters stay paired, in order. (Only the reconnect buffer's pacing marks are
    /// written inside [`Outbound::release_buffered`](super::outbound::Outbound), with
    /// their waiters registered by the caller in the same order.)
    pub(super) fn send_ping(&mut self, waiter: PongWaiter) {
        self.outbound.queue().write_ping();
        self.keepalive.ping_sent(waiter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pongs_answer_pings_in_order() {
        let mut k = Keepalive::default();
        k.ping_sent(PongWaiter::Handshake);
        let flush = k.next_flush_id();
        k.ping_sent(PongWaiter::Flush(flush));
        k.keepalive_due(2).unwrap();
        k.ping_sent(PongWaiter::Keepalive);
        assert_eq!(k.pong(), Some(PongWaiter::Handshake));
        assert_eq!(k.pong(), Some(PongWaiter::Flush(flush)));
        assert_eq!(k.pong(), Some(PongWaiter::Keepalive));
        assert_eq!(k.pong(), None, "an unsolicited PONG answers nothing");
    }

    #[test]
    fn stale_after_max_unanswered_pings_unless_traffic() {
        let mut k = Keepalive::default();
        assert_eq!(k.keepalive_due(2), Ok(()));
        assert_eq!(k.keepalive_due(2), Ok(()));
        assert_eq!(k.keepalive_due(2), Err(Stale));
        k.traffic();
        assert_eq!(k.keepalive_due(2), Ok(()));
    }

    #[test]
    fn a_timed_out_flush_is_not_answered_and_failures_list_the_rest() {
        let mut k = Keepalive::default();
        let (a, b, c) = (k.next_flush_id(), k.next_flush_id(), k.next_flush_id());
        for id in [a, b, c] {
            k.ping_sent(PongWaiter::Flush(id));
        }
        assert!(k.flush_timed_out(a));
        assert!(!k.flush_timed_out(a));
        assert_eq!(k.pong(), Some(PongWaiter::Keepalive), "the PONG of a timed-out flush");
        assert_eq!(k.fail_all(), [b, c]);
        assert_eq!(k.pong(), None);
    }
}
