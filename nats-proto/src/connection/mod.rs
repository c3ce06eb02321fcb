//! The sans-IO connection state machine.
//!
//! See the crate documentation for the run loop. Inputs are the `handle_*` methods,
//! commands (`publish`, `subscribe`, `request`, `flush`, `drain`, `close`, ...) only
//! change state, outputs are drained with `poll_event`, `poll_action`, `outbound` /
//! `advance_outbound` and `poll_timeout`.
//!
//! [`Connection`] coordinates components that each own one concern, with their own state
//! and unit tests:
//!
//! - [`link`]: which transport is current (transport identity), its server and INFO, the
//!   decoder and its read buffer;
//! - [`outbound`]: the write queue, publish accounting, the reconnect buffer;
//! - [`keepalive`]: PINGs in flight, what each PONG answers, flush waiters;
//! - [`pacing`]: how far publishes may be written ahead of the server's answers;
//! - [`timers`]: every deadline (reconnect wait, attempt, ping, requests, flushes, drain);
//! - [`subscriptions`] and [`requests`] (the shared inbox);
//! - [`pool`]: the servers and the reconnect policy;
//! - [`drain`]; and [`report`]: events, actions, the last error, statistics.
//!
//! The coordinator's own logic is split by what it handles: [`handshake`], [`inbound`]
//! (ops from the server), [`lifecycle`] (attempts, losses, close, timers) and
//! [`commands`].

use crate::prelude::*;

mod commands;
mod drain;
mod event;
mod handshake;
mod inbound;
mod invariants;
mod keepalive;
mod lifecycle;
mod link;
mod outbound;
mod pacing;
mod phase;
mod pool;
mod report;
mod requests;
mod rng;
mod subscriptions;
mod timers;

pub use event::{
    Action, ConnectionError, Event, FlushError, FlushId, PublishError, RequestId, RequestOutcome,
    ServerPoolError, State, Statistics, SubscribeError, TransportError, TransportErrorKind, TransportId,
};
pub use invariants::InvariantViolation;
pub use pool::Server;
pub use requests::Expected;
pub use subscriptions::PendingLimits;

use bytes::{Bytes, BytesMut};

use self::drain::Drain;
use self::keepalive::Keepalive;
use self::link::Link;
use self::outbound::Outbound;
use self::pacing::Pacing;
use self::phase::Phase;
use self::pool::Pool;
use self::report::Report;
use self::requests::Requests;
use self::rng::Rng;
use self::subscriptions::Subscriptions;
use self::timers::Timers;
use crate::{
    auth::{AuthError, Credentials},
    connect::ConnectInfo,
    decode::ServerDecoder,
    info::ServerInfo,
    options::{Options, OptionsError},
    out_buffer::OutBuffer,
    server_addr::ServerAddr,
    sid::Sid,
    subject::Subject,
    time::{DefaultInstant, Instant},
};

/// A NATS client connection as a pure state machine: no IO, no clock, no threads.
///
/// `I` is the caller's [`Instant`] type: `std::time::Instant` by default (with the
/// `std` feature), or for example a `Duration` since the caller's epoch.
#[derive(Debug)]
pub struct Connection<I = DefaultInstant> {
    options: Options,
    rng: Rng,
    pool: Pool<I>,
    phase: Phase,
    link: Link,
    outbound: Outbound,
    subs: Subscriptions,
    requests: Requests,
    keepalive: Keepalive,
    pacing: Pacing,
    timers: Timers<I>,
    drain: Drain,
    report: Report,
    /// The CONNECT waiting for the caller's credentials ([`Phase::AwaitCredentials`]).
    pending_connect: Option<ConnectInfo>,
}

impl<I: Instant> Connection<I> {
    /// A connection that starts at once: the first [`Action::Connect`] is ready.
    ///
    /// # Errors
    /// [`OptionsError`] when the options are unusable.
    pub fn new(options: Options, now: I) -> Result<Self, OptionsError> {
        let inbox_prefix = options.validate()?;
        let mut rng = Rng::new(options.rng_seed);
        let pool = Pool::new(&options, &mut rng);
        let decoder = ServerDecoder::with_limits(options.decoder_limits);
        let pacing = Pacing::new(options.publish_pacing.filter(|_| options.echo));
        let mut connection = Self {
            outbound: Outbound::new(options.reconnect_buffer_size),
            options,
            rng,
            pool,
            phase: Phase::Waiting,
            link: Link::new(decoder),
            subs: Subscriptions::default(),
            requests: Requests::new(inbox_prefix),
            keepalive: Keepalive::default(),
            pacing,
            timers: Timers::default(),
            drain: Drain::default(),
            report: Report::default(),
            pending_connect: None,
        };
        connection.next_attempt(now);
        Ok(connection)
    }

    // ----- inputs -------------------------------------------------------------------------

    /// The transport asked for by [`Action::Connect`] is open. If the connection no longer
    /// wants it (it was closed or given up meanwhile), the answer is
    /// [`Action::CloseTransport`] for it and nothing else changes.
    pub fn handle_connected(&mut self, now: I, transport: TransportId) {
        let _ = now;
        if self.phase != Phase::Connecting || !self.link.opened(transport) {
            self.report.action(Action::CloseTransport(transport));
            return;
        }
        // TLS-first does not apply to WebSocket servers: `wss://` is TLS below the
        // WebSocket, done by the transport before it reports being connected.
        let websocket = self.link.server().is_some_and(ServerAddr::is_websocket);
        if self.options.tls_first && !websocket {
            self.enter(Phase::TlsFirst);
            let server_name = self.server_name();
            self.report.action(Action::StartTls { transport, server_name });
        } else {
            self.enter(Phase::AwaitInfo);
        }
    }

    /// The TLS handshake asked for by [`Action::StartTls`] succeeded.
    pub fn handle_tls_established(&mut self, now: I, transport: TransportId) {
        if !self.link.is_open(transport) {
            return;
        }
        if matches!(self.phase, Phase::TlsFirst | Phase::UpgradingTls) {
            if let Some(server) = self.link.server_mut() {
                server.set_tls();
            }
        }
        match self.phase {
            Phase::TlsFirst => self.enter(Phase::AwaitInfo),
            Phase::UpgradingTls => self.send_connect(now),
            _ => {}
        }
    }

    /// The caller's answer to [`Action::Authenticate`] for `transport`: the credentials
    /// for this attempt, or why there are none (typically [`AuthError::Callback`], which
    /// fails the attempt; the next one follows the reconnect policy). An answer for a
    /// transport that is no longer current, or one not asked for, changes nothing.
    ///
    /// [`AuthError::Callback`]: crate::AuthError::Callback
    pub fn handle_credentials(
        &mut self,
        now: I,
        transport: TransportId,
        credentials: Result<Credentials, AuthError>,
    ) {
        if self.phase == Phase::AwaitCredentials && self.link.is_open(transport) {
            self.credentials_ready(now, credentials);
        }
    }

    /// The transport failed to open, failed, or was closed by the peer. A report about a
    /// transport that is not current (one the connection asked to close, or an older one)
    /// changes nothing.
    pub fn handle_disconnected(&mut self, now: I, transport: TransportId, error: TransportError) {
        if !self.link.lost(transport) {
            return;
        }
        match self.phase {
            Phase::Connected => self.lose_connection(now, ConnectionError::Transport(error)),
            phase if phase.attempting() => self.fail_attempt(now, ConnectionError::Transport(error)),
            _ => {}
        }
    }

    /// Bytes received from the transport (the plaintext, inside TLS). Bytes from a
    /// transport that is not current are ignored.
    pub fn handle_input(&mut self, now: I, transport: TransportId, bytes: &[u8]) {
        if self.link.is_open(transport) {
            self.link.read_buf.extend_from_slice(bytes);
            self.handle_received(now, transport);
        }
    }

    /// The buffer to read into, for callers that read straight into the connection's
    /// buffer (no copy); call [`handle_received`](Self::handle_received) after appending.
    pub fn receive_buffer(&mut self) -> &mut BytesMut {
        &mut self.link.read_buf
    }

    /// Processes what was appended to [`receive_buffer`](Self::receive_buffer) from
    /// `transport`. Bytes from a transport that is not current are dropped.
    pub fn handle_received(&mut self, now: I, transport: TransportId) {
        if !self.link.is_open(transport) || !self.phase.reads_protocol() {
            self.link.read_buf.clear();
            return;
        }
        let mut before = self.link.read_buf.len();
        loop {
            match self.link.decoder.decode(&mut self.link.read_buf) {
                Ok(Some(op)) => {
                    let left = self.link.read_buf.len();
                    self.link.received += (before - left) as u64;
                    before = left;
                    self.handle_op(now, op);
                    // Stop when the transport is gone or about to change (TLS upgrade):
                    // what follows is not plaintext protocol for this connection.
                    if !self.link.is_open(transport) || !self.phase.reads_protocol() {
                        self.link.read_buf.clear();
                        return;
                    }
                }
                Ok(None) => return,
                Err(error) => {
                    self.link.read_buf.clear();
                    self.connection_failed(now, ConnectionError::Protocol(error));
                    return;
                }
            }
        }
    }

    /// Time passed: call when [`poll_timeout`](Self::poll_timeout)'s deadline is reached
    /// (calling earlier or more often is harmless). Fires every timer that is due.
    pub fn handle_timeout(&mut self, now: I) {
        for timer in self.timers.take_due(now) {
            self.fire(now, timer);
        }
    }

    // ----- outputs ------------------------------------------------------------------------

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.report.events.pop_front()
    }

    /// Whether [`poll_event`](Self::poll_event) has an event to return: a cheap check for
    /// callers that look after every input.
    #[inline]
    #[must_use]
    pub fn has_events(&self) -> bool {
        !self.report.events.is_empty()
    }

    /// The next action for the caller's IO, if any.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.report.actions.pop_front()
    }

    /// Bytes queued for the transport (a [`bytes::Buf`]: use `chunks_vectored` for
    /// vectored writes): write the first [`writable_len`](Self::writable_len) of them and
    /// report what was written with [`advance_outbound`](Self::advance_outbound). Its
    /// length is what to bound publishers by (backpressure).
    pub fn outbound(&self) -> &OutBuffer {
        self.outbound.pending()
    }

    /// How many bytes of [`outbound`](Self::outbound) may be written now: all of them,
    /// unless [publish pacing](Options::publish_pacing) holds the rest until the server
    /// has answered a PING already written. Whatever reads the transport makes room (the
    /// answer is read like any other input); a caller that ignores the limit loses
    /// nothing, it only gives up the pacing.
    #[must_use]
    pub fn writable_len(&self) -> usize {
        let queued = self.outbound.pending().len();
        match self.pacing.limit() {
            // The limit is within the queue or already written: it fits in a usize.
            Some(limit) => usize::try_from(limit.saturating_sub(self.outbound.written()))
                .unwrap_or(usize::MAX)
                .min(queued),
            None => queued,
        }
    }

    /// `n` bytes of [`outbound`](Self::outbound) were written.
    ///
    /// # Panics
    /// If `n` is more than `outbound().len()`.
    pub fn advance_outbound(&mut self, n: usize) {
        self.outbound.advance(n);
    }

    /// Takes up to `max` bytes of [`outbound`](Self::outbound), no more than
    /// [`writable_len`](Self::writable_len), as one chunk, without copying, and counts
    /// them as written: for callers that write outside a lock. Bytes taken but then lost
    /// with the transport are lost like bytes in the kernel's buffer, unless given back
    /// with [`handle_unwritten`](Self::handle_unwritten); publishes not yet taken move to
    /// the reconnect buffer.
    pub fn take_outbound(&mut self, max: usize) -> Option<Bytes> {
        let max = match self.pacing.limit() {
            Some(_) => max.min(self.writable_len()),
            None => max,
        };
        self.outbound.take(max)
    }

    /// The transport did not accept `chunks`, the end of what
    /// [`take_outbound`](Self::take_outbound) handed out for `transport` (in order, since
    /// the caller last took): they were never written. Call it before reporting the
    /// transport's failure ([`handle_disconnected`](Self::handle_disconnected)): the
    /// publishes among them that had not started on the wire then move to the reconnect
    /// buffer, as those never taken do, instead of being lost with the transport. Ignored
    /// for a transport that is not the current one.
    pub fn handle_unwritten(&mut self, transport: TransportId, chunks: impl IntoIterator<Item = Bytes>) {
        if !self.link.is_open(transport) {
            return;
        }
        self.outbound.unwrite(chunks.into_iter().filter(|c| !c.is_empty()).collect());
    }

    /// Gives back a chunk taken with [`take_outbound`](Self::take_outbound) once it is
    /// written and no longer shared (`Bytes::try_into_mut` succeeded): its allocation holds
    /// later writes, so encoding allocates nothing in steady state and blocks are not freed
    /// on the writer's thread. Optional; a chunk not given back is simply freed.
    pub fn recycle_outbound(&mut self, block: BytesMut) {
        self.outbound.recycle(block);
    }

    /// Whether `transport` is the current transport and open: bytes taken with
    /// [`take_outbound`](Self::take_outbound) belong on it. A caller writing from several
    /// tasks checks this before taking bytes for a transport it holds, since the
    /// connection may have given that transport up meanwhile.
    pub fn is_transport_open(&self, transport: TransportId) -> bool {
        self.link.is_open(transport)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next, if ever: the
    /// earliest entry of the timer table.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<I> {
        self.timers.next()
    }

    // ----- getters ------------------------------------------------------------------------

    /// The state as users see it.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Closed => State::Closed,
            Phase::Connected if self.drain.is_active() => State::Draining,
            Phase::Connected => State::Connected,
            _ if self.report.ever_connected => State::Reconnecting,
            _ => State::Connecting,
        }
    }

    /// Whether the connection is closed for good.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The server connected to, while connected (nats.py's `connected_url`).
    pub fn connected_server(&self) -> Option<&ServerAddr> {
        self.link.server().filter(|_| self.phase == Phase::Connected)
    }

    /// The last INFO received.
    pub fn server_info(&self) -> Option<&ServerInfo> {
        self.link.info()
    }

    /// The servers known, configured and discovered, in the order they will be tried.
    pub fn servers(&self) -> Vec<ServerAddr> {
        self.pool.servers().cloned().collect()
    }

    /// The server pool with each server's history (ADR-40): address, failed attempts
    /// since its last connection, whether it was ever connected to, whether it was
    /// discovered. In the order the servers will be tried.
    pub fn server_pool(&self) -> Vec<Server> {
        self.pool.snapshot()
    }

    /// Replaces the server pool (ADR-40), for example with a list from service discovery.
    /// Servers already in the pool keep their history; servers not in `servers`,
    /// discovered ones included, are dropped. The current connection stays up even if
    /// its server is no longer listed: the new pool is used from the next (re)connect on.
    /// Servers the cluster announces later are added as usual.
    ///
    /// # Errors
    /// [`ServerPoolError::Invalid`] for an empty list, a list mixing WebSocket and NATS
    /// URLs, or one of the other kind than the connection's; [`ServerPoolError::Closed`]
    /// once closed.
    pub fn set_server_pool(&mut self, servers: Vec<ServerAddr>) -> Result<(), ServerPoolError> {
        if self.phase == Phase::Closed {
            return Err(ServerPoolError::Closed);
        }
        ServerAddr::check_list(&servers)?;
        if !self.pool.same_kind(&servers) {
            return Err(ServerPoolError::Invalid(crate::ServerAddrError::MixedSchemes));
        }
        self.pool.replace(servers);
        Ok(())
    }

    /// The servers learned from the cluster's `connect_urls`.
    pub fn discovered_servers(&self) -> Vec<ServerAddr> {
        self.pool.discovered().cloned().collect()
    }

    /// The last error, of the connection or of a connection attempt. When the connection
    /// closes because no server is left ([`ConnectionError::NoServers`] in
    /// [`Event::Closed`]), this stays the error of the last attempt: the cause.
    pub fn last_error(&self) -> Option<&ConnectionError> {
        self.report.last_error.as_ref()
    }

    /// The error the connection closed with, as in [`Event::Closed`]:
    /// [`ConnectionError::DrainTimeout`] when a drain ran out of time,
    /// [`ConnectionError::NoServers`] when no server was left, ...; `None` while it is open
    /// and when it closed as asked ([`close`](Self::close) or a drain that finished).
    pub fn closed_with(&self) -> Option<&ConnectionError> {
        self.report.closed_with.as_ref()
    }

    /// Traffic counters.
    pub fn statistics(&self) -> Statistics {
        self.report.stats
    }

    /// Live subscriptions (the request inbox included, once created).
    pub fn subscription_count(&self) -> usize {
        self.subs.len()
    }

    /// Requests still waiting for replies.
    pub fn pending_requests(&self) -> usize {
        self.requests.len()
    }

    /// Bytes waiting in the reconnect buffer.
    pub fn reconnect_buffer_len(&self) -> usize {
        self.outbound.buffered_len()
    }

    /// The server's `max_payload`, once known.
    pub fn max_payload(&self) -> Option<u64> {
        self.link.info().map(|i| i.max_payload)
    }

    /// The subject of a live subscription.
    pub fn subscription_subject(&self, sid: Sid) -> Option<&Subject> {
        self.subs.get(sid).map(|s| &s.subject)
    }

    /// Whether the given subscription is live.
    pub fn is_subscribed(&self, sid: Sid) -> bool {
        self.subs.get(sid).is_some()
    }
}
