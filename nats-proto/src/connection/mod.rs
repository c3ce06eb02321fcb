//! The sans-IO connection state machine.
//!
//! See the crate documentation for the run loop. Inputs are the `handle_*` methods,
//! commands (`publish`, `subscribe`, `request`, `flush`, `drain`, `close`, ...) only
//! change state, outputs are drained with `poll_event`, `poll_action`, `outbound` /
//! `advance_outbound` and `poll_timeout`.

mod event;
mod handshake;
mod inbound;
mod lifecycle;
mod pool;
mod requests;
mod rng;
mod subscriptions;

pub use event::{
    Action, ConnectionError, Event, FlushError, FlushId, PublishError, RequestId, RequestOutcome, State,
    Statistics, SubscribeError, TransportError, TransportErrorKind,
};
pub use requests::Expected;
pub use subscriptions::PendingLimits;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use self::pool::{Next, Pool};
use self::requests::{Requests, Routed};
use self::rng::Rng;
use self::subscriptions::{Delivery, Subscriptions};
use crate::{
    auth::{sign_nonce, Auth, AuthError},
    connect::ConnectInfo,
    decode::ServerDecoder,
    headers::HeaderMap,
    info::ServerInfo,
    op::{Msg, ServerOp},
    options::{Options, OptionsError},
    out_buffer::OutBuffer,
    queue_group::QueueGroup,
    secret::Secret,
    server_addr::ServerAddr,
    server_error::ServerError,
    sid::Sid,
    status_code::StatusCode,
    subject::{validate_publish_subject, Subject},
};

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No transport; the next attempt starts at `at`.
    Waiting { at: Instant },
    /// Asked the caller to open a transport.
    Connecting,
    /// TLS-first: asked for TLS before the server's INFO.
    TlsFirst,
    /// Waiting for INFO.
    AwaitInfo,
    /// Asked for TLS after INFO.
    UpgradingTls,
    /// CONNECT and PING sent; waiting for PONG.
    AwaitPong,
    /// Handshake done.
    Connected,
    /// Closed for good.
    Closed,
}

/// What a PONG answers (PONGs answer PINGs in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PongWaiter {
    Handshake,
    Keepalive,
    Flush(u64),
    DrainSubscriptions,
    DrainPublishes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DrainStage {
    /// UNSUBs sent; waiting for every in-flight message.
    Subscriptions,
    /// Waiting for the server to confirm the last publishes; publishing is refused.
    Publishes,
}

/// A NATS client connection as a pure state machine: no IO, no clock, no threads.
#[derive(Debug)]
pub struct Connection {
    options: Options,
    inbox_prefix: Subject,
    rng: Rng,
    pool: Pool,
    phase: Phase,
    /// When the current connection attempt times out.
    attempt_deadline: Instant,
    /// Whether the caller holds a transport for us.
    transport_open: bool,
    /// The server of the current (or last) attempt.
    current: Option<ServerAddr>,
    /// The last INFO of the current (or last) server.
    info: Option<Box<ServerInfo>>,
    ever_connected: bool,
    decoder: ServerDecoder,
    read_buf: BytesMut,
    out: OutBuffer,
    /// Bytes of `out` written since the transport opened.
    out_written: u64,
    /// Absolute offsets of publishes in `out` not yet completely written: on a loss, the
    /// untouched ones move to the reconnect buffer.
    pub_frames: VecDeque<(u64, u64)>,
    reconnect_buf: OutBuffer,
    /// The length of each publish in `reconnect_buf`.
    reconnect_frames: VecDeque<usize>,
    subs: Subscriptions,
    /// The shared request inbox: its sid and subject prefix (ending with `.`).
    inbox: Option<(Sid, String)>,
    requests: Requests,
    pongs: VecDeque<PongWaiter>,
    flushes: HashMap<u64, Instant>,
    flush_deadlines: BTreeSet<(Instant, u64)>,
    next_flush: u64,
    next_ping: Instant,
    pings_outstanding: u32,
    drain: Option<(DrainStage, Instant)>,
    events: VecDeque<Event>,
    actions: VecDeque<Action>,
    last_error: Option<ConnectionError>,
    stats: Statistics,
}

impl Connection {
    /// A connection that starts at once: the first [`Action::Connect`] is ready.
    ///
    /// # Errors
    /// [`OptionsError`] when the options are unusable.
    pub fn new(options: Options, now: Instant) -> Result<Self, OptionsError> {
        let inbox_prefix = options.validate()?;
        let mut rng = Rng::new(options.rng_seed);
        let pool = Pool::new(&options, &mut rng);
        let decoder = ServerDecoder::with_limits(options.decoder_limits);
        let mut connection = Self {
            options,
            inbox_prefix,
            rng,
            pool,
            phase: Phase::Waiting { at: now },
            attempt_deadline: now,
            transport_open: false,
            current: None,
            info: None,
            ever_connected: false,
            decoder,
            read_buf: BytesMut::with_capacity(64 * 1024),
            out: OutBuffer::new(),
            out_written: 0,
            pub_frames: VecDeque::new(),
            reconnect_buf: OutBuffer::new(),
            reconnect_frames: VecDeque::new(),
            subs: Subscriptions::default(),
            inbox: None,
            requests: Requests::default(),
            pongs: VecDeque::new(),
            flushes: HashMap::new(),
            flush_deadlines: BTreeSet::new(),
            next_flush: 0,
            next_ping: now,
            pings_outstanding: 0,
            drain: None,
            events: VecDeque::new(),
            actions: VecDeque::new(),
            last_error: None,
            stats: Statistics::default(),
        };
        connection.next_attempt(now);
        Ok(connection)
    }

    // ----- inputs -------------------------------------------------------------------------

    /// The transport asked for by [`Action::Connect`] is open.
    /// If the connection no longer wants it (it was closed meanwhile), the answer is
    /// [`Action::CloseTransport`].
    pub fn handle_connected(&mut self, now: Instant) {
        let _ = now;
        if self.phase != Phase::Connecting {
            self.actions.push_back(Action::CloseTransport);
            return;
        }
        self.transport_open = true;
        if self.options.tls_first {
            self.phase = Phase::TlsFirst;
            let server_name = self.server_name();
            self.actions.push_back(Action::StartTls { server_name });
        } else {
            self.phase = Phase::AwaitInfo;
        }
    }

    /// The TLS handshake asked for by [`Action::StartTls`] succeeded.
    pub fn handle_tls_established(&mut self, now: Instant) {
        if matches!(self.phase, Phase::TlsFirst | Phase::UpgradingTls) {
            if let Some(current) = &mut self.current {
                current.set_tls();
            }
        }
        match self.phase {
            Phase::TlsFirst => self.phase = Phase::AwaitInfo,
            Phase::UpgradingTls => self.send_connect(now),
            _ => {}
        }
    }

    /// The transport failed to open, failed, or was closed by the peer. Not to be called
    /// for a transport closed because of [`Action::CloseTransport`].
    pub fn handle_disconnected(&mut self, now: Instant, error: TransportError) {
        match self.phase {
            Phase::Connecting => self.fail_attempt(now, ConnectionError::Transport(error)),
            Phase::TlsFirst | Phase::AwaitInfo | Phase::UpgradingTls | Phase::AwaitPong
                if self.transport_open =>
            {
                self.transport_open = false;
                self.fail_attempt(now, ConnectionError::Transport(error));
            }
            Phase::Connected if self.transport_open => {
                self.transport_open = false;
                self.lose_connection(now, ConnectionError::Transport(error));
            }
            _ => {}
        }
    }

    /// Bytes received from the transport (the plaintext, inside TLS).
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        self.read_buf.extend_from_slice(bytes);
        self.handle_received(now);
    }

    /// The buffer to read into, for callers that read straight into the connection's
    /// buffer (no copy); call [`handle_received`](Self::handle_received) after appending.
    pub fn receive_buffer(&mut self) -> &mut BytesMut {
        &mut self.read_buf
    }

    /// Processes what was appended to [`receive_buffer`](Self::receive_buffer).
    pub fn handle_received(&mut self, now: Instant) {
        if !self.transport_open
            || !matches!(self.phase, Phase::AwaitInfo | Phase::AwaitPong | Phase::Connected)
        {
            self.read_buf.clear();
            return;
        }
        loop {
            match self.decoder.decode(&mut self.read_buf) {
                Ok(Some(op)) => {
                    self.handle_op(now, op);
                    // Stop when the transport is gone or about to change (TLS upgrade):
                    // what follows is not plaintext protocol for this connection.
                    if !self.transport_open
                        || !matches!(self.phase, Phase::AwaitInfo | Phase::AwaitPong | Phase::Connected)
                    {
                        self.read_buf.clear();
                        return;
                    }
                }
                Ok(None) => return,
                Err(error) => {
                    self.read_buf.clear();
                    self.connection_failed(now, ConnectionError::Protocol(error));
                    return;
                }
            }
        }
    }

    /// Time passed: call when [`poll_timeout`](Self::poll_timeout)'s deadline is reached
    /// (calling earlier or more often is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Waiting { at } if now >= at => self.start_attempt(now),
            Phase::Connecting
            | Phase::TlsFirst
            | Phase::AwaitInfo
            | Phase::UpgradingTls
            | Phase::AwaitPong
                if now >= self.attempt_deadline =>
            {
                self.fail_attempt(now, ConnectionError::Timeout);
            }
            Phase::Connected if now >= self.next_ping => self.keepalive(now),
            _ => {}
        }
        for (request, replies) in self.requests.expire(now) {
            self.events.push_back(Event::RequestEnded {
                request,
                outcome: RequestOutcome::TimedOut,
                replies,
            });
        }
        while let Some(&(at, id)) = self.flush_deadlines.first() {
            if at > now {
                break;
            }
            self.flush_deadlines.remove(&(at, id));
            if self.flushes.remove(&id).is_some() {
                self.events
                    .push_back(Event::Flushed { flush: FlushId(id), result: Err(FlushError::Timeout) });
            }
        }
        if let Some((_, deadline)) = self.drain {
            if now >= deadline {
                self.close_with(Some(ConnectionError::DrainTimeout));
            }
        }
    }

    // ----- commands -----------------------------------------------------------------------

    /// Publishes a message. While disconnected it goes to the reconnect buffer.
    ///
    /// # Errors
    /// A [`PublishError`]; nothing was queued then.
    pub fn publish(
        &mut self,
        subject: &Subject,
        reply: Option<&Subject>,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
    ) -> Result<(), PublishError> {
        self.publish_str(subject.as_str(), reply.map(Subject::as_str), headers, payload)
    }

    /// [`publish`](Self::publish) with subjects as plain strings, validated here without
    /// allocating: the hot path of clients that take `&str` from their users.
    ///
    /// # Errors
    /// A [`PublishError`]; nothing was queued then.
    pub fn publish_str(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
    ) -> Result<(), PublishError> {
        if self.phase == Phase::Closed || matches!(self.drain, Some((DrainStage::Publishes, _))) {
            return Err(PublishError::Closed);
        }
        validate_publish_subject(subject)?;
        if let Some(reply) = reply {
            validate_publish_subject(reply)?;
        }
        let header_len = match headers {
            Some(headers) => {
                if !self.options.headers || self.info.as_ref().is_some_and(|i| !i.headers) {
                    return Err(PublishError::HeadersNotSupported);
                }
                headers.encoded_len()
            }
            None => 0,
        };
        let size = header_len + payload.len();
        if let Some(max_payload) = self.info.as_ref().map(|i| i.max_payload).filter(|&m| m > 0) {
            if size as u64 > max_payload {
                return Err(PublishError::MaxPayloadExceeded { size, max_payload });
            }
        }
        if self.phase == Phase::Connected {
            let start = self.out_written + self.out.len() as u64;
            self.out.write_pub_raw(subject, reply, headers, payload);
            self.pub_frames.push_back((start, self.out_written + self.out.len() as u64));
        } else {
            let frame = pub_frame_len(subject.len(), reply.map(str::len), headers.map(|_| header_len), size);
            let limit = self.options.reconnect_buffer_size;
            if self.reconnect_buf.len() + frame > limit {
                return Err(PublishError::ReconnectBufferFull { limit });
            }
            let before = self.reconnect_buf.len();
            self.reconnect_buf.write_pub_raw(subject, reply, headers, payload);
            debug_assert_eq!(self.reconnect_buf.len() - before, frame);
            self.reconnect_frames.push_back(frame);
        }
        self.stats.out_msgs += 1;
        self.stats.out_bytes += size as u64;
        Ok(())
    }

    /// Subscribes to a subject or filter, optionally in a queue group. The subscription is
    /// re-established after every reconnect.
    ///
    /// # Errors
    /// [`SubscribeError::Closed`] when draining or closed.
    pub fn subscribe(
        &mut self,
        subject: Subject,
        queue_group: Option<QueueGroup>,
    ) -> Result<Sid, SubscribeError> {
        if self.phase == Phase::Closed || self.drain.is_some() {
            return Err(SubscribeError::Closed);
        }
        if self.phase == Phase::Connected {
            let sid = Sid(self.subs.peek_next_sid());
            self.out.write_sub(sid, &subject, queue_group.as_ref());
        }
        Ok(self.subs.insert(subject, queue_group, false))
    }

    /// Unsubscribes now (`max: None`), or after `max` messages in total (counting those
    /// already delivered; the seed's `auto_unsubscribe`). Returns whether the subscription
    /// existed. When `max` is already reached it ends at once, with
    /// [`Event::SubscriptionEnded`].
    pub fn unsubscribe(&mut self, sid: Sid, max: Option<u64>) -> bool {
        let connected = self.phase == Phase::Connected;
        let Some(sub) = self.subs.get_mut(sid) else { return false };
        match max {
            Some(max) if sub.delivered < max => {
                sub.max = Some(max);
                if connected {
                    self.out.write_unsub(sid, Some(max));
                }
            }
            _ => {
                self.subs.remove(sid);
                if connected {
                    self.out.write_unsub(sid, None);
                }
                if max.is_some() {
                    self.events.push_back(Event::SubscriptionEnded { sid });
                }
            }
        }
        true
    }

    /// Sets (or removes) the pending limits of a subscription: past them its messages are
    /// dropped and [`Event::SlowConsumer`] reports the episode. The reader reports what it
    /// consumed with [`handle_consumed`](Self::handle_consumed).
    pub fn set_pending_limits(&mut self, sid: Sid, limits: Option<PendingLimits>) -> bool {
        self.subs.set_limits(sid, limits)
    }

    /// The reader of a subscription consumed `messages` messages of `bytes` payload bytes.
    pub fn handle_consumed(&mut self, sid: Sid, messages: u64, bytes: u64) {
        self.subs.consumed(sid, messages, bytes);
    }

    /// Publishes a request with a reply subject on the shared inbox; replies arrive as
    /// [`Event::Reply`] and the end as [`Event::RequestEnded`].
    ///
    /// # Errors
    /// A [`PublishError`]; the request was not made then.
    pub fn request(
        &mut self,
        now: Instant,
        subject: &Subject,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
        timeout: Duration,
        expected: Expected,
    ) -> Result<RequestId, PublishError> {
        if self.phase == Phase::Closed || self.drain.is_some() {
            return Err(PublishError::Closed);
        }
        subject.validate_publish()?;
        let prefix = self.ensure_inbox();
        let id = self.requests.insert(expected, now + timeout);
        let reply = Subject::new(format!("{prefix}{}", id.0)).expect("inbox subjects are valid");
        if let Err(error) = self.publish(subject, Some(&reply), headers, payload) {
            self.requests.cancel(id);
            return Err(error);
        }
        Ok(id)
    }

    /// Forgets a request; returns whether it was still live. No event follows for it.
    pub fn cancel_request(&mut self, id: RequestId) -> bool {
        self.requests.cancel(id).is_some()
    }

    /// Asks the server to confirm it processed everything written so far; the answer comes
    /// as [`Event::Flushed`] (at once with an error when not connected).
    pub fn flush(&mut self, now: Instant, timeout: Duration) -> FlushId {
        self.next_flush += 1;
        let id = self.next_flush;
        let error = match self.phase {
            Phase::Closed => Some(FlushError::Closed),
            Phase::Connected => None,
            _ => Some(FlushError::Disconnected),
        };
        if let Some(error) = error {
            self.events.push_back(Event::Flushed { flush: FlushId(id), result: Err(error) });
        } else {
            self.out.write_ping();
            self.pongs.push_back(PongWaiter::Flush(id));
            let deadline = now + timeout;
            self.flushes.insert(id, deadline);
            self.flush_deadlines.insert((deadline, id));
        }
        FlushId(id)
    }

    /// Drains: unsubscribes everything, lets messages already in flight be delivered,
    /// confirms the publishes made so far, then closes (with
    /// [`ConnectionError::DrainTimeout`] if that takes longer than `drain_timeout`).
    /// Not connected: closes at once.
    pub fn drain(&mut self, now: Instant) {
        if self.phase != Phase::Connected {
            self.close_with(None);
            return;
        }
        if self.drain.is_some() {
            return;
        }
        for sid in self.subs.sids() {
            if let Some(sub) = self.subs.get_mut(sid) {
                sub.draining = true;
                self.out.write_unsub(sid, None);
            }
        }
        self.out.write_ping();
        self.pongs.push_back(PongWaiter::DrainSubscriptions);
        self.drain = Some((DrainStage::Subscriptions, now + self.options.drain_timeout));
    }

    /// Closes at once. Unwritten bytes may still be written before the transport is
    /// closed ([`Action::CloseTransport`]); requests and flushes end with `Closed`.
    pub fn close(&mut self) {
        self.close_with(None);
    }

    // ----- outputs ------------------------------------------------------------------------

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next action for the caller's IO, if any.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Bytes to write to the transport (a [`bytes::Buf`]: use `chunks_vectored` for
    /// vectored writes); report what was written with
    /// [`advance_outbound`](Self::advance_outbound).
    pub fn outbound(&self) -> &OutBuffer {
        &self.out
    }

    /// `n` bytes of [`outbound`](Self::outbound) were written.
    ///
    /// # Panics
    /// If `n` is more than `outbound().len()`.
    pub fn advance_outbound(&mut self, n: usize) {
        bytes::Buf::advance(&mut self.out, n);
        self.account_written(n);
    }

    fn account_written(&mut self, n: usize) {
        self.out_written += n as u64;
        while self.pub_frames.front().is_some_and(|&(_, end)| end <= self.out_written) {
            self.pub_frames.pop_front();
        }
    }

    /// Takes up to `max` bytes of [`outbound`](Self::outbound) as one chunk, without
    /// copying, and counts them as written: for callers that write outside a lock. Bytes
    /// taken but then lost with the transport are lost like bytes in the kernel's buffer;
    /// publishes not yet taken move to the reconnect buffer.
    pub fn take_outbound(&mut self, max: usize) -> Option<Bytes> {
        let chunk = self.out.split_front(max)?;
        self.account_written(chunk.len());
        Some(chunk)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let phase = match self.phase {
            Phase::Waiting { at } => Some(at),
            Phase::Connecting
            | Phase::TlsFirst
            | Phase::AwaitInfo
            | Phase::UpgradingTls
            | Phase::AwaitPong => Some(self.attempt_deadline),
            Phase::Connected => Some(self.next_ping),
            Phase::Closed => return None,
        };
        [
            phase,
            self.requests.next_deadline(),
            self.flush_deadlines.first().map(|&(at, _)| at),
            self.drain.map(|(_, at)| at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ----- getters ------------------------------------------------------------------------

    /// The state as users see it.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Closed => State::Closed,
            Phase::Connected if self.drain.is_some() => State::Draining,
            Phase::Connected => State::Connected,
            _ if self.ever_connected => State::Reconnecting,
            _ => State::Connecting,
        }
    }

    /// Whether the connection is closed for good.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The server connected to, while connected (the seed's `connected_url`).
    pub fn connected_server(&self) -> Option<&ServerAddr> {
        self.current.as_ref().filter(|_| self.phase == Phase::Connected)
    }

    /// The last INFO received.
    pub fn server_info(&self) -> Option<&ServerInfo> {
        self.info.as_deref()
    }

    /// The servers known, configured and discovered, in the order they will be tried.
    pub fn servers(&self) -> Vec<ServerAddr> {
        self.pool.servers().cloned().collect()
    }

    /// The servers learned from the cluster's `connect_urls`.
    pub fn discovered_servers(&self) -> Vec<ServerAddr> {
        self.pool.discovered().cloned().collect()
    }

    /// The last error, of the connection or of a connection attempt. When the connection
    /// closes because no server is left ([`ConnectionError::NoServers`] in
    /// [`Event::Closed`]), this stays the error of the last attempt: the cause.
    pub fn last_error(&self) -> Option<&ConnectionError> {
        self.last_error.as_ref()
    }

    /// Traffic counters.
    pub fn statistics(&self) -> Statistics {
        self.stats
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
        self.reconnect_buf.len()
    }

    /// The server's `max_payload`, once known.
    pub fn max_payload(&self) -> Option<u64> {
        self.info.as_ref().map(|i| i.max_payload)
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

/// The encoded length of `PUB <subject> [reply] <size>\r\n<payload>\r\n`, or of `HPUB`
/// when there is a header block of `header_len` bytes (`size` counts headers and payload).
fn pub_frame_len(
    subject_len: usize,
    reply_len: Option<usize>,
    header_len: Option<usize>,
    size: usize,
) -> usize {
    let digits = |n: usize| n.checked_ilog10().map_or(1, |d| d as usize + 1);
    let op = if header_len.is_some() { "HPUB " } else { "PUB " };
    op.len()
        + subject_len
        + 1
        + reply_len.map_or(0, |r| r + 1)
        + header_len.map_or(0, |h| digits(h) + 1)
        + digits(size)
        + 2
        + size
        + 2
}
