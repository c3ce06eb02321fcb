//! The subscription table: sids, auto-unsubscribe counts and pending accounting.

use crate::prelude::*;

use core::hash::{BuildHasherDefault, Hasher};
use hashbrown::HashMap;

use crate::{queue_group::QueueGroup, sid::Sid, subject::Subject};

/// Sids are small sequential numbers chosen by us: hashing them is wasted work.
#[derive(Default)]
pub(crate) struct SidHasher(u64);

impl Hasher for SidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Limits on messages delivered to a subscription but not yet consumed by its reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingLimits {
    /// Most messages pending.
    pub messages: u64,
    /// Most payload bytes pending.
    pub bytes: u64,
}

impl PendingLimits {
    /// At most `messages` messages and `bytes` payload bytes pending.
    pub const fn new(messages: u64, bytes: u64) -> Self {
        Self { messages, bytes }
    }
}

/// What happened to a delivered message under the pending limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Deliver it.
    Deliver,
    /// Drop it; `Some(total)` when this starts a slow-consumer episode.
    Drop(Option<u64>),
}

#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub(crate) subject: Subject,
    pub(crate) queue_group: Option<QueueGroup>,
    /// Auto-unsubscribe after this many messages in total.
    pub(crate) max: Option<u64>,
    pub(crate) delivered: u64,
    /// The shared request inbox: messages go to the request table.
    pub(crate) internal: bool,
    /// UNSUB sent by a drain: no longer re-subscribed after a reconnect.
    pub(crate) draining: bool,
    limits: Option<PendingLimits>,
    pending_messages: u64,
    pending_bytes: u64,
    dropped: u64,
    slow: bool,
}

impl Subscription {
    /// Messages still to deliver before the auto-unsubscribe count is reached.
    pub(crate) fn remaining(&self) -> Option<u64> {
        self.max.map(|max| max.saturating_sub(self.delivered))
    }

    fn admit(&mut self, bytes: u64) -> Admission {
        let Some(limits) = self.limits else { return Admission::Deliver };
        if self.pending_messages < limits.messages && self.pending_bytes.saturating_add(bytes) <= limits.bytes
        {
            self.pending_messages += 1;
            self.pending_bytes += bytes;
            return Admission::Deliver;
        }
        self.dropped += 1;
        if self.slow {
            Admission::Drop(None)
        } else {
            self.slow = true;
            Admission::Drop(Some(self.dropped))
        }
    }

    fn consumed(&mut self, messages: u64, bytes: u64) {
        self.pending_messages = self.pending_messages.saturating_sub(messages);
        self.pending_bytes = self.pending_bytes.saturating_sub(bytes);
        if let (true, Some(limits)) = (self.slow, self.limits) {
            if self.pending_messages <= limits.messages / 2 && self.pending_bytes <= limits.bytes / 2 {
                self.slow = false;
            }
        }
    }
}

/// What delivering one message for a sid means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// No such subscription (it raced with UNSUB): drop silently.
    Unknown,
    /// A message for the request inbox.
    Inbox,
    /// Deliver to the user; `last` when the auto-unsubscribe count is now reached (the
    /// subscription is gone).
    User { last: bool },
    /// Dropped by the pending limits; `Some(total)` starts a slow-consumer episode.
    Dropped { episode: Option<u64>, last: bool },
}

#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    subs: HashMap<u64, Subscription, BuildHasherDefault<SidHasher>>,
    next_sid: u64,
}

impl Subscriptions {
    pub(crate) fn insert(
        &mut self,
        subject: Subject,
        queue_group: Option<QueueGroup>,
        internal: bool,
    ) -> Sid {
        self.next_sid += 1;
        let sub = Subscription {
            subject,
            queue_group,
            max: None,
            delivered: 0,
            internal,
            draining: false,
            limits: None,
            pending_messages: 0,
            pending_bytes: 0,
            dropped: 0,
            slow: false,
        };
        self.subs.insert(self.next_sid, sub);
        Sid(self.next_sid)
    }

    /// The sid the next `insert` will return.
    pub(crate) fn peek_next_sid(&self) -> u64 {
        self.next_sid + 1
    }

    pub(crate) fn get(&self, sid: Sid) -> Option<&Subscription> {
        self.subs.get(&sid.0)
    }

    pub(crate) fn get_mut(&mut self, sid: Sid) -> Option<&mut Subscription> {
        self.subs.get_mut(&sid.0)
    }

    pub(crate) fn remove(&mut self, sid: Sid) -> Option<Subscription> {
        self.subs.remove(&sid.0)
    }

    pub(crate) fn len(&self) -> usize {
        self.subs.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// Live subscriptions in sid order (creation order), for re-subscribing.
    pub(crate) fn iter_sorted(&self) -> Vec<(Sid, &Subscription)> {
        let mut subs: Vec<_> = self.subs.iter().map(|(&sid, sub)| (Sid(sid), sub)).collect();
        subs.sort_unstable_by_key(|(sid, _)| *sid);
        subs
    }

    /// Whether every subscription's pending messages and bytes are within its limits
    /// (no allocation: for [`Connection::check_invariants`](super::Connection::check_invariants)).
    pub(crate) fn within_limits(&self) -> bool {
        self.subs.values().all(|sub| {
            sub.limits.is_none_or(|limits| {
                sub.pending_messages <= limits.messages && sub.pending_bytes <= limits.bytes
            })
        })
    }

    pub(crate) fn sids(&self) -> Vec<Sid> {
        let mut sids: Vec<Sid> = self.subs.keys().map(|&s| Sid(s)).collect();
        sids.sort_unstable();
        sids
    }

    pub(crate) fn set_limits(&mut self, sid: Sid, limits: Option<PendingLimits>) -> bool {
        self.get_mut(sid).map(|sub| sub.limits = limits).is_some()
    }

    pub(crate) fn consumed(&mut self, sid: Sid, messages: u64, bytes: u64) {
        if let Some(sub) = self.get_mut(sid) {
            sub.consumed(messages, bytes);
        }
    }

    /// Accounts one delivered message of `bytes` payload for `sid`.
    pub(crate) fn deliver(&mut self, sid: Sid, bytes: u64) -> Delivery {
        let Some(sub) = self.subs.get_mut(&sid.0) else { return Delivery::Unknown };
        if sub.internal {
            return Delivery::Inbox;
        }
        sub.delivered += 1;
        let last = sub.max.is_some_and(|max| sub.delivered >= max);
        let admission = sub.admit(bytes);
        if last {
            self.subs.remove(&sid.0);
        }
        match admission {
            Admission::Deliver => Delivery::User { last },
            Admission::Drop(episode) => Delivery::Dropped { episode, last },
        }
    }
}

impl Subscriptions {
    /// A message for `sid` that cannot be delivered still counts towards its
    /// auto-unsubscribe limit (the server counts it). Returns whether that ended a user
    /// subscription.
    pub(crate) fn count_undelivered(&mut self, sid: Sid) -> bool {
        let Some(sub) = self.subs.get_mut(&sid.0) else { return false };
        if sub.internal {
            return false;
        }
        sub.delivered += 1;
        if sub.max.is_some_and(|max| sub.delivered >= max) {
            self.subs.remove(&sid.0);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject::new("a").unwrap()
    }

    #[test]
    fn auto_unsubscribe_counts() {
        let mut subs = Subscriptions::default();
        let sid = subs.insert(subject(), None, false);
        subs.get_mut(sid).unwrap().max = Some(2);
        assert_eq!(subs.deliver(sid, 1), Delivery::User { last: false });
        assert_eq!(subs.get(sid).unwrap().remaining(), Some(1));
        assert_eq!(subs.deliver(sid, 1), Delivery::User { last: true });
        assert_eq!(subs.deliver(sid, 1), Delivery::Unknown);
        assert_eq!(subs.len(), 0);
    }

    #[test]
    fn slow_consumer_episodes_are_reported_once() {
        let mut subs = Subscriptions::default();
        let sid = subs.insert(subject(), None, false);
        subs.set_limits(sid, Some(PendingLimits { messages: 4, bytes: 1000 }));
        for _ in 0..4 {
            assert_eq!(subs.deliver(sid, 10), Delivery::User { last: false });
        }
        assert_eq!(subs.deliver(sid, 10), Delivery::Dropped { episode: Some(1), last: false });
        assert_eq!(subs.deliver(sid, 10), Delivery::Dropped { episode: None, last: false });
        subs.consumed(sid, 1, 10);
        assert_eq!(subs.deliver(sid, 10), Delivery::User { last: false }, "room again, episode not over");
        assert_eq!(subs.deliver(sid, 10), Delivery::Dropped { episode: None, last: false });
        subs.consumed(sid, 3, 30);
        for _ in 0..3 {
            assert_eq!(subs.deliver(sid, 10), Delivery::User { last: false });
        }
        assert_eq!(
            subs.deliver(sid, 10),
            Delivery::Dropped { episode: Some(4), last: false },
            "a new episode"
        );
        // Bytes count too.
        let big = subs.insert(subject(), None, false);
        subs.set_limits(big, Some(PendingLimits { messages: 100, bytes: 15 }));
        assert_eq!(subs.deliver(big, 10), Delivery::User { last: false });
        assert_eq!(subs.deliver(big, 10), Delivery::Dropped { episode: Some(1), last: false });
    }

    #[test]
    fn sids_are_sequential_and_inbox_is_routed() {
        let mut subs = Subscriptions::default();
        let a = subs.insert(subject(), None, false);
        let b = subs.insert(subject(), None, true);
        assert_eq!((a, b), (Sid(1), Sid(2)));
        assert_eq!(subs.deliver(b, 5), Delivery::Inbox);
        assert_eq!(subs.sids(), [a, b]);
    }
}
