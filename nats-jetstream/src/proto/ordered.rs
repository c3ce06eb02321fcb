//! Ordered consumer bookkeeping (ADR-17): deliver each stream message once and in order; a
//! gap in consumer sequences (a lost message), missed heartbeats, a deleted consumer or a
//! server restart means: drop the consumer and create a new one starting just after the
//! last stream sequence delivered.

use std::time::Duration;

// The client's clock type: `std::time::Instant`, and in the browser the one that works there.
use nats_client::Instant;

use super::ack::Metadata;
use super::consumer_config::{ConsumerConfig, DeliverPolicy};
use super::policy::AckPolicy;
use super::retry::RetryCause;

/// The first wait before creating the next consumer again after a failure; doubled after
/// each consecutive failure up to [`MAX_CREATE_BACKOFF`].
pub const CREATE_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between attempts to create the next consumer.
pub const MAX_CREATE_BACKOFF: Duration = Duration::from_secs(2);
/// How long "JetStream not enabled" (or nobody answering the API) is tolerated while
/// creating the next consumer: a cluster node shutting down or just restarted answers so;
/// a server without JetStream answers so for good.
pub const NOT_ENABLED_WINDOW: Duration = Duration::from_secs(10);

/// What to do with a message of an ordered consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderedVerdict {
    /// Deliver it.
    Deliver,
    /// Already delivered (a replay after a reset overlapped): drop it.
    Skip,
    /// A message was lost: drop this one and reset the consumer.
    Reset,
}

/// The sequences an ordered consumer has seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderedTracker {
    /// The last stream sequence delivered.
    stream_sequence: u64,
    /// The last consumer sequence seen from the current consumer.
    consumer_sequence: u64,
    /// Resets so far.
    resets: u64,
    /// Consecutive failures to create the next consumer, and since when "not enabled"
    /// answers have come without a break.
    create_failures: u32,
    not_enabled_since: Option<Instant>,
    /// The consumers' names are `<prefix>_<resets>` (none: the server names them).
    name_prefix: Option<String>,
}

impl OrderedTracker {
    /// A tracker that has delivered nothing; the server names its consumers.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tracker whose consumers are named `<prefix>_<resets>`: a create request retried
    /// after a timeout then finds the consumer the first attempt may have created, instead
    /// of leaving it behind.
    pub fn named(prefix: impl Into<String>) -> Self {
        Self { name_prefix: Some(prefix.into()), ..Self::default() }
    }

    /// The last stream sequence delivered (0: none).
    pub fn stream_sequence(&self) -> u64 {
        self.stream_sequence
    }

    /// How many times the consumer was reset.
    pub fn resets(&self) -> u64 {
        self.resets
    }

    /// Judges a message of the current consumer.
    pub fn handle_message(&mut self, metadata: &Metadata) -> OrderedVerdict {
        if metadata.consumer_sequence != self.consumer_sequence + 1 {
            return OrderedVerdict::Reset;
        }
        self.consumer_sequence = metadata.consumer_sequence;
        if metadata.stream_sequence <= self.stream_sequence {
            return OrderedVerdict::Skip;
        }
        self.stream_sequence = metadata.stream_sequence;
        OrderedVerdict::Deliver
    }

    /// An idle heartbeat said the consumer's last delivered consumer sequence is
    /// `last_consumer_sequence` (its `Nats-Last-Consumer` header): true when some of those
    /// messages never reached us (dropped by a slow consumer, say), so the consumer must be
    /// reset. Heartbeats arrive on the same subscription after the messages before them.
    pub fn handle_heartbeat(&self, last_consumer_sequence: u64) -> bool {
        last_consumer_sequence > self.consumer_sequence
    }

    /// Creating the next consumer failed with `cause` at `now` (`None`: a failure that does
    /// not pass, such as a deleted stream). Returns when to try again, or `None` to end the
    /// ordered consumer with the error. Timeouts and 503s (an election) are retried for as
    /// long as they last, "not enabled" for [`NOT_ENABLED_WINDOW`].
    pub fn handle_create_failure(&mut self, cause: Option<RetryCause>, now: Instant) -> Option<Instant> {
        let cause = cause?;
        let doublings = self.create_failures.min(16);
        self.create_failures = self.create_failures.saturating_add(1);
        match cause {
            RetryCause::NotEnabled | RetryCause::NoResponders => {
                let since = *self.not_enabled_since.get_or_insert(now);
                if now.saturating_duration_since(since) >= NOT_ENABLED_WINDOW {
                    return None;
                }
            }
            _ => self.not_enabled_since = None,
        }
        Some(now + CREATE_BACKOFF.saturating_mul(1 << doublings).min(MAX_CREATE_BACKOFF))
    }

    /// The next consumer was created: failures before it are forgotten.
    pub fn handle_created(&mut self) {
        self.create_failures = 0;
        self.not_enabled_since = None;
    }

    /// Starts over with a new consumer; returns the configuration to create it with, based
    /// on `base` (filter, deliver policy for the very first consumer, headers only).
    pub fn reset(&mut self, base: &ConsumerConfig) -> ConsumerConfig {
        self.consumer_sequence = 0;
        self.resets += 1;
        self.consumer_config(base)
    }

    /// The configuration of the next consumer.
    pub fn consumer_config(&self, base: &ConsumerConfig) -> ConsumerConfig {
        let deliver_policy = if self.stream_sequence == 0 {
            base.deliver_policy.clone()
        } else {
            DeliverPolicy::ByStartSequence { start_sequence: self.stream_sequence + 1 }
        };
        ConsumerConfig {
            durable_name: None,
            name: self.name_prefix.as_ref().map(|prefix| format!("{prefix}_{}", self.resets)),
            description: base.description.clone(),
            deliver_policy,
            ack_policy: AckPolicy::None,
            max_deliver: 1,
            filter_subject: base.filter_subject.clone(),
            filter_subjects: base.filter_subjects.clone(),
            metadata: base.metadata.clone(),
            replay_policy: base.replay_policy.clone(),
            headers_only: base.headers_only,
            inactive_threshold: if base.inactive_threshold.is_zero() {
                Duration::from_secs(300)
            } else {
                base.inactive_threshold
            },
            num_replicas: 1,
            memory_storage: true,
            ..ConsumerConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::parse_metadata;

    fn meta(sseq: u64, cseq: u64) -> Metadata {
        parse_metadata(&format!("$JS.ACK.S.C.1.{sseq}.{cseq}.0.0")).unwrap()
    }

    #[test]
    fn in_order_delivery() {
        let mut t = OrderedTracker::new();
        for (s, c) in [(1, 1), (2, 2), (5, 3)] {
            assert_eq!(t.handle_message(&meta(s, c)), OrderedVerdict::Deliver);
        }
        assert_eq!(t.stream_sequence(), 5, "stream gaps (deleted messages, filters) are fine");
    }

    #[test]
    fn a_consumer_gap_resets_from_the_last_delivered() {
        let mut t = OrderedTracker::new();
        let base = ConsumerConfig { filter_subject: Some("a.>".into()), ..ConsumerConfig::default() };
        let first = t.consumer_config(&base);
        assert_eq!(first.deliver_policy, DeliverPolicy::All);
        assert_eq!(first.ack_policy, AckPolicy::None);
        assert!(first.memory_storage && first.durable_name.is_none());
        assert_eq!(t.handle_message(&meta(1, 1)), OrderedVerdict::Deliver);
        assert_eq!(t.handle_message(&meta(2, 2)), OrderedVerdict::Deliver);
        assert_eq!(t.handle_message(&meta(4, 4)), OrderedVerdict::Reset, "consumer sequence 3 was lost");
        assert_eq!(t.handle_message(&meta(5, 5)), OrderedVerdict::Reset, "still waiting for the reset");
        let next = t.reset(&base);
        assert_eq!(next.deliver_policy, DeliverPolicy::ByStartSequence { start_sequence: 3 });
        assert_eq!(next.filter_subject.as_deref(), Some("a.>"));
        assert_eq!(t.resets(), 1);
        assert_eq!(t.handle_message(&meta(3, 1)), OrderedVerdict::Deliver);
        assert_eq!(t.handle_message(&meta(4, 2)), OrderedVerdict::Deliver);
    }

    #[test]
    fn a_heartbeat_ahead_of_us_means_lost_messages() {
        let mut t = OrderedTracker::new();
        assert!(!t.handle_heartbeat(0), "nothing delivered, nothing seen");
        assert_eq!(t.handle_message(&meta(1, 1)), OrderedVerdict::Deliver);
        assert!(!t.handle_heartbeat(1));
        assert!(t.handle_heartbeat(3), "consumer sequences 2 and 3 never arrived");
        t.reset(&ConsumerConfig::default());
        assert!(!t.handle_heartbeat(0), "the new consumer has delivered nothing");
    }

    #[test]
    fn named_consumers_change_name_on_every_reset() {
        let mut t = OrderedTracker::named("abc");
        let base = ConsumerConfig::default();
        assert_eq!(t.consumer_config(&base).name.as_deref(), Some("abc_0"));
        assert_eq!(t.consumer_config(&base).name.as_deref(), Some("abc_0"), "a retry keeps the name");
        assert_eq!(t.reset(&base).name.as_deref(), Some("abc_1"));
        assert_eq!(OrderedTracker::new().consumer_config(&base).name, None);
    }

    #[test]
    fn replays_after_a_reset_are_not_delivered_twice() {
        let mut t = OrderedTracker::new();
        assert_eq!(t.handle_message(&meta(1, 1)), OrderedVerdict::Deliver);
        assert_eq!(t.handle_message(&meta(2, 2)), OrderedVerdict::Deliver);
        t.reset(&ConsumerConfig::default());
        // A server that replays from an older sequence than asked:
        assert_eq!(t.handle_message(&meta(2, 1)), OrderedVerdict::Skip);
        assert_eq!(t.handle_message(&meta(3, 2)), OrderedVerdict::Deliver);
        // A reset before anything was delivered keeps the original deliver policy.
        let mut t = OrderedTracker::new();
        let base = ConsumerConfig { deliver_policy: DeliverPolicy::New, ..ConsumerConfig::default() };
        assert_eq!(t.reset(&base).deliver_policy, DeliverPolicy::New);
    }

    /// An election while the consumer is recreated: the create request times out (the meta
    /// leader is paused), then 503s, then succeeds. Every failure is retried after a
    /// backoff, none ends the consumer; "not enabled" ends it after its window only.
    #[test]
    fn recreating_rides_through_an_election() {
        let ms = Duration::from_millis;
        let t0 = Instant::now();
        let mut t = OrderedTracker::new();
        assert_eq!(t.handle_message(&meta(1, 1)), OrderedVerdict::Deliver);
        t.reset(&ConsumerConfig::default());
        let t1 = t.handle_create_failure(Some(RetryCause::Timeout), t0).unwrap();
        assert_eq!(t1 - t0, ms(250));
        let t2 = t.handle_create_failure(Some(RetryCause::Unavailable), t1).unwrap();
        assert_eq!(t2 - t1, ms(500));
        let mut now = t2;
        for _ in 0..10 {
            now = t.handle_create_failure(Some(RetryCause::Timeout), now + secs(2)).unwrap();
        }
        assert_eq!(
            t.handle_create_failure(Some(RetryCause::Unavailable), now),
            Some(now + MAX_CREATE_BACKOFF)
        );
        t.handle_created();
        assert_eq!(
            t.handle_create_failure(Some(RetryCause::Timeout), now),
            Some(now + ms(250)),
            "backoff reset"
        );
        // Not enabled: tolerated for its window, then the end.
        let start = now;
        let mut at = now;
        while let Some(next) = t.handle_create_failure(Some(RetryCause::NotEnabled), at) {
            at = next;
        }
        assert!(at - start >= NOT_ENABLED_WINDOW && at - start < NOT_ENABLED_WINDOW + MAX_CREATE_BACKOFF);
        // A timeout in between starts the window again.
        let mut t = OrderedTracker::new();
        t.handle_create_failure(Some(RetryCause::NotEnabled), t0).unwrap();
        t.handle_create_failure(Some(RetryCause::Timeout), t0 + secs(9)).unwrap();
        assert!(t.handle_create_failure(Some(RetryCause::NotEnabled), t0 + secs(12)).is_some());
        // What does not pass ends it at once.
        assert_eq!(t.handle_create_failure(None, t0), None);
        assert_eq!(t.stream_sequence(), 0);
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// The ordered consumer's server is killed (or paused) while the stream is idle: its
    /// consumer vanishes with it, no error comes, the idle heartbeats stop. Two missed
    /// heartbeats (on the pull's virtual clock) must reset it at the last delivered stream
    /// sequence + 1, and heartbeats of a live consumer must not.
    #[test]
    fn a_consumer_gone_with_its_server_is_noticed_by_missed_heartbeats() {
        use crate::proto::{PullMode, PullOptions, PullTimeout, PullTracker};
        let t0 = Instant::now();
        let base = ConsumerConfig::default();
        let mut ordered = OrderedTracker::named("o");
        let options = PullOptions::default().batch(500).expires(secs(30)).heartbeat(secs(1));
        let mut pull = PullTracker::new(PullMode::Continuous, options, t0);
        pull.poll_request(t0).unwrap();
        for seq in 1..=3 {
            pull.handle_message(t0, 10);
            assert_eq!(ordered.handle_message(&meta(seq, seq)), OrderedVerdict::Deliver);
        }
        // Idle: heartbeats every second, each saying the consumer delivered 3.
        let mut now = t0;
        for _ in 0..5 {
            now += secs(1);
            assert_eq!(pull.handle_timeout(now), None, "heartbeats keep it alive");
            pull.handle_status(now, 100, "Idle Heartbeat", None, None);
            assert!(!ordered.handle_heartbeat(3));
        }
        // The server dies: silence. Not yet after one interval; reset after two.
        assert_eq!(pull.poll_timeout(), Some(now + secs(2)));
        assert_eq!(pull.handle_timeout(now + secs(1)), None);
        assert_eq!(pull.handle_timeout(now + secs(2)), Some(PullTimeout::MissedHeartbeats));
        let next = ordered.reset(&base);
        assert_eq!(next.deliver_policy, DeliverPolicy::ByStartSequence { start_sequence: 4 });
        assert_eq!(next.name.as_deref(), Some("o_1"), "a new consumer, not the vanished one");
        // The new consumer's numbering starts over; the old one's stragglers cannot reach us
        // (another inbox), and a replay from before is skipped.
        assert_eq!(ordered.handle_message(&meta(3, 1)), OrderedVerdict::Skip);
        assert_eq!(ordered.handle_message(&meta(4, 2)), OrderedVerdict::Deliver);
    }
}
