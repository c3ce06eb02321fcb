//! The connection's phase and the transitions allowed between phases: every change of
//! phase goes through [`Connection::enter`](super::Connection), which checks it against
//! [`Phase::may_become`] in debug builds (and the fuzzer and the tests run debug builds).
//!
//! Forward through the handshake: `Waiting` → `Connecting` → (`TlsFirst` →) `AwaitInfo`
//! → (`UpgradingTls` →) (`AwaitCredentials` →) `AwaitPong` (CONNECT and PING written) →
//! `Connected`. Back to `Waiting` from any live phase (an attempt failed, the link was
//! lost); to `Closed` from any phase, and never out of it.

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No transport; the next attempt starts when the reconnect wait ends.
    Waiting,
    /// Asked the caller to open a transport.
    Connecting,
    /// TLS-first: asked for TLS before the server's INFO.
    TlsFirst,
    /// Waiting for INFO.
    AwaitInfo,
    /// Asked for TLS after INFO.
    UpgradingTls,
    /// Asked the caller for credentials ([`Action::Authenticate`](super::Action::Authenticate)); CONNECT waits.
    AwaitCredentials,
    /// CONNECT and PING sent; waiting for PONG.
    AwaitPong,
    /// Handshake done.
    Connected,
    /// Closed for good.
    Closed,
}

impl Phase {
    /// Whether the server's bytes are plaintext protocol for this connection now.
    pub(crate) fn reads_protocol(self) -> bool {
        matches!(self, Self::AwaitInfo | Self::AwaitCredentials | Self::AwaitPong | Self::Connected)
    }

    /// Whether the server has this connection's subscriptions: they are written with
    /// CONNECT, before the handshake's PING, so from then on SUB and UNSUB go out as
    /// they happen and messages may arrive.
    pub(crate) fn subscriptions_sent(self) -> bool {
        matches!(self, Self::AwaitPong | Self::Connected)
    }

    /// Whether an attempt is under way (its deadline runs).
    pub(crate) fn attempting(self) -> bool {
        matches!(
            self,
            Self::Connecting
                | Self::TlsFirst
                | Self::AwaitInfo
                | Self::UpgradingTls
                | Self::AwaitCredentials
                | Self::AwaitPong
        )
    }
}

impl Phase {
    /// Every phase, for the table's tests and the invariant checks.
    #[cfg(test)]
    pub(crate) const ALL: [Self; 9] = [
        Self::Waiting,
        Self::Connecting,
        Self::TlsFirst,
        Self::AwaitInfo,
        Self::UpgradingTls,
        Self::AwaitCredentials,
        Self::AwaitPong,
        Self::Connected,
        Self::Closed,
    ];

    /// Whether the connection may go from `self` to `to`: the handshake forwards, a new
    /// wait for the next attempt from any live phase, and closing from any phase but
    /// `Closed` (closing twice is a no-op that does not change phase).
    pub(crate) fn may_become(self, to: Self) -> bool {
        use Phase::{
            AwaitCredentials, AwaitInfo, AwaitPong, Closed, Connected, Connecting, TlsFirst, UpgradingTls,
            Waiting,
        };
        match (self, to) {
            (Closed, _) => false,
            (_, Closed | Waiting) => true,
            (Waiting, Connecting)
            | (Connecting, TlsFirst | AwaitInfo)
            | (TlsFirst, AwaitInfo)
            | (AwaitInfo, UpgradingTls | AwaitCredentials | AwaitPong)
            | (UpgradingTls, AwaitCredentials | AwaitPong)
            | (AwaitCredentials, AwaitPong)
            | (AwaitPong, Connected) => true,
            _ => false,
        }
    }
}

impl<I: crate::time::Instant> super::Connection<I> {
    /// The one way the phase changes: checked against [`Phase::may_become`] in debug
    /// builds.
    pub(super) fn enter(&mut self, to: Phase) {
        debug_assert!(self.phase.may_become(to), "phase {:?} may not become {to:?}", self.phase);
        self.phase = to;
    }
}

#[cfg(test)]
mod tests {
    use super::Phase;
    use crate::prelude::*;

    #[test]
    fn closed_is_final_and_everything_else_can_close_or_wait() {
        for to in Phase::ALL {
            assert!(!Phase::Closed.may_become(to), "Closed -> {to:?}");
        }
        for from in Phase::ALL.into_iter().filter(|p| *p != Phase::Closed) {
            assert!(from.may_become(Phase::Closed), "{from:?} -> Closed");
            assert!(from.may_become(Phase::Waiting), "{from:?} -> Waiting");
        }
    }

    #[test]
    fn the_handshake_only_goes_forward() {
        assert!(Phase::AwaitPong.may_become(Phase::Connected));
        assert!(!Phase::Connecting.may_become(Phase::Connected), "no handshake skipped");
        assert!(!Phase::AwaitInfo.may_become(Phase::Connected));
        assert!(!Phase::Connected.may_become(Phase::AwaitPong), "no way back but through Waiting");
        assert!(!Phase::Connected.may_become(Phase::Connecting));
        assert!(!Phase::Waiting.may_become(Phase::AwaitInfo));
        // Exactly the phases that reach Connected only through AwaitPong.
        let reach_connected: Vec<Phase> =
            Phase::ALL.into_iter().filter(|p| p.may_become(Phase::Connected)).collect();
        assert_eq!(reach_connected, [Phase::AwaitPong]);
    }
}
