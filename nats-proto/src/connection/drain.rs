//! Drain: unsubscribe everything, let messages in flight arrive, confirm the publishes
//! made so far, then close. Its deadline lives in the timer table.

/// Where a drain is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Drain {
    /// No drain.
    #[default]
    Idle,
    /// UNSUBs sent; waiting for every in-flight message.
    Subscriptions,
    /// Waiting for the server to confirm the last publishes; publishing is refused.
    Publishes,
}

impl Drain {
    /// Whether a drain is under way (subscribing and requests are refused).
    pub(crate) fn is_active(self) -> bool {
        self != Self::Idle
    }

    /// Whether publishing is refused.
    pub(crate) fn refuses_publishes(self) -> bool {
        self == Self::Publishes
    }

    /// Starts a drain; `false` if one is already under way.
    pub(crate) fn start(&mut self) -> bool {
        if self.is_active() {
            return false;
        }
        *self = Self::Subscriptions;
        true
    }

    /// The in-flight messages have arrived: the publishes are confirmed next.
    pub(crate) fn subscriptions_done(&mut self) {
        if *self == Self::Subscriptions {
            *self = Self::Publishes;
        }
    }

    /// Over (closed).
    pub(crate) fn end(&mut self) {
        *self = Self::Idle;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages() {
        let mut drain = Drain::default();
        assert!(!drain.is_active() && !drain.refuses_publishes());
        drain.subscriptions_done();
        assert_eq!(drain, Drain::Idle, "no drain, no stage change");
        assert!(drain.start());
        assert!(!drain.start(), "one drain at a time");
        assert!(drain.is_active() && !drain.refuses_publishes());
        drain.subscriptions_done();
        assert!(drain.refuses_publishes());
        drain.end();
        assert!(!drain.is_active());
    }
}
