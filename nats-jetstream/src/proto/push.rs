//! Push consumers (ADR-9, ADR-15): the server sends a consumer's messages to its deliver
//! subject on its own, paced by flow control, with idle heartbeats while there is nothing
//! to send. This is the bookkeeping of one push subscription: which arrivals are messages,
//! which status messages need an answer (a flow-control request, a heartbeat naming a
//! stalled flow control), and when the heartbeats have been missed.
//!
//! Sans-IO: the caller feeds what arrives on the deliver subject and the time, publishes
//! the empty replies [`PushTracker::handle`] asks for, and sleeps until
//! [`PushTracker::poll_timeout`].

use std::time::Duration;

use nats_client::Instant;
use nats_proto::time::deadline;

/// `Nats-Consumer-Stalled`: on an idle heartbeat, the flow-control subject the server is
/// still waiting on (its request was lost); answering it resumes delivery.
pub const CONSUMER_STALLED: &str = "Nats-Consumer-Stalled";

/// What an arrival on a push consumer's deliver subject means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushAction {
    /// A consumer message: deliver it.
    Deliver,
    /// A flow-control request, or a heartbeat naming a stalled one: publish an empty
    /// message to this subject, then go on.
    Reply(String),
    /// An idle heartbeat: nothing to deliver; the consumer's last delivered consumer
    /// sequence when the server said (an ordered consumer checks it for gaps).
    Heartbeat {
        /// `Nats-Last-Consumer`.
        last_consumer_sequence: Option<u64>,
    },
    /// A status this client does not act on.
    Ignore,
}

/// The bookkeeping of one push subscription.
#[derive(Debug, Clone)]
pub struct PushTracker {
    heartbeat: Duration,
    last_activity: Instant,
}

impl PushTracker {
    /// A tracker for a consumer with idle heartbeats every `heartbeat` (zero: none, so no
    /// missed-heartbeat detection).
    pub fn new(heartbeat: Duration, now: Instant) -> Self {
        Self { heartbeat, last_activity: now }
    }

    /// An arrival: its status code and description (none for a message), its reply
    /// subject, and its `Nats-Consumer-Stalled` and `Nats-Last-Consumer` headers.
    pub fn handle(
        &mut self,
        now: Instant,
        status: Option<(u16, &str)>,
        reply: Option<&str>,
        stalled: Option<&str>,
        last_consumer_sequence: Option<u64>,
    ) -> PushAction {
        self.last_activity = now;
        let Some((code, description)) = status else { return PushAction::Deliver };
        if code != 100 {
            return PushAction::Ignore;
        }
        if description.to_ascii_lowercase().starts_with("flowcontrol") {
            return match reply {
                Some(reply) if !reply.is_empty() => PushAction::Reply(reply.to_owned()),
                _ => PushAction::Ignore,
            };
        }
        if let Some(stalled) = stalled.filter(|s| !s.is_empty()) {
            return PushAction::Reply(stalled.to_owned());
        }
        PushAction::Heartbeat { last_consumer_sequence }
    }

    /// When two heartbeat intervals will have passed without any arrival (`None` without
    /// heartbeats).
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.heartbeat.is_zero()).then(|| deadline(self.last_activity, self.heartbeat.saturating_mul(2)))
    }

    /// Whether the heartbeats were missed at `now`; each silence is reported once every
    /// two intervals.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.poll_timeout() {
            Some(at) if now >= at => {
                self.last_activity = now;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn messages_flow_control_and_heartbeats() {
        let t0 = Instant::now();
        let mut t = PushTracker::new(5 * S, t0);
        assert_eq!(t.handle(t0, None, Some("$JS.ACK.S.C.1.1.1.0.0"), None, None), PushAction::Deliver);
        assert_eq!(
            t.handle(t0, Some((100, "FlowControl Request")), Some("$JS.FC.S.C.x"), None, None),
            PushAction::Reply("$JS.FC.S.C.x".into())
        );
        assert_eq!(
            t.handle(t0, Some((100, "Idle Heartbeat")), None, None, Some(7)),
            PushAction::Heartbeat { last_consumer_sequence: Some(7) }
        );
        assert_eq!(
            t.handle(t0, Some((100, "Idle Heartbeat")), None, Some("$JS.FC.S.C.y"), Some(7)),
            PushAction::Reply("$JS.FC.S.C.y".into()),
            "a stalled flow control is answered from the heartbeat"
        );
        assert_eq!(t.handle(t0, Some((409, "Consumer Deleted")), None, None, None), PushAction::Ignore);
    }

    #[test]
    fn missed_heartbeats_are_reported_once_per_two_intervals() {
        let t0 = Instant::now();
        let mut t = PushTracker::new(5 * S, t0);
        assert_eq!(t.poll_timeout(), Some(t0 + 10 * S));
        assert!(!t.handle_timeout(t0 + 9 * S));
        t.handle(t0 + 9 * S, Some((100, "Idle Heartbeat")), None, None, None);
        assert!(!t.handle_timeout(t0 + 18 * S), "traffic moved the deadline");
        assert!(t.handle_timeout(t0 + 19 * S));
        assert!(!t.handle_timeout(t0 + 20 * S), "reported once");
        assert!(t.handle_timeout(t0 + 29 * S));
        assert_eq!(PushTracker::new(Duration::ZERO, t0).poll_timeout(), None);
    }
}
