//! Publish pacing: how far ahead of the server's answers publishes may be written.
//!
//! The server sends a connection copies of its own publishes when the connection subscribes
//! to them, one per matching subscription, and it cuts off a client whose pending output
//! passes its `max_pending` (64 MB by default). It slows down a publisher whose consumers
//! fall behind, but not one that is its own consumer: a connection publishing 1 KiB
//! messages to 100 of its own subscriptions asks for 100 KiB of output per 1 KiB it writes,
//! faster than any client reads. Only the server knows how much it has queued, and PONGs
//! say what it has processed: a PONG is queued behind every copy of the publishes before
//! its PING.
//!
//! So the write queue is cut into windows: after `window` bytes of publishes the connection
//! queues a PING (a mark), and bytes after the [`IN_FLIGHT`]th unanswered mark wait until
//! the oldest is answered. The window adapts to what comes back: the bytes received
//! between two answered marks are about what one window caused; above the budget the
//! window shrinks in proportion, below half of it the window doubles, up to
//! [`MAX_WINDOW`]. A connection that gets its publishes back many times over then has
//! about `IN_FLIGHT` budgets queued at the server; one that gets little back may write
//! `IN_FLIGHT` x [`MAX_WINDOW`] ahead, more than the kernel's socket buffers and the
//! server's lag together, so it is not held up. A new subscription may multiply what comes
//! back, so it sets the window back to its start, small enough for copies to about
//! `START_DIVISOR / IN_FLIGHT` subscriptions to stay within a budget before the first
//! answer.
//!
//! Measured (scale bench, `publish1k-subscribed`: 1 KiB publishes on a connection with one
//! subscription on another subject): with four windows in flight, ten paired runs with
//! pacing on and off gave a median of 0.96x; with two windows, about 0.89x against a
//! connection without subscriptions. The machine's noise is about 5% on these medians.

use alloc::collections::VecDeque;

/// Unanswered marks whose bytes may be written.
pub(crate) const IN_FLIGHT: usize = 4;
/// The largest window.
pub(crate) const MAX_WINDOW: usize = 8 * 1024 * 1024;
/// The smallest window (a publish larger than it makes a window of its own).
pub(crate) const MIN_WINDOW: usize = 1024;
/// The first window is the budget divided by this.
const START_DIVISOR: usize = 128;

#[derive(Debug)]
pub(crate) struct Pacing {
    /// The inbound bytes one window may cause; `None`: pacing is off.
    budget: Option<usize>,
    /// Bytes of publishes between marks.
    window: usize,
    /// Bytes of publishes queued since the last mark.
    since_mark: usize,
    /// Unanswered marks, oldest first.
    marks: VecDeque<Mark>,
    /// Bytes received when the last mark was answered.
    received_at_answer: u64,
}

#[derive(Debug, Clone, Copy)]
struct Mark {
    /// Where the mark's PING ends in the write queue (bytes since the transport opened).
    end: u64,
    /// Bytes received when the mark was queued.
    received: u64,
}

impl Pacing {
    pub(crate) fn new(budget: Option<usize>) -> Self {
        let mut pacing =
            Self { budget, window: 0, since_mark: 0, marks: VecDeque::new(), received_at_answer: 0 };
        pacing.restart_window();
        pacing
    }

    /// A new transport: no mark is in flight. The window is kept: it describes the traffic.
    pub(crate) fn reset(&mut self) {
        self.since_mark = 0;
        self.marks.clear();
        self.received_at_answer = 0;
    }

    /// A subscription was added: what comes back may have multiplied.
    pub(crate) fn subscribed(&mut self) {
        let start = self.start_window();
        self.window = self.window.min(start);
    }

    fn start_window(&self) -> usize {
        self.budget.map_or(usize::MAX, |b| (b / START_DIVISOR).max(MIN_WINDOW))
    }

    fn restart_window(&mut self) {
        self.window = self.start_window();
    }

    /// A publish of `len` bytes was queued: whether a mark must follow it (the caller then
    /// queues its PING and calls [`marked`](Self::marked)).
    #[inline]
    pub(crate) fn published(&mut self, len: usize) -> bool {
        self.since_mark = self.since_mark.saturating_add(len);
        if self.since_mark < self.window {
            return false;
        }
        self.since_mark = 0;
        true
    }

    /// A mark was queued, its PING ending at `end`, when `received` bytes had come in.
    pub(crate) fn marked(&mut self, end: u64, received: u64) {
        self.marks.push_back(Mark { end, received });
    }

    /// The oldest mark was answered, when `received` bytes had come in: the window adapts
    /// to what came back for it.
    pub(crate) fn answered(&mut self, received: u64) {
        let Some(mark) = self.marks.pop_front() else { return };
        let Some(budget) = self.budget else { return };
        let came_back = received.saturating_sub(mark.received.max(self.received_at_answer));
        self.received_at_answer = received;
        let budget = budget as u64;
        if came_back > budget {
            // u64: a window times a budget may pass usize on 32-bit targets.
            let shrunk = self.window as u64 * budget / came_back;
            self.window = usize::try_from(shrunk).unwrap_or(MAX_WINDOW).max(MIN_WINDOW);
        } else if came_back < budget / 2 {
            self.window = self.window.saturating_mul(2).min(MAX_WINDOW);
        }
    }

    /// Where writing must stop (bytes since the transport opened), if anywhere: the end of
    /// the [`IN_FLIGHT`]th unanswered mark.
    #[inline]
    pub(crate) fn limit(&self) -> Option<u64> {
        self.marks.get(IN_FLIGHT - 1).map(|m| m.end)
    }

    #[cfg(test)]
    pub(crate) fn window(&self) -> usize {
        self.window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: usize = 4 * 1024 * 1024;

    #[test]
    fn off_without_a_budget() {
        let mut p = Pacing::new(None);
        for _ in 0..1000 {
            assert!(!p.published(MAX_WINDOW));
        }
        assert_eq!(p.limit(), None);
    }

    #[test]
    fn marks_follow_each_window_and_the_last_unanswered_one_in_flight_stops_writing() {
        let mut p = Pacing::new(Some(BUDGET));
        let start = BUDGET / START_DIVISOR;
        assert_eq!(p.window(), start);
        assert!(!p.published(start - 1));
        assert!(p.published(1));
        // Marks end after each window and its PING (6 bytes).
        let end = |n: usize| (n * (start + 6)) as u64;
        p.marked(end(1), 0);
        for n in 2..=IN_FLIGHT {
            assert_eq!(p.limit(), None, "fewer marks than may be in flight: no limit");
            assert!(p.published(start));
            p.marked(end(n), 0);
        }
        assert_eq!(p.limit(), Some(end(IN_FLIGHT)));
        assert!(p.published(start));
        p.marked(end(IN_FLIGHT + 1), 0);
        assert_eq!(p.limit(), Some(end(IN_FLIGHT)), "the next waits for the first answer");
        p.answered(0);
        assert_eq!(p.limit(), Some(end(IN_FLIGHT + 1)));
        p.reset();
        assert_eq!(p.limit(), None);
    }

    #[test]
    fn the_window_shrinks_to_the_budget_and_grows_when_little_comes_back() {
        let mut p = Pacing::new(Some(BUDGET));
        let start = p.window();
        // A window that brought back 1000x itself: the next is about budget / 1000.
        p.marked(start as u64, 0);
        p.answered(1000 * start as u64);
        assert_eq!(p.window(), start * BUDGET / (1000 * start));
        // Nothing came back: it doubles, up to the maximum.
        for _ in 0..32 {
            let received = p.received_at_answer;
            p.marked(0, received);
            p.answered(received);
        }
        assert_eq!(p.window(), MAX_WINDOW);
        // A subscription puts it back to the start.
        p.subscribed();
        assert_eq!(p.window(), start);
        // Never below the minimum.
        p.marked(0, p.received_at_answer);
        p.answered(u64::MAX / 2);
        assert_eq!(p.window(), MIN_WINDOW);
    }

    #[test]
    fn bytes_received_before_a_mark_do_not_count_for_it() {
        let mut p = Pacing::new(Some(BUDGET));
        let start = p.window();
        // An hour of traffic from others, then a mark, then little.
        p.marked(10, 1 << 40);
        p.answered((1 << 40) + 10);
        assert_eq!(p.window(), 2 * start);
    }
}
