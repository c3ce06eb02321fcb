//! The life of the connection: choosing and starting attempts, losing and closing
//! connections, and firing timers.

use crate::prelude::*;

use crate::time::{deadline, Instant};

use super::event::{Action, ConnectionError, Event, FlushError, FlushId, RequestId, RequestOutcome};
use super::keepalive::{PongWaiter, Stale};
use super::pool::Next;
use super::timers::Timer;
use super::{Connection, Phase};

impl<I: Instant> Connection<I> {
    pub(super) fn server_name(&self) -> String {
        self.link.server().map(|s| s.host().to_owned()).unwrap_or_default()
    }

    /// A timer is due.
    pub(super) fn fire(&mut self, now: I, timer: Timer) {
        match timer {
            Timer::ReconnectWait if self.phase == Phase::Waiting => self.start_attempt(now),
            Timer::Attempt if self.phase.attempting() => self.fail_attempt(now, ConnectionError::Timeout),
            Timer::Ping if self.phase == Phase::Connected => self.keepalive_ping(now),
            Timer::Drain if self.drain.is_active() => self.close_with(Some(ConnectionError::DrainTimeout)),
            Timer::Request(token) => {
                if let Some(replies) = self.requests.remove(RequestId(token)) {
                    self.report.event(Event::RequestEnded {
                        request: RequestId(token),
                        outcome: RequestOutcome::TimedOut,
                        replies,
                    });
                }
            }
            Timer::Flush(id) if self.keepalive.flush_timed_out(id) => {
                self.report.event(Event::Flushed { flush: FlushId(id), result: Err(FlushError::Timeout) });
            }
            _ => {}
        }
    }

    /// Schedules the next attempt, or closes when no server is left.
    pub(super) fn next_attempt(&mut self, now: I) {
        self.next_attempt_after(now, false);
    }

    /// [`next_attempt`](Self::next_attempt); with `immediate`, the front server is tried
    /// now, without its reconnect wait.
    fn next_attempt_after(&mut self, now: I, immediate: bool) {
        if !self.report.ever_connected && !self.options.retry_on_initial_connect && self.pool.all_failed() {
            self.close_with(Some(ConnectionError::NoServers));
            return;
        }
        let reconnecting = self.report.ever_connected.then(|| self.link.info());
        match self.pool.next(now, &self.options, reconnecting, &mut self.rng) {
            Next::Exhausted => self.close_with(Some(ConnectionError::NoServers)),
            Next::Try { at } => {
                self.enter(Phase::Waiting);
                if immediate || at <= now {
                    self.start_attempt(now);
                } else {
                    self.timers.set(Timer::ReconnectWait, at);
                }
            }
        }
    }

    pub(super) fn start_attempt(&mut self, now: I) {
        let addr = self.pool.start_attempt(now);
        let transport = self.link.start(addr.clone());
        self.outbound.reset_queue();
        self.keepalive.reset();
        self.pacing.reset();
        self.timers.stop(Timer::ReconnectWait);
        self.timers.set(Timer::Attempt, deadline(now, self.options.connect_timeout));
        self.enter(Phase::Connecting);
        self.report.action(Action::Connect(transport, addr));
    }

    /// Gives up the current transport: the caller is asked to close it (or to stop
    /// opening it).
    pub(super) fn close_transport(&mut self) {
        self.pending_connect = None;
        if let Some(transport) = self.link.abandon() {
            self.report.action(Action::CloseTransport(transport));
        }
    }

    /// A connection attempt failed before the handshake completed.
    pub(super) fn fail_attempt(&mut self, now: I, error: ConnectionError) {
        self.close_transport();
        // The PINGs of the handshake went with the transport: nothing answers them now
        // (no flush waits on them: flushes are sent only once connected).
        self.keepalive.reset();
        self.timers.stop(Timer::Attempt);
        if let Some(server) = self.link.server() {
            self.pool.record(server, false);
        }
        self.report.last_error = Some(error);
        if let Some(repeated) = self.repeated_auth_error() {
            self.close_with(Some(repeated));
        } else if self.report.ever_connected && !self.options.allow_reconnect {
            self.close_with(self.report.last_error.clone());
        } else {
            self.next_attempt(now);
        }
    }

    /// When `last_error` (just recorded) is the current server's second identical
    /// authorization error in a row, the error to close with (unless the options say to
    /// keep retrying). Retrying credentials a server refused twice the same way only
    /// hammers it, and may lock the account (what nats.go and nats.js do too).
    fn repeated_auth_error(&mut self) -> Option<ConnectionError> {
        let Some(ConnectionError::Server(error)) = &self.report.last_error else { return None };
        if !error.counts_as_repeatable_auth_error() {
            return None;
        }
        let server = self.link.server()?;
        let repeated = self.pool.record_auth_error(server, error.kind());
        (repeated && !self.options.retry_on_repeated_auth_errors)
            .then(|| ConnectionError::RepeatedAuthError(error.clone()))
    }

    /// An error while connected or while handshaking.
    pub(super) fn connection_failed(&mut self, now: I, error: ConnectionError) {
        if self.phase == Phase::Connected {
            self.lose_connection(now, error);
        } else {
            self.fail_attempt(now, error);
        }
    }

    /// An established connection is gone.
    pub(super) fn lose_connection(&mut self, now: I, error: ConnectionError) {
        self.lose_connection_then(now, error, false);
    }

    /// [`lose_connection`](Self::lose_connection); with `immediate`, the next attempt
    /// starts now instead of after the reconnect wait.
    pub(super) fn lose_connection_then(&mut self, now: I, error: ConnectionError, immediate: bool) {
        self.close_transport();
        self.timers.stop(Timer::Ping);
        self.outbound.carry_unwritten();
        self.report.last_error = Some(error.clone());
        self.report.event(Event::Disconnected { error: error.clone() });
        self.fail_flushes(FlushError::Disconnected);
        if self.drain.is_active() || !self.options.allow_reconnect {
            self.close_with(Some(error));
            return;
        }
        if let Some(repeated) = self.repeated_auth_error() {
            self.close_with(Some(repeated));
            return;
        }
        // Subscriptions being drained end here: their in-flight messages went with the
        // transport, and they are not made again on the next server.
        for sid in self.subs.sids() {
            if self.subs.get(sid).is_some_and(|s| s.draining) && self.subs.remove(sid).is_some() {
                self.report.event(Event::SubscriptionEnded { sid });
            }
        }
        self.next_attempt_after(now, immediate);
    }

    pub(super) fn fail_flushes(&mut self, error: FlushError) {
        for id in self.keepalive.fail_all() {
            self.timers.stop(Timer::Flush(id));
            self.report.event(Event::Flushed { flush: FlushId(id), result: Err(error.clone()) });
        }
    }

    pub(super) fn close_with(&mut self, error: Option<ConnectionError>) {
        if self.phase == Phase::Closed {
            return;
        }
        self.enter(Phase::Closed);
        self.drain.end();
        self.close_transport();
        self.fail_flushes(FlushError::Closed);
        for (request, replies) in self.requests.drain_all() {
            self.report.event(Event::RequestEnded { request, outcome: RequestOutcome::Closed, replies });
        }
        self.timers.clear();
        self.outbound.drop_buffered();
        // "No servers" is the verdict; the last attempt's error stays the reported cause.
        if let Some(error) =
            error.as_ref().filter(|e| **e != ConnectionError::NoServers || self.report.last_error.is_none())
        {
            self.report.last_error = Some(error.clone());
        }
        self.report.closed_with.clone_from(&error);
        self.report.event(Event::Closed { error });
    }

    fn keepalive_ping(&mut self, now: I) {
        match self.keepalive.keepalive_due(self.options.max_pings_outstanding) {
            Err(Stale) => self.lose_connection(now, ConnectionError::StaleConnection),
            Ok(()) => {
                self.send_ping(PongWaiter::Keepalive);
                self.timers.set(Timer::Ping, deadline(now, self.options.ping_interval));
            }
        }
    }

    /// The drain's first PONG: every in-flight message has arrived.
    pub(super) fn drain_subscriptions_done(&mut self) {
        for sid in self.subs.sids() {
            if self.subs.get(sid).is_some_and(|s| s.draining) {
                // The request inbox is internal: its sid means nothing to users.
                if self.subs.remove(sid).is_some_and(|s| !s.internal) {
                    self.report.event(Event::SubscriptionEnded { sid });
                }
            }
        }
        self.requests.forget_inbox();
        self.drain.subscriptions_done();
        self.send_ping(PongWaiter::DrainPublishes);
    }
}
