//! What must hold between the connection's components after every input: checked by
//! [`Connection::check_invariants`], which the fuzzer and the tests call after every step.
//! A violation is a bug in this crate, never the peer's or the caller's doing.

use super::keepalive::PongWaiter;
use super::phase::Phase;
use super::timers::Timer;
use super::Connection;
use crate::time::Instant;

/// An internal invariant of the [`Connection`] that does not hold: a bug in this crate,
/// whatever the server sent or the caller did. The text names the invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("connection invariant violated: {0}")]
pub struct InvariantViolation(pub &'static str);

impl<I: Instant> Connection<I> {
    /// Checks the connection's internal invariants: the phase agrees with the timers and
    /// the transport; every PING in flight has its waiter and only a live handshake or
    /// connection has PINGs in flight; the keepalive count stays within its limit; every
    /// flush waits for a PONG; every subscription's pending messages and bytes, and the
    /// reconnect buffer, stay within their limits. Cheap (no allocation); for fuzzers, simulations and tests,
    /// which call it after every step.
    ///
    /// # Errors
    /// The first [`InvariantViolation`] found.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let fail = |what| Err(InvariantViolation(what));
        let attempt_timer = self.timers.get(Timer::Attempt).is_some();
        match self.phase {
            Phase::Closed => {
                if self.timers.next().is_some() {
                    return fail("a closed connection has no deadline");
                }
                if self.link.has_open() {
                    return fail("a closed connection has no open transport");
                }
            }
            Phase::Waiting if self.link.has_open() => {
                return fail("a waiting connection has no open transport")
            }
            Phase::Connected if attempt_timer => {
                return fail("a connected connection has no attempt deadline")
            }
            phase if phase.attempting() && !attempt_timer => {
                return fail("an attempt under way has its deadline");
            }
            _ => {}
        }
        let mut waiters = self.keepalive.waiters().peekable();
        if waiters.peek().is_some() && !matches!(self.phase, Phase::AwaitPong | Phase::Connected) {
            return fail("PINGs are in flight only during the handshake's wait for PONG or once connected");
        }
        if self.keepalive.waiters().any(|w| w == PongWaiter::Handshake) && self.phase != Phase::AwaitPong {
            return fail("the handshake's PING waits only while the handshake does");
        }
        if self.keepalive.outstanding() > self.options.max_pings_outstanding {
            return fail("no more keepalive PINGs unanswered than allowed");
        }
        if !self.subs.within_limits() {
            return fail("every subscription's pending messages and bytes stay within its limits");
        }
        if self.outbound.buffered_len() > self.outbound.reconnect_limit() {
            return fail("the reconnect buffer stays within its size");
        }
        for flush in self.keepalive.pending_flushes() {
            if !self.keepalive.waiters().any(|w| w == PongWaiter::Flush(flush)) {
                return fail("every pending flush waits for a PONG");
            }
        }
        Ok(())
    }
}
